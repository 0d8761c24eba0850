package whatif

import (
	"strings"
	"testing"
)

func TestParseFlows(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
		err      string
	}{
		{"header, comment, blank line", "src,dst,protocol,port\n# a comment\n\n10.0.0.1, 172.16.10.5, TCP, 5432\n", []string{"10.0.0.1:49152 -> 172.16.10.5:5432 TCP"}, ""},
		{"no header; UDP and IPv6", "10.0.0.1,172.16.10.5,udp,53\nfd00::1,fd00::2,TCP,443\n", []string{"10.0.0.1:49152 -> 172.16.10.5:53 UDP", "fd00::1:49152 -> fd00::2:443 TCP"}, ""},
		{"ICMP: the port column is the type", "10.0.0.1,172.16.10.5,ICMPv4,0\n10.0.0.1,172.16.10.5,ICMPv4,\n", []string{"10.0.0.1:0 -> 172.16.10.5:0 ICMP", "10.0.0.1:0 -> 172.16.10.5:8 ICMP"}, ""},
		{"wrong field count", "10.0.0.1,172.16.10.5,TCP\n", nil, "flows.csv:1: want 4 fields"},
		{"bad address", "src,dst,protocol,port\n10.0.0.300,172.16.10.5,TCP,1\n", nil, `flows.csv:2: src: "10.0.0.300" is not an IP address`},
		{"bad port", "10.0.0.1,172.16.10.5,TCP,70000\n", nil, `flows.csv:1: port: "70000"`},
		{"missing port", "10.0.0.1,172.16.10.5,TCP,\n", nil, "flows.csv:1: port is required for TCP"},
		{"mixed families", "10.0.0.1,fd00::1,TCP,1\n", nil, "same address family"},
		{"every error, none returned", "10.0.0.1,172.16.10.5,TCP,1\nx,y,TCP,1\n1.1.1.1,2.2.2.2,BOGUS,1\n", nil, "flows.csv:3: protocol"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := ParseFlows("flows.csv", strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				if fs != nil {
					t.Errorf("flows returned with an error: %v", fs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				got = append(got, f.String())
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzParseFlows: any input either parses into valid flows or is an
// error naming the file; it never panics.
func FuzzParseFlows(f *testing.F) {
	for _, s := range []string{"src,dst,protocol,port\n10.0.0.1,10.0.0.2,TCP,80\n", "fd00::1,fd00::2,ICMPv6,128\n", "\"a\nb\",c,d,e\n", "1.1.1.1,2.2.2.2,17,0\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		fs, err := ParseFlows("f.csv", strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.csv") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		for _, fl := range fs {
			if !fl.Src.IsValid() || !fl.Dst.IsValid() || fl.Src.Is4() != fl.Dst.Is4() {
				t.Fatalf("invalid flow %v", fl)
			}
			if fl.Proto.HasPorts() && fl.DstPort == 0 {
				t.Fatalf("a port protocol without a port: %v", fl)
			}
		}
	})
}

package address

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseProto(t *testing.T) {
	tests := []struct {
		in   string
		want Proto
	}{
		{"TCP", TCP},
		{"tcp", TCP},
		{"Tcp", TCP},
		{" tcp ", TCP},
		{"UDP", UDP},
		{"udp", UDP},
		{"SCTP", SCTP},
		{"sctp", SCTP},
		{"ICMP", ICMP},
		{"icmp", ICMP},
		{"ICMPv4", ICMP},
		{"icmpv4", ICMP},
		{"ICMPV4", ICMP},
		{"ICMPv6", ICMPv6},
		{"icmpv6", ICMPv6},
		{"IPV6-ICMP", ICMPv6},
		{"ipv6-icmp", ICMPv6},
		{"IGMP", IGMP},
		{"igmp", IGMP},
		{"0", 0},
		{"1", ICMP},
		{"6", TCP},
		{"17", UDP},
		{"47", 47},
		{"58", ICMPv6},
		{"132", SCTP},
		{"255", 255},
		{" 50 ", 50},
		{"006", TCP},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseProto(tt.in)
			if err != nil {
				t.Fatalf("ParseProto(%q): unexpected error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseProto(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseProtoErrors(t *testing.T) {
	for _, in := range []string{"", " ", "256", "1000", "-1", "+6", "0x6", "1e1", "6.0", "tcp6", "ICMPv5", "HTTP", "tcp,udp", "ip"} {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			got, err := ParseProto(in)
			if err == nil {
				t.Fatalf("ParseProto(%q) = %v, want an error", in, got)
			}
			want := fmt.Sprintf("unknown protocol %q (use TCP, UDP, SCTP, ICMPv4, ICMPv6 or a number 0-255)", in)
			if err.Error() != want {
				t.Errorf("ParseProto(%q) error = %q, want %q", in, err, want)
			}
			if got != 0 {
				t.Errorf("ParseProto(%q) = %d with the error, want 0", in, got)
			}
		})
	}
}

func TestProtoString(t *testing.T) {
	tests := []struct {
		p    Proto
		want string
	}{
		{ICMP, "ICMP"}, {IGMP, "IGMP"}, {TCP, "TCP"}, {UDP, "UDP"}, {ICMPv6, "ICMPv6"}, {SCTP, "SCTP"},
		{0, "0"}, {4, "4"}, {47, "47"}, {50, "50"}, {255, "255"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("Proto(%d).String() = %q, want %q", uint8(tt.p), got, tt.want)
			}
		})
	}
}

func TestProtoHasPorts(t *testing.T) {
	tests := []struct {
		p    Proto
		want bool
	}{
		{TCP, true}, {UDP, true}, {SCTP, true},
		{ICMP, false}, {ICMPv6, false}, {IGMP, false}, {0, false}, {47, false}, {255, false},
	}
	for _, tt := range tests {
		t.Run(tt.p.String(), func(t *testing.T) {
			if got := tt.p.HasPorts(); got != tt.want {
				t.Errorf("%v.HasPorts() = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

// Every protocol number survives MarshalText then UnmarshalText.
func TestProtoTextRoundTrip(t *testing.T) {
	for i := 0; i <= 255; i++ {
		p := Proto(i)
		text, err := p.MarshalText()
		if err != nil {
			t.Fatalf("Proto(%d).MarshalText(): %v", i, err)
		}
		if string(text) != p.String() {
			t.Errorf("Proto(%d).MarshalText() = %q, want %q", i, text, p.String())
		}
		var back Proto = 99
		if err := back.UnmarshalText(text); err != nil {
			t.Fatalf("UnmarshalText(%q): %v", text, err)
		}
		if back != p {
			t.Errorf("UnmarshalText(MarshalText(%d)) = %d", i, back)
		}
	}
}

func TestProtoJSON(t *testing.T) {
	type rule struct {
		Protos []Proto `json:"protos"`
	}
	in := rule{Protos: []Proto{TCP, UDP, ICMPv6, 47}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"protos":["TCP","UDP","ICMPv6","47"]}`; string(b) != want {
		t.Errorf("json.Marshal = %s, want %s", b, want)
	}

	tests := []struct {
		name    string
		in      string
		want    []Proto
		wantErr string
	}{
		{"names in any case", `{"protos":["tcp","Udp","ICMPv4","ipv6-icmp","sctp"]}`, []Proto{TCP, UDP, ICMP, ICMPv6, SCTP}, ""},
		{"numbers as strings", `{"protos":["6","255"]}`, []Proto{TCP, 255}, ""},
		{"unknown name", `{"protos":["tcp","http"]}`, nil, `unknown protocol "http"`},
		{"out of range", `{"protos":["256"]}`, nil, `unknown protocol "256"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got rule
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("json.Unmarshal(%s) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("json.Unmarshal(%s): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got.Protos, tt.want) {
				t.Errorf("json.Unmarshal(%s) = %v, want %v", tt.in, got.Protos, tt.want)
			}
		})
	}
}

func TestProtoUnmarshalTextErrorKeepsValue(t *testing.T) {
	p := UDP
	if err := p.UnmarshalText([]byte("bogus")); err == nil {
		t.Fatal("UnmarshalText(bogus): want an error")
	}
	if p != UDP {
		t.Errorf("UnmarshalText(bogus) changed the value to %v", p)
	}
}

func TestParsePortRange(t *testing.T) {
	tests := []struct {
		in   string
		want PortRange
	}{
		{"1", PortRange{1, 1}},
		{"80", PortRange{80, 80}},
		{"65535", PortRange{65535, 65535}},
		{" 443 ", PortRange{443, 443}},
		{"8000-8080", PortRange{8000, 8080}},
		{" 8000 - 8080 ", PortRange{8000, 8080}},
		{"1-65535", PortRange{1, 65535}},
		{"80-80", PortRange{80, 80}},
		{"0080", PortRange{80, 80}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePortRange(tt.in)
			if err != nil {
				t.Fatalf("ParsePortRange(%q): unexpected error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParsePortRange(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParsePortRangeErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"", `"": not a port number`},
		{" ", `"": not a port number`},
		{"0", `"0": port 0 out of range 1-65535`},
		{"65536", `"65536": port 65536 out of range 1-65535`},
		{"99999", `"99999": port 99999 out of range 1-65535`},
		{"4294967296", `"4294967296": not a port number`},
		{"0-80", `"0-80": port 0 out of range 1-65535`},
		{"80-65536", `"80-65536": port 65536 out of range 1-65535`},
		{"8080-8000", `"8080-8000": range ends before it starts`},
		{"http", `"http": not a port number`},
		{"8o", `"8o": not a port number`},
		{"+80", `"+80": not a port number`},
		{"-80", `"-80": not a port number`},
		{"80-", `"80-": not a port number`},
		{"-", `"-": not a port number`},
		{"80-90-100", `"80-90-100": not a port number`},
		{"80.5", `"80.5": not a port number`},
		{"80,443", `"80,443": not a port number`},
		{"0x50", `"0x50": not a port number`},
		{"1_000", `"1_000": not a port number`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			got, err := ParsePortRange(tt.in)
			if err == nil {
				t.Fatalf("ParsePortRange(%q) = %v, want error %q", tt.in, got, tt.wantErr)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("ParsePortRange(%q) error = %q, want %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestPortRange(t *testing.T) {
	tests := []struct {
		r      PortRange
		str    string
		in     []uint16
		notIn  []uint16
		parsed bool // whether ParsePortRange(str) gives r back
	}{
		{PortRange{80, 80}, "80", []uint16{80}, []uint16{0, 79, 81, 65535}, true},
		{PortRange{8000, 8080}, "8000-8080", []uint16{8000, 8001, 8080}, []uint16{7999, 8081}, true},
		{PortRange{1, 65535}, "1-65535", []uint16{1, 65535}, []uint16{0}, true},
		{AllPorts, "0-65535", []uint16{0, 1, 443, 65535}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.str, func(t *testing.T) {
			if got := tt.r.String(); got != tt.str {
				t.Errorf("%#v.String() = %q, want %q", tt.r, got, tt.str)
			}
			for _, p := range tt.in {
				if !tt.r.Contains(p) {
					t.Errorf("%v.Contains(%d) = false, want true", tt.r, p)
				}
			}
			for _, p := range tt.notIn {
				if tt.r.Contains(p) {
					t.Errorf("%v.Contains(%d) = true, want false", tt.r, p)
				}
			}
			back, err := ParsePortRange(tt.str)
			if tt.parsed && (err != nil || back != tt.r) {
				t.Errorf("ParsePortRange(%q) = %v, %v; want %v", tt.str, back, err, tt.r)
			}
			if !tt.parsed && err == nil {
				t.Errorf("ParsePortRange(%q) = %v, want an error (port 0 is not accepted)", tt.str, back)
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestParsePortList(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []PortRange
		wantErr string
	}{
		{name: "nil list is any port", in: nil, want: nil},
		{name: "empty list is any port", in: []string{}, want: nil},
		{name: "one port", in: []string{"443"}, want: []PortRange{{443, 443}}},
		{name: "ports and ranges keep their order", in: []string{"8080", "80", "8000-8010", "1-1024"},
			want: []PortRange{{8080, 8080}, {80, 80}, {8000, 8010}, {1, 1024}}},
		{name: "15 single ports", in: repeat("80", 15), want: func() []PortRange {
			out := make([]PortRange, 15)
			for i := range out {
				out[i] = PortRange{80, 80}
			}
			return out
		}()},
		{name: "16 single ports", in: repeat("80", 16),
			wantErr: "16 port values (a range counts as 2); NSX allows at most 15"},
		{name: "7 ranges and a port make 15", in: append(repeat("1-2", 7), "9"), want: append(
			[]PortRange{{1, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 2}}, PortRange{9, 9})},
		{name: "8 ranges make 16", in: repeat("1000-2000", 8),
			wantErr: "16 port values (a range counts as 2); NSX allows at most 15"},
		{name: "14 ports and a range make 16", in: append(repeat("22", 14), "80-81"),
			wantErr: "16 port values (a range counts as 2); NSX allows at most 15"},
		{name: "13 ports and a range make 15", in: append(repeat("22", 13), "80-81"), want: append(func() []PortRange {
			out := make([]PortRange, 13)
			for i := range out {
				out[i] = PortRange{22, 22}
			}
			return out
		}(), PortRange{80, 81})},
		{name: "bad element", in: []string{"80", "http", "443"}, wantErr: `"http": not a port number`},
		{name: "empty element", in: []string{""}, wantErr: `"": not a port number`},
		{name: "reversed range", in: []string{"90-80"}, wantErr: `"90-80": range ends before it starts`},
		{name: "out of range", in: []string{"0"}, wantErr: `"0": port 0 out of range 1-65535`},
		{name: "bad element reported before the count", in: append(repeat("80", 20), "x"), wantErr: `"x": not a port number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePortList(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParsePortList(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("ParsePortList(%q) = %v with the error, want nil", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePortList(%q): unexpected error: %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParsePortList(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParsePortList(f *testing.F) {
	for _, s := range []string{
		"", "80", "80,443", "8000-8080", " 22 , 80 - 90 ", "0", "65535", "65536", "90-80",
		"http", "1-65535", strings.Repeat("80,", 14) + "80", strings.Repeat("80,", 15) + "80",
		strings.Repeat("1-2,", 7) + "3", strings.Repeat("1-2,", 8), "-", ",", "80--90",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var list []string
		if s != "" {
			list = strings.Split(s, ",")
		}
		got, err := ParsePortList(list)
		if err != nil {
			if got != nil {
				t.Fatalf("ParsePortList(%q) = %v with error %v", list, got, err)
			}
			return
		}
		if len(list) == 0 {
			if got != nil {
				t.Fatalf("ParsePortList(empty) = %v, want nil", got)
			}
			return
		}
		if len(got) != len(list) {
			t.Fatalf("ParsePortList(%q) = %v: %d ranges for %d elements", list, got, len(got), len(list))
		}
		weight := 0
		for i, r := range got {
			if r.From < 1 || r.To < r.From {
				t.Fatalf("ParsePortList(%q)[%d] = %v, not a range of ports 1-65535", list, i, r)
			}
			if r.From == r.To {
				weight++
			} else {
				weight += 2
			}
			back, err := ParsePortRange(r.String())
			if err != nil || back != r {
				t.Fatalf("ParsePortRange(%q) = %v, %v; want %v", r.String(), back, err, r)
			}
			if one, err := ParsePortRange(list[i]); err != nil || one != r {
				t.Fatalf("ParsePortRange(%q) = %v, %v; ParsePortList gave %v", list[i], one, err, r)
			}
		}
		if weight > MaxPortValues {
			t.Fatalf("ParsePortList(%q) accepted %d port values, more than %d", list, weight, MaxPortValues)
		}
	})
}

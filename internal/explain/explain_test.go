package explain

import (
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/address"
)

func TestRequestFlow(t *testing.T) {
	n := func(v int) *int { return &v }
	for _, tt := range []struct {
		name string
		q    Request
		want string // flow, or an error substring
	}{
		{"tcp with defaults", Request{Src: "10.0.0.1", Dst: "10.0.0.2", Port: 443}, "10.0.0.1:49152 -> 10.0.0.2:443 TCP"},
		{"udp with source port", Request{Src: "10.0.0.1", Dst: "10.0.0.2", Protocol: "udp", Port: 53, SrcPort: 5353}, "10.0.0.1:5353 -> 10.0.0.2:53 UDP"},
		{"icmp echo by default", Request{Src: "10.0.0.1", Dst: "10.0.0.2", Protocol: "ICMPv4"}, "10.0.0.1:0 -> 10.0.0.2:8 ICMP"},
		{"icmpv6 echo by default", Request{Src: "fd00::1", Dst: "fd00::2", Protocol: "ICMPv6"}, "fd00::1:0 -> fd00::2:128 ICMPv6"},
		{"icmp type and code", Request{Src: "10.0.0.1", Dst: "10.0.0.2", Protocol: "ICMPv4", ICMPType: n(3), ICMPCode: n(4)}, "10.0.0.1:4 -> 10.0.0.2:3 ICMP"},
		{"ip protocol", Request{Src: "10.0.0.1", Dst: "10.0.0.2", Protocol: "47"}, "10.0.0.1:0 -> 10.0.0.2:0 47"},
		{"ipv4-mapped is ipv4", Request{Src: "::ffff:10.0.0.1", Dst: "10.0.0.2", Port: 1}, "10.0.0.1:49152 -> 10.0.0.2:1 TCP"},
		{"bad src", Request{Src: "x", Dst: "10.0.0.2", Port: 1}, `src: "x" is not an IP address`},
		{"bad dst", Request{Src: "10.0.0.1", Dst: "", Port: 1}, "dst:"},
		{"families", Request{Src: "10.0.0.1", Dst: "fd00::1", Port: 1}, "same address family"},
		{"no port", Request{Src: "10.0.0.1", Dst: "10.0.0.2"}, "port is required for TCP"},
		{"bad protocol", Request{Src: "10.0.0.1", Dst: "10.0.0.2", Protocol: "XTP"}, "protocol: unknown protocol"},
		{"icmp range", Request{Src: "10.0.0.1", Dst: "10.0.0.2", Protocol: "ICMPv4", ICMPType: n(256)}, "0-255"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tt.q.Flow()
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = f.String()
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("Flow() = %q, want %q", got, tt.want)
			}
		})
	}
	f, _ := Request{Src: "10.0.0.1", Dst: "10.0.0.2", Protocol: "ICMPv4", ICMPType: n(0)}.Flow()
	if j := FlowOf(f); j.ICMPType == nil || *j.ICMPType != 0 || j.Port != 0 || j.Protocol != address.ICMP.String() {
		t.Errorf("FlowOf(icmp) = %+v", j)
	}
}

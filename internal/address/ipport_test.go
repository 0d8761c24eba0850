package address

import (
	"net/netip"
	"sort"
	"testing"
)

func ipp(addr string, p Proto, port uint16) IPPort {
	return IPPort{Addr: netip.MustParseAddr(addr), Proto: p, Port: port}
}

func TestIPPortString(t *testing.T) {
	tests := []struct {
		m    IPPort
		want string
	}{
		{ipp("10.0.0.1", TCP, 80), "10.0.0.1:TCP/80"},
		{ipp("10.10.1.11", UDP, 61001), "10.10.1.11:UDP/61001"},
		{ipp("192.168.0.1", SCTP, 65535), "192.168.0.1:SCTP/65535"},
		{ipp("2001:db8::1", TCP, 443), "[2001:db8::1]:TCP/443"},
		{ipp("fd00:10:10:1::11", UDP, 53), "[fd00:10:10:1::11]:UDP/53"},
		{ipp("10.0.0.1", 47, 0), "10.0.0.1:47/0"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.m.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIPPortLess(t *testing.T) {
	tests := []struct {
		name string
		a, b IPPort
		want bool // a.Less(b)
	}{
		{"lower address first", ipp("10.0.0.1", UDP, 9000), ipp("10.0.0.2", TCP, 80), true},
		{"higher address later", ipp("10.0.0.2", TCP, 80), ipp("10.0.0.1", UDP, 9000), false},
		{"address compares numerically", ipp("10.0.0.9", TCP, 80), ipp("10.0.0.10", TCP, 80), true},
		{"ipv4 before ipv6", ipp("255.255.255.255", TCP, 80), ipp("::1", TCP, 80), true},
		{"ipv6 after ipv4", ipp("::1", TCP, 80), ipp("10.0.0.1", TCP, 80), false},
		{"same address: TCP before UDP", ipp("10.0.0.1", TCP, 9000), ipp("10.0.0.1", UDP, 80), true},
		{"same address: UDP after TCP", ipp("10.0.0.1", UDP, 80), ipp("10.0.0.1", TCP, 9000), false},
		{"same address and protocol: lower port first", ipp("10.0.0.1", TCP, 80), ipp("10.0.0.1", TCP, 443), true},
		{"same address and protocol: higher port later", ipp("10.0.0.1", TCP, 443), ipp("10.0.0.1", TCP, 80), false},
		{"equal", ipp("10.0.0.1", TCP, 80), ipp("10.0.0.1", TCP, 80), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Less(tt.b); got != tt.want {
				t.Errorf("%v.Less(%v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestIPPortSort(t *testing.T) {
	ms := []IPPort{
		ipp("2001:db8::1", TCP, 80),
		ipp("10.0.0.2", TCP, 80),
		ipp("10.0.0.1", UDP, 53),
		ipp("10.0.0.1", TCP, 443),
		ipp("10.0.0.1", TCP, 80),
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Less(ms[j]) })
	want := []string{"10.0.0.1:TCP/80", "10.0.0.1:TCP/443", "10.0.0.1:UDP/53", "10.0.0.2:TCP/80", "[2001:db8::1]:TCP/80"}
	for i, m := range ms {
		if m.String() != want[i] {
			t.Errorf("sorted[%d] = %s, want %s", i, m, want[i])
		}
	}
}

func TestProtoPortAt(t *testing.T) {
	tests := []struct {
		pp   ProtoPort
		addr string
		want string
	}{
		{ProtoPort{Proto: TCP, Port: 30080}, "10.10.1.11", "10.10.1.11:TCP/30080"},
		{ProtoPort{Proto: UDP, Port: 30125}, "fd00::11", "[fd00::11]:UDP/30125"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got := tt.pp.At(netip.MustParseAddr(tt.addr))
			if got.String() != tt.want || got.Proto != tt.pp.Proto || got.Port != tt.pp.Port || got.Addr != netip.MustParseAddr(tt.addr) {
				t.Errorf("%v.At(%s) = %+v, want %s", tt.pp, tt.addr, got, tt.want)
			}
		})
	}
}

// TestProtoPortFamily: a single-stack Service's node port is open only on
// node addresses of its family.
func TestProtoPortFamily(t *testing.T) {
	v4, v6 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00::1")
	for _, tc := range []struct {
		clusterIPs []string
		on4, on6   bool
	}{
		{[]string{"10.96.0.1"}, true, false},
		{[]string{"fd00:96::1"}, false, true},
		{[]string{"10.96.0.1", "fd00:96::1"}, true, true},
		{nil, true, true}, // not known: every node address
	} {
		var ips []netip.Addr
		for _, s := range tc.clusterIPs {
			ips = append(ips, netip.MustParseAddr(s))
		}
		pp := ProtoPort{Proto: TCP, Port: 30080, Family: FamilyOf(ips)}
		if pp.On(v4) != tc.on4 || pp.On(v6) != tc.on6 {
			t.Errorf("cluster IPs %v: on IPv4 %v, on IPv6 %v; want %v, %v", tc.clusterIPs, pp.On(v4), pp.On(v6), tc.on4, tc.on6)
		}
	}
}

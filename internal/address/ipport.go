package address

import (
	"fmt"
	"net/netip"
)

// IPPort is a member that carries a port: traffic matches it only at that
// address, protocol and port. NodePort Services resolve to one per node
// address and service port, NodePortLocal Services to one per backend pod
// and port.
type IPPort struct {
	Addr  netip.Addr
	Proto Proto
	Port  uint16
}

func (m IPPort) String() string {
	if m.Addr.Is6() {
		return fmt.Sprintf("[%s]:%s/%d", m.Addr, m.Proto, m.Port)
	}
	return fmt.Sprintf("%s:%s/%d", m.Addr, m.Proto, m.Port)
}

// Less orders members by address, protocol, then port.
func (m IPPort) Less(o IPPort) bool {
	if c := m.Addr.Compare(o.Addr); c != 0 {
		return c < 0
	}
	if m.Proto != o.Proto {
		return m.Proto < o.Proto
	}
	return m.Port < o.Port
}

// ProtoPort is a protocol and port without an address: a NodePort Service
// opens it on every node of its cluster, on the node addresses of the
// Service's IP families. Family is 4 or 6 for a single-stack Service, 0
// for a dual-stack one (or one whose family is not known).
type ProtoPort struct {
	Proto  Proto
	Port   uint16
	Family uint8
}

// At returns the member at address a.
func (p ProtoPort) At(a netip.Addr) IPPort { return IPPort{Addr: a, Proto: p.Proto, Port: p.Port} }

// On reports whether the port is open on node address a: whether a is of
// one of the Service's families.
func (p ProtoPort) On(a netip.Addr) bool {
	return p.Family == 0 || (p.Family == 4) == a.Unmap().Is4()
}

// FamilyOf returns the ProtoPort family of a Service with these cluster
// IPs: 4 or 6 when they are all of one family, 0 otherwise.
func FamilyOf(clusterIPs []netip.Addr) uint8 {
	var v4, v6 bool
	for _, a := range clusterIPs {
		if a.Unmap().Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	switch {
	case v4 && !v6:
		return 4
	case v6 && !v4:
		return 6
	}
	return 0
}

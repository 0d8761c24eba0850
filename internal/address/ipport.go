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
// opens it on every node of its cluster.
type ProtoPort struct {
	Proto Proto
	Port  uint16
}

// At returns the member at address a.
func (p ProtoPort) At(a netip.Addr) IPPort { return IPPort{Addr: a, Proto: p.Proto, Port: p.Port} }

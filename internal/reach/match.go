package reach

import (
	"net/netip"
	"sort"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/policy"
)

// family is an address family; flows never mix them, so each is its own
// flow space.
type family int

const (
	v4 family = iota
	v6
)

func (f family) String() string {
	if f == v4 {
		return "IPv4"
	}
	return "IPv6"
}

func (f family) has(a netip.Addr) bool { return a.Is4() == (f == v4) }

func (f family) applies(r *policy.Rule) bool {
	if f == v4 {
		return r.IPv4()
	}
	return r.IPv6()
}

func point(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u64(uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3]))
	}
	b := a.As16()
	var v u128
	for i := 0; i < 8; i++ {
		v.hi = v.hi<<8 | uint64(b[i])
		v.lo = v.lo<<8 | uint64(b[i+8])
	}
	return v
}

func (f family) all() set {
	if f == v4 {
		return single(0, 1<<32-1)
	}
	return set{{u128{}, u128{^uint64(0), ^uint64(0)}}}
}

var (
	allProtos = single(0, 255)
	allPorts  = single(0, 65535)
	// The three kinds of protocol, by what their "ports" are.
	portProtos = setOf([]span{pt(address.TCP), pt(address.UDP), pt(address.SCTP)})
	icmpProtos = setOf([]span{pt(address.ICMP), pt(address.ICMPv6)})
	bareProtos = subtractSets(subtractSets(allProtos, portProtos), icmpProtos)
)

func pt(p address.Proto) span { return span{u64(uint64(p)), u64(uint64(p))} }

func (f family) full() box {
	return box{dimSrc: f.all(), dimDst: f.all(), dimProto: allProtos, dimSrcPort: allPorts, dimDstPort: allPorts}
}

// universe is every flow of the family that real traffic can carry, as
// explain.Request.Flow builds them: TCP, UDP and SCTP with both ports in
// 1-65535 (port 0 is not a port a connection uses, and no service entry
// can name it); ICMP and ICMPv6 with a type and a code in 0-255, whatever
// the family; every other protocol with both ports 0. Without it, flows no
// packet carries (TCP to port 0, ICMP type 300) would keep rules from being
// reported.
func (f family) universe() region {
	b := f.full()
	ported, icmp, bare := b, b, b
	ported[dimProto], ported[dimSrcPort], ported[dimDstPort] = portProtos, single(1, 65535), single(1, 65535)
	icmp[dimProto], icmp[dimSrcPort], icmp[dimDstPort] = icmpProtos, single(0, 255), single(0, 255)
	bare[dimProto], bare[dimSrcPort], bare[dimDstPort] = bareProtos, single(0, 0), single(0, 0)
	return region{ported, icmp, bare}
}

// addrs is the part of an IP set in the family.
func (f family) addrs(s *netipx.IPSet) set {
	if s == nil {
		return nil
	}
	var out set
	for _, r := range s.Ranges() {
		if f.has(r.From()) {
			out = append(out, span{point(r.From()), point(r.To())})
		}
	}
	return setOf(out)
}

// ruleRegion is the set of flows of the family that rule r matches,
// within the universe.
func (e *engine) ruleRegion(r *policy.Rule, f family) region {
	if !f.applies(r) {
		return nil
	}
	m := f.universe()
	for _, part := range []func() (region, bool){
		func() (region, bool) { return e.services(r.Match, f) },
		func() (region, bool) { return e.endpoint(&r.Src, f, dimSrc, dimSrcPort) },
		func() (region, bool) { return e.endpoint(&r.Dst, f, dimDst, dimDstPort) },
		func() (region, bool) { return e.appliedTo(r, f) },
	} {
		p, all := part()
		if all {
			continue
		}
		if m = e.intersect(m, p); len(m) == 0 {
			return nil
		}
	}
	return e.compact(m)
}

// services returns the flows a service list admits; all is true when it
// admits every flow.
func (e *engine) services(match []policy.ServiceMatch, f family) (r region, all bool) {
	if match == nil {
		return nil, true
	}
	for _, s := range match {
		b := f.full()
		if !s.AnyProto {
			b[dimProto] = set{pt(s.Proto)}
		}
		b[dimSrcPort], b[dimDstPort] = portSet(s.SrcPorts), portSet(s.DstPorts)
		if len(b[dimSrcPort]) == 0 || len(b[dimDstPort]) == 0 {
			continue
		}
		r = e.union(r, region{b})
	}
	return e.compact(r), false
}

// portSet mirrors the matcher: a nil list is every port, an empty one
// none.
func portSet(rs []address.PortRange) set {
	if rs == nil {
		return allPorts
	}
	spans := make([]span, 0, len(rs))
	for _, r := range rs {
		spans = append(spans, span{u64(uint64(r.From)), u64(uint64(r.To))})
	}
	return setOf(spans)
}

// endpoint returns the flows whose address on one side (and, for members
// with a port, protocol and port on that side) the endpoint admits.
func (e *engine) endpoint(ep *policy.Endpoint, f family, addrDim, portDim int) (r region, all bool) {
	if ep.Any {
		return nil, !ep.Negate
	}
	if s := f.addrs(ep.Set); len(s) > 0 {
		b := f.full()
		b[addrDim] = s
		r = region{b}
	}
	// Members with a port, one box per protocol and port, holding the
	// addresses the set does not already admit: the boxes stay disjoint.
	type pp struct {
		p    address.Proto
		port uint16
	}
	byPort := map[pp][]span{}
	for m := range ep.IPPorts {
		if !f.has(m.Addr) || m.Addr.Zone() != "" || ep.Set != nil && ep.Set.Contains(m.Addr) {
			continue
		}
		k := pp{m.Proto, m.Port}
		byPort[k] = append(byPort[k], span{point(m.Addr), point(m.Addr)})
	}
	keys := make([]pp, 0, len(byPort))
	for k := range byPort {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].p < keys[j].p || keys[i].p == keys[j].p && keys[i].port < keys[j].port
	})
	for _, k := range keys {
		b := f.full()
		b[addrDim], b[dimProto], b[portDim] = setOf(byPort[k]), set{pt(k.p)}, single(uint64(k.port), uint64(k.port))
		r = append(r, b)
	}
	if ep.Negate {
		r = e.subtract(region{f.full()}, r)
	}
	return e.fits(e.compact(r)), false
}

// appliedTo returns the flows an offline Applied To admits: destination
// (IN), source (OUT) or either (IN_OUT) among its addresses.
func (e *engine) appliedTo(r *policy.Rule, f family) (region, bool) {
	if r.AppliedTo == nil {
		return nil, true
	}
	s := f.addrs(r.AppliedTo)
	if len(s) == 0 {
		return nil, false
	}
	src, dst := f.full(), f.full()
	src[dimSrc], dst[dimDst] = s, s
	switch r.Direction {
	case policy.In:
		return region{dst}, false
	case policy.Out:
		return region{src}, false
	}
	dst[dimSrc] = subtractSets(f.all(), s)
	if len(dst[dimSrc]) == 0 {
		return region{src}, false
	}
	return region{src, dst}, false
}

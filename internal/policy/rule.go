package policy

import (
	"net/netip"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
)

// Rule is a compiled firewall rule: plain values, ready to match flows.
type Rule struct {
	Path       string
	PolicyPath string
	Category   string
	Action     Action
	Logged     bool
	Direction  Direction
	// PolicyDefault marks the rule a policy's connectivity preference
	// adds after its rules (ALLOWLIST drops, DENYLIST allows).
	PolicyDefault bool
	// Default marks the NSX default layer-3 rule, when the configuration
	// defines it.
	Default bool
	// SourceGroups and DestinationGroups are the group paths the rule
	// names (literal addresses are folded into Src and Dst).
	SourceGroups      []string
	DestinationGroups []string
	Services          []string // service paths (and "inline" for service_entries)

	Src, Dst Endpoint
	// Match is nil for any service, else the flow must match one entry.
	Match []ServiceMatch
	// AppliedTo, set when the enforcement point is not known (offline),
	// holds the addresses of the rule's Applied To groups: the rule then
	// applies to a flow whose destination (IN), source (OUT) or either
	// (IN_OUT) is among them. Nil means the rule applies to every flow.
	AppliedTo *netipx.IPSet
	v4        bool
	v6        bool
}

// IPv4 reports whether the rule applies to IPv4 flows.
func (r *Rule) IPv4() bool { return r.v4 }

// IPv6 reports whether the rule applies to IPv6 flows.
func (r *Rule) IPv6() bool { return r.v6 }

// Endpoint is a compiled source or destination.
type Endpoint struct {
	Any     bool
	Negate  bool
	Set     *netipx.IPSet
	IPPorts map[address.IPPort]struct{}
	// Literals are the addresses the rule names directly, as written;
	// with the group paths they identify the endpoint.
	Literals []string
}

// Contains reports whether the endpoint matches an address seen with a
// protocol and port (members that carry a port match only that port).
func (e *Endpoint) Contains(a netip.Addr, p address.Proto, port uint16) bool {
	in := e.Any
	if !in && e.Set != nil {
		in = e.Set.Contains(a)
	}
	if !in && len(e.IPPorts) > 0 {
		_, in = e.IPPorts[address.IPPort{Addr: a, Proto: p, Port: port}]
	}
	return in != e.Negate
}

// ServiceMatch is one service entry, flattened. Nil port lists match any
// port; for ICMP the "destination port" is the type and the "source port"
// the code.
type ServiceMatch struct {
	AnyProto bool
	Proto    address.Proto
	SrcPorts []address.PortRange
	DstPorts []address.PortRange
}

func (s *ServiceMatch) matches(f *Flow) bool {
	return (s.AnyProto || s.Proto == f.Proto) && inPorts(s.SrcPorts, f.SrcPort) && inPorts(s.DstPorts, f.DstPort)
}

func inPorts(rs []address.PortRange, p uint16) bool {
	if rs == nil {
		return true
	}
	for _, r := range rs {
		if r.Contains(p) {
			return true
		}
	}
	return false
}

// Matches reports whether the rule matches the flow. It is the exact
// predicate; the classifier only ever narrows the rules it is asked of.
func (r *Rule) Matches(f *Flow) bool {
	if f.Src.Is4() && !r.v4 || !f.Src.Is4() && !r.v6 {
		return false
	}
	if !r.Src.Contains(f.Src, f.Proto, f.SrcPort) || !r.Dst.Contains(f.Dst, f.Proto, f.DstPort) {
		return false
	}
	if r.AppliedTo != nil && !r.appliesTo(f) {
		return false
	}
	if r.Match == nil {
		return true
	}
	for i := range r.Match {
		if r.Match[i].matches(f) {
			return true
		}
	}
	return false
}

func (r *Rule) appliesTo(f *Flow) bool {
	switch r.Direction {
	case In:
		return r.AppliedTo.Contains(f.Dst)
	case Out:
		return r.AppliedTo.Contains(f.Src)
	}
	return r.AppliedTo.Contains(f.Src) || r.AppliedTo.Contains(f.Dst)
}

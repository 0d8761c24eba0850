package policy

import (
	"net/netip"

	"github.com/kordon-dev/kordon/internal/address"
)

// Decision is the outcome of evaluating a flow.
type Decision struct {
	Verdict Verdict
	// Rule decided the flow; nil when no rule matched and the built-in
	// default rule allowed it.
	Rule *Rule
	// Index is Rule's position in the ruleset, -1 for the default.
	Index int
	// Jumped lists the JUMP_TO_APPLICATION rules the flow passed.
	Jumped []*Rule
	// Evaluated counts the rules tested.
	Evaluated int
}

// Evaluate decides a flow by scanning the rules in order. It is the
// reference the classifier is tested against.
func (rs *Ruleset) Evaluate(f Flow) Decision {
	d := Decision{Index: -1}
	for i := 0; i < len(rs.Rules); i++ {
		r := &rs.Rules[i]
		d.Evaluated++
		if !r.Matches(&f) {
			continue
		}
		if r.Action == ActionJump {
			d.Jumped = append(d.Jumped, r)
			if i < rs.appStart {
				i = rs.appStart - 1
			}
			continue
		}
		d.Verdict, d.Rule, d.Index = r.Action.verdict(), r, i
		return d
	}
	return d
}

// FirstMatch returns the index of the rule that decides the flow, or -1,
// scanning linearly without allocating. It is the baseline classifier
// benchmarks compare against.
func (rs *Ruleset) FirstMatch(f *Flow) int {
	for i := 0; i < len(rs.Rules); i++ {
		r := &rs.Rules[i]
		if !r.Matches(f) {
			continue
		}
		if r.Action == ActionJump {
			if i < rs.appStart {
				i = rs.appStart - 1
			}
			continue
		}
		return i
	}
	return -1
}

// Why explains a matching rule: which of its source and destination groups
// hold the flow's addresses. With excluded sources (or destinations) the
// list names the groups the address is not in.
func Why(r *Rule, f Flow, m Members) (src, dst []string) {
	return groupsHolding(r.SourceGroups, f.Src, f.Proto, f.SrcPort, m, r.Src.Negate),
		groupsHolding(r.DestinationGroups, f.Dst, f.Proto, f.DstPort, m, r.Dst.Negate)
}

func groupsHolding(groups []string, a netip.Addr, p address.Proto, port uint16, m Members, negate bool) []string {
	var out []string
	for _, g := range groups {
		in := false
		if set := m.IPSet(g); set != nil && set.Contains(a) {
			in = true
		}
		if !in {
			want := address.IPPort{Addr: a, Proto: p, Port: port}
			for _, ip := range m.IPPorts(g) {
				if ip == want {
					in = true
					break
				}
			}
		}
		if in != negate {
			out = append(out, g)
		}
	}
	return out
}

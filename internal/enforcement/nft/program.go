package nft

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/policy"
	"github.com/kordon-dev/kordon/internal/realization"
)

// DefaultTable is the table the agent owns, in the inet family.
const DefaultTable = "kordon"

// Program is the nftables ruleset of one span, as values: Render writes
// it, Trace interprets it.
type Program struct {
	Span   *realization.Span
	Chains []Chain
	// Maps are the verdict maps that dispatch long rule chains.
	Maps []VMap
	// ClassMaps are the maps that send a packet, by its address, to the
	// chain of its address class (see classChain).
	ClassMaps []ClassMap
	// decides lists, by span set, the class maps whose classes are made
	// of it; undecided holds the sets that a chain long enough to be
	// classed names otherwise (its lines look the set up, or the chain
	// was not classed). A membership change of a set that is only
	// decided is applied to those maps alone (ClassMap.update); one of
	// an undecided set could change how its chain is laid out, and
	// compiles the span again.
	decides   map[string][]int
	undecided map[string]bool
	// Counters maps each named counter to the rule it counts.
	Counters map[string]CounterOf
	// Sets holds the table sets the program creates (setName of a span
	// set and a family): only those with elements that a line looks up
	// (a set a class map decides for every line is not). A set lookup of an
	// empty set decides nothing a missing condition does not (it never
	// matches; negated, it always does), and the kernel finds each set
	// by name in a list, so creating the empty twin of every endpoint
	// made installing a large table several times slower.
	Sets map[string]bool
}

// CounterOf says which rule a named counter counts.
type CounterOf struct {
	Hook string
	Rule string
}

// Chain is a base chain (Hook set) or a regular chain jumped to.
type Chain struct {
	Name string
	// Hook is the netfilter hook of a base chain ("input", "output",
	// "forward"); empty for a regular chain.
	Hook  string
	Lines []Line
}

// Line is one nftables rule.
type Line struct {
	// Raw is a skeleton rule written as is (connection state, loopback,
	// neighbour discovery); the tracer skips it, as it only decides
	// packets that are not new connections from other hosts.
	Raw string
	// Family restricts the line to IPv4 (4) or IPv6 (6); 0 is both.
	Family  int
	Conds   []Cond
	Counter string
	Log     string
	Verdict Verdict
	// Jump is the chain a VerdictJump line continues in, or the map a
	// VerdictDispatch line looks up.
	Jump string
	// Rule is the path of the policy rule the line implements.
	Rule string
}

// Verdict is what a line does when it matches.
type Verdict uint8

// Verdicts.
const (
	VerdictAccept Verdict = iota
	VerdictDrop
	VerdictRejectTCP // answers a TCP segment with a reset
	VerdictReject    // answers with ICMP administratively prohibited
	VerdictReturn    // JUMP_TO_APPLICATION: leave the categories before Application
	VerdictJump
	// VerdictDispatch looks the packet's protocol and destination port up
	// in the verdict map named by Jump and jumps to the chain found.
	VerdictDispatch
	// VerdictClassSrc and VerdictClassDst look the packet's source or
	// destination address up in the class map named by Jump and go to
	// the chain found (goto: that chain's end is this chain's end).
	VerdictClassSrc
	VerdictClassDst
	// VerdictGoto goes to the chain named by Jump.
	VerdictGoto
)

// Cond is one match expression.
type Cond struct {
	Kind CondKind
	// Src selects the source address or port; else the destination.
	Src    bool
	Negate bool
	// Set is the span set an address condition looks up.
	Set   string
	Proto address.Proto
	Ports []address.PortRange
}

// CondKind is the kind of a match expression.
type CondKind uint8

// Condition kinds.
const (
	CondAddr  CondKind = iota // address . protocol . port in the set
	CondProto                 // layer-4 protocol
	CondPorts                 // source or destination port of Proto (ICMP: type, or code for Src)
)

// setName names the table set of a span set for one address family.
//
// Each is an interval set of address . protocol . port: a member that
// carries a port (NodePort, NodePortLocal) is that one triple, an address
// or range is the triple with every protocol and port. So an endpoint is
// one lookup whatever its members, and a group that gains its first
// NodePort member changes elements, never rules.
func setName(set string, family int) string {
	return set + "_" + strconv.Itoa(family)
}

// hookChains: the base chain of each span hook and where it is attached.
var hookChains = map[string]string{
	realization.HookForward: "forward",
	realization.HookIn:      "input",
	realization.HookOut:     "output",
}

// Options change how a span becomes a program.
type Options struct {
	// Manager lists the addresses and ports of the agent's manager. New
	// connections from the host to them are accepted before any rule, so
	// the rules the agent enforces can never cut it off from the manager
	// that sends their corrections.
	Manager []netip.AddrPort
	// NoClassMaps compiles every rule as a line in order, as kordon did
	// before class maps: benchmarks compare the two in one run.
	NoClassMaps bool
}

// Compile builds the program of a span.
func Compile(s *realization.Span) *Program { return CompileWith(s, Options{}) }

// CompileWith builds the program of a span with options.
//
// Each hook is a base chain (policy accept: NSX's default rule allows)
// that passes established and related traffic, drops invalid packets,
// then jumps to two chains: HOOK_head with the rules of the categories
// a JUMP_TO_APPLICATION leaves (a jump becomes "return"), and HOOK_rules
// with the rest. A packet that no rule decides leaves by the policy.
// A long chain whose rules differ by their groups is classed: a map on
// the packet's source or destination address goes to the chain of the
// address's class, which holds only the lines an address of the class
// can match (see classChain), so a packet meets the rules of its groups
// and not every rule. Long runs of rules that name a protocol are
// dispatched: a verdict map on the packet's protocol and destination
// port jumps to a chain holding only the lines of the run that can match
// them (see dispatchChain).
//
// A rule becomes one line per address family and service entry; the
// lines are consecutive and share the rule's verdict and counter, so
// first-match order is the rule's.
func CompileWith(s *realization.Span, o Options) *Program {
	p := &Program{Span: s, Counters: map[string]CounterOf{}, Sets: tableSets(s), decides: map[string][]int{}, undecided: map[string]bool{}}
	byName := make(map[string]*realization.Set, len(s.Sets))
	for i := range s.Sets {
		byName[s.Sets[i].Name] = &s.Sets[i]
	}
	for _, h := range s.Hooks {
		base := Chain{Name: h.Name, Hook: hookChains[h.Name]}
		base.Lines = append(base.Lines,
			Line{Raw: "ct state established,related accept"},
			Line{Raw: "meta l4proto ipv6-icmp icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept"},
			Line{Raw: "ct state invalid drop"},
		)
		switch h.Name {
		case realization.HookIn:
			base.Lines = append(base.Lines, Line{Raw: `iifname "lo" accept`})
		case realization.HookOut:
			base.Lines = append(base.Lines, Line{Raw: `oifname "lo" accept`})
			base.Lines = append(base.Lines, managerLines(o.Manager)...)
		}
		head := Chain{Name: h.Name + "_head"}
		rest := Chain{Name: h.Name + "_rules"}
		for i := range h.Rules {
			r := &h.Rules[i]
			counter := fmt.Sprintf("c_%s_%d", h.Name, i)
			p.Counters[counter] = CounterOf{Hook: h.Name, Rule: r.Path}
			if i < h.AppStart {
				head.Lines = append(head.Lines, lines(r, counter, false, p.Sets)...)
			} else {
				rest.Lines = append(rest.Lines, lines(r, counter, true, p.Sets)...)
			}
		}
		base.Lines = append(base.Lines, Line{Verdict: VerdictJump, Jump: head.Name}, Line{Verdict: VerdictJump, Jump: rest.Name})
		p.Chains = append(p.Chains, base)
		for _, c := range []Chain{head, rest} {
			chains := []Chain{c}
			if !o.NoClassMaps {
				classed, classes, cms := classChain(c, byName)
				chains = append([]Chain{classed}, classes...)
				p.watch(&c, cms, len(p.ClassMaps))
				p.ClassMaps = append(p.ClassMaps, cms...)
			}
			for _, c := range chains {
				d, buckets, maps := dispatchChain(c)
				p.Chains = append(p.Chains, d)
				p.Chains = append(p.Chains, buckets...)
				p.Maps = append(p.Maps, maps...)
			}
		}
	}
	// Only the sets a line looks up are created: the kernel finds a set
	// by name in a list, so each costs the install time of the others.
	used := map[string]bool{}
	for _, c := range p.Chains {
		for _, l := range c.Lines {
			for _, cd := range l.Conds {
				if cd.Kind == CondAddr {
					used[setName(cd.Set, l.Family)] = true
				}
			}
		}
	}
	for k := range p.Sets {
		if !used[k] {
			delete(p.Sets, k)
		}
	}
	return p
}

// watch records, for the chain c before classing and its class maps
// (the first at index first of p.ClassMaps), which sets of its lines the
// maps decide and which they do not (Program.decides).
func (p *Program) watch(c *Chain, cms []ClassMap, first int) {
	for _, fam := range []int{4, 6} {
		n := 0
		for i := range c.Lines {
			if f := c.Lines[i].Family; f == 0 || f == fam {
				n++
			}
		}
		if n < minRunLines {
			continue // never classed, whatever its sets hold
		}
		var m *ClassMap
		idx := -1
		for k := range cms {
			if cms[k].Family == fam {
				m, idx = &cms[k], first+k
			}
		}
		for i := range c.Lines {
			l := &c.Lines[i]
			if l.Family != 0 && l.Family != fam {
				continue
			}
			for _, cd := range l.Conds {
				if cd.Kind != CondAddr {
					continue
				}
				if _, ok := m.decided(cd.Set, cd.Src); ok {
					if !slices.Contains(p.decides[cd.Set], idx) {
						p.decides[cd.Set] = append(p.decides[cd.Set], idx)
					}
				} else {
					p.undecided[cd.Set] = true
				}
			}
		}
	}
}

// managerLines accept the host's new connections to its manager.
func managerLines(to []netip.AddrPort) []Line {
	var out []Line
	for _, ap := range to {
		ip := "ip"
		if ap.Addr().Is6() {
			ip = "ip6"
		}
		out = append(out, Line{Raw: fmt.Sprintf("%s daddr %s tcp dport %d accept", ip, ap.Addr(), ap.Port())})
	}
	return out
}

// lines expands one rule. After Application a JUMP_TO_APPLICATION has
// nothing to skip and the evaluator passes over it, so it gets no line.
// sets holds the table sets that exist (Program.Sets): a family in which
// an endpoint's set is empty gets no line (nothing of that family is in
// the set) or, for an excluded endpoint, no address condition (every
// address of that family is outside it).
func lines(r *realization.Rule, counter string, afterApp bool, sets map[string]bool) []Line {
	if r.Action == policy.ActionJump && afterApp {
		return nil
	}
	var out []Line
	var families []int
	switch {
	case r.Src.Set == "" && r.Dst.Set == "" && r.V4 && r.V6:
		families = []int{0}
	default:
		if r.V4 {
			families = append(families, 4)
		}
		if r.V6 {
			families = append(families, 6)
		}
	}
	services := r.Services
	if services == nil {
		services = []realization.Service{{AnyProto: true}}
	}
	for _, fam := range families {
		src, ok := endpointConds(r.Src, true, fam, sets)
		if !ok {
			continue
		}
		dst, ok := endpointConds(r.Dst, false, fam, sets)
		if !ok {
			continue
		}
		for _, svc := range services {
			if !svc.AnyProto && (fam == 4 && svc.Proto == address.ICMPv6 || fam == 6 && svc.Proto == address.ICMP) {
				continue // ICMP of the other family: no packet carries it
			}
			conds := slices.Concat(src, dst, serviceConds(svc))
			for _, v := range verdicts(r.Action, svc) {
				c := conds
				if v == VerdictRejectTCP && svc.AnyProto {
					// the reset is for TCP only; other protocols go on
					// to the next line, an ICMP reject.
					c = append(slices.Clone(conds), Cond{Kind: CondProto, Proto: address.TCP})
				}
				out = append(out, Line{Family: fam, Conds: c, Counter: counter, Log: logPrefix(r), Verdict: v, Rule: r.Path})
			}
		}
	}
	return out
}

// endpointConds matches an endpoint in a family: nothing for any address,
// else one set lookup (negated for excluded sources or destinations).
// When the set has no element of the family there is no table set to
// look up: an excluded endpoint then needs no condition, and a plain one
// matches no packet of the family, which ok=false reports.
func endpointConds(e realization.Endpoint, src bool, fam int, sets map[string]bool) (conds []Cond, ok bool) {
	if e.Set == "" {
		return nil, true
	}
	if fam != 0 && !sets[setName(e.Set, fam)] {
		return nil, e.Negate
	}
	return []Cond{{Kind: CondAddr, Src: src, Set: e.Set, Negate: e.Negate}}, true
}

// tableSets lists the table sets of a span that have elements.
func tableSets(s *realization.Span) map[string]bool {
	out := map[string]bool{}
	for i := range s.Sets {
		v4, v6 := setFamilies(&s.Sets[i])
		if v4 {
			out[setName(s.Sets[i].Name, 4)] = true
		}
		if v6 {
			out[setName(s.Sets[i].Name, 6)] = true
		}
	}
	return out
}

// setFamilies reports whether a span set has IPv4 and IPv6 elements: its
// table set of a family exists only then, and the program's lines depend
// on it, so a change of either needs a new table, not element changes.
func setFamilies(s *realization.Set) (v4, v6 bool) {
	for _, r := range s.Ranges {
		if r.From().Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	for _, m := range s.IPPorts {
		if m.Addr.Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	return v4, v6
}

func serviceConds(s realization.Service) []Cond {
	if s.AnyProto {
		var c []Cond
		if s.SrcPorts != nil {
			c = append(c, Cond{Kind: CondPorts, Src: true, Ports: s.SrcPorts})
		}
		if s.DstPorts != nil {
			c = append(c, Cond{Kind: CondPorts, Ports: s.DstPorts})
		}
		return c
	}
	c := []Cond{{Kind: CondProto, Proto: s.Proto}}
	if s.SrcPorts != nil {
		c = append(c, Cond{Kind: CondPorts, Src: true, Proto: s.Proto, Ports: s.SrcPorts})
	}
	if s.DstPorts != nil {
		c = append(c, Cond{Kind: CondPorts, Proto: s.Proto, Ports: s.DstPorts})
	}
	return c
}

// verdicts: REJECT answers TCP with a reset and everything else with an
// ICMP error, which takes two lines unless the protocol is known.
func verdicts(a policy.Action, s realization.Service) []Verdict {
	switch a {
	case policy.ActionDrop:
		return []Verdict{VerdictDrop}
	case policy.ActionJump:
		return []Verdict{VerdictReturn}
	case policy.ActionReject:
		switch {
		case !s.AnyProto && s.Proto == address.TCP:
			return []Verdict{VerdictRejectTCP}
		case !s.AnyProto:
			return []Verdict{VerdictReject}
		}
		return []Verdict{VerdictRejectTCP, VerdictReject}
	}
	return []Verdict{VerdictAccept}
}

// logPrefix names the rule in the kernel log: the policy and rule IDs,
// within the 127 bytes nftables allows.
func logPrefix(r *realization.Rule) string {
	if !r.Logged {
		return ""
	}
	id := func(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }
	s := fmt.Sprintf("kordon %s %s/%s", r.Action, id(r.Policy), id(r.Path))
	return Text(s, maxLogPrefix-2) + ": "
}

// Elements returns the set elements of a span set, by table set name.
func Elements(s *realization.Set) map[string][][]string {
	out := map[string][][]string{setName(s.Name, 4): nil, setName(s.Name, 6): nil}
	addRanges(out, s.Name, s.Ranges)
	addIPPorts(out, s.Name, s.IPPorts)
	return out
}

func addRanges(out map[string][][]string, set string, rs []netipx.IPRange) {
	for _, r := range rs {
		fam := 6
		if r.From().Is4() {
			fam = 4
		}
		k := setName(set, fam)
		out[k] = append(out[k], []string{rangeKey(r), "0-255", "0-65535"})
	}
}

func addIPPorts(out map[string][][]string, set string, ms []address.IPPort) {
	for _, m := range ms {
		fam := 6
		if m.Addr.Is4() {
			fam = 4
		}
		k := setName(set, fam)
		out[k] = append(out[k], ipPortKey(m))
	}
}

func rangeKey(r netipx.IPRange) string {
	if p, ok := r.Prefix(); ok {
		if p.IsSingleIP() {
			return p.Addr().String()
		}
		return p.String()
	}
	return r.From().String() + "-" + r.To().String()
}

func ipPortKey(m address.IPPort) []string {
	return []string{m.Addr.String(), strconv.Itoa(int(m.Proto)), strconv.Itoa(int(m.Port))}
}

package reach

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"testing"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/policy"
)

// The brute-force check works on a tiny domain: addresses 10.0.0.0-3 and
// fd00::0-3, ports (and ICMP types and codes) 1-4, and the protocols TCP,
// UDP, ICMP and 47 (no ports). Random rules only ever name values of the
// domain, so every rule boundary lies inside it: all the values outside
// it, in one dimension, are in exactly the same rule sets, member keys
// and port ranges. One representative of them (10.0.0.4, fd00::4, port
// 5) therefore stands for all, and enumerating the domain plus the
// representatives visits every class of flows the rules can tell apart:
// comparing with Ruleset.Evaluate on them is exhaustive, not sampled.
//
// Protocols are the exception: what the outside protocols stand for
// depends on their ports, so there is one representative per kind of
// protocol the universe has: SCTP (ports 1-65535, like TCP), ICMPv6
// (type and code 0-255, like ICMP; port 0 falls in the same class as 5)
// and 50 (ports 0, like 47).
const (
	domainAddrs = 8
	domainPorts = 4
)

var (
	domain4 = netip.MustParseAddr("10.0.0.0")
	domain6 = netip.MustParseAddr("fd00::")
)

func domainAddr(rnd *rand.Rand, base netip.Addr) netip.Addr {
	a := base
	for i := rnd.IntN(domainAddrs); i > 0; i-- {
		a = a.Next()
	}
	return a
}

// randomSet draws a set of addresses mostly from one family (a rule whose
// source and destination are of different families matches nothing; a
// few such rules are enough).
func randomSet(rnd *rand.Rand, family netip.Addr) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for i := 1 + rnd.IntN(3); i > 0; i-- {
		base := family
		if rnd.IntN(6) == 0 {
			base = other(family)
		}
		a := domainAddr(rnd, base)
		switch rnd.IntN(3) {
		case 0:
			b.Add(a)
		case 1: // a prefix inside the domain (of 8 addresses: /29 or /125)
			b.AddPrefix(netip.PrefixFrom(a, a.BitLen()-1-rnd.IntN(3)).Masked())
		default:
			z := domainAddr(rnd, base)
			if z.Less(a) {
				a, z = z, a
			}
			b.AddRange(netipx.IPRangeFrom(a, z))
		}
	}
	s, _ := b.IPSet()
	return s
}

func other(family netip.Addr) netip.Addr {
	if family == domain4 {
		return domain6
	}
	return domain4
}

func randomPort(rnd *rand.Rand) uint16 { return uint16(1 + rnd.IntN(domainPorts)) }

func randomEndpoint(rnd *rand.Rand, family netip.Addr) policy.Endpoint {
	if rnd.IntN(3) == 0 {
		return policy.Endpoint{Any: true, Negate: rnd.IntN(25) == 0}
	}
	e := policy.Endpoint{Set: randomSet(rnd, family), Negate: rnd.IntN(4) == 0}
	if rnd.IntN(3) == 0 {
		e.IPPorts = map[address.IPPort]struct{}{}
		for i := 1 + rnd.IntN(2); i > 0; i-- {
			base := family
			if rnd.IntN(6) == 0 {
				base = other(family)
			}
			p := []address.Proto{address.TCP, address.UDP, address.ICMP}[rnd.IntN(3)]
			e.IPPorts[address.IPPort{Addr: domainAddr(rnd, base), Proto: p, Port: randomPort(rnd)}] = struct{}{}
		}
	}
	return e
}

func randomPorts(rnd *rand.Rand) []address.PortRange {
	if rnd.IntN(2) == 0 {
		return nil
	}
	var out []address.PortRange
	for i := 1 + rnd.IntN(2); i > 0; i-- {
		a, b := randomPort(rnd), randomPort(rnd)
		out = append(out, address.PortRange{From: min(a, b), To: max(a, b)})
	}
	return out
}

func randomServices(rnd *rand.Rand) []policy.ServiceMatch {
	switch n := rnd.IntN(50); {
	case n == 0:
		return []policy.ServiceMatch{} // matches nothing
	case n < 25:
		return nil
	}
	var out []policy.ServiceMatch
	for i := 1 + rnd.IntN(2); i > 0; i-- {
		m := policy.ServiceMatch{
			AnyProto: rnd.IntN(6) == 0,
			Proto:    []address.Proto{address.TCP, address.UDP, address.ICMP, 47}[rnd.IntN(4)],
			SrcPorts: randomPorts(rnd), DstPorts: randomPorts(rnd),
		}
		if m.Proto == 47 && rnd.IntN(4) != 0 {
			m.SrcPorts, m.DstPorts = nil, nil // ports on a protocol without ports: matches nothing
		}
		out = append(out, m)
	}
	return out
}

// randomRuleset draws 2-8 rules over the tiny domain, with every shape the
// matcher knows: both families and one, excluded endpoints, members with
// a port, several service entries, Applied To in each direction, jumps
// (in Environment, and now and then in Application, where they do
// nothing), and catch-alls.
func randomRuleset(t testing.TB, rnd *rand.Rand) *policy.Ruleset {
	n := 2 + rnd.IntN(7)
	appStart := rnd.IntN(n + 1)
	rules := make([]policy.Rule, n)
	for i := range rules {
		f := fam(rnd.IntN(3))
		r := blank(t, f)
		addrs := domain4
		if f == fam6 || f == famBoth && rnd.IntN(3) == 0 {
			addrs = domain6
		}
		r.Path = fmt.Sprintf("r%d", i)
		r.Action = policy.Action(rnd.IntN(3))
		if i < appStart && rnd.IntN(3) == 0 || rnd.IntN(8) == 0 {
			r.Action = policy.ActionJump
		}
		r.Src, r.Dst, r.Match = randomEndpoint(rnd, addrs), randomEndpoint(rnd, addrs), randomServices(rnd)
		if rnd.IntN(4) == 0 {
			r.AppliedTo, r.Direction = randomSet(rnd, addrs), policy.Direction(rnd.IntN(3))
		}
		switch rnd.IntN(20) {
		case 0:
			r.PolicyDefault = true
		case 1:
			r.Default = true
		}
		rules[i] = r
	}
	return ruleset(t, appStart, rules)
}

// domainFlows enumerates the domain and the outside representatives.
func domainFlows() []policy.Flow {
	ports := make([]uint16, 0, domainPorts+1)
	for p := uint16(1); p <= domainPorts+1; p++ {
		ports = append(ports, p)
	}
	kinds := []struct {
		proto address.Proto
		ports []uint16
	}{
		{address.TCP, ports}, {address.UDP, ports}, {address.SCTP, ports},
		{address.ICMP, ports}, {address.ICMPv6, ports},
		{47, []uint16{0}}, {50, []uint16{0}},
	}
	var out []policy.Flow
	for _, base := range []netip.Addr{domain4, domain6} {
		var addrs []netip.Addr
		for a, i := base, 0; i <= domainAddrs; a, i = a.Next(), i+1 {
			addrs = append(addrs, a)
		}
		for _, s := range addrs {
			for _, d := range addrs {
				for _, k := range kinds {
					for _, sp := range k.ports {
						for _, dp := range k.ports {
							out = append(out, policy.Flow{Src: s, Dst: d, Proto: k.proto, SrcPort: sp, DstPort: dp})
						}
					}
				}
			}
		}
	}
	return out
}

// bruteForce computes the findings from their definitions, with
// Ruleset.Evaluate on every flow of the domain.
func bruteForce(rs *policy.Ruleset, flows []policy.Flow) ([]Finding, error) {
	n := len(rs.Rules)
	index := func(r *policy.Rule) int {
		for i := range rs.Rules {
			if &rs.Rules[i] == r {
				return i
			}
		}
		panic("rule not in ruleset")
	}
	base := make([]policy.Decision, len(flows))
	decides, jumps := make([]bool, n), make([]bool, n)
	for k, f := range flows {
		d := rs.Evaluate(f)
		base[k] = d
		if d.Index >= 0 {
			decides[d.Index] = true
		}
		for _, j := range d.Jumped {
			jumps[index(j)] = true
		}
	}
	paths := func(set map[int]bool) []string {
		var idx []int
		for i := range set {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		out := []string{}
		for _, i := range idx {
			if i >= 0 {
				out = append(out, rs.Rules[i].Path)
			}
		}
		if set[-1] {
			out = append(out, Default)
		}
		return out
	}
	var out []Finding
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if r.Default || r.PolicyDefault {
			continue
		}
		isJump := r.Action == policy.ActionJump
		if isJump && !jumps[i] || !isJump && !decides[i] {
			// Shadowed: every flow the rule matches is decided by an
			// earlier rule, or jumped past it by an earlier Environment
			// jump (when it is in Environment too).
			by := map[int]bool{}
			for k := range flows {
				if !r.Matches(&flows[k]) {
					continue
				}
				d := base[k]
				if d.Index >= 0 && d.Index < i {
					by[d.Index] = true
					continue
				}
				found := false
				for _, jr := range d.Jumped {
					if j := index(jr); j < i && i < rs.AppStart() {
						by[j], found = true, true
					}
				}
				if !found {
					return nil, fmt.Errorf("flow %s matches shadowed rule %s, and no earlier rule takes it", flows[k], r.Path)
				}
			}
			out = append(out, Finding{Index: i, Rule: r.Path, Kind: Shadowed, By: paths(by)})
			continue
		}
		if isJump {
			continue
		}
		// Redundant: removing the rule changes no verdict. A rule that
		// matches nothing stands for the removed one, keeping AppStart
		// in place; removing a rule that does not jump can only change
		// the flows it decides, so only those are evaluated again.
		without := *rs
		without.Rules = append([]policy.Rule(nil), rs.Rules...)
		without.Rules[i].Match = []policy.ServiceMatch{}
		by, same := map[int]bool{}, true
		for k, f := range flows {
			if base[k].Index != i {
				continue
			}
			d := without.Evaluate(f)
			if d.Verdict != base[k].Verdict {
				same = false
				break
			}
			by[d.Index] = true
		}
		if same {
			out = append(out, Finding{Index: i, Rule: r.Path, Kind: Redundant, By: paths(by)})
		}
	}
	return out, nil
}

func TestAgainstBruteForce(t *testing.T) {
	flows := domainFlows()
	seen := map[string]int{}
	for seed := uint64(1); seed <= 300; seed++ {
		rnd := rand.New(rand.NewPCG(seed, 0x7265616368))
		rs := randomRuleset(t, rnd)
		want, err := bruteForce(rs, flows)
		if err != nil {
			t.Fatalf("seed %d: brute force: %v\n%s", seed, err, describe(rs))
		}
		got, err := Analyze(rs, Options{})
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, describe(rs))
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d:\ngot  %s\nwant %s\n%s", seed, show(got), show(want), describe(rs))
		}
		for _, f := range want {
			switch {
			case f.Kind == Redundant:
				seen["redundant"]++
			case len(f.By) == 0:
				seen["shadowed, matching nothing"]++
			default:
				seen["shadowed by earlier rules"]++
			}
		}
		seen["rules"] += len(rs.Rules)
	}
	// The random rulesets must exercise every kind of finding, or the
	// comparison proves little.
	t.Logf("%v", seen)
	for _, k := range []string{"redundant", "shadowed, matching nothing", "shadowed by earlier rules"} {
		if seen[k] < 50 {
			t.Errorf("%d findings %s in the random rulesets; too few to test against", seen[k], k)
		}
	}
}

// describe prints a ruleset for a failure message.
func describe(rs *policy.Ruleset) string {
	var b strings.Builder
	fmt.Fprintf(&b, "AppStart %d\n", rs.AppStart())
	endpoint := func(e policy.Endpoint) string {
		var s string
		switch {
		case e.Any:
			s = "ANY"
		case e.Set != nil:
			var rs []string
			for _, r := range e.Set.Ranges() {
				rs = append(rs, address.FormatRange(r))
			}
			s = "{" + strings.Join(rs, ",") + "}"
		}
		var ms []string
		for m := range e.IPPorts {
			ms = append(ms, m.String())
		}
		sort.Strings(ms)
		if len(ms) > 0 {
			s += "+" + strings.Join(ms, ",")
		}
		if e.Negate {
			s = "NOT " + s
		}
		return s
	}
	for i := range rs.Rules {
		r := &rs.Rules[i]
		fmt.Fprintf(&b, "%d %s %s v4=%v v6=%v src=%s dst=%s", i, r.Path, r.Action, r.IPv4(), r.IPv6(), endpoint(r.Src), endpoint(r.Dst))
		if r.Match != nil {
			fmt.Fprintf(&b, " match=%+v", r.Match)
		}
		if r.AppliedTo != nil {
			fmt.Fprintf(&b, " applied=%s %v", r.Direction, r.AppliedTo.Ranges())
		}
		if r.PolicyDefault || r.Default {
			fmt.Fprintf(&b, " catch-all")
		}
		b.WriteString("\n")
	}
	return b.String()
}

package reach

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/policy"
)

// largeRuleset draws a DFW-like ruleset of n rules: groups of VM addresses
// and subnets (some IPv6), services of a few TCP and UDP ports or ICMP,
// mostly ALLOW rules, JUMP_TO_APPLICATION in Environment, and now and then
// an ALLOWLIST policy's default DROP, applied to the groups it protects. Rules
// reuse groups and services, as real policies do, so they overlap.
func largeRuleset(t testing.TB, rnd *rand.Rand, n int) *policy.Ruleset {
	groups := func(n int, v6 bool) []*netipx.IPSet {
		out := make([]*netipx.IPSet, n)
		for g := range out {
			var b netipx.IPSetBuilder
			for k := 1 + rnd.IntN(6); k > 0; k-- {
				a := netip.AddrFrom4([4]byte{10, byte(rnd.IntN(16)), byte(rnd.IntN(256)), byte(rnd.IntN(256))})
				bits := []int{32, 32, 32, 28, 24}[rnd.IntN(5)]
				if v6 {
					a = netip.AddrFrom16([16]byte{0xfd, 0, 0, byte(rnd.IntN(16)), 15: byte(rnd.IntN(256))})
					bits = []int{128, 128, 120, 64}[rnd.IntN(4)]
				}
				b.AddPrefix(netip.PrefixFrom(a, bits).Masked())
			}
			out[g], _ = b.IPSet()
		}
		return out
	}
	groups4, groups6 := groups(80, false), groups(20, true)
	services := make([][]policy.ServiceMatch, 30)
	for s := range services {
		for k := 1 + rnd.IntN(3); k > 0; k-- {
			m := policy.ServiceMatch{Proto: []address.Proto{address.TCP, address.TCP, address.UDP, address.ICMP}[rnd.IntN(4)]}
			if m.Proto == address.ICMP {
				if rnd.IntN(2) == 0 {
					m.DstPorts = []address.PortRange{{From: 8, To: 8}}
				}
			} else {
				for p := 1 + rnd.IntN(3); p > 0; p-- {
					from := []uint16{22, 53, 80, 443, 3306, 5432, 8000, 8080, 9000, 1024}[rnd.IntN(10)]
					to := from
					if rnd.IntN(4) == 0 {
						to += uint16(rnd.IntN(1000))
					}
					m.DstPorts = append(m.DstPorts, address.PortRange{From: from, To: to})
				}
			}
			services[s] = append(services[s], m)
		}
	}
	endpoint := func(groups []*netipx.IPSet, anyOdds int) policy.Endpoint {
		if rnd.IntN(anyOdds) == 0 {
			return policy.Endpoint{Any: true}
		}
		e := policy.Endpoint{Set: groups[rnd.IntN(len(groups))], Negate: rnd.IntN(40) == 0}
		if rnd.IntN(20) == 0 {
			e.IPPorts = map[address.IPPort]struct{}{}
			for k := 1 + rnd.IntN(3); k > 0; k-- {
				a := netip.AddrFrom4([4]byte{10, 0, 0, byte(rnd.IntN(8))})
				e.IPPorts[address.IPPort{Addr: a, Proto: address.TCP, Port: uint16(30000 + rnd.IntN(4))}] = struct{}{}
			}
		}
		return e
	}
	appStart := n / 10
	var rules []policy.Rule
	var scope netipx.IPSetBuilder
	for i := 0; len(rules) < n; i++ {
		if len(rules) > appStart && i%12 == 11 && rnd.IntN(4) == 0 {
			// An ALLOWLIST policy's default rule, applied to the groups its
			// rules protect.
			r := blank(t, famBoth)
			r.Path, r.Action, r.PolicyDefault = fmt.Sprintf("/p%d/default-rule", i/12), policy.ActionDrop, true
			r.AppliedTo, _ = scope.IPSet()
			r.Direction = policy.In
			rules = append(rules, r)
			continue
		}
		if i%12 == 0 {
			scope = netipx.IPSetBuilder{}
		}
		// Most rules are about IPv4 groups, some about IPv6 ones; a rule
		// of one family naming the other's groups would match nothing.
		f, groups := []fam{famBoth, famBoth, famBoth, fam4}[rnd.IntN(4)], groups4
		if rnd.IntN(6) == 0 {
			f, groups = []fam{famBoth, fam6}[rnd.IntN(2)], groups6
		}
		r := blank(t, f)
		r.Path = fmt.Sprintf("/p%d/r%d", i/12, i)
		r.Action = []policy.Action{policy.ActionAllow, policy.ActionAllow, policy.ActionAllow, policy.ActionDrop, policy.ActionReject}[rnd.IntN(5)]
		if len(rules) < appStart && rnd.IntN(3) == 0 {
			r.Action = policy.ActionJump
		}
		// ANY (or all but a group) to ANY would shadow most of what follows.
		r.Src, r.Dst = endpoint(groups, 6), endpoint(groups, 20)
		for (r.Src.Any || r.Src.Negate) && (r.Dst.Any || r.Dst.Negate) {
			r.Dst = endpoint(groups, 20)
		}
		if rnd.IntN(8) != 0 {
			r.Match = services[rnd.IntN(len(services))]
		}
		if r.Dst.Set != nil {
			scope.AddSet(r.Dst.Set)
		}
		rules = append(rules, r)
	}
	return ruleset(t, appStart, rules)
}

// BenchmarkAnalyze measures the analysis of random 250-rule rulesets:
//
//	go test ./internal/reach -run '^$' -bench Analyze -benchtime 10x -cpu 1
//
// old/new is how many times longer analyzeReference, the analysis before
// the rule index and the batched walk, took on the same rulesets in the
// same run; each run also checks that both find the same.
func BenchmarkAnalyze(b *testing.B) {
	var sets []*policy.Ruleset
	for seed := uint64(1); seed <= 4; seed++ {
		sets = append(sets, largeRuleset(b, rand.New(rand.NewPCG(seed, 250)), 250))
	}
	benchAgainstReference(b, sets)
}

// BenchmarkAnalyze10k is a large estate's ruleset; its reference run
// alone takes tens of seconds:
//
//	go test ./internal/reach -run '^$' -bench Analyze10k -benchtime 1x -cpu 1
func BenchmarkAnalyze10k(b *testing.B) {
	benchAgainstReference(b, []*policy.Ruleset{largeRuleset(b, rand.New(rand.NewPCG(1, 10000)), 10000)})
}

func benchAgainstReference(b *testing.B, sets []*policy.Ruleset) {
	findings := 0
	var old, cur time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rs := sets[i%len(sets)]
		start := time.Now()
		fs, err := Analyze(rs, Options{})
		cur += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		findings += len(fs)
		b.StopTimer()
		start = time.Now()
		want, err := analyzeReference(rs, Options{})
		old += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if !reflect.DeepEqual(fs, want) {
			b.Fatalf("ruleset %d: findings differ from the reference", i%len(sets))
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(findings)/float64(b.N), "findings/op")
	b.ReportMetric(float64(old)/float64(cur), "old/new")
}

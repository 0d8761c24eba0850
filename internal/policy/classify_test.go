package policy_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/classbench"
	"github.com/kordon-dev/kordon/internal/policy"
)

// randomRuleset builds rules directly, with the shapes that make the
// classifier's per-field sets inexact: several service entries, members
// with ports, excluded sources and destinations, JUMP_TO_APPLICATION, and
// both address families. Addresses come from a tiny pool so that flows
// hit boundaries.
func randomRuleset(rnd *rand.Rand, n int) *policy.Ruleset {
	pool := []string{"10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.8", "10.0.0.255", "10.0.1.0", "fd00::1", "fd00::2", "255.255.255.255", "0.0.0.0"}
	addr := func() netip.Addr { return netip.MustParseAddr(pool[rnd.IntN(len(pool))]) }
	endpoint := func() policy.Endpoint {
		if rnd.IntN(4) == 0 {
			return policy.Endpoint{Any: true, Negate: rnd.IntN(8) == 0}
		}
		var b netipx.IPSetBuilder
		for i := rnd.IntN(3); i > 0; i-- {
			a := addr()
			if rnd.IntN(2) == 0 {
				b.Add(a)
			} else {
				b.AddPrefix(netip.PrefixFrom(a, a.BitLen()-rnd.IntN(4)).Masked())
			}
		}
		s, _ := b.IPSet()
		e := policy.Endpoint{Set: s, Negate: rnd.IntN(5) == 0}
		if rnd.IntN(3) == 0 {
			e.IPPorts = map[address.IPPort]struct{}{}
			for i := rnd.IntN(3) + 1; i > 0; i-- {
				e.IPPorts[address.IPPort{Addr: addr(), Proto: []address.Proto{address.TCP, address.UDP}[rnd.IntN(2)], Port: uint16(80 + rnd.IntN(3))}] = struct{}{}
			}
		}
		return e
	}
	ports := func() []address.PortRange {
		if rnd.IntN(2) == 0 {
			return nil
		}
		a := uint16(79 + rnd.IntN(4))
		return []address.PortRange{{From: a, To: a + uint16(rnd.IntN(2))}}
	}
	services := func() []policy.ServiceMatch {
		if rnd.IntN(3) == 0 {
			return nil
		}
		var out []policy.ServiceMatch
		for i := rnd.IntN(3) + 1; i > 0; i-- {
			out = append(out, policy.ServiceMatch{AnyProto: rnd.IntN(6) == 0, Proto: []address.Proto{address.TCP, address.UDP, address.ICMP}[rnd.IntN(3)],
				SrcPorts: ports(), DstPorts: ports()})
		}
		return out
	}
	var rules []policy.Rule
	jumps := n / 3
	for i := 0; i < n; i++ {
		r := policy.Rule{Path: fmt.Sprintf("/r/%d", i), Src: endpoint(), Dst: endpoint(), Match: services(),
			Action: policy.Action(rnd.IntN(3))}
		if i < jumps && rnd.IntN(3) == 0 {
			r.Action = policy.ActionJump
		}
		if rnd.IntN(4) == 0 {
			if e := endpoint(); e.Set != nil {
				r.AppliedTo, r.Direction = e.Set, policy.Direction(rnd.IntN(3))
			}
		}
		rules = append(rules, r)
	}
	return policy.NewRulesetForTest(rules, jumps, rnd.IntN(3) == 0)
}

func randomFlow(rnd *rand.Rand) policy.Flow {
	v4 := []string{"10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.8", "10.0.0.9", "10.0.0.255", "10.0.1.0", "10.0.1.1", "9.255.255.255", "255.255.255.255", "0.0.0.0"}
	v6 := []string{"fd00::", "fd00::1", "fd00::2", "fd00::3", "fd00::f", "fd00::10", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}
	pick := v4
	if rnd.IntN(3) == 0 {
		pick = v6
	}
	p := []address.Proto{address.TCP, address.UDP, address.ICMP, 47}[rnd.IntN(4)]
	return policy.Flow{Src: netip.MustParseAddr(pick[rnd.IntN(len(pick))]), Dst: netip.MustParseAddr(pick[rnd.IntN(len(pick))]),
		Proto: p, SrcPort: uint16(78 + rnd.IntN(6)), DstPort: uint16(78 + rnd.IntN(6))}
}

// TestClassifierMatchesLinearScan compares the classifier with a linear
// scan on random rulesets and flows.
func TestClassifierMatchesLinearScan(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 300; round++ {
		rs := randomRuleset(rnd, 1+rnd.IntN(150))
		cl := policy.NewClassifier(rs)
		for i := 0; i < 300; i++ {
			f := randomFlow(rnd)
			want := rs.Evaluate(f)
			v, got := cl.Decide(&f)
			if got != want.Index || v != want.Verdict {
				t.Fatalf("round %d, flow %s: classifier picks rule %d (%s), linear scan %d (%s)", round, f, got, v, want.Index, want.Verdict)
			}
			if fm := rs.FirstMatch(&f); fm != want.Index {
				t.Fatalf("FirstMatch %d != Evaluate %d", fm, want.Index)
			}
		}
	}
}

func loadClassbench(t testing.TB, name string) []classbench.Rule {
	f, err := os.Open(filepath.Join("..", "classbench", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules, err := classbench.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// TestClassifierOnClassBench checks the classifier against the linear scan
// on every flow of a generated trace for each ClassBench set.
func TestClassifierOnClassBench(t *testing.T) {
	for _, name := range []string{"ipc1_1k", "acl1_10k", "fw1_10k"} {
		t.Run(name, func(t *testing.T) {
			rules := loadClassbench(t, name)
			c, err := classbench.Compile(rules)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Ruleset.Rules) != len(rules) {
				t.Fatalf("%d filters became %d rules", len(rules), len(c.Ruleset.Rules))
			}
			flows := classbench.Flows(rules, 5000, 42)
			verdicts := map[policy.Verdict]int{}
			for i := range flows {
				want := c.Ruleset.FirstMatch(&flows[i])
				v, got := c.Classifier.Decide(&flows[i])
				if got != want {
					t.Fatalf("flow %s: classifier %d, linear scan %d", flows[i], got, want)
				}
				verdicts[v]++
			}
			if verdicts[policy.Allow] == 0 || verdicts[policy.Drop] == 0 || verdicts[policy.Reject] == 0 {
				t.Errorf("trace does not exercise every verdict: %v", verdicts)
			}
		})
	}
}

func TestDecideDoesNotAllocate(t *testing.T) {
	rules := loadClassbench(t, "acl1_10k")
	c, err := classbench.Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	flows := classbench.Flows(rules, 1000, 3)
	i := 0
	allocs := testing.AllocsPerRun(5000, func() {
		c.Classifier.Decide(&flows[i%len(flows)])
		i++
	})
	if allocs != 0 {
		t.Errorf("Decide allocates %.2f times per call", allocs)
	}
}

// BenchmarkDecide measures decisions over 10,000-rule ClassBench sets,
// after checking on the whole trace that the classifier and a linear scan
// agree. It reports the classifier's decisions per second and its ratio
// to the linear scan, measured in the same run:
//
//	go test ./internal/policy -run '^$' -bench Decide -cpu 1
func BenchmarkDecide(b *testing.B) {
	for _, name := range []string{"acl1_10k", "fw1_10k"} {
		b.Run(name, func(b *testing.B) {
			rules := loadClassbench(b, name)
			c, err := classbench.Compile(rules)
			if err != nil {
				b.Fatal(err)
			}
			flows := classbench.Flows(rules, 10000, 9)
			linear := 0
			for i := range flows {
				want := c.Ruleset.FirstMatch(&flows[i])
				if _, got := c.Classifier.Decide(&flows[i]); got != want {
					b.Fatalf("flow %s: classifier %d, linear scan %d", flows[i], got, want)
				}
			}
			// Baseline: the linear scan over 2,000 flows of the trace.
			start := time.Now()
			for i := 0; i < 2000; i++ {
				linear += c.Ruleset.FirstMatch(&flows[i])
			}
			linearPer := time.Since(start).Seconds() / 2000
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.Classifier.Decide(&flows[i%len(flows)])
			}
			b.StopTimer()
			per := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(1/per, "decisions/s")
			b.ReportMetric(linearPer/per, "x-vs-linear")
			_ = linear
		})
	}
}

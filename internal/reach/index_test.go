package reach

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestRuleIndex checks that the candidates of a box hold every rule
// whose region meets it, and no rule without a region, with fine
// intervals and with intervals so coarse they hold many bounds each.
func TestRuleIndex(t *testing.T) {
	defer func(n int) { maxIntervals = n }(maxIntervals)
	for _, coarse := range []int{2048, 3} {
		maxIntervals = coarse
		for seed := uint64(1); seed <= 3; seed++ {
			rs := largeRuleset(t, rand.New(rand.NewPCG(seed, 0x696e646578)), 300)
			a := &analysis{e: &engine{maxBoxes: 200_000, maxSteps: 400_000_000}, rs: rs, appStart: rs.AppStart()}
			for f := range a.walks {
				w := a.walk(family(f))
				x := newRuleIndex(w.decided)
				for i, m := range w.match {
					var got, want []int
					x.candidates(m, i, func(j int) { got = append(got, j) })
					for j := 0; j < i; j++ {
						if len(w.decided[j]) > 0 && len(m) > 0 && a.e.overlaps(w.decided[j], m) {
							want = append(want, j)
						}
					}
					if missing := without(want, got); len(missing) > 0 {
						t.Fatalf("intervals %d, seed %d, %s, rule %d: rules %v meet it but are not candidates", coarse, seed, family(f), i, missing)
					}
					for _, j := range got {
						if j >= i || len(w.decided[j]) == 0 {
							t.Fatalf("intervals %d, seed %d, %s, rule %d: candidate %d is not an earlier decider", coarse, seed, family(f), i, j)
						}
					}
				}
			}
		}
	}
}

// TestRuleIndexMask checks the masks the walk gives boxes: every region
// of the batch that meets a box has its bit, whatever sets are taken as
// hulls.
func TestRuleIndexMask(t *testing.T) {
	rs := largeRuleset(t, rand.New(rand.NewPCG(4, 0x6d61736b)), 300)
	a := &analysis{e: &engine{maxBoxes: 200_000, maxSteps: 400_000_000}, rs: rs, appStart: rs.AppStart()}
	w := a.walk(v4)
	var probes region
	for _, d := range w.decided {
		probes = append(probes, d...)
	}
	for start := 0; start < len(w.match); start += batchRules {
		ms := w.match[start:min(start+batchRules, len(w.match))]
		x := newRuleIndex(ms)
		for _, spans := range []int{0, walkSpans} {
			for p := range probes {
				got := x.mask(&probes[p], spans)
				for k, m := range ms {
					if got&(1<<k) == 0 && a.e.overlaps(region{probes[p]}, m) {
						t.Fatalf("batch at %d, hulls past %d spans: rule %d meets box %d, not in its mask", start, spans, start+k, p)
					}
				}
			}
		}
	}
}

// without returns the elements of a not in b.
func without(a, b []int) []int {
	in := map[int]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []int
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

// TestCoarseAgainstReference runs the whole analysis with coarse
// intervals, where the index admits many more candidates.
func TestCoarseAgainstReference(t *testing.T) {
	defer func(n int) { maxIntervals = n }(maxIntervals)
	maxIntervals = 3
	for seed := uint64(1); seed <= 3; seed++ {
		rs := largeRuleset(t, rand.New(rand.NewPCG(seed, 0x636f61727365)), 200)
		want, err := analyzeReference(rs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := Analyze(rs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d:\ngot  %s\nwant %s", seed, show(got), show(want))
		}
	}
}

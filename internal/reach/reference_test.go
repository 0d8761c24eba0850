package reach

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/kordon-dev/kordon/internal/policy"
)

// analyzeReference is Analyze as it was before the rule index and the
// batched walk: every earlier rule is tested against a shadowed one,
// every later rule against the flows a rule decides, and every pending
// box against every rule. It shares the region arithmetic. It is kept as
// the baseline the benchmarks measure against, and as a second opinion
// on rulesets too large for the brute force.
func analyzeReference(rs *policy.Ruleset, opt Options) (findings []Finding, err error) {
	e := &engine{maxBoxes: opt.MaxBoxes, maxSteps: opt.MaxSteps}
	if e.maxBoxes <= 0 {
		e.maxBoxes = 200_000
	}
	if e.maxSteps <= 0 {
		e.maxSteps = 400_000_000
	}
	a := &analysis{e: e, rs: rs, appStart: rs.AppStart()}
	defer func() {
		if x := recover(); x != nil {
			tc, ok := x.(tooComplex)
			if !ok {
				panic(x)
			}
			findings, err = nil, fmt.Errorf("%w: %s needed (%s)", ErrTooComplex, tc.what, a.where())
		}
	}()
	for f := range a.walks {
		a.walks[f] = a.walkReference(family(f))
	}
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if r.Default || r.PolicyDefault {
			continue
		}
		a.rule, a.checking = i, true
		if a.decides(i) {
			if r.Action == policy.ActionJump {
				continue
			}
			if by, ok := a.redundantReference(i); ok {
				findings = append(findings, Finding{Index: i, Rule: r.Path, Kind: Redundant, By: by})
			}
			continue
		}
		findings = append(findings, Finding{Index: i, Rule: r.Path, Kind: Shadowed, By: a.takersReference(i)})
	}
	return findings, nil
}

func (a *analysis) walkReference(f family) walk {
	e, n := a.e, len(a.rs.Rules)
	w := walk{match: make([]region, n), decided: make([]region, n)}
	pending, jumped := f.universe(), region(nil)
	compacted := len(pending)
	for i := range a.rs.Rules {
		r := &a.rs.Rules[i]
		a.fam, a.rule = f, i
		if i == a.appStart {
			pending, jumped = e.fits(append(pending, jumped...)), nil
		}
		m := e.ruleRegion(r, f)
		w.match[i] = m
		d, rest := e.split(pending, m)
		if len(d) == 0 {
			continue
		}
		w.decided[i] = d
		if r.Action == policy.ActionJump {
			if i >= a.appStart {
				continue // already in Application: the jump does nothing
			}
			jumped = e.fits(append(jumped, d...))
		}
		pending = rest
		if len(pending) > 2*compacted {
			// Compact when the region has doubled; when compacting barely
			// helps, wait longer next time.
			before := len(pending)
			pending = e.compact(pending)
			compacted = max(len(pending), 8)
			if 10*len(pending) > 9*before {
				compacted = before
			}
		}
	}
	return w
}

func (a *analysis) takersReference(i int) []string {
	by := []string{}
	for j := 0; j < i; j++ {
		rj := &a.rs.Rules[j]
		if rj.Action == policy.ActionJump && (j >= a.appStart || i >= a.appStart) {
			continue
		}
		for f := range a.walks {
			w := &a.walks[f]
			if len(w.decided[j]) > 0 && len(w.match[i]) > 0 && a.e.overlaps(w.decided[j], w.match[i]) {
				by = append(by, rj.Path)
				break
			}
		}
	}
	return by
}

func (a *analysis) redundantReference(i int) ([]string, bool) {
	deciders := map[int]bool{}
	for f := range a.walks {
		if !a.restReference(a.walks[f], i, deciders) {
			return nil, false
		}
	}
	by := []string{}
	for k := i + 1; k < len(a.rs.Rules); k++ {
		if deciders[k] {
			by = append(by, a.rs.Rules[k].Path)
		}
	}
	if deciders[-1] {
		by = append(by, Default)
	}
	return by, true
}

func (a *analysis) restReference(w walk, i int, deciders map[int]bool) bool {
	e, rules := a.e, a.rs.Rules
	want := verdict(rules[i].Action)
	q, jumped := w.decided[i], region(nil)
	for k := i + 1; k < len(rules); k++ {
		if k == a.appStart {
			q, jumped = e.fits(append(q[:len(q):len(q)], jumped...)), nil
		}
		if len(q) == 0 {
			if len(jumped) == 0 {
				return true
			}
			continue
		}
		d, rest := e.split(q, w.match[k])
		if len(d) == 0 {
			continue
		}
		if rules[k].Action == policy.ActionJump {
			if k >= a.appStart {
				continue
			}
			jumped = e.fits(append(jumped, d...))
		} else {
			if verdict(rules[k].Action) != want {
				return false
			}
			deciders[k] = true
		}
		q = rest
	}
	if len(q) > 0 || len(jumped) > 0 {
		if want != policy.Allow {
			return false
		}
		deciders[-1] = true
	}
	return true
}

// TestAgainstReference compares Analyze with analyzeReference on
// DFW-like rulesets of a few hundred rules, where most rules are
// shadowed by several others: larger than the brute force can check,
// and with many more takers to find.
func TestAgainstReference(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		n := 100 + int(seed)*50
		rs := largeRuleset(t, rand.New(rand.NewPCG(seed, 0x726566)), n)
		want, err := analyzeReference(rs, Options{})
		if err != nil {
			t.Fatalf("seed %d: reference: %v", seed, err)
		}
		got, err := Analyze(rs, Options{})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d, %d rules:\ngot  %s\nwant %s", seed, n, show(got), show(want))
		}
	}
}

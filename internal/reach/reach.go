package reach

import (
	"errors"
	"fmt"

	"github.com/kordon-dev/kordon/internal/policy"
)

// Kind is what is wrong with a rule.
type Kind string

// Kinds of finding.
const (
	// Shadowed: the rule is never the first to match a flow; earlier rules
	// take all its flows (or it matches none).
	Shadowed Kind = "shadowed"
	// Redundant: the rule decides flows, but without it later rules (or
	// the default) would give every one of them the same verdict.
	Redundant Kind = "redundant"
)

// Default names the built-in default rule (no rule matched: ALLOW) in
// Finding.By.
const Default = "default"

// Finding is one rule the ruleset does not need.
type Finding struct {
	Index int    `json:"index"` // position in Ruleset.Rules
	Rule  string `json:"rule"`  // rule path
	Kind  Kind   `json:"kind"`
	// By, for a shadowed rule, is the earlier rules that take its flows, in
	// order: those deciding some of them, and the JUMP_TO_APPLICATION
	// rules that send some of them past it. Empty means the rule matches
	// no flow at all. For a redundant rule, By is the later rules, in
	// order, then Default, that would decide its flows without it. Never
	// nil.
	//
	// Each finding holds with every other rule in place, and two rules
	// each redundant may not be redundant together: with "ALLOW 10.0.0.1;
	// ALLOW 10.0.0.0/24; ALLOW 10.0.0.0/24 except 10.0.0.1; DROP" the
	// first two are, but without both 10.0.0.1 is dropped. Remove one at a
	// time and analyse again.
	By []string `json:"by"`
}

// Options bounds the work of an analysis. The zero value is the default
// budget.
type Options struct {
	// MaxBoxes is the most boxes (pieces of flow space) one region may
	// hold; 0 means 200,000.
	MaxBoxes int
	// MaxSteps is the most box operations the analysis may spend; 0
	// means 400,000,000: some ten seconds of one core, where 250 typical
	// rules take well under a million.
	MaxSteps int64
}

// ErrTooComplex is returned, wrapped, when the exact answer would cost
// more than the Options allow. There is no partial or approximate answer.
var ErrTooComplex = errors.New("ruleset too complex to analyse exactly")

// Analyze finds the shadowed and redundant rules of a ruleset, in rule
// order. Rules marked PolicyDefault or Default take part in the analysis
// but are not reported: they are catch-alls by construction.
func Analyze(rs *policy.Ruleset, opt Options) (findings []Finding, err error) {
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
		a.walks[f] = a.walk(family(f))
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
			if by, ok := a.redundant(i); ok {
				findings = append(findings, Finding{Index: i, Rule: r.Path, Kind: Redundant, By: by})
			}
			continue
		}
		findings = append(findings, Finding{Index: i, Rule: r.Path, Kind: Shadowed, By: a.takers(i)})
	}
	return findings, nil
}

type analysis struct {
	e        *engine
	rs       *policy.Ruleset
	appStart int
	walks    [2]walk
	// Where the analysis is, for the budget error.
	fam      family
	rule     int
	checking bool
}

func (a *analysis) where() string {
	if a.rule >= len(a.rs.Rules) {
		return "before the first rule"
	}
	if a.checking {
		return "checking rule " + a.rs.Rules[a.rule].Path
	}
	return fmt.Sprintf("%s flows at rule %s", a.fam, a.rs.Rules[a.rule].Path)
}

// walk is one family's pass over the ruleset.
type walk struct {
	// match[i] is the flows rule i matches; decided[i] those of them that
	// reach it: the flows it decides, or, for a jump, those it jumps.
	match, decided []region
}

// walk follows Ruleset.Evaluate over whole regions: pending is the flows
// no rule has decided yet, jumped those a JUMP_TO_APPLICATION sent to
// the first Application rule, where they rejoin.
func (a *analysis) walk(f family) walk {
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

func (a *analysis) decides(i int) bool {
	return len(a.walks[v4].decided[i]) > 0 || len(a.walks[v6].decided[i]) > 0
}

// takers lists the earlier rules that take flows of shadowed rule i: the
// deciders of its flows, and the jumps that carry some past it (those
// before it in Environment, when it is in Environment too).
func (a *analysis) takers(i int) []string {
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

// redundant decides whether rule i's flows would get the same verdict
// without it, and lists the rules that would then decide them.
func (a *analysis) redundant(i int) ([]string, bool) {
	deciders := map[int]bool{}
	for f := range a.walks {
		if !a.rest(a.walks[f], i, deciders) {
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

// rest evaluates the flows rule i decides as if the rule were not there,
// continuing at rule i+1 with the same jump semantics. It reports whether
// all of them keep rule i's verdict, adding the deciding rules (-1 for
// the default) to deciders.
func (a *analysis) rest(w walk, i int, deciders map[int]bool) bool {
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

// verdict is what a deciding rule does to a flow (Logged aside).
func verdict(a policy.Action) policy.Verdict {
	switch a {
	case policy.ActionDrop:
		return policy.Drop
	case policy.ActionReject:
		return policy.Reject
	}
	return policy.Allow
}

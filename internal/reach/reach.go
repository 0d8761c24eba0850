package reach

import (
	"errors"
	"fmt"
	"math/bits"
	"sort"

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
	scans    [2]scan
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

// scan is how one family's deciders are found once the walk is done.
type scan struct {
	index *ruleIndex
	later [][]int32 // see analysis.later
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
	for start, end := 0, 0; start < n; start = end {
		end = min(start+batchRules, n)
		if start < a.appStart && a.appStart < end {
			end = a.appStart
		}
		if start == a.appStart {
			pending, jumped = e.fits(append(pending, jumped...)), nil
		}
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
		for i := start; i < end; i++ {
			a.fam, a.rule = f, i
			w.match[i] = e.ruleRegion(&a.rs.Rules[i], f)
		}
		b := batch{a: a, w: &w, start: start, pending: pending, jumped: jumped}
		b.run(end)
		pending, jumped = b.live(), b.jumped
	}
	return w
}

// batch walks up to batchRules rules at once. A rule matches few of the
// thousands of boxes of pending, and testing every box against every
// rule was most of the walk: the batch indexes its rules' regions, and
// each box goes only to the rules that may match it. The boxes cut from
// a box go to the rules after the cut that may have matched it.
type batch struct {
	a       *analysis
	w       *walk
	start   int
	pending region
	jumped  region
	// masks[p] is the rules, by bit from start, that may match
	// pending[p]; queue[t] the boxes rule start+t may match, and dead
	// those cut up since.
	masks []uint64
	queue [][]int32
	dead  []bool
}

const (
	// batchRules is the rules of a batch: a box's rules fit a uint64.
	batchRules = 64
	// walkSpans is where a set stops being looked up span by span in
	// the batch's index: a box left by cuts can hold a complement of
	// many spans.
	walkSpans = 8
)

func (b *batch) run(end int) {
	x := newRuleIndex(b.w.match[b.start:end])
	b.queue = make([][]int32, end-b.start)
	for p := range b.pending {
		b.enqueue(x.mask(&b.pending[p], walkSpans))
	}
	e, a := b.a.e, b.a
	var c cutter
	for t := range b.queue {
		i := b.start + t
		r, m := &a.rs.Rules[i], b.w.match[i]
		a.rule = i
		e.charge(len(b.queue[t]) * len(m))
		keep := r.Action == policy.ActionJump && i >= a.appStart // already in Application: the jump does nothing
		c.in = nil
		for _, p := range b.queue[t] {
			if b.dead[p] {
				continue
			}
			pieces, hit := c.cut(e, &b.pending[p], m, true)
			if !hit || keep {
				continue
			}
			b.dead[p] = true
			later := b.masks[p] &^ (2<<t - 1)
			for _, piece := range pieces {
				b.pending = append(b.pending, piece)
				b.enqueue(later)
			}
		}
		if len(c.in) == 0 {
			continue
		}
		d := e.fits(c.in)
		b.w.decided[i] = d
		if r.Action == policy.ActionJump && i < a.appStart {
			b.jumped = e.fits(append(b.jumped, d...))
		}
	}
}

// enqueue records the mask of the last box of pending.
func (b *batch) enqueue(mask uint64) {
	p := int32(len(b.masks))
	b.masks, b.dead = append(b.masks, mask), append(b.dead, false)
	for v := mask; v != 0; v &= v - 1 {
		u := bits.TrailingZeros64(v)
		b.queue[u] = append(b.queue[u], p)
	}
}

// live returns the boxes of pending not cut up, in a new region.
func (b *batch) live() region {
	out := make(region, 0, len(b.pending))
	for p := range b.pending {
		if !b.dead[p] {
			out = append(out, b.pending[p])
		}
	}
	return b.a.e.fits(out)
}

func (a *analysis) decides(i int) bool {
	return len(a.walks[v4].decided[i]) > 0 || len(a.walks[v6].decided[i]) > 0
}

// takers lists the earlier rules that take flows of shadowed rule i: the
// deciders of its flows, and the jumps that carry some past it (those
// before it in Environment, when it is in Environment too).
func (a *analysis) takers(i int) []string {
	var took []int
	for f := range a.walks {
		w := &a.walks[f]
		if len(w.match[i]) == 0 {
			continue
		}
		// A rule found with the first family need not be tested again:
		// both families try rules in order, so one pointer skips them.
		found, next := took, 0
		a.deciders(family(f), i, func(j int) {
			for next < len(found) && found[next] < j {
				next++
			}
			if next < len(found) && found[next] == j {
				return
			}
			rj := &a.rs.Rules[j]
			if rj.Action == policy.ActionJump && (j >= a.appStart || i >= a.appStart) {
				return
			}
			if a.e.overlaps(w.decided[j], w.match[i]) {
				took = append(took, j)
			}
		})
	}
	sort.Ints(took)
	by := make([]string, len(took))
	for k, j := range took {
		by[k] = a.rs.Rules[j].Path
	}
	return by
}

// deciders calls try, in order, with the rules before i that decide flows
// of family f and may decide some of rule i's.
func (a *analysis) deciders(f family, i int, try func(j int)) {
	a.index(f).candidates(a.walks[f].match[i], i, try)
}

// index returns family f's rule index of the decided regions, built the
// first time a rule needs it.
func (a *analysis) index(f family) *ruleIndex {
	t := &a.scans[f]
	if t.index == nil {
		t.index = newRuleIndex(a.walks[f].decided)
	}
	return t.index
}

// redundant decides whether rule i's flows would get the same verdict
// without it, and lists the rules that would then decide them.
func (a *analysis) redundant(i int) ([]string, bool) {
	deciders := map[int]bool{}
	for f := range a.walks {
		if !a.rest(family(f), i, deciders) {
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
// the default) to deciders. It visits only the later rules that may
// match some of those flows: the others would split off nothing.
func (a *analysis) rest(f family, i int, deciders map[int]bool) bool {
	e, rules, w := a.e, a.rs.Rules, &a.walks[f]
	want := verdict(rules[i].Action)
	q, jumped := w.decided[i], region(nil)
	merged := i >= a.appStart
	for _, k := range a.later(f)[i] {
		if !merged && int(k) >= a.appStart {
			q, jumped, merged = e.fits(append(q[:len(q):len(q)], jumped...)), nil, true
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
			if int(k) >= a.appStart {
				continue
			}
			jumped = e.fits(append(jumped, d...))
		} else {
			if verdict(rules[k].Action) != want {
				return false
			}
			deciders[int(k)] = true
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

// later returns, for each rule i deciding flows of family f, the later
// rules, in order, whose flows may meet those it decides.
func (a *analysis) later(f family) [][]int32 {
	t, w := &a.scans[f], &a.walks[f]
	if t.later == nil {
		x := a.index(f)
		t.later = make([][]int32, len(w.match))
		for k, m := range w.match {
			if len(m) > 0 {
				x.candidates(m, k, func(i int) { t.later[i] = append(t.later[i], int32(k)) })
			}
		}
	}
	return t.later
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

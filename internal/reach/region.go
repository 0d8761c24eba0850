package reach

import (
	"fmt"
	"sort"
)

// u128 is a point of a dimension: an IPv6 address needs all 128 bits,
// and one type for every dimension keeps a single, well-tested set of
// interval operations.
type u128 struct{ hi, lo uint64 }

func u64(v uint64) u128 { return u128{lo: v} }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a u128) inc() u128 {
	if a.lo == ^uint64(0) {
		return u128{a.hi + 1, 0}
	}
	return u128{a.hi, a.lo + 1}
}

func (a u128) dec() u128 {
	if a.lo == 0 {
		return u128{a.hi - 1, ^uint64(0)}
	}
	return u128{a.hi, a.lo - 1}
}

func maxU(a, b u128) u128 {
	if a.less(b) {
		return b
	}
	return a
}

func minU(a, b u128) u128 {
	if a.less(b) {
		return a
	}
	return b
}

// span is the closed interval [lo, hi].
type span struct{ lo, hi u128 }

// set is a sorted list of disjoint, non-adjacent spans. Sets are never
// modified once built: boxes share them freely.
type set []span

func single(lo, hi uint64) set { return set{{u64(lo), u64(hi)}} }

// covers reports whether the single span of a holds all of b; it is the
// cheap test that lets a dimension left at "everything" cost nothing.
func covers(a, b set) bool {
	return len(a) == 1 && !b[0].lo.less(a[0].lo) && !a[0].hi.less(b[len(b)-1].hi)
}

func hullsMeet(a, b set) bool {
	return !a[len(a)-1].hi.less(b[0].lo) && !b[len(b)-1].hi.less(a[0].lo)
}

func intersectSets(a, b set) set {
	switch {
	case len(a) == 0 || len(b) == 0 || !hullsMeet(a, b):
		return nil
	case covers(a, b):
		return b
	case covers(b, a):
		return a
	}
	var out set
	for i, j := 0, 0; i < len(a) && j < len(b); {
		lo, hi := maxU(a[i].lo, b[j].lo), minU(a[i].hi, b[j].hi)
		if !hi.less(lo) {
			out = append(out, span{lo, hi})
		}
		if a[i].hi.less(b[j].hi) {
			i++
		} else {
			j++
		}
	}
	return out
}

func subtractSets(a, b set) set {
	switch {
	case len(a) == 0:
		return nil
	case len(b) == 0 || !hullsMeet(a, b):
		return a
	case covers(b, a):
		return nil
	}
	var out set
	j := 0
	for _, x := range a {
		for j < len(b) && b[j].hi.less(x.lo) {
			j++
		}
		lo, done := x.lo, false
		for k := j; k < len(b) && !x.hi.less(b[k].lo); k++ {
			if lo.less(b[k].lo) {
				out = append(out, span{lo, b[k].lo.dec()})
			}
			if !b[k].hi.less(x.hi) {
				done = true
				break
			}
			lo = maxU(lo, b[k].hi.inc())
		}
		if !done {
			out = append(out, span{lo, x.hi})
		}
	}
	return out
}

// setOf builds a canonical set from spans in any order; it may reorder
// them.
func setOf(spans []span) set {
	sort.Slice(spans, func(i, j int) bool { return spans[i].lo.less(spans[j].lo) })
	var out set
	for _, s := range spans {
		if s.hi.less(s.lo) {
			continue
		}
		if n := len(out); n > 0 {
			last := &out[n-1]
			if !last.hi.less(s.lo) || last.hi.inc() == s.lo {
				last.hi = maxU(last.hi, s.hi)
				continue
			}
		}
		out = append(out, s)
	}
	return out
}

// Dimensions of a box. The address family is not one: each family is
// analysed on its own, so an IPv4 address is its 32-bit value.
const (
	dimSrc = iota
	dimDst
	dimProto
	dimSrcPort
	dimDstPort
	nDims
)

// box is a cartesian product of one set per dimension. No set of a box
// is empty: an empty box is no box, and the set operations rely on it.
type box [nDims]set

// region is a union of pairwise disjoint boxes; nil is empty.
type region []box

// tooComplex unwinds an analysis that ran out of budget; Analyze turns it
// into an error.
type tooComplex struct{ what string }

// engine does the region arithmetic and keeps the work budget: a region
// may hold at most maxBoxes boxes, and the analysis may spend at most
// maxSteps box operations, so that a ruleset whose exact answer would
// take too long fails instead of hanging.
type engine struct {
	maxBoxes int
	maxSteps int64
	steps    int64
}

func (e *engine) charge(n int) {
	e.steps += int64(n)
	if e.steps > e.maxSteps {
		panic(tooComplex{fmt.Sprintf("more than %d box operations", e.maxSteps)})
	}
}

func (e *engine) fits(r region) region {
	if len(r) > e.maxBoxes {
		panic(tooComplex{fmt.Sprintf("a region of more than %d boxes", e.maxBoxes)})
	}
	return r
}

func intersectBoxes(a, b *box) (box, bool) {
	for d := range a {
		if !hullsMeet(a[d], b[d]) {
			return box{}, false
		}
	}
	var out box
	for d := range a {
		if out[d] = intersectSets(a[d], b[d]); len(out[d]) == 0 {
			return box{}, false
		}
	}
	return out, true
}

// subtractBox appends a\b to out as disjoint boxes: the k-th piece agrees
// with b on the dimensions before k, lies outside b on dimension k, and
// is free on the dimensions after it.
func subtractBox(out region, a, b *box) region {
	inter, ok := intersectBoxes(a, b)
	if !ok {
		return append(out, *a)
	}
	for d := range a {
		diff := subtractSets(a[d], b[d])
		if len(diff) == 0 {
			continue
		}
		var p box
		copy(p[:d], inter[:d])
		p[d] = diff
		copy(p[d+1:], a[d+1:])
		out = append(out, p)
	}
	return out
}

func (e *engine) intersect(r, s region) region {
	if len(r) == 0 || len(s) == 0 {
		return nil
	}
	e.charge(len(r) * len(s))
	var out region
	for i := range r {
		for j := range s {
			if b, ok := intersectBoxes(&r[i], &s[j]); ok {
				out = append(out, b)
			}
		}
	}
	return e.fits(out)
}

func (e *engine) overlaps(r, s region) bool {
	e.charge(len(r) * len(s))
	for i := range r {
		for j := range s {
			if meet(&r[i], &s[j]) {
				return true
			}
		}
	}
	return false
}

func (e *engine) subtract(r, s region) region {
	_, out := e.cut(r, s, false)
	return out
}

// union returns r ∪ s, disjoint: r and the part of s outside it.
func (e *engine) union(r, s region) region {
	return e.fits(append(r[:len(r):len(r)], e.subtract(s, r)...))
}

// split returns r∩s and r\s.
func (e *engine) split(r, s region) (in, out region) { return e.cut(r, s, true) }

// cut takes s out of r box by box. The boxes of r that s does not touch
// (most of them: rules are narrow) are not copied until one is, and r
// itself is returned when none is.
func (e *engine) cut(r, s region, wantIn bool) (in, out region) {
	if len(r) == 0 || len(s) == 0 {
		return nil, r
	}
	e.charge(len(r) * len(s))
	var c cutter
	touched := false
	for i := range r {
		pieces, hit := c.cut(e, &r[i], s, wantIn)
		if !touched {
			if !hit {
				continue
			}
			touched = true
			out = make(region, i, len(r)+len(pieces))
			copy(out, r[:i])
		}
		out = append(out, pieces...)
	}
	if !touched {
		return e.fits(c.in), r
	}
	return e.fits(c.in), e.fits(out)
}

// cutter takes regions out of boxes one box at a time, reusing its
// storage from one box to the next.
type cutter struct {
	pieces, next region
	in           region // what the cuts took, when wanted
}

// cut returns the pieces of b\s, valid until the next call, and whether
// s met b; it adds b∩s to c.in if wantIn.
func (c *cutter) cut(e *engine, b *box, s region, wantIn bool) (pieces region, hit bool) {
	c.pieces = append(c.pieces[:0], *b)
	for j := range s {
		if !meet(b, &s[j]) {
			continue
		}
		hit = true
		if wantIn {
			x, _ := intersectBoxes(b, &s[j])
			c.in = append(c.in, x)
		}
		c.next = c.next[:0]
		for k := range c.pieces {
			c.next = subtractBox(c.next, &c.pieces[k], &s[j])
		}
		e.charge(len(c.pieces) + len(c.next))
		if c.pieces, c.next = c.next, c.pieces; len(c.pieces) == 0 {
			break // s is disjoint: nothing else of it meets b
		}
	}
	return c.pieces, hit
}

// meet reports whether two boxes share a point, without building their
// intersection.
func meet(a, b *box) bool {
	for d := range a {
		if !hullsMeet(a[d], b[d]) {
			return false
		}
	}
	for d := range a {
		if !setsMeet(a[d], b[d]) {
			return false
		}
	}
	return true
}

func setsMeet(a, b set) bool {
	if covers(a, b) || covers(b, a) {
		return true
	}
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i].hi.less(b[j].lo):
			i++
		case b[j].hi.less(a[i].lo):
			j++
		default:
			return true
		}
	}
	return false
}

// compact merges boxes that differ in one dimension only. It changes no
// point of the region; it keeps regions from fragmenting into many small
// boxes as rules are subtracted, which is what makes the walk affordable.
// Boxes are matched by a hash of their other dimensions, then compared;
// a collision only costs a merge.
func (e *engine) compact(r region) region {
	if len(r) < 2 {
		return r
	}
	// Boxes share most of their sets (a cut copies the dimensions it does
	// not split), so each distinct set is hashed once.
	type setID struct {
		first *span
		n     int
	}
	cache := map[setID]uint64{}
	hash := func(s set) uint64 {
		if len(s) == 0 {
			return 0
		}
		id := setID{&s[0], len(s)}
		h, ok := cache[id]
		if !ok {
			e.charge(len(s))
			h = hashSet(s)
			cache[id] = h
		}
		return h
	}
	hs := make([][nDims]uint64, len(r))
	for i := range r {
		for d := range r[i] {
			hs[i][d] = hash(r[i][d])
		}
	}
	for changed := true; changed; {
		changed = false
		for d := 0; d < nDims && len(r) > 1; d++ {
			e.charge(len(r))
			index := make(map[uint64]int, len(r))
			out, outHs := make(region, 0, len(r)), make([][nDims]uint64, 0, len(r))
			merged := map[int][]span{} // out box -> the spans of dimension d it gathers
			for i := range r {
				k := uint64(d)
				for o := range hs[i] {
					if o != d {
						k = mix(k ^ hs[i][o])
					}
				}
				if j, ok := index[k]; ok && sameExcept(&out[j], &r[i], d) {
					if merged[j] == nil {
						merged[j] = append([]span{}, out[j][d]...)
					}
					merged[j] = append(merged[j], r[i][d]...)
					continue
				}
				index[k] = len(out)
				out, outHs = append(out, r[i]), append(outHs, hs[i])
			}
			for j, spans := range merged {
				e.charge(len(spans))
				out[j][d] = setOf(spans)
				outHs[j][d] = hash(out[j][d])
				changed = true
			}
			r, hs = out, outHs
		}
	}
	return r
}

func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

func hashSet(s set) uint64 {
	h := uint64(len(s))
	for _, x := range s {
		h = mix(h ^ x.lo.hi)
		h = mix(h ^ x.lo.lo)
		h = mix(h ^ x.hi.hi)
		h = mix(h ^ x.hi.lo)
	}
	return h
}

func sameExcept(a, b *box, skip int) bool {
	for d := range a {
		if d != skip && !equalSets(a[d], b[d]) {
			return false
		}
	}
	return true
}

func equalSets(a, b set) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

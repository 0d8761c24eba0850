package reach

import (
	"math"
	"math/bits"
	"slices"
	"sort"
)

// ruleIndex finds, among the regions of many rules, those that may meet
// a box without testing every one: a shadowed rule among thousands meets
// a handful of earlier deciders, a pending box of the walk a handful of
// rules, and testing the others box by box was most of the analysis.
//
// Each dimension has its own tree over elementary intervals, holding, per
// node, the bit vector of the rules whose sets reach into it. A rule is a
// candidate for a box when, in every dimension, some box of the rule
// meets the box's set. That is necessary but, as the boxes that do may
// differ from one dimension to the next, not sufficient: callers test the
// candidates exactly.
type ruleIndex struct {
	rules []int // the indexed rules, ascending: bit k stands for rules[k]
	words int   // of a bit vector
	dims  [nDims]spanTree
	// Scratch for candidates, to allocate once per index.
	acc, and, or []uint64
}

// spanTree is a segment tree over the elementary intervals of one
// dimension: the points between consecutive span bounds of the indexed
// regions, so that every indexed span is a run of whole intervals and a
// query meets an indexed span exactly when they share an interval (when
// maxIntervals merged none).
type spanTree struct {
	starts []u128 // of the elementary intervals, ascending; the first is 0
	words  int
	// Per node, words each: cover holds the rules with a span covering
	// the node's intervals but not its parent's; sub the rules with one
	// covering any interval below the node, itself included.
	cover, sub []uint64
}

func newRuleIndex(regions []region) *ruleIndex {
	x := &ruleIndex{}
	for j, r := range regions {
		if len(r) > 0 {
			x.rules = append(x.rules, j)
		}
	}
	x.words = (len(x.rules) + 63) / 64
	for d := range x.dims {
		x.dims[d].build(regions, x.rules, d, x.words)
	}
	x.acc, x.and, x.or = make([]uint64, x.words), make([]uint64, x.words), make([]uint64, x.words)
	return x
}

// maxIntervals bounds the elementary intervals of a dimension; a
// variable for the tests of coarse intervals.
var maxIntervals = 2048

// setKey names a set by its storage: boxes cut from one another share
// their sets, so most sets of a region are seen many times.
type setKey struct {
	first *span
	n     int
}

// build indexes, for each rule, the union of its boxes' sets in dimension
// d. The union, not the sets: pieces cut from one box have sets that
// complement each other, and their union is a span or two.
func (t *spanTree) build(regions []region, rules []int, d, words int) {
	sets := make([]set, len(rules))
	starts := []u128{{}}
	top := u128{^uint64(0), ^uint64(0)}
	var u unions
	for k, j := range rules {
		u.reset()
		for b := range regions[j] {
			u.add(regions[j][b][d])
		}
		sets[k] = u.set()
		for _, x := range sets[k] {
			starts = append(starts, x.lo)
			if x.hi != top {
				starts = append(starts, x.hi.inc())
			}
		}
	}
	slices.SortFunc(starts, cmpU)
	starts = slices.Compact(starts)
	if n := len(starts); n > maxIntervals {
		// Each node holds a bit per rule; thousands of rules over tens of
		// thousands of addresses would take gigabytes. Coarser intervals
		// only admit more candidates: a span and a query that share a
		// point still share its interval.
		stride := (n + maxIntervals - 1) / maxIntervals
		for i := range (n + stride - 1) / stride {
			starts[i] = starts[i*stride]
		}
		starts = starts[:(n+stride-1)/stride]
	}
	t.starts, t.words = slices.Clip(starts), words
	t.cover, t.sub = make([]uint64, 4*len(starts)*words), make([]uint64, 4*len(starts)*words)
	for k, u := range sets {
		for _, x := range u {
			t.insert(x, k)
		}
	}
}

func cmpU(a, b u128) int {
	switch {
	case a.less(b):
		return -1
	case b.less(a):
		return 1
	}
	return 0
}

// unionInto returns a∪b, built in dst.
func unionInto(dst, a, b set) set {
	out := dst[:0]
	for i, j := 0, 0; i < len(a) || j < len(b); {
		var s span
		if j == len(b) || i < len(a) && a[i].lo.less(b[j].lo) {
			s, i = a[i], i+1
		} else {
			s, j = b[j], j+1
		}
		if n := len(out); n > 0 && (!out[n-1].hi.less(s.lo) || out[n-1].hi.inc() == s.lo) {
			out[n-1].hi = maxU(out[n-1].hi, s.hi)
			continue
		}
		out = append(out, s)
	}
	return out
}

// unions gathers the union of many sets in two buffers it reuses.
type unions struct {
	u    set
	in   int // the buffer u is in; -1 when it is a set of a box
	bufs [2]set
	seen []setKey
}

func (x *unions) reset() { x.u, x.in, x.seen = nil, -1, x.seen[:0] }

func (x *unions) add(s set) {
	key := setKey{&s[0], len(s)}
	if slices.Contains(x.seen, key) {
		return
	}
	if len(x.seen) < 64 { // beyond, a set seen again only costs a union
		x.seen = append(x.seen, key)
	}
	switch {
	case len(x.u) == 0 || covers(s, x.u):
		x.u, x.in = s, -1
	case !covers(x.u, s):
		o := 0
		if x.in == 0 {
			o = 1
		}
		x.bufs[o] = unionInto(x.bufs[o], x.u, s)
		x.u, x.in = x.bufs[o], o
	}
}

// set returns the union, to keep.
func (x *unions) set() set {
	if x.in < 0 {
		return x.u
	}
	return slices.Clone(x.u)
}

// interval returns the elementary interval holding p.
func (t *spanTree) interval(p u128) int {
	return sort.Search(len(t.starts), func(i int) bool { return p.less(t.starts[i]) }) - 1
}

func (t *spanTree) insert(s span, k int) {
	t.insertAt(1, 0, len(t.starts)-1, t.interval(s.lo), t.interval(s.hi), k)
}

func (t *spanTree) insertAt(node, l, r, a, b, k int) {
	bit, w := uint64(1)<<(k%64), node*t.words+k/64
	t.sub[w] |= bit
	if a <= l && r <= b {
		t.cover[w] |= bit
		return
	}
	m := (l + r) / 2
	if a <= m {
		t.insertAt(2*node, l, m, a, b, k)
	}
	if b > m {
		t.insertAt(2*node+1, m+1, r, a, b, k)
	}
}

// query adds to out the rules with a span meeting s, in the first
// len(out) words only.
func (t *spanTree) query(s span, out []uint64) {
	t.queryAt(1, 0, len(t.starts)-1, t.interval(s.lo), t.interval(s.hi), out)
}

func (t *spanTree) queryAt(node, l, r, a, b int, out []uint64) {
	w := node * t.words
	if a <= l && r <= b {
		orInto(out, t.sub[w:])
		return
	}
	orInto(out, t.cover[w:])
	m := (l + r) / 2
	if a <= m {
		t.queryAt(2*node, l, m, a, b, out)
	}
	if b > m {
		t.queryAt(2*node+1, m+1, r, a, b, out)
	}
}

func orInto(dst, src []uint64) {
	for i := range dst {
		dst[i] |= src[i]
	}
}

// candidates calls try, in ascending order, with each indexed rule before
// limit that may meet some box of q.
func (x *ruleIndex) candidates(q region, limit int, try func(j int)) {
	n := sort.SearchInts(x.rules, limit)
	if n == 0 {
		return
	}
	words := (n + 63) / 64
	acc := x.acc[:words]
	clear(acc)
	for b := range q {
		if x.filter(&q[b], words, math.MaxInt) {
			orInto(acc, x.and[:words])
		}
	}
	for w, v := range acc {
		for ; v != 0; v &= v - 1 {
			if k := w*64 + bits.TrailingZeros64(v); k < n {
				try(x.rules[k])
			}
		}
	}
}

// filter sets x.and[:words] to the rules that may meet b, and reports
// whether there is one. A set of more than spans spans is taken as its
// hull, which admits more rules but costs one query.
func (x *ruleIndex) filter(b *box, words, spans int) bool {
	and := x.and[:words]
	for i := range and {
		and[i] = ^uint64(0)
	}
	for d := range x.dims {
		or := x.or[:words]
		clear(or)
		if s := b[d]; len(s) > spans {
			x.dims[d].query(span{s[0].lo, s[len(s)-1].hi}, or)
		} else {
			for _, sp := range s {
				x.dims[d].query(sp, or)
			}
		}
		if !andInto(and, or) {
			return false
		}
	}
	return true
}

// mask is candidates for an index of at most 64 regions: bit t of the
// result stands for the region at position t.
func (x *ruleIndex) mask(b *box, spans int) uint64 {
	if x.words == 0 || !x.filter(b, 1, spans) {
		return 0
	}
	var m uint64
	for v := x.and[0]; v != 0; v &= v - 1 {
		m |= 1 << x.rules[bits.TrailingZeros64(v)]
	}
	return m
}

// andInto sets dst to dst∩src and reports whether it is not empty.
func andInto(dst, src []uint64) bool {
	nz := uint64(0)
	for i := range dst {
		dst[i] &= src[i]
		nz |= dst[i]
	}
	return nz != 0
}

package nft

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/realization"
)

// ClassMap sends a packet, by one address (source or destination) of
// one family, to the chain of its address class: the addresses that
// belong to the same sets among those the chain's rules name on that
// side. The chain holds only the lines an address of the class can
// match, in order, without the address condition the class decides.
//
// The map's elements are the only part of it that membership changes
// touch, as long as the classes themselves stay (see Applier.ApplyDelta).
type ClassMap struct {
	Name   string
	Family int  // 4 or 6
	Src    bool // keyed on the source address, else the destination
	// Elements are disjoint and sorted; an address in none of them is
	// in no set of the map, and goes on to the line after the map's.
	Elements []ClassElement

	c *classer
}

// ClassElement sends the addresses of Range to Chain, with goto: the
// chain's end is the end of the chain that looked the map up.
type ClassElement struct {
	Range netipx.IPRange
	Chain string
}

// Single reports whether the element is one address: those go to the
// map's exact-match twin (AddrName), ranges to the interval map (Name).
func (e *ClassElement) Single() bool { return e.Range.From() == e.Range.To() }

// AddrName names the kernel map of the class map's single addresses.
// Most members are single addresses (pods, VMs, nodes), and an exact-match
// map costs less than an interval map to fill and to change: nft reads
// an interval map back from the kernel for each element change, which
// took seconds at 100,000 elements, and none of it for a hash. The
// interval map, Name, holds the ranges; a packet looks up both.
func (m *ClassMap) AddrName() string { return m.Name + "_a" }

// mapOf names the kernel map that holds an element.
func (m *ClassMap) mapOf(e *ClassElement) string {
	if e.Single() {
		return m.AddrName()
	}
	return m.Name
}

// classify lays out the lines of chain c that apply to family fam as a
// class map keyed on the source or destination address and one chain per
// class, choosing the side whose longest class chain is shorter. It
// returns nothing when neither side pays. Like dispatch, a side pays
// when the chain is long enough (minRunLines lines of the family), its
// longest class chain holds at most 3/4 of them, and the class chains
// together at most maxCopies times them plus copySlack (a line for any
// address on the map's side, or for those outside a set, is in many
// classes).
func classify(c *Chain, fam int, sets map[string]*realization.Set) (*ClassMap, []Chain, string, bool) {
	var best *classLayout
	for _, src := range []bool{true, false} {
		l, ok := layoutClasses(c, fam, src, sets)
		if !ok {
			continue
		}
		if best == nil || l.longest < best.longest || l.longest == best.longest && l.total < best.total {
			best = l
		}
	}
	if best == nil {
		return nil, nil, "", false
	}
	return best.m, best.chains, best.zero, true
}

type classLayout struct {
	m       *ClassMap
	chains  []Chain
	zero    string // the chain of addresses in no set, "" when it is empty
	longest int
	total   int
}

// layoutClasses builds the class map of one side.
func layoutClasses(c *Chain, fam int, src bool, sets map[string]*realization.Set) (*classLayout, bool) {
	var idx []int // the chain's lines of the family
	for i := range c.Lines {
		l := &c.Lines[i]
		if l.Raw != "" || l.Verdict == VerdictJump || l.Verdict == VerdictDispatch {
			return nil, false
		}
		if l.Family == 0 || l.Family == fam {
			idx = append(idx, i)
		}
	}
	n := len(idx)
	if n < minRunLines {
		return nil, false
	}
	// The sets the class decides: those named on this side by a line of
	// the family and that hold no address.protocol.port member of it
	// (such a member is not a property of an address alone; its lines
	// keep their lookup).
	key := func(l *Line) (int, *Cond) {
		for k := range l.Conds {
			if cd := &l.Conds[k]; cd.Kind == CondAddr && cd.Src == src {
				return k, cd
			}
		}
		return -1, nil
	}
	classable := map[string]bool{}
	var names []string
	for _, i := range idx {
		_, cd := key(&c.Lines[i])
		if cd == nil {
			continue
		}
		if _, seen := classable[cd.Set]; seen {
			continue
		}
		ok := !hasIPPorts(sets[cd.Set], fam)
		classable[cd.Set] = ok
		if ok {
			names = append(names, cd.Set)
		}
	}
	if len(names) == 0 {
		return nil, false
	}
	slices.Sort(names)
	bit := map[string]int{}
	for k, s := range names {
		bit[s] = k
	}
	// Lines always in a class (no condition on this side, or one the
	// class does not decide), lines in a class outside a set, and lines
	// in the classes inside one.
	var always, outside []int
	inside := make([][]int, len(names))
	outsideOf := make([][]int, len(names))
	for _, i := range idx {
		_, cd := key(&c.Lines[i])
		switch {
		case cd == nil || !classable[cd.Set]:
			always = append(always, i)
		case cd.Negate:
			outside = append(outside, i)
			outsideOf[bit[cd.Set]] = append(outsideOf[bit[cd.Set]], i)
		default:
			inside[bit[cd.Set]] = append(inside[bit[cd.Set]], i)
		}
	}
	cl := &classer{names: names, bit: bit, inside: inside, outsideOf: outsideOf, byLines: map[string]string{}, sigID: map[string]int{}, uses: map[string]int{}}
	cl.base = slices.Concat(always, outside)
	slices.Sort(cl.base)
	// Every class chain holds the lines of base but those outside its
	// sets: when they alone are too many, no class layout pays.
	if len(always)*4 > n*3 {
		return nil, false
	}
	budget := maxCopies*n + copySlack
	l := &classLayout{m: &ClassMap{Family: fam, Src: src, c: cl}}
	var lists [][]int // the line list of each chain, built last
	// chain names the chain of a class's lines; false when the layout
	// no longer pays.
	chain := func(ls []int) (string, bool) {
		k := signature(ls)
		if name, ok := cl.byLines[k]; ok {
			return name, true
		}
		// Named by its lines, so that a change that keeps the classes
		// keeps the names; 64 bits make two lists of one map meeting
		// on a name out of reach.
		h := sha256.Sum256([]byte(k))
		name := classMapName(c.Name, fam, src) + "_" + hex.EncodeToString(h[:8])
		cl.byLines[k] = name
		lists = append(lists, ls)
		l.total += len(ls)
		l.longest = max(l.longest, len(ls))
		return name, l.total <= budget && l.longest*4 <= n*3
	}
	type event struct {
		at  netip.Addr
		set int
		in  bool
	}
	m := 0
	for _, s := range names {
		m += len(sets[s].Ranges)
	}
	evs := make([]event, 0, 2*m)
	for k, s := range names {
		for _, r := range sets[s].Ranges {
			if family(r.From()) != fam {
				continue
			}
			evs = append(evs, event{r.From(), k, true})
			if end := r.To().Next(); end.IsValid() {
				evs = append(evs, event{end, k, false})
			}
		}
	}
	slices.SortFunc(evs, func(a, b event) int { return a.at.Compare(b.at) })
	// Sweep the sets' ranges: between two boundaries every address is
	// in the same sets, its class.
	cl.sigs = make([]sigRange, 0, m)
	active := map[int]bool{}
	var in []int
	for j := 0; j < len(evs); {
		at := evs[j].at
		for ; j < len(evs) && evs[j].at == at; j++ {
			if evs[j].in {
				active[evs[j].set] = true
			} else {
				delete(active, evs[j].set)
			}
		}
		if len(active) == 0 {
			continue
		}
		in = in[:0]
		for k := range active {
			in = append(in, k)
		}
		slices.Sort(in)
		id, ok := cl.sigID[signature(in)]
		if !ok {
			name, ok := chain(cl.linesOf(in))
			if !ok {
				return nil, false
			}
			id = cl.addSig(slices.Clone(in), name)
		}
		to := maxAddr(fam)
		if j < len(evs) {
			to = evs[j].at.Prev()
		}
		if k := len(cl.sigs) - 1; k >= 0 && cl.sigs[k].id == id && cl.sigs[k].r.To().Next() == at {
			cl.sigs[k].r = netipx.IPRangeFrom(cl.sigs[k].r.From(), to)
			continue
		}
		cl.sigs = append(cl.sigs, sigRange{netipx.IPRangeFrom(at, to), id})
		cl.uses[cl.sigChain[id]]++
	}
	if len(cl.base) > 0 {
		var ok bool
		if cl.zero, ok = chain(cl.base); !ok {
			return nil, false
		}
		l.zero = cl.zero
	}
	l.m.Elements = cl.elements()
	for _, ls := range lists {
		ch := Chain{Name: cl.byLines[signature(ls)], Lines: make([]Line, 0, len(ls))}
		for _, i := range ls {
			ln := c.Lines[i]
			if k, cd := key(&ln); cd != nil && classable[cd.Set] {
				ln.Conds = slices.Delete(slices.Clone(ln.Conds), k, k+1)
			}
			ch.Lines = append(ch.Lines, ln)
		}
		l.chains = append(l.chains, ch)
	}
	slices.SortFunc(l.chains, func(a, b Chain) int { return strings.Compare(a.Name, b.Name) })
	return l, true
}

// classer holds how a class map was laid out, so that a membership
// change can be applied to it without laying it out again
// (ClassMap.update).
type classer struct {
	names []string       // the sets the classes are made of
	bit   map[string]int // a set's index in names
	// Lines of the chain (indexes) in every class but those inside the
	// sets that exclude them (base, outsideOf), and in the classes inside
	// a set (inside).
	base      []int
	inside    [][]int
	outsideOf [][]int
	byLines   map[string]string // a class chain by its lines (signature)
	zero      string            // the chain of addresses in no set
	// The classes (sorted set indexes) met so far, by id, and their
	// chains.
	sigIn    [][]int
	sigChain []string
	sigID    map[string]int
	// sigs are the addresses in some set, with their class: disjoint,
	// sorted, adjacent ranges of one class merged.
	sigs []sigRange
	uses map[string]int // how many ranges of sigs go to each chain
}

type sigRange struct {
	r  netipx.IPRange
	id int
}

func (c *classer) addSig(in []int, chain string) int {
	id := len(c.sigIn)
	c.sigIn = append(c.sigIn, in)
	c.sigChain = append(c.sigChain, chain)
	c.sigID[signature(in)] = id
	return id
}

// linesOf lists the lines of the class inside the sets in (sorted): the
// base lines, less those outside a set of in, plus those inside one, in
// order.
func (c *classer) linesOf(in []int) []int {
	drop := map[int]bool{}
	var add []int
	for _, k := range in {
		for _, i := range c.outsideOf[k] {
			drop[i] = true
		}
		add = append(add, c.inside[k]...)
	}
	out := make([]int, 0, len(c.base)+len(add))
	for _, i := range c.base {
		if !drop[i] {
			out = append(out, i)
		}
	}
	out = append(out, add...)
	slices.Sort(out)
	return out
}

// elements are the map's elements: the class ranges, adjacent ones with
// the same chain merged.
func (c *classer) elements() []ClassElement {
	out := make([]ClassElement, 0, len(c.sigs))
	for _, s := range c.sigs {
		chain := c.sigChain[s.id]
		if k := len(out) - 1; k >= 0 && out[k].Chain == chain && out[k].Range.To().Next() == s.r.From() {
			out[k].Range = netipx.IPRangeFrom(out[k].Range.From(), s.r.To())
			continue
		}
		out = append(out, ClassElement{Range: s.r, Chain: chain})
	}
	return out
}

// classMapName names the class map of a chain, side and family; its
// class chains add a suffix. Dispatch names its maps _dN, so the two
// never meet.
func classMapName(chain string, fam int, src bool) string {
	side := "d"
	if src {
		side = "s"
	}
	return chain + "_c" + side + strconv.Itoa(fam)
}

func hasIPPorts(s *realization.Set, fam int) bool {
	if s == nil {
		return false
	}
	for _, m := range s.IPPorts {
		if family(m.Addr) == fam {
			return true
		}
	}
	return false
}

func maxAddr(fam int) netip.Addr {
	if fam == 4 {
		return netip.AddrFrom4([4]byte{255, 255, 255, 255})
	}
	return netip.AddrFrom16([16]byte{0: 255, 1: 255, 2: 255, 3: 255, 4: 255, 5: 255, 6: 255, 7: 255, 8: 255, 9: 255, 10: 255, 11: 255, 12: 255, 13: 255, 14: 255, 15: 255})
}

// classChain replaces the lines of each family of chain c by a class map
// where one pays (see classify): the map's line, then, for the addresses
// in no set, a goto to their class chain or, when no line can match
// them, a return, so that no line of the chain after it is met by a
// packet of the family. Lines of a family not classed stay in order.
func classChain(c Chain, sets map[string]*realization.Set) (Chain, []Chain, []ClassMap) {
	var chains []Chain
	var maps []ClassMap
	classed := map[int]bool{}
	var head []Line
	for _, fam := range []int{4, 6} {
		m, cs, zero, ok := classify(&c, fam, sets)
		if !ok {
			continue
		}
		classed[fam] = true
		v := VerdictClassDst
		if m.Src {
			v = VerdictClassSrc
		}
		m.Name = classMapName(c.Name, fam, m.Src)
		maps = append(maps, *m)
		chains = append(chains, cs...)
		head = append(head, Line{Family: fam, Verdict: v, Jump: m.AddrName()}, Line{Family: fam, Verdict: v, Jump: m.Name})
		if zero != "" {
			head = append(head, Line{Family: fam, Verdict: VerdictGoto, Jump: zero})
		} else {
			head = append(head, Line{Family: fam, Verdict: VerdictReturn})
		}
	}
	if len(maps) == 0 {
		return c, nil, nil
	}
	out := Chain{Name: c.Name, Hook: c.Hook, Lines: head}
	for _, l := range c.Lines {
		switch {
		case l.Family == 0 && classed[4] && classed[6]:
		case l.Family != 0 && classed[l.Family]:
		default:
			out.Lines = append(out.Lines, l)
		}
	}
	return out, chains, maps
}

// decided reports whether the map's classes are made of set on the
// side src; a nil map decides nothing.
func (m *ClassMap) decided(set string, src bool) (int, bool) {
	if m == nil || m.Src != src {
		return 0, false
	}
	k, ok := m.c.bit[set]
	return k, ok
}

// update returns the class map after the membership changes of d (next
// is the span they lead to), or false when they make a class chain
// appear or go, or a set of the map gain its first address.protocol.port
// member of the family: the program's structure then changes. Only the
// address ranges the changes touch are classed again, from the classes
// they had; the result is what laying out the map again would give.
//
// The classer's table of classes (sigIn, sigChain, sigID) only grows
// and is shared with the map before; its ranges and counts are new.
func (m *ClassMap) update(d *realization.Delta, next *realization.Span) (*ClassMap, bool) {
	c := m.c
	var b netipx.IPSetBuilder
	changed := map[int]*realization.Set{}
	for _, ch := range d.Changes {
		k, ok := c.bit[ch.Set]
		if !ok {
			continue
		}
		st := next.Set(ch.Set)
		if st == nil || hasIPPorts(st, m.Family) {
			return nil, false
		}
		changed[k] = st
		for _, rs := range [][]netipx.IPRange{ch.RemovedRanges, ch.AddedRanges} {
			for _, r := range rs {
				if family(r.From()) == m.Family {
					b.AddRange(r)
				}
			}
		}
	}
	regions, _ := b.IPSet()
	if len(changed) == 0 || len(regions.Ranges()) == 0 {
		return m, true
	}
	old := c.sigs
	out := make([]sigRange, 0, len(old)+8)
	uses := maps.Clone(c.uses)
	var lost []string
	// push appends a range, merging it into the last one when they are
	// adjacent and of one class; counted says whether the range was
	// counted in uses already (an old range kept as it was).
	push := func(s sigRange, counted bool) {
		if k := len(out) - 1; k >= 0 && out[k].id == s.id && out[k].r.To().Next() == s.r.From() {
			out[k].r = netipx.IPRangeFrom(out[k].r.From(), s.r.To())
			if counted {
				uses[c.sigChain[s.id]]--
				lost = append(lost, c.sigChain[s.id])
			}
			return
		}
		if !counted {
			uses[c.sigChain[s.id]]++
		}
		out = append(out, s)
	}
	drop := func(s sigRange) {
		uses[c.sigChain[s.id]]--
		lost = append(lost, c.sigChain[s.id])
	}
	in := make([]int, 0, 8)
	i := 0
	for _, R := range regions.Ranges() {
		// The old ranges before R stay as they were; the first may
		// merge with what was pushed last.
		j := i + sort.Search(len(old)-i, func(k int) bool { return !old[i+k].r.To().Less(R.From()) })
		if i < j {
			push(old[i], true)
			out = append(out, old[i+1:j]...)
			i = j
		}
		// Boundaries inside R: of the old ranges, and of the changed
		// sets' new ranges.
		pts := []netip.Addr{R.From()}
		for k := i; k < len(old) && !R.To().Less(old[k].r.From()); k++ {
			if R.From().Less(old[k].r.From()) {
				pts = append(pts, old[k].r.From())
			}
			if old[k].r.To().Less(R.To()) {
				pts = append(pts, old[k].r.To().Next())
			}
		}
		for _, st := range changed {
			rs := st.Ranges
			j, _ := slices.BinarySearchFunc(rs, R.From(), func(r netipx.IPRange, a netip.Addr) int {
				if r.To().Less(a) {
					return -1
				}
				return 1
			})
			for ; j < len(rs) && !R.To().Less(rs[j].From()); j++ {
				if R.From().Less(rs[j].From()) {
					pts = append(pts, rs[j].From())
				}
				if rs[j].To().Less(R.To()) {
					pts = append(pts, rs[j].To().Next())
				}
			}
		}
		slices.SortFunc(pts, func(a, b netip.Addr) int { return a.Compare(b) })
		pts = slices.Compact(pts)
		// The old range that starts before R keeps its part before R.
		if i < len(old) && old[i].r.From().Less(R.From()) {
			push(sigRange{netipx.IPRangeFrom(old[i].r.From(), R.From().Prev()), old[i].id}, false)
		}
		k := i
		for j, at := range pts {
			to := R.To()
			if j+1 < len(pts) {
				to = pts[j+1].Prev()
			}
			for k < len(old) && old[k].r.To().Less(at) {
				k++
			}
			in = in[:0]
			if k < len(old) && !at.Less(old[k].r.From()) {
				for _, s := range c.sigIn[old[k].id] {
					if changed[s] == nil {
						in = append(in, s)
					}
				}
			}
			for s, st := range changed {
				if contains(st.Ranges, at) {
					in = append(in, s)
				}
			}
			if len(in) == 0 {
				continue
			}
			slices.Sort(in)
			id, ok := c.sigID[signature(in)]
			if !ok {
				chain, ok := c.byLines[signature(c.linesOf(in))]
				if !ok {
					return nil, false // a new class chain
				}
				id = c.addSig(slices.Clone(in), chain)
			}
			push(sigRange{netipx.IPRangeFrom(at, to), id}, false)
		}
		// The old ranges inside R are gone; the one that ends after R
		// keeps its part after R.
		for i < len(old) && !R.To().Less(old[i].r.From()) {
			drop(old[i])
			if R.To().Less(old[i].r.To()) {
				push(sigRange{netipx.IPRangeFrom(R.To().Next(), old[i].r.To()), old[i].id}, false)
			}
			i++
		}
	}
	if i < len(old) {
		push(old[i], true)
		out = append(out, old[i+1:]...)
	}
	for _, ch := range lost {
		if uses[ch] == 0 && ch != c.zero {
			return nil, false // a class chain is no longer used
		}
	}
	nc := *c
	nc.sigs, nc.uses = out, uses
	nm := *m
	nm.c = &nc
	nm.Elements = spliceElements(m.Elements, old, out, c.sigChain)
	return &nm, true
}

// spliceElements returns the elements of the class ranges sigs, given
// old, the elements of the ranges before: the elements that hold only
// ranges both lists share, at either end, are kept, and only those
// between are merged again (a change touches a few elements of a map of
// 100,000). An element's end is decided by the two ranges either side of
// it, so an element whose ranges and next range are shared is unchanged.
func spliceElements(old []ClassElement, before, sigs []sigRange, chainOf []string) []ClassElement {
	f := 0
	for f < len(before) && f < len(sigs) && before[f] == sigs[f] {
		f++
	}
	if f == len(before) && f == len(sigs) {
		return old
	}
	g := 0
	for g < len(before)-f && g < len(sigs)-f && before[len(before)-1-g] == sigs[len(sigs)-1-g] {
		g++
	}
	// holding finds the old element that holds address a.
	holding := func(a netip.Addr) int {
		return sort.Search(len(old), func(k int) bool { return !old[k].Range.To().Less(a) })
	}
	ka, sa := 0, 0
	if f > 0 {
		ka = holding(before[f-1].r.From())
		first := old[ka].Range.From()
		sa = sort.Search(f, func(k int) bool { return !sigs[k].r.From().Less(first) })
	}
	kb, sb := len(old), len(sigs)
	if g > 0 {
		k := holding(before[len(before)-g].r.From())
		end := old[k].Range.To()
		from := len(sigs) - g
		sb = from + sort.Search(g, func(j int) bool { return end.Less(sigs[from+j].r.From()) })
		kb = k + 1
	}
	out := make([]ClassElement, 0, ka+(sb-sa)+(len(old)-kb))
	out = append(out, old[:ka]...)
	for _, s := range sigs[sa:sb] {
		chain := chainOf[s.id]
		if k := len(out) - 1; k >= ka && out[k].Chain == chain && out[k].Range.To().Next() == s.r.From() {
			out[k].Range = netipx.IPRangeFrom(out[k].Range.From(), s.r.To())
			continue
		}
		out = append(out, ClassElement{Range: s.r, Chain: chain})
	}
	return append(out, old[kb:]...)
}

// contains reports whether sorted, disjoint ranges hold a.
func contains(rs []netipx.IPRange, a netip.Addr) bool {
	_, found := slices.BinarySearchFunc(rs, a, func(r netipx.IPRange, a netip.Addr) int {
		switch {
		case r.To().Less(a):
			return -1
		case a.Less(r.From()):
			return 1
		}
		return 0
	})
	return found
}

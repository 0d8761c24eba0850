package policy

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"sort"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
)

// Classifier decides flows against a Ruleset with an aggregated bit-vector
// search. Each field of a flow (source address, destination address,
// protocol, source port, destination port) selects a precomputed bit
// vector of the rules that allow that value; the lowest bit set in all
// five is the first rule that can match. A summary vector with one bit per
// 64 rules skips empty stretches, so a decision costs a few word
// operations per 4,096 rules plus the candidates it tries.
//
// A rule whose match is not a product of per-field sets (several service
// entries differing in more than one field, or members that carry a port)
// is filed under a superset and checked with Rule.Matches when it comes up
// as a candidate, so answers are always exactly Ruleset.Evaluate's.
//
// A Classifier is immutable and safe for concurrent use.
type Classifier struct {
	rs     *Ruleset
	v4, v6 *table
}

type table struct {
	rules    []*Rule
	idx      []int32 // table position -> ruleset index
	exact    []bool
	appStart int // first table position at or after the ruleset's appStart
	nagg     int
	src, dst addrDim
	proto    [256]*vec
	sport    portDim
	dport    portDim
}

// vec is a rule bit vector and its summary (bit j set when word j is not
// zero).
type vec struct {
	w   []uint64
	agg []uint64
}

type addrDim struct {
	starts []u128 // sorted interval starts; starts[0] is the zero address
	cls    []*vec
}

type portDim struct {
	at  [65536]uint16
	cls []*vec
}

type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a u128) next() (u128, bool) {
	if a.lo == math.MaxUint64 {
		if a.hi == math.MaxUint64 {
			return a, false
		}
		return u128{a.hi + 1, 0}, true
	}
	return u128{a.hi, a.lo + 1}, true
}

func toU128(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{0, uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// NewClassifier builds a classifier for the ruleset.
func NewClassifier(rs *Ruleset) *Classifier {
	return &Classifier{rs: rs, v4: buildTable(rs, true), v6: buildTable(rs, false)}
}

// Decide returns the verdict for a flow and the index of the deciding rule
// (-1 when the default rule decides). It does not allocate.
func (c *Classifier) Decide(f *Flow) (Verdict, int) {
	if f.Src.Is4() != f.Dst.Is4() {
		d := c.rs.FirstMatch(f)
		if d < 0 {
			return Allow, -1
		}
		return c.rs.Rules[d].Action.verdict(), d
	}
	t := c.v6
	if f.Src.Is4() {
		t = c.v4
	}
	i := t.first(f, 0)
	for i >= 0 && t.rules[i].Action == ActionJump {
		from := i + 1
		if from < t.appStart {
			from = t.appStart
		}
		i = t.first(f, from)
	}
	if i < 0 {
		return Allow, -1
	}
	return t.rules[i].Action.verdict(), int(t.idx[i])
}

func (t *table) first(f *Flow, from int) int {
	if from >= len(t.rules) {
		return -1
	}
	s, d := t.src.lookup(f.Src), t.dst.lookup(f.Dst)
	p := t.proto[f.Proto]
	sp, dp := t.sport.cls[t.sport.at[f.SrcPort]], t.dport.cls[t.dport.at[f.DstPort]]
	j0 := from >> 12
	for j := j0; j < t.nagg; j++ {
		a := s.agg[j] & d.agg[j] & p.agg[j] & sp.agg[j] & dp.agg[j]
		if j == j0 {
			a &= ^uint64(0) << ((from >> 6) & 63)
		}
		for a != 0 {
			w := j<<6 | bits.TrailingZeros64(a)
			a &= a - 1
			m := s.w[w] & d.w[w] & p.w[w] & sp.w[w] & dp.w[w]
			if w == from>>6 {
				m &= ^uint64(0) << (from & 63)
			}
			for m != 0 {
				r := w<<6 | bits.TrailingZeros64(m)
				m &= m - 1
				if t.exact[r] || t.rules[r].Matches(f) {
					return r
				}
			}
		}
	}
	return -1
}

func (d *addrDim) lookup(a netip.Addr) *vec {
	x := toU128(a)
	// The largest start not above x.
	lo, hi := 0, len(d.starts)
	for hi-lo > 1 {
		mid := (lo + hi) >> 1
		if x.less(d.starts[mid]) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return d.cls[lo]
}

func buildTable(rs *Ruleset, v4 bool) *table {
	t := &table{}
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if v4 && !r.v4 || !v4 && !r.v6 {
			continue
		}
		t.rules = append(t.rules, r)
		t.idx = append(t.idx, int32(i))
		t.exact = append(t.exact, len(r.Src.IPPorts) == 0 && len(r.Dst.IPPorts) == 0 && r.AppliedTo == nil && productServices(r.Match))
	}
	t.appStart = len(t.rules)
	for k, i := range t.idx {
		if int(i) >= rs.appStart {
			t.appStart = k
			break
		}
	}
	n := len(t.rules)
	words := (n + 63) / 64
	t.nagg = (words + 63) / 64
	b := &vecBuilder{words: words, nagg: max(t.nagg, 1), seen: map[string]*vec{}}
	fam := familyRange(v4)
	t.src = b.addrDim(n, fam, func(i int) []netipx.IPRange { return projection(&t.rules[i].Src, fam) })
	t.dst = b.addrDim(n, fam, func(i int) []netipx.IPRange { return projection(&t.rules[i].Dst, fam) })
	t.sport = b.portDim(n, func(i int) []address.PortRange { return portProjection(t.rules[i].Match, true) })
	t.dport = b.portDim(n, func(i int) []address.PortRange { return portProjection(t.rules[i].Match, false) })
	for p := 0; p < 256; p++ {
		cur := make([]uint64, words)
		for i, r := range t.rules {
			if allowsProto(r.Match, address.Proto(p)) {
				cur[i>>6] |= 1 << (i & 63)
			}
		}
		t.proto[p] = b.intern(cur)
	}
	return t
}

func familyRange(v4 bool) netipx.IPRange {
	if v4 {
		return netipx.IPRangeFrom(netip.IPv4Unspecified(), netip.AddrFrom4([4]byte{255, 255, 255, 255}))
	}
	all := [16]byte{}
	for i := range all {
		all[i] = 0xff
	}
	return netipx.IPRangeFrom(netip.IPv6Unspecified(), netip.AddrFrom16(all))
}

// projection returns the addresses of one family an endpoint can match,
// as a superset when members carry ports.
func projection(e *Endpoint, fam netipx.IPRange) []netipx.IPRange {
	if e.Any {
		if e.Negate {
			return nil
		}
		return []netipx.IPRange{fam}
	}
	var b netipx.IPSetBuilder
	if e.Negate {
		b.AddRange(fam)
		if e.Set != nil {
			b.RemoveSet(e.Set)
		}
	} else {
		if e.Set != nil {
			b.AddSet(e.Set)
		}
		for m := range e.IPPorts {
			b.Add(m.Addr)
		}
	}
	s, _ := b.IPSet()
	var out []netipx.IPRange
	for _, r := range s.Ranges() {
		if r.From().Is4() == fam.From().Is4() {
			out = append(out, r)
		}
	}
	return out
}

func portProjection(ms []ServiceMatch, src bool) []address.PortRange {
	if ms == nil {
		return []address.PortRange{address.AllPorts}
	}
	var out []address.PortRange
	for _, m := range ms {
		l := m.DstPorts
		if src {
			l = m.SrcPorts
		}
		if l == nil {
			return []address.PortRange{address.AllPorts}
		}
		out = append(out, l...)
	}
	return out
}

func allowsProto(ms []ServiceMatch, p address.Proto) bool {
	if ms == nil {
		return true
	}
	for _, m := range ms {
		if m.AnyProto || m.Proto == p {
			return true
		}
	}
	return false
}

// productServices reports whether the union of the entries equals the
// product of their per-field unions: true when at most one field varies.
func productServices(ms []ServiceMatch) bool {
	if len(ms) <= 1 {
		return true
	}
	varies := [3]bool{}
	for _, m := range ms[1:] {
		if m.AnyProto != ms[0].AnyProto || m.Proto != ms[0].Proto {
			varies[0] = true
		}
		if !rangesEqual(m.SrcPorts, ms[0].SrcPorts) {
			varies[1] = true
		}
		if !rangesEqual(m.DstPorts, ms[0].DstPorts) {
			varies[2] = true
		}
	}
	n := 0
	for _, v := range varies {
		if v {
			n++
		}
	}
	return n <= 1
}

func rangesEqual(a, b []address.PortRange) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// vecBuilder interns bit vectors: fields often select the same set of
// rules for many values.
type vecBuilder struct {
	words, nagg int
	seen        map[string]*vec
}

func (b *vecBuilder) intern(w []uint64) *vec {
	key := make([]byte, 8*len(w))
	for i, x := range w {
		binary.LittleEndian.PutUint64(key[8*i:], x)
	}
	if v, ok := b.seen[string(key)]; ok {
		return v
	}
	v := &vec{w: w, agg: make([]uint64, b.nagg)}
	if len(v.w) == 0 {
		v.w = make([]uint64, 1)
	}
	for i, x := range w {
		if x != 0 {
			v.agg[i>>6] |= 1 << (i & 63)
		}
	}
	b.seen[string(key)] = v
	return v
}

type event struct {
	at   u128
	rule int
	on   bool
}

// sweep turns per-rule interval lists into the elementary intervals where
// the set of covering rules is constant, calling emit with each interval's
// start and rule vector (a fresh copy).
func (b *vecBuilder) sweep(n int, zero u128, events []event, emit func(start u128, v *vec)) {
	sort.Slice(events, func(i, j int) bool { return events[i].at.less(events[j].at) })
	count := make([]int32, n)
	cur := make([]uint64, b.words)
	var last *vec
	flush := func(at u128) {
		v := b.intern(append([]uint64(nil), cur...))
		if v != last {
			emit(at, v)
			last = v
		}
	}
	i := 0
	for i < len(events) && events[i].at == zero {
		b.apply(events[i], count, cur)
		i++
	}
	flush(zero)
	for i < len(events) {
		at := events[i].at
		for i < len(events) && events[i].at == at {
			b.apply(events[i], count, cur)
			i++
		}
		flush(at)
	}
}

func (b *vecBuilder) apply(e event, count []int32, cur []uint64) {
	if e.on {
		count[e.rule]++
	} else {
		count[e.rule]--
	}
	if count[e.rule] > 0 {
		cur[e.rule>>6] |= 1 << (e.rule & 63)
	} else {
		cur[e.rule>>6] &^= 1 << (e.rule & 63)
	}
}

func (b *vecBuilder) addrDim(n int, fam netipx.IPRange, ranges func(int) []netipx.IPRange) addrDim {
	var events []event
	for i := 0; i < n; i++ {
		for _, r := range ranges(i) {
			events = append(events, event{at: toU128(r.From()), rule: i, on: true})
			if end, ok := toU128(r.To()).next(); ok && r.To() != fam.To() {
				events = append(events, event{at: end, rule: i})
			}
		}
	}
	var d addrDim
	b.sweep(n, toU128(fam.From()), events, func(start u128, v *vec) {
		d.starts = append(d.starts, start)
		d.cls = append(d.cls, v)
	})
	return d
}

func (b *vecBuilder) portDim(n int, ranges func(int) []address.PortRange) portDim {
	var events []event
	for i := 0; i < n; i++ {
		for _, r := range ranges(i) {
			events = append(events, event{at: u128{0, uint64(r.From)}, rule: i, on: true})
			if r.To < 65535 {
				events = append(events, event{at: u128{0, uint64(r.To) + 1}, rule: i})
			}
		}
	}
	var d portDim
	var starts []uint64
	b.sweep(n, u128{}, events, func(start u128, v *vec) {
		starts = append(starts, start.lo)
		d.cls = append(d.cls, v)
	})
	for k := range starts {
		end := uint64(65536)
		if k+1 < len(starts) {
			end = starts[k+1]
		}
		for p := starts[k]; p < end; p++ {
			d.at[p] = uint16(k)
		}
	}
	return d
}

package realization

import (
	"fmt"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
)

// Delta turns one span into the next when only set elements differ.
type Delta struct {
	Point    string      `json:"point"`
	From     string      `json:"from"` // digest of the span it applies to
	To       string      `json:"to"`   // digest of the result
	Revision int64       `json:"revision"`
	Changes  []SetChange `json:"changes"`
}

// SetChange lists the elements a set loses and gains. Removals come first
// when applied: an interval set refuses overlapping elements, and a range
// that grows is removed as the old range and added as the new one.
type SetChange struct {
	Set            string           `json:"set"`
	RemovedRanges  []netipx.IPRange `json:"removed_ranges,omitempty"`
	AddedRanges    []netipx.IPRange `json:"added_ranges,omitempty"`
	RemovedIPPorts []address.IPPort `json:"removed_ip_ports,omitempty"`
	AddedIPPorts   []address.IPPort `json:"added_ip_ports,omitempty"`
}

// Elements counts the element operations of the delta.
func (d *Delta) Elements() int {
	n := 0
	for _, c := range d.Changes {
		n += len(c.RemovedRanges) + len(c.AddedRanges) + len(c.RemovedIPPorts) + len(c.AddedIPPorts)
	}
	return n
}

// Diff returns the delta from old to cur, or false when they differ in
// more than set elements (rules, order or which sets exist), which needs a
// new snapshot.
func Diff(old, cur *Span) (*Delta, bool) {
	if old == nil || old.structure() != cur.structure() {
		return nil, false
	}
	d := &Delta{Point: cur.Point, From: old.Digest, To: cur.Digest, Revision: cur.Revision}
	for i := range cur.Sets {
		a, b := &old.Sets[i], &cur.Sets[i]
		c := SetChange{Set: b.Name}
		c.RemovedRanges, c.AddedRanges = diffSorted(a.Ranges, b.Ranges, compareRange)
		c.RemovedIPPorts, c.AddedIPPorts = diffSorted(a.IPPorts, b.IPPorts, compareIPPort)
		if len(c.RemovedRanges)+len(c.AddedRanges)+len(c.RemovedIPPorts)+len(c.AddedIPPorts) > 0 {
			d.Changes = append(d.Changes, c)
		}
	}
	return d, true
}

// WithSets returns the span with some of its sets' elements replaced, at
// revision, and the delta to it; s is not modified. It is how a
// membership change reaches a span without compiling its rules again:
// the sets that name a changed group are computed again (SetFor) and put
// in. Sets s does not have are ignored. The delta is nil when no element
// changed.
func (s *Span) WithSets(sets []Set, revision int64) (*Span, *Delta) {
	out := *s
	out.Sets = slices.Clone(s.Sets)
	d := &Delta{Point: s.Point, From: s.Digest, Revision: revision}
	for _, n := range sets {
		i, ok := slices.BinarySearchFunc(out.Sets, n.Name, func(a Set, name string) int { return strings.Compare(a.Name, name) })
		if !ok {
			continue
		}
		c := SetChange{Set: n.Name}
		c.RemovedRanges, c.AddedRanges = diffSorted(out.Sets[i].Ranges, n.Ranges, compareRange)
		c.RemovedIPPorts, c.AddedIPPorts = diffSorted(out.Sets[i].IPPorts, n.IPPorts, compareIPPort)
		if len(c.RemovedRanges)+len(c.AddedRanges)+len(c.RemovedIPPorts)+len(c.AddedIPPorts) == 0 {
			continue
		}
		st := out.Sets[i]
		st.Ranges, st.IPPorts, st.hash = n.Ranges, n.IPPorts, ""
		out.Sets[i] = st
		d.Changes = append(d.Changes, c)
	}
	if len(d.Changes) == 0 {
		return s, nil
	}
	slices.SortFunc(d.Changes, func(a, b SetChange) int { return strings.Compare(a.Set, b.Set) })
	out.Revision = revision
	out.Digest = out.digest()
	d.To = out.Digest
	return &out, d
}

// DiffElements is Diff for two spans known to differ in set elements
// only (one came from the other through WithSets or Apply): it compares
// set names, not the whole structure, and only the sets whose elements
// are not shared. It returns false when the sets differ in name.
func DiffElements(old, cur *Span) (*Delta, bool) {
	if len(old.Sets) != len(cur.Sets) {
		return nil, false
	}
	d := &Delta{Point: cur.Point, From: old.Digest, To: cur.Digest, Revision: cur.Revision}
	for i := range cur.Sets {
		a, b := &old.Sets[i], &cur.Sets[i]
		if a.Name != b.Name {
			return nil, false
		}
		if a.hash != "" && a.hash == b.hash {
			continue
		}
		c := SetChange{Set: b.Name}
		c.RemovedRanges, c.AddedRanges = diffSorted(a.Ranges, b.Ranges, compareRange)
		c.RemovedIPPorts, c.AddedIPPorts = diffSorted(a.IPPorts, b.IPPorts, compareIPPort)
		if len(c.RemovedRanges)+len(c.AddedRanges)+len(c.RemovedIPPorts)+len(c.AddedIPPorts) > 0 {
			d.Changes = append(d.Changes, c)
		}
	}
	return d, true
}

// Apply returns the span the delta leads to; s is not modified. It fails
// when the delta was computed from another span.
func (s *Span) Apply(d *Delta) (*Span, error) {
	if d.From != s.Digest {
		return nil, fmt.Errorf("delta applies to span %s, have %s", d.From, s.Digest)
	}
	out := *s
	out.Sets = slices.Clone(s.Sets)
	for _, c := range d.Changes {
		i, ok := slices.BinarySearchFunc(out.Sets, c.Set, func(a Set, n string) int {
			if a.Name < n {
				return -1
			}
			if a.Name > n {
				return 1
			}
			return 0
		})
		if !ok {
			return nil, fmt.Errorf("delta names set %s, which the span does not have", c.Set)
		}
		st := out.Sets[i]
		st.Ranges = patch(st.Ranges, c.RemovedRanges, c.AddedRanges, compareRange)
		st.IPPorts = patch(st.IPPorts, c.RemovedIPPorts, c.AddedIPPorts, compareIPPort)
		st.hash = ""
		out.Sets[i] = st
	}
	out.Revision = d.Revision
	out.Digest = out.digest()
	if out.Digest != d.To {
		return nil, fmt.Errorf("applying the delta gave span %s, want %s", out.Digest, d.To)
	}
	return &out, nil
}

func compareRange(a, b netipx.IPRange) int {
	if c := a.From().Compare(b.From()); c != 0 {
		return c
	}
	return a.To().Compare(b.To())
}

func compareIPPort(a, b address.IPPort) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}

// diffSorted returns what is only in a (removed) and only in b (added);
// both are sorted by cmp.
func diffSorted[T any](a, b []T, cmp func(T, T) int) (removed, added []T) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && cmp(a[i], b[j]) < 0:
			removed = append(removed, a[i])
			i++
		case i == len(a) || cmp(a[i], b[j]) > 0:
			added = append(added, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return removed, added
}

func patch[T any](l, removed, added []T, cmp func(T, T) int) []T {
	out := make([]T, 0, len(l)+len(added))
	for _, x := range l {
		if _, found := slices.BinarySearchFunc(removed, x, cmp); !found {
			out = append(out, x)
		}
	}
	out = append(out, added...)
	slices.SortFunc(out, cmp)
	return out
}

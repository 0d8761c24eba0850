package nft

import (
	"sort"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/policy"
)

// Tracer follows the first packet of a connection through a program, as
// the kernel would: base chain, jumps, first matching line. Tests use it
// to hold the generated ruleset to the policy evaluator.
type Tracer struct {
	p       *Program
	chains  map[string]*Chain
	maps    map[string]*VMap
	classes map[string]*ClassMap
	addrs   map[string]*netipx.IPSet
	members map[string]map[address.IPPort]bool
}

// NewTracer prepares a program for tracing.
func NewTracer(p *Program) *Tracer {
	t := &Tracer{p: p, chains: map[string]*Chain{}, maps: map[string]*VMap{}, classes: map[string]*ClassMap{}, addrs: map[string]*netipx.IPSet{}, members: map[string]map[address.IPPort]bool{}}
	for i := range p.Chains {
		t.chains[p.Chains[i].Name] = &p.Chains[i]
	}
	for i := range p.Maps {
		t.maps[p.Maps[i].Name] = &p.Maps[i]
	}
	for i := range p.ClassMaps {
		t.classes[p.ClassMaps[i].Name] = &p.ClassMaps[i]
		t.classes[p.ClassMaps[i].AddrName()] = &p.ClassMaps[i]
	}
	for _, s := range p.Span.Sets {
		var b netipx.IPSetBuilder
		for _, r := range s.Ranges {
			b.AddRange(r)
		}
		t.addrs[s.Name], _ = b.IPSet()
		m := map[address.IPPort]bool{}
		for _, x := range s.IPPorts {
			m[x] = true
		}
		t.members[s.Name] = m
	}
	return t
}

// Trace returns the verdict for a new connection's first packet at a
// hook, and the rule that decided it ("" when none did and the chain's
// policy accepted).
func (t *Tracer) Trace(hook string, f policy.Flow) (policy.Verdict, string) {
	v, rule, done := t.chain(hook, &f)
	if !done {
		return policy.Allow, ""
	}
	return v, rule
}

func (t *Tracer) chain(name string, f *policy.Flow) (policy.Verdict, string, bool) {
	c := t.chains[name]
	for i := range c.Lines {
		l := &c.Lines[i]
		if l.Raw != "" || !t.matches(l, f) {
			continue
		}
		if l.Verdict == VerdictDispatch {
			// A jump: when the bucket decides nothing, the lines after
			// the map's line go on.
			if c, ok := t.lookup(l.Jump, f); ok {
				if v, r, done := t.chain(c, f); done {
					return v, r, true
				}
			}
			continue
		}
		switch l.Verdict {
		case VerdictClassSrc, VerdictClassDst:
			// A goto: the class chain's end is this chain's.
			if c, ok := t.class(l, f); ok {
				return t.chain(c, f)
			}
			continue
		case VerdictGoto:
			return t.chain(l.Jump, f)
		}
		switch l.Verdict {
		case VerdictAccept:
			return policy.Allow, l.Rule, true
		case VerdictDrop:
			return policy.Drop, l.Rule, true
		case VerdictRejectTCP, VerdictReject:
			return policy.Reject, l.Rule, true
		case VerdictReturn:
			return 0, "", false
		case VerdictJump:
			if v, r, done := t.chain(l.Jump, f); done {
				return v, r, true
			}
		}
	}
	return 0, "", false
}

func (t *Tracer) matches(l *Line, f *policy.Flow) bool {
	if l.Family == 4 && !f.Src.Is4() || l.Family == 6 && f.Src.Is4() {
		return false
	}
	for i := range l.Conds {
		if c := &l.Conds[i]; c.Kind == CondAddr && !t.p.Sets[setName(c.Set, l.Family)] {
			// The kernel would refuse the whole transaction.
			panic("nft: a line looks up set " + setName(c.Set, l.Family) + ", which the program does not create")
		}
		if !t.cond(&l.Conds[i], f) {
			return false
		}
	}
	return true
}

func (t *Tracer) cond(c *Cond, f *policy.Flow) bool {
	a, port := f.Dst, f.DstPort
	if c.Src {
		a, port = f.Src, f.SrcPort
	}
	switch c.Kind {
	case CondAddr:
		in := t.addrs[c.Set].Contains(a) || t.members[c.Set][address.IPPort{Addr: a, Proto: f.Proto, Port: port}]
		return in != c.Negate
	case CondProto:
		return f.Proto == c.Proto
	case CondPorts:
		for _, r := range c.Ports {
			if r.Contains(port) {
				return true
			}
		}
		return false
	}
	return false
}

// lookup finds the chain a verdict map sends the flow to, if any. For
// protocols without ports the kernel reads other header bytes as th
// dport; their elements cover every value, so the flow's port field
// stands in.
func (t *Tracer) lookup(name string, f *policy.Flow) (string, bool) {
	m := t.maps[name]
	if m == nil {
		return "", false
	}
	for i := range m.Elements {
		e := &m.Elements[i]
		if uint8(f.Proto) >= e.ProtoFrom && uint8(f.Proto) <= e.ProtoTo && f.DstPort >= e.PortFrom && f.DstPort <= e.PortTo {
			return e.Chain, true
		}
	}
	return "", false
}

// class finds the chain of the flow's address class in a class map.
func (t *Tracer) class(l *Line, f *policy.Flow) (string, bool) {
	m := t.classes[l.Jump]
	if m == nil {
		panic("nft: a line looks up class map " + l.Jump + ", which the program does not create")
	}
	single := l.Jump == m.AddrName()
	a := f.Dst
	if l.Verdict == VerdictClassSrc {
		a = f.Src
	}
	i, found := sort.Find(len(m.Elements), func(i int) int {
		if a.Less(m.Elements[i].Range.From()) {
			return -1
		}
		if m.Elements[i].Range.To().Less(a) {
			return 1
		}
		return 0
	})
	if !found || m.Elements[i].Single() != single {
		return "", false // in the other of the two maps
	}
	return m.Elements[i].Chain, true
}

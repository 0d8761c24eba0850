package nft

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go4.org/netipx"
	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/classbench"
	"github.com/kordon-dev/kordon/internal/policy"
	"github.com/kordon-dev/kordon/internal/realization"
)

// seedOf returns the seed of a randomized test, KORDON_SEED to replay one.
func seedOf(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(1)
	if s := os.Getenv("KORDON_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (KORDON_SEED)", seed)
	return seed
}

// sourceSpan is a gateway span of n rules that differ only by source
// group: rule i allows TCP 80 from its own three addresses.
func sourceSpan(n int) *realization.Span {
	s := &realization.Span{Point: "/infra/tier-1s/t", Role: realization.RoleGateway, Revision: 1}
	h := realization.Hook{Name: realization.HookForward, AppStart: n}
	for i := range n {
		name := fmt.Sprintf("s%04d", i)
		st := familySet(name, fmt.Sprintf("10.%d.%d.1", i/250, i%250), fmt.Sprintf("10.%d.%d.5", i/250, i%250), fmt.Sprintf("10.%d.%d.9", i/250, i%250))
		s.Sets = append(s.Sets, st)
		h.Rules = append(h.Rules, realization.Rule{Path: fmt.Sprintf("%sp/rules/r%d", gfw, i), Policy: gfw + "p", Action: policy.ActionAllow, V4: true, V6: true,
			Src: realization.Endpoint{Set: name}, Dst: realization.Endpoint{Any: true},
			Services: []realization.Service{{Proto: address.TCP, DstPorts: []address.PortRange{{From: 80, To: 80}}}}})
	}
	s.Hooks = []realization.Hook{h}
	s.Rehash()
	return s
}

func TestClassMapSourceGroups(t *testing.T) {
	s := sourceSpan(200)
	p := Compile(s)
	if len(p.ClassMaps) != 1 || !p.ClassMaps[0].Src || p.ClassMaps[0].Family != 4 {
		t.Fatalf("class maps %+v, want one on the IPv4 source", p.ClassMaps)
	}
	if n := len(p.ClassMaps[0].Elements); n != 600 {
		t.Errorf("%d elements, want one an address", n)
	}
	if len(p.Sets) != 0 {
		t.Errorf("sets %v are created, but the class map decides them all", p.Sets)
	}
	// Each class chain holds its rule's line alone.
	for _, c := range p.Chains {
		if strings.Contains(c.Name, "_cs4_") && len(c.Lines) != 1 {
			t.Errorf("chain %s: %d lines, want 1", c.Name, len(c.Lines))
		}
	}
	tr := NewTracer(p)
	for _, tc := range []struct {
		src  string
		port uint16
		rule string
	}{{"10.0.0.1", 80, "r0"}, {"10.0.199.9", 80, "r199"}, {"10.0.199.9", 81, ""}, {"10.0.199.8", 80, ""}, {"fd00::1", 80, ""}} {
		v, rule := tr.Trace(realization.HookForward, flow(tc.src, "192.0.2.1", address.TCP, tc.port))
		want := ""
		if tc.rule != "" {
			want = gfw + "p/rules/" + tc.rule
		}
		if v != policy.Allow || rule != want {
			t.Errorf("%s:%d: %s by %q, want allow by %q", tc.src, tc.port, v, rule, want)
		}
	}
	text := fakeApply(t, knftables.NewFake(knftables.InetFamily, DefaultTable), func(tx *knftables.Transaction) { Render(tx, p) })
	for _, want := range []string{
		"add map inet kordon forward_head_cs4 { type ipv4_addr : verdict ; flags interval ;",
		"add map inet kordon forward_head_cs4_a { type ipv4_addr : verdict ;",
		"add rule inet kordon forward_head ip saddr vmap @forward_head_cs4_a\nadd rule inet kordon forward_head ip saddr vmap @forward_head_cs4\n" +
			"add rule inet kordon forward_head meta nfproto ipv4 return",
		"add element inet kordon forward_head_cs4_a { 10.0.0.1 : goto forward_head_cs4_",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in\n%s", want, text[:min(len(text), 3000)])
		}
	}
	if q := CompileWith(s, Options{NoClassMaps: true}); len(q.ClassMaps) != 0 || len(q.Sets) != 200 {
		t.Errorf("NoClassMaps: %d class maps, %d sets", len(q.ClassMaps), len(q.Sets))
	}
}

// randomFilters is a ClassBench-shaped filter set whose rules mostly name
// one of a few nested source prefixes, so that its ruleset is classed.
func randomFilters(r *rand.Rand) ([]classbench.Rule, []netip.Prefix) {
	var pool []netip.Prefix
	for range 24 {
		bits := []int{8, 16, 24, 24, 28, 30, 32, 32}[r.IntN(8)]
		a := netip.AddrFrom4([4]byte{10, byte(r.IntN(3)), byte(r.IntN(4)), byte(r.IntN(256))})
		pool = append(pool, netip.PrefixFrom(a, bits).Masked())
	}
	dsts := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("192.168.1.7/32")}
	ports := []uint16{22, 53, 80, 443, 8080}
	var rules []classbench.Rule
	for range 30 + r.IntN(120) {
		ru := classbench.Rule{Src: pool[r.IntN(len(pool))], Dst: dsts[0], SrcPorts: address.AllPorts, DstPorts: address.AllPorts, Proto: address.TCP}
		if r.IntN(12) == 0 {
			ru.Src = dsts[0]
		}
		if r.IntN(3) == 0 {
			ru.Dst = dsts[r.IntN(len(dsts))]
		}
		switch r.IntN(4) {
		case 0:
			ru.Proto = address.UDP
		case 1:
			ru.AnyProto, ru.Proto = true, 0
		}
		switch r.IntN(6) {
		case 0, 1, 2:
			p := ports[r.IntN(len(ports))]
			ru.DstPorts = address.PortRange{From: p, To: p}
		case 3:
			ru.DstPorts = address.PortRange{From: 1024, To: 8080}
		}
		if r.IntN(8) == 0 {
			ru.SrcPorts = address.PortRange{From: 1024, To: 65535}
		}
		rules = append(rules, ru)
	}
	return rules, append(pool, dsts...)
}

// near lists addresses at and around each prefix's ends.
func near(r *rand.Rand, ps []netip.Prefix) []netip.Addr {
	var out []netip.Addr
	for _, p := range ps {
		rg := netipx.RangeOfPrefix(p)
		for _, a := range []netip.Addr{rg.From(), rg.To(), rg.From().Prev(), rg.To().Next()} {
			if a.IsValid() {
				out = append(out, a)
			}
		}
		if p.Addr().Is4() {
			b := p.Addr().As4()
			v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			v += r.Uint32() & (1<<(32-p.Bits()) - 1)
			out = append(out, netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}))
		}
	}
	return out
}

// TestEquivalenceRandomPolicies holds programs of random filter sets,
// compiled with class maps where they pay, to the policy evaluator on
// random packets, and checks that they install on a fake nftables.
func TestEquivalenceRandomPolicies(t *testing.T) {
	r := rand.New(rand.NewPCG(seedOf(t), 7))
	classed, flows := 0, 0
	for i := range 80 {
		rules, prefixes := randomFilters(r)
		c, err := classbench.Compile(rules)
		if err != nil {
			t.Fatal(err)
		}
		s := realization.Build("random", realization.RoleVM, 1, []string{realization.HookIn}, []*policy.Ruleset{c.Ruleset})
		p := Compile(s)
		if len(p.ClassMaps) > 0 {
			classed++
		}
		fakeApply(t, knftables.NewFake(knftables.InetFamily, DefaultTable), func(tx *knftables.Transaction) { Render(tx, p) })
		tr := NewTracer(p)
		addrs := near(r, prefixes)
		for range 2000 {
			f := policy.Flow{Src: addrs[r.IntN(len(addrs))], Dst: addrs[r.IntN(len(addrs))],
				Proto:   []address.Proto{address.TCP, address.TCP, address.UDP, 47}[r.IntN(4)],
				SrcPort: []uint16{80, 1023, 1024, 40000}[r.IntN(4)], DstPort: []uint16{22, 53, 80, 443, 1023, 1024, 8080, 8081}[r.IntN(8)]}
			v, rule := tr.Trace(realization.HookIn, f)
			d := c.Ruleset.Evaluate(f)
			want := ""
			if d.Rule != nil {
				want = d.Rule.Path
			}
			flows++
			if v != d.Verdict || rule != want {
				t.Fatalf("policy %d (%d rules, %d class maps): %s: nftables %s by %q, evaluator %s by %q", i, len(rules), len(p.ClassMaps), f, v, rule, d.Verdict, want)
			}
		}
	}
	t.Logf("%d of 80 programs classed, %d flows agree", classed, flows)
	if classed < 40 {
		t.Errorf("only %d of 80 programs classed: the test no longer exercises class maps", classed)
	}
}

// classPools are the members random class-test sets draw from: nested,
// adjacent and overlapping ranges of both families, and
// address.protocol.port members.
type classPools struct {
	ranges  []netipx.IPRange
	ipPorts []address.IPPort
}

func newClassPools() classPools {
	var p classPools
	for _, m := range []string{"10.0.0.0/24", "10.0.0.0/28", "10.0.0.16/28", "10.0.0.5", "10.0.0.6", "10.0.0.7-10.0.0.40", "10.0.1.0/30",
		"10.0.1.4", "10.0.2.0/23", "10.0.3.255", "fd00::/120", "fd00::5", "fd00::6-fd00::20", "fd00:1::/64", "fd00:1::ffff"} {
		r, err := address.ParseRange(m)
		if err != nil {
			panic(err)
		}
		p.ranges = append(p.ranges, r)
	}
	p.ipPorts = []address.IPPort{{Addr: addr("10.0.9.1"), Proto: address.TCP, Port: 80}, {Addr: addr("10.0.9.2"), Proto: address.UDP, Port: 53},
		{Addr: addr("fd00:9::1"), Proto: address.TCP, Port: 443}}
	return p
}

// draw makes a set of random members; ipPorts says whether it may hold
// address.protocol.port members.
func (p classPools) draw(r *rand.Rand, name string, ipPorts bool) realization.Set {
	var b netipx.IPSetBuilder
	for _, rg := range p.ranges {
		if r.IntN(4) == 0 {
			b.AddRange(rg)
		}
	}
	ips, _ := b.IPSet()
	st := realization.Set{Name: name, Names: []string{"/infra/domains/default/groups/" + name}, Ranges: ips.Ranges()}
	if ipPorts {
		for _, m := range p.ipPorts {
			if r.IntN(2) == 0 && !ips.Contains(m.Addr) {
				st.IPPorts = append(st.IPPorts, m)
			}
		}
	}
	return st
}

// randomClassSpan is a span of rules over a dozen sets of both families,
// named plainly or excluded on either side, some sets with
// address.protocol.port members, with JUMP_TO_APPLICATION rules before
// Application.
func randomClassSpan(r *rand.Rand, pools classPools) *realization.Span {
	s := &realization.Span{Point: "/infra/tier-1s/t", Role: realization.RoleGateway, Revision: 1}
	for i := range 12 {
		s.Sets = append(s.Sets, pools.draw(r, fmt.Sprintf("s%02d", i), i%4 == 3))
	}
	ep := func(side int) realization.Endpoint {
		// One side is mostly sets, the other mostly any, so that
		// classing pays on one side or the other.
		if r.IntN(10) < side {
			return realization.Endpoint{Any: true}
		}
		return realization.Endpoint{Set: fmt.Sprintf("s%02d", r.IntN(12)), Negate: r.IntN(8) == 0}
	}
	srcAny, dstAny := 1, 8
	if r.IntN(2) == 0 {
		srcAny, dstAny = dstAny, srcAny
	}
	n := 20 + r.IntN(60)
	h := realization.Hook{Name: realization.HookForward, AppStart: r.IntN(n / 2)}
	for i := range n {
		ru := realization.Rule{Path: fmt.Sprintf("%sp/rules/r%d", gfw, i), Policy: gfw + "p",
			Action: []policy.Action{policy.ActionAllow, policy.ActionDrop, policy.ActionReject, policy.ActionJump}[r.IntN(4)],
			V4:     r.IntN(6) != 0, V6: r.IntN(6) != 0, Src: ep(srcAny), Dst: ep(dstAny)}
		switch r.IntN(5) {
		case 0: // any service
		case 1:
			ru.Services = []realization.Service{{AnyProto: true, DstPorts: []address.PortRange{{From: 53, To: 80}}}}
		case 2:
			ru.Services = []realization.Service{{Proto: 47}}
		default:
			p := []uint16{53, 80, 443}[r.IntN(3)]
			sv := realization.Service{Proto: []address.Proto{address.TCP, address.UDP}[r.IntN(2)], DstPorts: []address.PortRange{{From: p, To: p}}}
			if r.IntN(4) == 0 {
				sv.SrcPorts = []address.PortRange{{From: 1024, To: 65535}}
			}
			ru.Services = []realization.Service{sv}
		}
		h.Rules = append(h.Rules, ru)
	}
	s.Hooks = []realization.Hook{h}
	s.Rehash()
	return s
}

// refDecide is what a span says of a flow, rule by rule, a matching
// JUMP_TO_APPLICATION before Application skipping to it: the reference
// programs are held to.
func refDecide(s *realization.Span, hook string, f policy.Flow) (policy.Verdict, string) {
	in := func(e realization.Endpoint, a netip.Addr, proto address.Proto, port uint16) bool {
		if e.Set == "" {
			return true
		}
		st := s.Set(e.Set)
		m := slices.ContainsFunc(st.Ranges, func(r netipx.IPRange) bool { return r.Contains(a) }) ||
			slices.Contains(st.IPPorts, address.IPPort{Addr: a, Proto: proto, Port: port})
		return m != e.Negate
	}
	ports := func(rs []address.PortRange, p uint16) bool {
		return rs == nil || slices.ContainsFunc(rs, func(r address.PortRange) bool { return r.Contains(p) })
	}
	for _, h := range s.Hooks {
		if h.Name != hook {
			continue
		}
		for i := 0; i < len(h.Rules); i++ {
			ru := h.Rules[i]
			if f.Src.Is4() && !ru.V4 || !f.Src.Is4() && !ru.V6 {
				continue
			}
			if !in(ru.Src, f.Src, f.Proto, f.SrcPort) || !in(ru.Dst, f.Dst, f.Proto, f.DstPort) {
				continue
			}
			ok := ru.Services == nil
			for _, sv := range ru.Services {
				if (sv.AnyProto || sv.Proto == f.Proto) && ports(sv.DstPorts, f.DstPort) && ports(sv.SrcPorts, f.SrcPort) {
					ok = true
				}
			}
			if !ok {
				continue
			}
			switch ru.Action {
			case policy.ActionJump:
				if i < h.AppStart {
					i = h.AppStart - 1
				}
				continue
			case policy.ActionDrop:
				return policy.Drop, ru.Path
			case policy.ActionReject:
				return policy.Reject, ru.Path
			}
			return policy.Allow, ru.Path
		}
	}
	return policy.Allow, ""
}

// classProbe lists the addresses the class test's flows come from and go
// to: the ends of every pool range and their neighbours.
func classProbe(p classPools) []netip.Addr {
	var out []netip.Addr
	for _, r := range p.ranges {
		out = append(out, r.From(), r.To(), r.From().Prev(), r.To().Next())
	}
	for _, m := range p.ipPorts {
		out = append(out, m.Addr)
	}
	return out
}

// checkAgainstSpan traces random flows through p and holds them to refDecide.
func checkAgainstSpan(t *testing.T, r *rand.Rand, what string, s *realization.Span, p *Program, probe []netip.Addr) int {
	t.Helper()
	tr := NewTracer(p)
	n := 0
	for range 1500 {
		src, dst := probe[r.IntN(len(probe))], probe[r.IntN(len(probe))]
		if src.Is4() != dst.Is4() {
			continue
		}
		f := policy.Flow{Src: src, Dst: dst, Proto: []address.Proto{address.TCP, address.UDP, 47}[r.IntN(3)],
			SrcPort: []uint16{80, 443, 40000}[r.IntN(3)], DstPort: []uint16{52, 53, 80, 81, 443}[r.IntN(5)]}
		v, rule := tr.Trace(realization.HookForward, f)
		wv, wrule := refDecide(s, realization.HookForward, f)
		n++
		if v != wv || rule != wrule {
			t.Fatalf("%s: %s: nftables %s by %q, span %s by %q", what, f, v, rule, wv, wrule)
		}
	}
	return n
}

// TestEquivalenceRandomClassSpans holds random programs with class maps
// on either side, excluded sets, address.protocol.port members, both
// families and JUMP_TO_APPLICATION to what their spans say on random
// flows; then applies random membership changes through the applier (a
// fake nftables) and checks after each that the table is a fresh
// install's and that its program still agrees with the span.
func TestEquivalenceRandomClassSpans(t *testing.T) {
	r := rand.New(rand.NewPCG(seedOf(t), 11))
	pools := newClassPools()
	probe := classProbe(pools)
	ctx := context.Background()
	classed, src, dst, flows, elementOnly, replaced, incremental := 0, 0, 0, 0, 0, 0, 0
	for i := range 60 {
		s := randomClassSpan(r, pools)
		fake := knftables.NewFake(knftables.InetFamily, DefaultTable)
		a := NewApplier(fake)
		if _, err := a.Apply(ctx, s); err != nil {
			t.Fatalf("span %d: %v", i, err)
		}
		p := a.prog
		if len(p.ClassMaps) > 0 {
			classed++
		}
		for _, m := range p.ClassMaps {
			if m.Src {
				src++
			} else {
				dst++
			}
		}
		flows += checkAgainstSpan(t, r, fmt.Sprintf("span %d", i), s, p, probe)
		cur := s
		for step := range 8 {
			var sets []realization.Set
			if step%2 == 0 {
				// Small: one set gains or loses one member range.
				st := cur.Sets[r.IntN(len(cur.Sets))]
				var b netipx.IPSetBuilder
				for _, rg := range st.Ranges {
					b.AddRange(rg)
				}
				rg := pools.ranges[r.IntN(len(pools.ranges))]
				if r.IntN(2) == 0 {
					b.AddRange(rg)
				} else {
					b.RemoveRange(rg)
				}
				ips, _ := b.IPSet()
				st.Ranges = ips.Ranges()
				sets = append(sets, st)
			}
			for k, st := range cur.Sets {
				if step%2 == 0 || r.IntN(4) != 0 {
					continue
				}
				d := pools.draw(r, st.Name, k%4 == 3)
				st.Ranges, st.IPPorts = d.Ranges, d.IPPorts
				sets = append(sets, st)
			}
			next, d := cur.WithSets(sets, cur.Revision+1)
			if d == nil {
				continue
			}
			if _, ok := a.prog.update(d, next); ok && len(a.prog.ClassMaps) > 0 {
				incremental++
			}
			res, err := a.ApplyDelta(ctx, d, nil)
			if err != nil {
				t.Fatalf("span %d step %d: %v", i, step, err)
			}
			sameClasses(t, fmt.Sprintf("span %d step %d", i, step), a.prog, Compile(next))
			if res.Full {
				replaced++
			} else if len(a.prog.ClassMaps) > 0 {
				elementOnly++
			}
			want := fakeApply(t, knftables.NewFake(knftables.InetFamily, DefaultTable), func(tx *knftables.Transaction) { Render(tx, Compile(next)) })
			if got, want := sortedElements(fake.Dump()), sortedElements(want); got != want {
				t.Fatalf("span %d step %d (%+v): the table differs from a fresh install:\n%s\nwant:\n%s", i, step, res, got, want)
			}
			flows += checkAgainstSpan(t, r, fmt.Sprintf("span %d step %d", i, step), next, a.prog, probe)
			cur = next
		}
	}
	t.Logf("%d of 60 spans classed (%d source, %d destination class maps), %d flows agree; %d deltas to classed tables were element changes (%d classed again only where they changed), %d replaced the table",
		classed, src, dst, flows, elementOnly, incremental, replaced)
	if classed < 20 || src == 0 || dst == 0 || elementOnly == 0 || incremental == 0 {
		t.Errorf("the test no longer exercises class maps on both sides and their element changes")
	}
}

// sortedElements moves the element lines of a fake's dump, which it keeps
// in the order they were added, to the end, sorted; other lines keep
// their order, which is the rules'.
func sortedElements(dump string) string {
	var rest, els []string
	for _, l := range strings.Split(dump, "\n") {
		if strings.HasPrefix(l, "add element ") {
			els = append(els, l)
		} else {
			rest = append(rest, l)
		}
	}
	slices.Sort(els)
	return strings.Join(append(rest, els...), "\n")
}

// sameClasses checks that a program updated by membership changes has
// the classes, ranges and elements of the same span compiled afresh.
func sameClasses(t *testing.T, what string, got, want *Program) {
	t.Helper()
	if len(got.ClassMaps) != len(want.ClassMaps) {
		t.Fatalf("%s: %d class maps, want %d", what, len(got.ClassMaps), len(want.ClassMaps))
	}
	for i := range got.ClassMaps {
		g, w := &got.ClassMaps[i], &want.ClassMaps[i]
		if !slices.Equal(g.Elements, w.Elements) {
			t.Fatalf("%s: map %s: elements\n%v\nwant\n%v", what, g.Name, g.Elements, w.Elements)
		}
		if len(g.c.sigs) != len(w.c.sigs) {
			t.Fatalf("%s: map %s: %d class ranges, want %d", what, g.Name, len(g.c.sigs), len(w.c.sigs))
		}
		for k := range g.c.sigs {
			a, b := g.c.sigs[k], w.c.sigs[k]
			if a.r != b.r || !slices.Equal(g.c.sigIn[a.id], w.c.sigIn[b.id]) {
				t.Fatalf("%s: map %s: class range %d: %v %v, want %v %v", what, g.Name, k, a.r, g.c.sigIn[a.id], b.r, w.c.sigIn[b.id])
			}
		}
		for ch, n := range w.c.uses {
			if g.c.uses[ch] != n {
				t.Fatalf("%s: map %s: chain %s used by %d ranges, want %d", what, g.Name, ch, g.c.uses[ch], n)
			}
		}
	}
}

// TestClassMapIncremental applies random membership changes to a table
// whose rules differ by source group, through the applier (a fake
// nftables): changes that keep the classes are classed again only where
// they touch, and after each the program, its class ranges and the table
// are what compiling the span afresh gives, and the program agrees with
// the span on random flows.
func TestClassMapIncremental(t *testing.T) {
	r := rand.New(rand.NewPCG(seedOf(t), 13))
	ctx := context.Background()
	// Sets of a few addresses and ranges of 10.0.0.0/25, overlapping,
	// and each with an address of its own, so that none goes empty.
	var pool []string
	for i := range 24 {
		if i%3 == 0 {
			pool = append(pool, fmt.Sprintf("10.0.0.%d-10.0.0.%d", i*5, i*5+r.IntN(9)))
		} else {
			pool = append(pool, fmt.Sprintf("10.0.0.%d", i*5+r.IntN(5)))
		}
	}
	draw := func(i int) realization.Set {
		ms := []string{fmt.Sprintf("10.1.0.%d", i)}
		for _, m := range pool {
			if r.IntN(5) == 0 {
				ms = append(ms, m)
			}
		}
		return familySet(fmt.Sprintf("s%02d", i), ms...)
	}
	build := func() *realization.Span {
		s := &realization.Span{Point: "/infra/tier-1s/t", Role: realization.RoleGateway, Revision: 1}
		for i := range 10 {
			s.Sets = append(s.Sets, draw(i))
		}
		h := realization.Hook{Name: realization.HookForward}
		for i := range 40 {
			ru := realization.Rule{Path: fmt.Sprintf("%sp/rules/r%d", gfw, i), Policy: gfw + "p", Action: []policy.Action{policy.ActionAllow, policy.ActionDrop}[i%2],
				V4: true, V6: true, Src: realization.Endpoint{Set: fmt.Sprintf("s%02d", r.IntN(10)), Negate: i%9 == 4}, Dst: realization.Endpoint{Any: true}}
			if i%4 != 3 {
				p := []uint16{53, 80, 443}[r.IntN(3)]
				ru.Services = []realization.Service{{Proto: address.TCP, DstPorts: []address.PortRange{{From: p, To: p}}}}
			}
			h.Rules = append(h.Rules, ru)
		}
		s.Hooks = []realization.Hook{h}
		s.Rehash()
		return s
	}
	// A draw whose classes do not pay is drawn again.
	s := build()
	for tries := 0; len(Compile(s).ClassMaps) != 1 && tries < 50; tries++ {
		s = build()
	}
	var probe []netip.Addr
	for a := addr("10.0.0.0"); a.Less(addr("10.0.0.130")); a = a.Next() {
		probe = append(probe, a)
	}
	for i := range 10 {
		probe = append(probe, addr(fmt.Sprintf("10.1.0.%d", i)), addr(fmt.Sprintf("10.2.%d.0", i)), addr(fmt.Sprintf("10.2.%d.5", i)), addr(fmt.Sprintf("10.2.%d.17", i)))
	}
	fake := knftables.NewFake(knftables.InetFamily, DefaultTable)
	a := NewApplier(fake)
	if _, err := a.Apply(ctx, s); err != nil {
		t.Fatal(err)
	}
	if len(a.prog.ClassMaps) != 1 {
		t.Fatalf("%d class maps, want 1", len(a.prog.ClassMaps))
	}
	cur := s
	incremental, elements, replaced := 0, 0, 0
	for step := range 300 {
		k := r.IntN(len(cur.Sets))
		st := cur.Sets[k]
		var b netipx.IPSetBuilder
		for _, rg := range st.Ranges {
			b.AddRange(rg)
		}
		// Mostly an address of the set's own (its class stays), else
		// a shared member (classes may come and go).
		m, _ := address.ParseRange(fmt.Sprintf("10.2.%d.%d-10.2.%d.%d", k, r.IntN(8)*2, k, 16+r.IntN(4)))
		if r.IntN(4) == 0 {
			m, _ = address.ParseRange(pool[r.IntN(len(pool))])
		}
		if r.IntN(2) == 0 {
			b.AddRange(m)
		} else {
			b.RemoveRange(m)
		}
		ips, _ := b.IPSet()
		st.Ranges = ips.Ranges()
		next, d := cur.WithSets([]realization.Set{st}, cur.Revision+1)
		if d == nil {
			continue
		}
		if _, ok := a.prog.update(d, next); ok {
			incremental++
		}
		res, err := a.ApplyDelta(ctx, d, nil)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if res.Full {
			replaced++
		} else {
			elements++
		}
		what := fmt.Sprintf("step %d (%+v)", step, res)
		fresh := Compile(next)
		sameClasses(t, what, a.prog, fresh)
		want := fakeApply(t, knftables.NewFake(knftables.InetFamily, DefaultTable), func(tx *knftables.Transaction) { Render(tx, fresh) })
		if got, want := sortedElements(fake.Dump()), sortedElements(want); got != want {
			t.Fatalf("%s: the table differs from a fresh install:\n%s\nwant:\n%s", what, got, want)
		}
		checkAgainstSpan(t, r, what, next, a.prog, probe)
		cur = next
	}
	t.Logf("%d changes as element operations (%d classed again only where they changed), %d replaced the table", elements, incremental, replaced)
	if incremental < 50 {
		t.Errorf("only %d changes took the incremental path", incremental)
	}
}

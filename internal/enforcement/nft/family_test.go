package nft

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"go4.org/netipx"
	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/policy"
	"github.com/kordon-dev/kordon/internal/realization"
)

// familySet is a span set holding the given addresses or ranges.
func familySet(name string, members ...string) realization.Set {
	var b netipx.IPSetBuilder
	for _, m := range members {
		r, err := address.ParseRange(m)
		if err != nil {
			panic(err)
		}
		b.AddRange(r)
	}
	s, _ := b.IPSet()
	return realization.Set{Name: name, Names: []string{"/infra/domains/default/groups/" + name}, Ranges: s.Ranges()}
}

// familySpan: set a is IPv4 only, b IPv6 only, z empty; rules name them
// plainly and excluded.
func familySpan() *realization.Span {
	s := &realization.Span{Point: "/infra/tier-1s/t", Role: realization.RoleGateway, Revision: 1,
		Sets: []realization.Set{familySet("a", "10.0.0.1"), familySet("b", "fd00::1"), familySet("z")}}
	h := realization.Hook{Name: realization.HookForward}
	rule := func(name string, act policy.Action, src, dst realization.Endpoint) {
		h.Rules = append(h.Rules, realization.Rule{Path: gfw + "p/rules/" + name, Policy: gfw + "p", Action: act, V4: true, V6: true, Src: src, Dst: dst})
	}
	anyEp := realization.Endpoint{Any: true}
	rule("a-to-b", policy.ActionDrop, realization.Endpoint{Set: "a"}, realization.Endpoint{Set: "b"}) // no family has both
	rule("from-z", policy.ActionDrop, realization.Endpoint{Set: "z"}, anyEp)
	rule("from-a", policy.ActionReject, realization.Endpoint{Set: "a"}, anyEp)
	rule("not-to-b", policy.ActionDrop, anyEp, realization.Endpoint{Set: "b", Negate: true})
	rule("not-from-z", policy.ActionAllow, realization.Endpoint{Set: "z", Negate: true}, anyEp)
	s.Hooks = []realization.Hook{h}
	s.Rehash()
	return s
}

// TestEmptyFamilySets: a family's set with no element is not created, a
// line that could match only through it is not written, and an excluded
// empty set is no condition at all.
func TestEmptyFamilySets(t *testing.T) {
	p := Compile(familySpan())
	want := []string{"a_4", "b_6"}
	if got := slices.Sorted(func(yield func(string) bool) {
		for k := range p.Sets {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(got, want) {
		t.Errorf("table sets %v, want %v", got, want)
	}
	var got []string
	for _, c := range p.Chains {
		if c.Name != "forward_rules" {
			continue
		}
		for _, l := range c.Lines {
			got = append(got, l.Text())
		}
	}
	wantLines := []string{
		`ip saddr . meta l4proto . th sport @a_4 meta l4proto tcp counter name "c_forward_2" reject with tcp reset`,
		`ip saddr . meta l4proto . th sport @a_4 counter name "c_forward_2" reject with icmpx admin-prohibited`,
		`meta nfproto ipv4 counter name "c_forward_3" drop`,
		`ip6 daddr . meta l4proto . th dport != @b_6 counter name "c_forward_3" drop`,
		`meta nfproto ipv4 counter name "c_forward_4" accept`,
		`meta nfproto ipv6 counter name "c_forward_4" accept`,
	}
	if strings.Join(got, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("forward_rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantLines, "\n"))
	}
	dump := fakeApply(t, knftables.NewFake(knftables.InetFamily, DefaultTable), func(tx *knftables.Transaction) { Render(tx, p) })
	for _, gone := range []string{"a_6", "b_4", "z_4", "z_6"} {
		if strings.Contains(dump, " "+gone+" ") || strings.Contains(dump, "@"+gone) {
			t.Errorf("the table has set %s, which has no element:\n%s", gone, dump)
		}
	}
	tr := NewTracer(p)
	for _, tc := range []struct {
		f    policy.Flow
		want policy.Verdict
		rule string
	}{
		{flow("10.0.0.1", "10.0.0.2", address.TCP, 80), policy.Reject, "from-a"},
		{flow("10.0.0.2", "10.0.0.3", address.TCP, 80), policy.Drop, "not-to-b"},
		{flow("fd00::2", "fd00::3", address.TCP, 80), policy.Drop, "not-to-b"},
		{flow("fd00::2", "fd00::1", address.UDP, 53), policy.Allow, "not-from-z"},
	} {
		v, rule := tr.Trace(realization.HookForward, tc.f)
		if v != tc.want || rule != gfw+"p/rules/"+tc.rule {
			t.Errorf("%s: %s by %q, want %s by %s", tc.f, v, rule, tc.want, tc.rule)
		}
	}
}

// randomFamilySpan: sets that are IPv4 only, IPv6 only, both or empty,
// named by rules plainly or excluded, enough rules on ports to dispatch.
func randomFamilySpan(r *rand.Rand, pool []string) *realization.Span {
	s := &realization.Span{Point: "/infra/tier-1s/t", Role: realization.RoleGateway, Revision: 1}
	for i := range 8 {
		var ms []string
		for _, a := range pool {
			if r.IntN(3) == 0 {
				ms = append(ms, a)
			}
		}
		if i%4 == 0 {
			ms = nil
		}
		s.Sets = append(s.Sets, familySet(fmt.Sprintf("s%d", i), ms...))
	}
	ep := func() realization.Endpoint {
		if r.IntN(4) == 0 {
			return realization.Endpoint{Any: true}
		}
		return realization.Endpoint{Set: fmt.Sprintf("s%d", r.IntN(8)), Negate: r.IntN(3) == 0}
	}
	h := realization.Hook{Name: realization.HookForward}
	for i := range 40 {
		ru := realization.Rule{Path: fmt.Sprintf("%sp/rules/r%d", gfw, i), Policy: gfw + "p", Action: []policy.Action{policy.ActionAllow, policy.ActionDrop, policy.ActionReject}[r.IntN(3)],
			V4: r.IntN(5) != 0, V6: r.IntN(5) != 0, Src: ep(), Dst: ep()}
		if r.IntN(4) != 0 {
			p := uint16(1000 + r.IntN(6))
			ru.Services = []realization.Service{{Proto: []address.Proto{address.TCP, address.UDP}[r.IntN(2)], DstPorts: []address.PortRange{{From: p, To: p}}}}
		}
		h.Rules = append(h.Rules, ru)
	}
	s.Hooks = []realization.Hook{h}
	s.Rehash()
	return s
}

// TestEquivalenceEmptyFamilies holds random programs, whose sets are often
// empty in a family, to what their spans say, and checks that they
// install on a fake nftables (no line names a set that is not created).
func TestEquivalenceEmptyFamilies(t *testing.T) {
	pool := []string{"10.0.0.1", "10.0.0.2", "10.0.1.0/30", "fd00::1", "fd00::2", "fd00:1::/126"}
	probe := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.1.1", "fd00::1", "fd00::2", "fd00::3", "fd00:1::2"}
	r := rand.New(rand.NewPCG(1, 2))
	n := 0
	for range 200 {
		s := randomFamilySpan(r, pool)
		p := Compile(s)
		fakeApply(t, knftables.NewFake(knftables.InetFamily, DefaultTable), func(tx *knftables.Transaction) { Render(tx, p) })
		tr := NewTracer(p)
		for _, src := range probe {
			for _, dst := range probe {
				if addr(src).Is4() != addr(dst).Is4() {
					continue
				}
				for _, pr := range []address.Proto{address.TCP, address.UDP} {
					for port := uint16(999); port <= 1006; port++ {
						f := flow(src, dst, pr, port)
						v, rule := tr.Trace(realization.HookForward, f)
						wv, wrule := refDecide(s, realization.HookForward, f)
						n++
						if v != wv || rule != wrule {
							t.Fatalf("%s: nftables %s by %q, span %s by %q", f, v, rule, wv, wrule)
						}
					}
				}
			}
		}
	}
	t.Logf("%d flows agree", n)
}

// TestApplierFamilyTransitions: a delta that gives a set its first
// address of a family, or takes its last, replaces the table (the set and
// the lines naming it appear or go); other deltas stay element changes.
// Each step leaves what a fresh install of the span does.
func TestApplierFamilyTransitions(t *testing.T) {
	ctx := context.Background()
	s1 := familySpan()
	withSet := func(s *realization.Span, st realization.Set) (*realization.Span, *realization.Delta) {
		next, d := s.WithSets([]realization.Set{st}, s.Revision+1)
		if d == nil {
			t.Fatal("no change")
		}
		return next, d
	}
	fake := knftables.NewFake(knftables.InetFamily, DefaultTable)
	a := NewApplier(fake)
	if _, err := a.Apply(ctx, s1); err != nil {
		t.Fatal(err)
	}
	cur := s1
	for _, tc := range []struct {
		name    string
		set     realization.Set
		full    bool
		hasSets []string
		noSets  []string
	}{
		{"a gains its first IPv6 address", familySet("a", "10.0.0.1", "fd00::9"), true, []string{"a_4", "a_6"}, nil},
		{"a gains another IPv6 address", familySet("a", "10.0.0.1", "fd00::9", "fd00::a"), false, []string{"a_4", "a_6"}, nil},
		{"a loses its IPv6 addresses", familySet("a", "10.0.0.1"), true, []string{"a_4"}, []string{"a_6"}},
		{"z gains its first IPv4 address", familySet("z", "10.0.0.7"), true, []string{"z_4"}, []string{"z_6"}},
		{"z's address moves", familySet("z", "10.0.0.8"), false, []string{"z_4"}, []string{"z_6"}},
		{"z is empty again", familySet("z"), true, nil, []string{"z_4", "z_6"}},
		{"b loses its only (IPv6) address, gains an IPv4 one", familySet("b", "10.0.0.5"), true, []string{"b_4"}, []string{"b_6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, d := withSet(cur, tc.set)
			// The agent's path: the delta alone, the span computed from it.
			res, err := a.ApplyDelta(ctx, d, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Full != tc.full {
				t.Errorf("%+v, want full replacement %v", res, tc.full)
			}
			if a.Current() == nil || a.Current().Digest != next.Digest {
				t.Fatal("the applier does not hold the new span")
			}
			got := fake.Dump()
			want := fakeApply(t, knftables.NewFake(knftables.InetFamily, DefaultTable), func(tx *knftables.Transaction) { Render(tx, Compile(next)) })
			if got != want {
				t.Errorf("the table differs from a fresh one:\n%s\nwant:\n%s", got, want)
			}
			for _, n := range tc.hasSets {
				if !strings.Contains(got, "add set inet kordon "+n+" ") {
					t.Errorf("no set %s", n)
				}
			}
			for _, n := range tc.noSets {
				if strings.Contains(got, " "+n+" ") || strings.Contains(got, "@"+n) {
					t.Errorf("set %s is in the table", n)
				}
			}
			cur = next
		})
	}
}

package nft

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/classbench"
	"github.com/kordon-dev/kordon/internal/policy"
	"github.com/kordon-dev/kordon/internal/realization"
)

// portSpan is a gateway span of n rules, rule i allowing TCP to port
// 1000+i (every fifth one UDP, every seventh dropping), then a rule for
// any service, so that dispatch has buckets to make.
func portSpan(n int) *realization.Span {
	s := &realization.Span{Point: "/infra/tier-1s/t", Role: realization.RoleGateway, Revision: 1}
	h := realization.Hook{Name: realization.HookForward, AppStart: 0}
	for i := range n {
		p := address.TCP
		if i%5 == 4 {
			p = address.UDP
		}
		a := policy.ActionAllow
		if i%7 == 6 {
			a = policy.ActionReject
		}
		port := uint16(1000 + i)
		h.Rules = append(h.Rules, realization.Rule{Path: fmt.Sprintf("%sp/rules/r%d", gfw, i), Policy: gfw + "p", Action: a, V4: true, V6: true,
			Src: realization.Endpoint{Any: true}, Dst: realization.Endpoint{Any: true},
			Services: []realization.Service{{Proto: p, DstPorts: []address.PortRange{{From: port, To: port}}}}})
	}
	h.Rules = append(h.Rules, realization.Rule{Path: gfw + "p/rules/any", Policy: gfw + "p", Action: policy.ActionDrop, V4: true, V6: true,
		Src: realization.Endpoint{Any: true}, Dst: realization.Endpoint{Any: true}})
	s.Hooks = []realization.Hook{h}
	s.Rehash()
	return s
}

func TestDispatch(t *testing.T) {
	p := Compile(portSpan(40))
	if len(p.Maps) != 1 {
		t.Fatalf("%d maps, want 1 (the run of 40 port rules)", len(p.Maps))
	}
	m := p.Maps[0]
	// Elements are sorted and never overlap.
	for i := 1; i < len(m.Elements); i++ {
		a, b := m.Elements[i-1], m.Elements[i]
		if a.ProtoTo > b.ProtoFrom || a.ProtoFrom == b.ProtoFrom && a.PortTo >= b.PortFrom {
			t.Fatalf("elements %+v and %+v overlap or are out of order", a, b)
		}
	}
	if len(m.Elements) != 40 {
		t.Errorf("%d elements, want one a rule: %+v", len(m.Elements), m.Elements)
	}
	// A TCP packet to port 1003 meets its rule in its bucket; one to a
	// port no rule of the run names, or of another protocol, misses the
	// map and meets the catch-all after it.
	tr := NewTracer(p)
	for _, tc := range []struct {
		f     policy.Flow
		lines int // in the bucket; -1: the lookup misses
		v     policy.Verdict
		rule  string
	}{
		{flow("10.0.0.1", "10.0.0.2", address.TCP, 1003), 1, policy.Allow, gfw + "p/rules/r3"},
		{flow("10.0.0.1", "10.0.0.2", address.UDP, 1004), 1, policy.Allow, gfw + "p/rules/r4"},
		{flow("10.0.0.1", "10.0.0.2", address.TCP, 1004), -1, policy.Drop, gfw + "p/rules/any"},
		{flow("10.0.0.1", "10.0.0.2", address.TCP, 1006), 1, policy.Reject, gfw + "p/rules/r6"},
		{flow("fd00::1", "fd00::2", 47, 0), -1, policy.Drop, gfw + "p/rules/any"},
	} {
		chain, ok := tr.lookup(m.Name, &tc.f)
		switch {
		case tc.lines < 0 && ok:
			t.Errorf("%s: found bucket %s, want a miss", tc.f, chain)
		case tc.lines >= 0 && (!ok || len(tr.chains[chain].Lines) != tc.lines):
			t.Errorf("%s: bucket %q (found %v), want one of %d lines", tc.f, chain, ok, tc.lines)
		}
		if v, rule := tr.Trace(realization.HookForward, tc.f); v != tc.v || rule != tc.rule {
			t.Errorf("%s: %s by %s, want %s by %s", tc.f, v, rule, tc.v, tc.rule)
		}
	}
	for _, c := range p.Chains {
		if c.Name == realization.HookForward+"_rules" {
			if len(c.Lines) != 2 || c.Lines[0].Verdict != VerdictDispatch || c.Lines[1].Rule != gfw+"p/rules/any" {
				t.Errorf("rules chain %+v", c.Lines)
			}
		}
	}
	// The rendered map and its use.
	fake := knftables.NewFake(knftables.InetFamily, DefaultTable)
	out := fakeApply(t, fake, func(tx *knftables.Transaction) { Render(tx, p) })
	for _, want := range []string{"forward_rules_d0 { type inet_proto . inet_service : verdict ; flags interval", "6 . 1003 : jump forward_rules_d0_b3",
		"meta l4proto . th dport vmap @forward_rules_d0"} {
		if !strings.Contains(out, want) {
			t.Errorf("%q not in the rendered ruleset:\n%s", want, out)
		}
	}
}

// TestDispatchRuns: lines without a protocol and JUMP_TO_APPLICATION
// lines cut runs; lines of a run that match without reading the
// transport header follow the map's line.
func TestDispatchRuns(t *testing.T) {
	s := portSpan(40)
	h := &s.Hooks[0]
	any := h.Rules[40]
	jump := realization.Rule{Path: gfw + "p/rules/jump", Policy: gfw + "p", Action: policy.ActionJump, V4: true, V6: true,
		Src: realization.Endpoint{Any: true}, Dst: realization.Endpoint{Any: true}, Services: []realization.Service{{Proto: address.TCP}}}
	icmp := realization.Rule{Path: gfw + "p/rules/icmp", Policy: gfw + "p", Action: policy.ActionDrop, V4: true, V6: false,
		Src: realization.Endpoint{Any: true}, Dst: realization.Endpoint{Any: true}, Services: []realization.Service{{Proto: address.ICMP}}}
	rules := append([]realization.Rule{}, h.Rules[:20]...)
	rules = append(rules, icmp, jump)
	rules = append(rules, h.Rules[20:40]...)
	rules = append(rules, any)
	h.Rules, h.AppStart = rules, len(rules)
	s.Rehash()
	p := Compile(s)
	var head Chain
	for _, c := range p.Chains {
		if c.Name == realization.HookForward+"_head" {
			head = c
		}
	}
	var kinds []string
	for _, l := range head.Lines {
		switch {
		case l.Verdict == VerdictDispatch:
			kinds = append(kinds, "map")
		default:
			kinds = append(kinds, l.Rule[strings.LastIndexByte(l.Rule, '/')+1:])
		}
	}
	// The first run holds r0..r19 and the ICMP rule, which needs no
	// transport header and so also follows the map; the jump cuts the
	// runs; the catch-all follows the second.
	if got, want := strings.Join(kinds, " "), "map icmp jump map any"; got != want {
		t.Errorf("head chain %q, want %q", got, want)
	}
	tr := NewTracer(p)
	for _, tc := range []struct {
		f    policy.Flow
		v    policy.Verdict
		rule string
	}{
		{flow("10.0.0.1", "10.0.0.2", address.TCP, 1003), policy.Allow, gfw + "p/rules/r3"},
		{flow("10.0.0.1", "10.0.0.2", address.ICMP, 8), policy.Drop, gfw + "p/rules/icmp"},
		{flow("10.0.0.1", "10.0.0.2", address.TCP, 1025), policy.Allow, ""}, // jumped past r25 to the (empty) rest
		{flow("10.0.0.1", "10.0.0.2", address.UDP, 1024), policy.Allow, gfw + "p/rules/r24"},
		{flow("10.0.0.1", "10.0.0.2", address.UDP, 9), policy.Drop, gfw + "p/rules/any"},
	} {
		if v, rule := tr.Trace(realization.HookForward, tc.f); v != tc.v || rule != tc.rule {
			t.Errorf("%s: %s by %q, want %s by %q", tc.f, v, rule, tc.v, tc.rule)
		}
	}
}

// TestNoDispatch: short chains, and chains whose rules all share a
// protocol and port (no bucket would be smaller), stay lists.
func TestNoDispatch(t *testing.T) {
	if p := Compile(portSpan(minRunLines - 1)); len(p.Maps) != 0 {
		t.Errorf("a run of %d lines was dispatched", minRunLines-1)
	}
	s := portSpan(40)
	for i := range s.Hooks[0].Rules {
		if r := &s.Hooks[0].Rules[i]; r.Services != nil {
			r.Services[0] = realization.Service{Proto: address.TCP, DstPorts: []address.PortRange{{From: 80, To: 80}}}
		}
	}
	if p := Compile(s); len(p.Maps) != 0 {
		t.Errorf("rules on one port were dispatched")
	}
}

// TestDispatchClassBench: on the ClassBench sets, dispatch cuts the lines
// a packet can meet; TestEquivalenceClassBench holds its verdicts to the
// evaluator.
func TestDispatchClassBench(t *testing.T) {
	for _, name := range []string{"ipc1_1k", "acl1_10k", "fw1_10k"} {
		f, err := os.Open(filepath.Join("..", "..", "classbench", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		rules, err := classbench.Parse(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		c, err := classbench.Compile(rules)
		if err != nil {
			t.Fatal(err)
		}
		s := realization.Build("classbench", realization.RoleVM, 1, []string{realization.HookIn}, []*policy.Ruleset{c.Ruleset})
		p := Compile(s)
		lines, copies, largest := 0, 0, 0
		for _, ch := range p.Chains {
			if strings.Contains(ch.Name, "_b") {
				copies += len(ch.Lines)
				largest = max(largest, len(ch.Lines))
			} else {
				lines += len(ch.Lines)
			}
		}
		t.Logf("%s: %d maps, %d elements; %d lines outside buckets, %d in buckets, the largest bucket %d", name, len(p.Maps), elements(p), lines, copies, largest)
	}
}

func elements(p *Program) int {
	n := 0
	for _, m := range p.Maps {
		n += len(m.Elements)
	}
	return n
}

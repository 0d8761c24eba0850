package manager

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/realization"
)

// BenchmarkSpanDelta: one membership change (a Service's address moves)
// with 1,000 VM agents whose distributed firewall of 100 rules over 50
// groups names the changed group: from the inventory write to every
// agent's long poll answered with its delta. The baseline, in the same
// run, is the way before spans flowed from membership deltas: the change
// retires every span that reads the group, and each agent's poll compiles
// its span again and diffs it against the one it has.
func BenchmarkSpanDelta(b *testing.B) {
	e := newEnv(b)
	var doc0 strings.Builder
	doc0.WriteString("resource_type: Infra\nchildren:\n- resource_type: ChildDomain\n  Domain:\n    id: default\n    children:\n")
	for g := range 50 {
		fmt.Fprintf(&doc0, "    - {resource_type: ChildGroup, Group: {id: g%d, expression: [{resource_type: Condition, member_type: KubernetesService, key: Name, operator: EQUALS, value: s%d}]}}\n", g, g)
	}
	doc0.WriteString("    - resource_type: ChildSecurityPolicy\n      SecurityPolicy:\n        id: dfw\n        category: Application\n        rules:\n")
	for r := range 100 {
		fmt.Fprintf(&doc0, "        - {id: r%d, source_groups: [/infra/domains/default/groups/g%d], destination_groups: [/infra/domains/default/groups/g%d], action: ALLOW}\n", r, r%50, (r+1)%50)
	}
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(b, doc0.String())}); err != nil {
		b.Fatal(err)
	}
	var svcs []inventory.Object
	for g := range 50 {
		svcs = append(svcs, lbService(fmt.Sprintf("s%d", g), fmt.Sprintf("192.168.%d.1", g)))
	}
	if _, err := e.m.UpdateInventory(e.ctx, "east", svcs, nil); err != nil {
		b.Fatal(err)
	}
	const agents = 1000
	names := make([]string, agents)
	for i := range names {
		names[i] = fmt.Sprintf("vm%04d", i)
		if _, _, err := e.m.RegisterAgent(e.ctx, AgentSpec{Name: names[i], Role: realization.RoleVM}); err != nil {
			b.Fatal(err)
		}
	}
	have := map[string]string{}
	for _, n := range names {
		s, err := e.m.Span(n)
		if err != nil {
			b.Fatal(err)
		}
		have[n] = s.Digest
	}
	move := 0
	// change moves service s0 and answers every agent's poll; it returns
	// how many answers were deltas.
	change := func() (time.Duration, int) {
		move++
		start := time.Now()
		if _, err := e.m.UpdateInventory(e.ctx, "east", []inventory.Object{lbService("s0", fmt.Sprintf("10.%d.%d.1", move/250, move%250))}, nil); err != nil {
			b.Fatal(err)
		}
		deltas := 0
		for _, n := range names {
			s, d, err := e.m.WaitSpan(e.ctx, n, have[n])
			if err != nil || s == nil {
				b.Fatalf("%s: %v", n, err)
			}
			if d != nil {
				deltas++
			}
			have[n] = s.Digest
		}
		return time.Since(start), deltas
	}
	change() // both paths start from spans published by a change
	var patched, recomputed time.Duration
	b.ResetTimer()
	for range b.N {
		setRecompute(e.m, false)
		d, n := change()
		if n != agents {
			b.Fatalf("%d of %d agents got a delta", n, agents)
		}
		patched += d
		setRecompute(e.m, true)
		d, n = change()
		if n != agents {
			b.Fatalf("baseline: %d of %d agents got a delta", n, agents)
		}
		recomputed += d
	}
	b.StopTimer()
	b.ReportMetric(float64(patched.Microseconds())/float64(b.N)/1000, "delta-ms")
	b.ReportMetric(float64(recomputed.Microseconds())/float64(b.N)/1000, "recompute-ms")
	b.ReportMetric(float64(recomputed)/float64(patched), "speedup")
}

func setRecompute(m *Manager, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recomputeSpans = on
}

package manager

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/realization"
)

const spansDoc = `
resource_type: Infra
children:
- {resource_type: ChildTier1, Tier1: {id: t1}}
- {resource_type: ChildTier1, Tier1: {id: t2}}
- {resource_type: ChildTier1, Tier1: {id: t3}}
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: a, expression: [{resource_type: Condition, member_type: KubernetesService, key: Name, operator: EQUALS, value: a}]}}
    - {resource_type: ChildGroup, Group: {id: b, expression: [{resource_type: Condition, member_type: KubernetesService, key: Name, operator: EQUALS, value: b}]}}
    - {resource_type: ChildGroup, Group: {id: outer, expression: [{resource_type: PathExpression, paths: [/infra/domains/default/groups/a]}]}}
    - {resource_type: ChildGatewayPolicy, GatewayPolicy: {id: p1, scope: [/infra/tier-1s/t1], rules: [{id: r, destination_groups: [/infra/domains/default/groups/a], action: DROP}]}}
    - {resource_type: ChildGatewayPolicy, GatewayPolicy: {id: p2, scope: [/infra/tier-1s/t2], rules: [{id: r, destination_groups: [/infra/domains/default/groups/b], action: DROP}]}}
    - {resource_type: ChildGatewayPolicy, GatewayPolicy: {id: p3, scope: [/infra/tier-1s/t3], rules: [{id: r, destination_groups: [/infra/domains/default/groups/outer], action: DROP}]}}
`

// TestSpansIncremental: a membership change recomputes only the spans of
// the agents whose rules read the group (directly or through a group
// that includes it); the others are reused; a configuration change
// recomputes every span. Every span still carries the current revision.
func TestSpansIncremental(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, spansDoc)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.UpdateInventory(e.ctx, "east", []inventory.Object{lbService("a", "192.168.1.1"), lbService("b", "192.168.1.2")}, nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct{ name, gw string }{{"gw1", "/infra/tier-1s/t1"}, {"gw2", "/infra/tier-1s/t2"}, {"gw3", "/infra/tier-1s/t3"}} {
		if _, _, err := e.m.RegisterAgent(e.ctx, a.name, realization.RoleGateway, a.gw); err != nil {
			t.Fatal(err)
		}
	}
	spans := func() map[string]*realization.Span {
		out := map[string]*realization.Span{}
		for _, n := range []string{"gw1", "gw2", "gw3"} {
			s, err := e.m.Span(n)
			if err != nil {
				t.Fatal(err)
			}
			out[n] = s
		}
		return out
	}
	computed := func() int { return int(testutil.ToFloat64(e.m.metrics.spans)) }
	before := spans()
	n0 := computed()
	if again := spans(); computed() != n0 || again["gw1"].Digest != before["gw1"].Digest {
		t.Fatalf("reading spans again recomputed %d", computed()-n0)
	}
	// Service a moves: gw1 (group a) and gw3 (outer includes a) change.
	if _, err := e.m.UpdateInventory(e.ctx, "east", []inventory.Object{lbService("a", "192.168.1.9")}, nil); err != nil {
		t.Fatal(err)
	}
	after := spans()
	if got := computed() - n0; got != 2 {
		t.Errorf("a change of group a recomputed %d spans, want 2 (gw1, gw3)", got)
	}
	for _, n := range []string{"gw1", "gw3"} {
		if after[n].Digest == before[n].Digest || !strings.Contains(spanAddrs(after[n]), "192.168.1.9") {
			t.Errorf("%s did not follow the change: %s", n, spanAddrs(after[n]))
		}
	}
	if after["gw2"].Digest != before["gw2"].Digest {
		t.Error("gw2's span changed")
	}
	rev := e.m.Revision()
	for n, s := range after {
		if s.Revision != rev {
			t.Errorf("%s: span revision %d, want the current %d", n, s.Revision, rev)
		}
	}
	// A configuration change recomputes every span.
	n1 := computed()
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, strings.Replace(spansDoc, "value: b}", "value: a}", 1))}); err != nil {
		t.Fatal(err)
	}
	last := spans()
	if got := computed() - n1; got != 3 {
		t.Errorf("a configuration change recomputed %d spans, want 3", got)
	}
	if !strings.Contains(spanAddrs(last["gw2"]), "192.168.1.9") {
		t.Errorf("gw2 did not follow the new group b: %s", spanAddrs(last["gw2"]))
	}
}

func spanAddrs(s *realization.Span) string {
	var b strings.Builder
	for _, st := range s.Sets {
		for _, r := range st.Ranges {
			b.WriteString(r.String() + " ")
		}
	}
	return b.String()
}

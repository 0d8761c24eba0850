package manager

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/realization"
	"github.com/kordon-dev/kordon/internal/wire"
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

// TestSpansIncremental: a membership change compiles no span: the spans
// of the agents whose rules read the group (directly or through a group
// that includes it) get its element changes, the others are kept, and an
// agent that has an earlier span gets a delta; a configuration change
// compiles only the spans it touches. Every span still carries the
// current revision.
func TestSpansIncremental(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, spansDoc)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.UpdateInventory(e.ctx, "east", []inventory.Object{lbService("a", "192.168.1.1"), lbService("b", "192.168.1.2")}, nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct{ name, gw string }{{"gw1", "/infra/tier-1s/t1"}, {"gw2", "/infra/tier-1s/t2"}, {"gw3", "/infra/tier-1s/t3"}} {
		if _, _, err := e.m.RegisterAgent(e.ctx, AgentSpec{Name: a.name, Role: realization.RoleGateway, Gateway: a.gw}); err != nil {
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
	patched := func() int { return int(testutil.ToFloat64(e.m.metrics.patched)) }
	p0 := patched()
	// Service a moves: gw1 (group a) and gw3 (outer includes a) change.
	if _, err := e.m.UpdateInventory(e.ctx, "east", []inventory.Object{lbService("a", "192.168.1.9")}, nil); err != nil {
		t.Fatal(err)
	}
	after := spans()
	if got, p := computed()-n0, patched()-p0; got != 0 || p != 2 {
		t.Errorf("a change of group a compiled %d spans and patched %d, want 0 and 2 (gw1, gw3)", got, p)
	}
	// An agent one or two changes behind gets a delta that leads to the
	// current span.
	if _, err := e.m.UpdateInventory(e.ctx, "east", []inventory.Object{lbService("a", "192.168.1.10")}, nil); err != nil {
		t.Fatal(err)
	}
	for _, from := range []*realization.Span{before["gw1"], after["gw1"]} {
		cur, d, err := e.m.WaitSpan(e.ctx, "gw1", from.Digest)
		if err != nil || d == nil {
			t.Fatalf("from %s: no delta (%v)", from.Digest, err)
		}
		got, err := from.Apply(d)
		if err != nil || got.Digest != cur.Digest {
			t.Fatalf("the delta from %s: %v", from.Digest, err)
		}
	}
	after = spans()
	for _, n := range []string{"gw1", "gw3"} {
		if after[n].Digest == before[n].Digest || !strings.Contains(spanAddrs(after[n]), "192.168.1.10") {
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
	// A group's new definition changes members only: its deltas reach
	// the spans, none is compiled.
	n1 := computed()
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, strings.Replace(spansDoc, "value: b}", "value: a}", 1))}); err != nil {
		t.Fatal(err)
	}
	last := spans()
	if got := computed() - n1; got != 0 {
		t.Errorf("a group's new definition compiled %d spans, want 0", got)
	}
	if !strings.Contains(spanAddrs(last["gw2"]), "192.168.1.10") {
		t.Errorf("gw2 did not follow the new group b: %s", spanAddrs(last["gw2"]))
	}
	// A gateway policy's change compiles the spans of the gateways it is
	// scoped to, before and after, and no other.
	n2 := computed()
	moved := strings.Replace(spansDoc, "{id: p1, scope: [/infra/tier-1s/t1], rules: [{id: r, destination_groups: [/infra/domains/default/groups/a], action: DROP}]}",
		"{id: p1, scope: [/infra/tier-1s/t2], rules: [{id: r, destination_groups: [/infra/domains/default/groups/a], action: DROP}]}", 1)
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, moved)}); err != nil {
		t.Fatal(err)
	}
	final := spans()
	if got := computed() - n2; got != 2 {
		t.Errorf("moving p1 from t1 to t2 compiled %d spans, want 2 (gw1, gw2)", got)
	}
	if r, _ := final["gw1"].Count(); r != 0 {
		t.Errorf("gw1 keeps %d rules after p1 moved away", r)
	}
	if final["gw3"].Digest != last["gw3"].Digest {
		t.Error("gw3's span changed")
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

const vmSpansDoc = `
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: web, expression: [{resource_type: Condition, member_type: KubernetesService, key: Name, operator: EQUALS, value: a}]}}
    - {resource_type: ChildGroup, Group: {id: tagged, expression: [{resource_type: Condition, member_type: VirtualMachine, key: Tag, operator: EQUALS, value: "tier|app"}]}}
    - {resource_type: ChildGroup, Group: {id: other, expression: [{resource_type: Condition, member_type: KubernetesService, key: Name, operator: EQUALS, value: b}]}}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: app
        category: Application
        scope: [/infra/domains/default/groups/tagged]
        rules: [{id: to-web, destination_groups: [/infra/domains/default/groups/web], action: ALLOW, direction: OUT}]
`

// TestVMSpansIncremental: a VM's span follows its own tags (the Applied
// To group it joins or leaves) and the groups its rules name, and is
// reused when an unrelated group changes.
func TestVMSpansIncremental(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, vmSpansDoc)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.UpdateInventory(e.ctx, "east", []inventory.Object{lbService("a", "192.168.1.1"), lbService("b", "192.168.1.2")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.m.RegisterAgent(e.ctx, AgentSpec{Name: "vm1", Role: realization.RoleVM}); err != nil {
		t.Fatal(err)
	}
	vm := &wire.VMFacts{Addresses: []netip.Addr{netipAddr("172.16.0.5")}}
	if err := e.m.RecordAgentReport(e.ctx, "vm1", wire.AgentReport{State: "success", Interval: 10 * time.Second, VM: vm}); err != nil {
		t.Fatal(err)
	}
	// The VM's tags are the manager's to set.
	report := func(tag string) {
		t.Helper()
		if _, err := e.m.UpdateAgent(e.ctx, "vm1", AgentUpdate{Tags: &[]model.Tag{{Scope: "tier", Tag: tag}}}); err != nil {
			t.Fatal(err)
		}
	}
	rules := func() int {
		s, err := e.m.Span("vm1")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := s.Count()
		return n
	}
	computed := func() int { return int(testutil.ToFloat64(e.m.metrics.spans)) }
	report("app")
	if n := rules(); n != 1 {
		t.Fatalf("a VM tagged tier|app has %d rules, want 1", n)
	}
	n0 := computed()
	if _, err := e.m.UpdateInventory(e.ctx, "east", []inventory.Object{lbService("b", "192.168.1.3")}, nil); err != nil {
		t.Fatal(err)
	}
	rules()
	if got := computed() - n0; got != 0 {
		t.Errorf("a change of an unrelated group recomputed the VM's span %d times", got)
	}
	if _, err := e.m.UpdateInventory(e.ctx, "east", []inventory.Object{lbService("a", "192.168.1.4")}, nil); err != nil {
		t.Fatal(err)
	}
	s, _ := e.m.Span("vm1")
	if got := computed() - n0; got != 0 || !strings.Contains(spanAddrs(s), "192.168.1.4") {
		t.Errorf("a change of the rule's group: %d recomputations (want 0: element changes), addresses %s", got, spanAddrs(s))
	}
	report("db") // the VM leaves the Applied To group
	if n := rules(); n != 0 {
		t.Errorf("a VM no longer tagged tier|app has %d rules, want 0", n)
	}
}

const coverDoc = `
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: web, expression: [{resource_type: Condition, member_type: KubernetesService, key: Name, operator: EQUALS, value: a}]}}
    - {resource_type: ChildGroup, Group: {id: near, expression: [{resource_type: Condition, member_type: KubernetesService, key: Name, operator: EQUALS, value: c}]}}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: app
        category: Application
        scope: [/infra/domains/default/groups/near]
        rules: [{id: to-web, destination_groups: [/infra/domains/default/groups/web], action: ALLOW, direction: OUT}]
`

// TestVMCoverageFollowsMembership: when an Applied To group's members
// come to hold a VM's address (or stop), the rules that apply to the VM
// change: its span is compiled again, not patched; other VMs are patched.
func TestVMCoverageFollowsMembership(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, coverDoc)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.UpdateInventory(e.ctx, "east", []inventory.Object{lbService("a", "192.168.1.1"), lbService("c", "192.168.9.9")}, nil); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"vm1", "vm2"} {
		if _, _, err := e.m.RegisterAgent(e.ctx, AgentSpec{Name: name, Role: realization.RoleVM}); err != nil {
			t.Fatal(err)
		}
		vm := &wire.VMFacts{Addresses: []netip.Addr{netipAddr(fmt.Sprintf("172.16.0.%d", 5+i))}}
		if err := e.m.RecordAgentReport(e.ctx, name, wire.AgentReport{State: "success", Interval: 10 * time.Second, VM: vm}); err != nil {
			t.Fatal(err)
		}
	}
	rules := func(name string) int {
		s, err := e.m.Span(name)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := s.Count()
		return n
	}
	if rules("vm1") != 0 || rules("vm2") != 0 {
		t.Fatal("no VM is in the Applied To group yet")
	}
	computed := func() int { return int(testutil.ToFloat64(e.m.metrics.spans)) }
	n0 := computed()
	// Service c takes vm1's address: group near now holds vm1.
	if _, err := e.m.UpdateInventory(e.ctx, "east", []inventory.Object{lbService("c", "172.16.0.5")}, nil); err != nil {
		t.Fatal(err)
	}
	if rules("vm1") != 1 || rules("vm2") != 0 {
		t.Fatalf("vm1 %d rules, vm2 %d; want 1 and 0", rules("vm1"), rules("vm2"))
	}
	if got := computed() - n0; got != 1 {
		t.Errorf("%d spans compiled, want 1 (vm1's)", got)
	}
	if _, err := e.m.UpdateInventory(e.ctx, "east", []inventory.Object{lbService("c", "192.168.9.9")}, nil); err != nil {
		t.Fatal(err)
	}
	if rules("vm1") != 0 {
		t.Fatal("vm1 left the Applied To group but keeps its rule")
	}
}

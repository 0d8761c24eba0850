package manager

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/wire"
)

// Attacks by the identities tenants hold (their VMs' agents, their
// project tokens) and by clusters, as a reviewer tried them; each test
// failed while the weakness it names was present.

// lockdownDoc is a project's policy applied to its VMs tagged role|web:
// inbound traffic to them is dropped. It reaches a VM only while one of
// the VM's effective addresses is in the Applied To group.
func lockdownDoc(project string) string {
	return strings.ReplaceAll(`
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: web, expression: [{resource_type: Condition, member_type: VirtualMachine, key: Tag, operator: EQUALS, value: "role|web"}]}}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: lockdown
        category: Application
        scope: [/orgs/default/projects/PROJECT/infra/domains/default/groups/web]
        rules: [{id: drop-in, action: DROP, direction: IN}]
`, "PROJECT", project)
}

func spanRuleCount(t *testing.T, e *env, name string) int {
	t.Helper()
	s, err := e.m.Span(name)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := s.Count()
	return n
}

// TestClaimsAreDecidedPerSpace: a VM agent of project b that reports the
// address of a VM of project a changes nothing for that VM: claims and
// pins are decided within a space (tenants' address plans may overlap),
// so the victim stays in its project's groups and keeps the rules its
// Applied To gives it.
func TestClaimsAreDecidedPerSpace(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"a", "b"} {
		if _, err := e.m.PutProject(e.ctx, Project{ID: p}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Project: "a", Doc: doc(t, lockdownDoc("a"))}); err != nil {
		t.Fatal(err)
	}
	e.vm(t, AgentSpec{Name: "victim", Project: "a", AgentAttributes: AgentAttributes{Tags: []model.Tag{{Scope: "role", Tag: "web"}}}}, "172.16.10.5")
	before := spanRuleCount(t, e, "victim")
	if before == 0 {
		t.Fatal("precondition: project a's lockdown policy does not reach its VM")
	}
	// A VM of another tenant reports the victim's address.
	e.vm(t, AgentSpec{Name: "intruder", Project: "b"}, "172.16.10.5")
	after := spanRuleCount(t, e, "victim")
	st := e.status(t, "victim")
	if after != before || !slices.Contains(st.Addresses, "172.16.10.5") {
		t.Errorf("a VM agent of project b claiming project a's VM address changed what project a's VM enforces: "+
			"its rules went from %d to %d, effective addresses %v, refused %+v; project a's group web now holds %v",
			before, after, st.Addresses, st.Refused, addressesOf(e, "/orgs/default/projects/a/infra/domains/default/groups/web"))
	}
}

// TestProjectWithAgentsIsNotDeleted: a project whose agents are still
// registered cannot be deleted (they would be the VMs of a project created
// again under the same id, selected by its groups, enforcing its
// policies); deregistering them first lets it go.
func TestProjectWithAgentsIsNotDeleted(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.PutProject(e.ctx, Project{ID: "p"}); err != nil {
		t.Fatal(err)
	}
	e.vm(t, AgentSpec{Name: "old-tenant-vm", Project: "p", AgentAttributes: AgentAttributes{Tags: []model.Tag{{Scope: "role", Tag: "web"}}}}, "172.16.40.1")
	err := e.m.DeleteProject(e.ctx, "p")
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "old-tenant-vm") {
		t.Fatalf("deleting a project with an agent: %v", err)
	}
	if _, ok := e.m.Project("p"); !ok {
		t.Fatal("the project was deleted")
	}
	if err := e.m.DeregisterAgent(e.ctx, "old-tenant-vm"); err != nil {
		t.Fatal(err)
	}
	if err := e.m.DeleteProject(e.ctx, "p"); err != nil {
		t.Fatalf("once its agents are gone: %v", err)
	}
}

// TestGrantWithdrawalRacesATier1: a project's tier-1 write is committed
// on the project record it was checked against, so an admin's withdrawal
// of the grant committed in between (here seen late by a second manager)
// makes the tier-1 write fail rather than leave a tier-1 connected to a
// tier-0 the project is no longer granted.
func TestGrantWithdrawalRacesATier1(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, "resource_type: Infra\nchildren:\n- {resource_type: ChildTier0, Tier0: {id: edge}}\n")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.PutProject(e.ctx, Project{ID: "team", Tier0s: []string{"/infra/tier-0s/edge"}}); err != nil {
		t.Fatal(err)
	}
	// A second manager of the installation, at the same state.
	b := New(Options{Store: e.st, Now: e.clock.now, Seal: testRing})
	if _, err := b.load(e.ctx); err != nil {
		t.Fatal(err)
	}
	// The provider withdraws the grant: no tier-1 uses it yet.
	if _, err := e.m.PutProject(e.ctx, Project{ID: "team"}); err != nil {
		t.Fatal(err)
	}
	// The tenant connects a tier-1 to it through the second manager.
	ctx, cancel := context.WithTimeout(e.ctx, 3*time.Second)
	defer cancel()
	_, applyErr := b.Apply(ctx, ApplyRequest{Project: "team", Doc: doc(t, "resource_type: Infra\nchildren:\n- {resource_type: ChildTier1, Tier1: {id: t1, tier0_path: /infra/tier-0s/edge}}\n")})
	const t1 = "/orgs/default/projects/team/infra/tier-1s/t1"
	var connected bool
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		e.m.Read(func(v View) { connected = v.Config().Tier1s[t1] != nil })
		if connected {
			break
		}
	}
	p, _ := e.m.Project("team")
	if connected && !slices.Contains(p.Tier0s, "/infra/tier-0s/edge") {
		t.Errorf("project team's tier-1 %s is connected to /infra/tier-0s/edge, which the project is not granted (tier_0s %v); the tenant's write (%v) was committed after the withdrawal", t1, p.Tier0s, applyErr)
	}
}

// TestProjectCannotEnumerateOtherSpaces: every reference a project's
// document makes outside its space (a rule's groups and services, a
// gateway rule's scope) is refused the same way whether the object exists
// or not: the space is checked before existence, so dry runs tell a
// project admin nothing of the provider's or other tenants' ids.
func TestProjectCannotEnumerateOtherSpaces(t *testing.T) {
	e := newEnv(t)
	provider := `
resource_type: Infra
children:
- {resource_type: ChildTier0, Tier0: {id: edge}}
- {resource_type: ChildService, Service: {id: secret-svc, service_entries: [{resource_type: L4PortSetServiceEntry, id: e, l4_protocol: TCP, destination_ports: ["1234"]}]}}
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: quarantined-ceo-laptops, expression: [{resource_type: IPAddressExpression, ip_addresses: [10.9.9.9]}]}}
`
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, provider)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.PutProject(e.ctx, Project{ID: "team"}); err != nil {
		t.Fatal(err)
	}
	policy := func(kind, body string) string {
		return `
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - resource_type: Child` + kind + `
      ` + kind + `: {id: x, rules: [{id: r, ` + body + `, action: ALLOW}]}
`
	}
	for _, c := range []struct{ what, yaml, exists, missing string }{
		{"a rule's source group", policy("SecurityPolicy", "source_groups: [REF]"), "/infra/domains/default/groups/quarantined-ceo-laptops", "/infra/domains/default/groups/nope"},
		{"a rule's service", policy("SecurityPolicy", "services: [REF]"), "/infra/services/secret-svc", "/infra/services/nope"},
		{"a gateway rule's scope", policy("GatewayPolicy", "scope: [REF]"), "/infra/tier-0s/edge", "/infra/tier-0s/nope"},
	} {
		var reasons []string
		for _, ref := range []string{c.exists, c.missing} {
			_, err := e.m.Apply(e.ctx, ApplyRequest{Project: "team", DryRun: true, Doc: doc(t, strings.Replace(c.yaml, "REF", ref, 1))})
			var we *WriteError
			if !errors.As(err, &we) || len(we.Details) == 0 {
				t.Fatalf("%s %s: %v", c.what, ref, err)
			}
			reasons = append(reasons, strings.ReplaceAll(we.Details.Error(), ref, "REF"))
		}
		if reasons[0] != reasons[1] {
			t.Errorf("%s: a project tells the provider's existing %s from a missing one:\n  exists:  %s\n  missing: %s", c.what, c.exists, reasons[0], reasons[1])
		}
	}
}

// TestEmptyInventoryWritesAreCharged: every inventory write is charged for
// the keys it writes and the revision it makes etcd keep, so a cluster
// whose budget is spent cannot go on committing writes with nothing in
// them.
func TestEmptyInventoryWritesAreCharged(t *testing.T) {
	e := newEnv(t)
	if _, _, err := e.m.RegisterCluster(e.ctx, "east", SourceAdapter); err != nil {
		t.Fatal(err)
	}
	m := New(Options{Store: e.st, Now: e.clock.now, Seal: testRing, WriteBurst: 4096, WriteRate: 1})
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	<-m.ReadyC()
	// Spend the budget (the clock stands still: nothing is regained).
	var base int64
	spent := false
	for i := 0; i < 100 && !spent; i++ {
		rev, err := m.WriteInventory(e.ctx, "east", base, []inventory.Object{lbService("svc", "192.168.1."+string(rune('1'+i%8)))}, nil, false)
		switch {
		case errors.Is(err, ErrTooFrequent):
			spent = true
		case err != nil:
			t.Fatal(err)
		default:
			base = rev
		}
	}
	if !spent {
		t.Fatal("precondition: the budget of 4096 bytes was never spent")
	}
	start := m.Revision()
	stored := 0
	for range 50 {
		rev, err := m.WriteInventory(e.ctx, "east", base, nil, nil, false)
		if err != nil {
			continue
		}
		base = rev
		stored++
	}
	// A fixed charge per write may let the budget's last crumbs pay for a
	// few; every one of them is free now.
	if stored >= 10 {
		t.Errorf("with its write budget spent, cluster east committed %d of 50 empty inventory writes (store revision %d -> %d)", stored, start, m.Revision())
	}
}

// TestOneAgentCannotFreezeRuleStatistics: each agent's counters are
// capped before they are summed, so a project's VM agent that claims
// 2^64-1 hits of a provider rule cannot freeze the saturating total: the
// hits other enforcement points count still show.
func TestOneAgentCannotFreezeRuleStatistics(t *testing.T) {
	e := newEnv(t)
	const policy = "/infra/domains/default/security-policies/watch"
	const rule = policy + "/rules/drop-scan"
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, `
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - resource_type: ChildSecurityPolicy
      SecurityPolicy: {id: watch, category: Emergency, rules: [{id: drop-scan, destination_groups: [10.99.0.0/16], action: DROP}]}
`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.PutProject(e.ctx, Project{ID: "b"}); err != nil {
		t.Fatal(err)
	}
	e.vm(t, AgentSpec{Name: "honest"}, "172.16.50.1")
	e.vm(t, AgentSpec{Name: "intruder", Project: "b"}, "172.16.50.2")
	count := func(name string, packets uint64) {
		t.Helper()
		e.clock.advance(time.Second)
		if err := e.m.RecordAgentReport(e.ctx, name, wire.AgentReport{State: "success", Interval: 10 * time.Second,
			Counters: map[string]wire.RuleCounters{rule: {Packets: packets, Bytes: packets * 60}}}); err != nil {
			t.Fatal(err)
		}
	}
	count("honest", 5)
	count("intruder", ^uint64(0))
	before := e.m.RuleStatistics(policy)[rule]
	count("honest", 5000) // a scan hits the provider's rule on the honest VM
	after := e.m.RuleStatistics(policy)[rule]
	if after == before {
		t.Errorf("a project's VM agent froze the provider rule's statistics at %+v: 4995 new hits on another VM do not show", after)
	}
}

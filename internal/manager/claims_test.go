package manager

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/realization"
	"github.com/kordon-dev/kordon/internal/wire"
)

// claimsDoc: the database's group by tag, and a DFW policy applied to it
// (its Applied To is where a claimed address would matter), plus the same
// tag group in project a.
const claimsDoc = `
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: trusted, expression: [{resource_type: Condition, member_type: VirtualMachine, key: Tag, operator: EQUALS, value: "role|trusted"}]}}
    - {resource_type: ChildGroup, Group: {id: db-ip, expression: [{resource_type: IPAddressExpression, ip_addresses: [172.16.10.5]}]}}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: db
        category: Application
        scope: [/infra/domains/default/groups/db-ip]
        rules: [{id: only-trusted, source_groups: [/infra/domains/default/groups/trusted], action: ALLOW}, {id: drop-rest, action: DROP}]
`

func (e *env) vm(t *testing.T, spec AgentSpec, addrs ...string) {
	t.Helper()
	spec.Role = realization.RoleVM
	if _, _, err := e.m.RegisterAgent(e.ctx, spec); err != nil {
		t.Fatal(err)
	}
	e.report(t, spec.Name, addrs...)
}

func (e *env) report(t *testing.T, name string, addrs ...string) {
	t.Helper()
	f := &wire.VMFacts{}
	for _, a := range addrs {
		f.Addresses = append(f.Addresses, netip.MustParseAddr(a))
	}
	e.clock.advance(time.Second)
	if err := e.m.RecordAgentReport(e.ctx, name, wire.AgentReport{State: "success", Interval: 10 * time.Second, VM: f}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) status(t *testing.T, name string) AgentStatus {
	t.Helper()
	st, ok := e.m.AgentStatus(name)
	if !ok {
		t.Fatalf("no agent %s", name)
	}
	return st
}

func addressesOf(e *env, group string) []string {
	var out []string
	e.m.Read(func(v View) {
		for _, r := range v.Index().Addresses(group) {
			out = append(out, r.From().String())
		}
	})
	return out
}

// TestAgentsCannotPromoteThemselves: what an agent reports decides none
// of its groups, and no address it claims takes another agent's place.
func TestAgentsCannotPromoteThemselves(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, claimsDoc)}); err != nil {
		t.Fatal(err)
	}
	// The database's agent has its address pinned; a trusted VM is tagged
	// by the manager.
	e.vm(t, AgentSpec{Name: "db", AgentAttributes: AgentAttributes{AllowedAddresses: []string{"172.16.10.5"}}}, "172.16.10.5")
	e.vm(t, AgentSpec{Name: "app", AgentAttributes: AgentAttributes{Tags: []model.Tag{{Scope: "role", Tag: "trusted"}}}}, "172.16.20.10")
	if got := addressesOf(e, "/infra/domains/default/groups/trusted"); !slices.Equal(got, []string{"172.16.20.10"}) {
		t.Fatalf("trusted = %v", got)
	}
	// An attacker's agent claims the database's address and a trusted
	// VM's, and reports tags: it gains nothing.
	e.vm(t, AgentSpec{Name: "evil"}, "172.16.20.99")
	if err := e.m.RecordAgentReport(e.ctx, "evil", wire.AgentReport{State: "success", Interval: 10 * time.Second,
		VM: &wire.VMFacts{Addresses: []netip.Addr{netip.MustParseAddr("172.16.20.99")}, Tags: []model.Tag{{Scope: "role", Tag: "trusted"}}}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a report with tags: %v", err)
	}
	e.report(t, "evil", "172.16.10.5", "172.16.20.10", "172.16.20.99")
	if got := addressesOf(e, "/infra/domains/default/groups/trusted"); slices.Contains(got, "172.16.20.99") {
		t.Fatalf("the attacker joined the trusted group: %v", got)
	}
	evil := e.status(t, "evil")
	if !slices.Equal(evil.Addresses, []string{"172.16.20.99"}) || len(evil.Refused) != 2 {
		t.Fatalf("evil: addresses %v, refused %+v", evil.Addresses, evil.Refused)
	}
	if !strings.Contains(evil.Refused[0].Reason, "belongs to agent db") || !strings.Contains(evil.Refused[1].Reason, "several agents") {
		t.Fatalf("reasons: %+v", evil.Refused)
	}
	// The pinned database keeps its address and its rules; the unpinned
	// app VM loses the address the attacker also claims (neither gains),
	// and the collision is on both.
	if db := e.status(t, "db"); !slices.Equal(db.Addresses, []string{"172.16.10.5"}) || len(db.Refused) != 0 {
		t.Fatalf("db: %+v", db)
	}
	if s, _ := e.m.Span("db"); s.Hooks[0].Rules == nil && s.Hooks[1].Rules == nil {
		t.Fatal("the database lost its rules")
	}
	if s, _ := e.m.Span("evil"); len(s.Hooks[0].Rules)+len(s.Hooks[1].Rules) != 0 {
		t.Fatalf("the attacker got the database's rules: %+v", s.Hooks)
	}
	app := e.status(t, "app")
	if len(app.Addresses) != 0 || len(app.Refused) != 1 || !strings.Contains(app.Refused[0].Reason, "evil") {
		t.Fatalf("app: %+v", app)
	}
	// Once the attacker lets go, the app VM has its address again.
	e.report(t, "evil", "172.16.20.99")
	if app := e.status(t, "app"); !slices.Equal(app.Addresses, []string{"172.16.20.10"}) {
		t.Fatalf("app after the claim ends: %+v", app)
	}
	// Pinned addresses bound what an agent may claim.
	e.report(t, "db", "172.16.10.5", "172.16.10.6")
	if db := e.status(t, "db"); len(db.Refused) != 1 || !strings.Contains(db.Refused[0].Reason, "outside") {
		t.Fatalf("db outside its pin: %+v", db)
	}
}

func TestVMReportsAreBounded(t *testing.T) {
	e := newEnv(t)
	e.vm(t, AgentSpec{Name: "vm"}, "172.16.0.1")
	many := make([]string, wire.MaxVMAddresses+1)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String()
	}
	for name, addrs := range map[string][]string{
		"too many":    many,
		"loopback":    {"127.0.0.1"},
		"link-local":  {"fe80::1"},
		"unspecified": {"0.0.0.0"},
		"mapped":      {"::ffff:10.0.0.1"},
		"twice":       {"10.0.0.1", "10.0.0.1"},
	} {
		f := &wire.VMFacts{}
		for _, a := range addrs {
			f.Addresses = append(f.Addresses, netip.MustParseAddr(a))
		}
		e.clock.advance(time.Second)
		if err := e.m.RecordAgentReport(e.ctx, "vm", wire.AgentReport{State: "success", Interval: 10 * time.Second, VM: f}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Reports come at most every ReportGap.
	e.report(t, "vm", "172.16.0.1")
	if err := e.m.RecordAgentReport(e.ctx, "vm", wire.AgentReport{State: "success", Interval: 10 * time.Second}); !errors.Is(err, ErrTooFrequent) {
		t.Fatalf("a report right after another: %v", err)
	}
	// Counters of rules outside the agent's span are dropped.
	e.clock.advance(time.Second)
	if err := e.m.RecordAgentReport(e.ctx, "vm", wire.AgentReport{State: "success", Interval: 10 * time.Second,
		Counters: map[string]wire.RuleCounters{"/infra/domains/default/gateway-policies/x/rules/y": {Packets: 1 << 40}}}); err != nil {
		t.Fatal(err)
	}
	if st := e.status(t, "vm"); st.Report == nil || len(st.Report.Counters) != 0 || st.Report.Dropped != 1 {
		t.Fatalf("counters kept: %+v", st.Report)
	}
	if got := e.m.RuleStatistics("/infra/domains/default/gateway-policies/x"); len(got) != 0 {
		t.Fatalf("statistics of a rule the agent does not enforce: %v", got)
	}
}

// TestProjectVMsAreTheProjects: a project's VM is selected by its
// project's groups only, and gets its project's rules and the provider's.
func TestProjectVMsAreTheProjects(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.PutProject(e.ctx, Project{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, claimsDoc)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Project: "a", Doc: doc(t, strings.ReplaceAll(claimsDoc, "/infra/domains", "/orgs/default/projects/a/infra/domains"))}); err != nil {
		t.Fatal(err)
	}
	e.vm(t, AgentSpec{Name: "pvm", Project: "a", AgentAttributes: AgentAttributes{Tags: []model.Tag{{Scope: "role", Tag: "trusted"}}}}, "172.16.30.1")
	if got := addressesOf(e, "/infra/domains/default/groups/trusted"); len(got) != 0 {
		t.Fatalf("the provider's group selected a project VM: %v", got)
	}
	if got := addressesOf(e, "/orgs/default/projects/a/infra/domains/default/groups/trusted"); !slices.Equal(got, []string{"172.16.30.1"}) {
		t.Fatalf("the project's group: %v", got)
	}
	if _, _, err := e.m.RegisterAgent(e.ctx, AgentSpec{Name: "x", Role: realization.RoleVM, Project: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a VM of a project that does not exist: %v", err)
	}
}

// TestClustersAreBounded: heartbeats are small, well-formed and at most
// every ReportGap; a cluster's inventory stays within its quota.
func TestClustersAreBounded(t *testing.T) {
	e := newEnv(t)
	if _, _, err := e.m.RegisterCluster(e.ctx, "east", SourceAdapter); err != nil {
		t.Fatal(err)
	}
	hb := wire.Heartbeat{Status: "up", Interval: 10 * time.Second}
	if err := e.m.RecordHeartbeat(e.ctx, "east", hb); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RecordHeartbeat(e.ctx, "east", hb); !errors.Is(err, ErrTooFrequent) {
		t.Fatalf("a heartbeat right after another: %v", err)
	}
	apis := map[string]string{}
	for i := range maxHeartbeatEntries + 1 {
		apis[strings.Repeat("k", i+1)] = "v1"
	}
	for name, bad := range map[string]wire.Heartbeat{
		"many apis":     {Status: "up", Interval: time.Second, APIs: apis},
		"escape":        {Status: "up", Interval: time.Second, Kubernetes: "v1.30\x1b[2J"},
		"long error":    {Status: "down", Interval: time.Second, Error: strings.Repeat("e", maxHeartbeatError+1)},
		"negative":      {Status: "up", Interval: time.Second, Counts: map[string]int{"Pod": -1}},
		"unknown state": {Status: "sideways", Interval: time.Second},
	} {
		e.clock.advance(time.Second)
		if err := e.m.RecordHeartbeat(e.ctx, "east", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	m := New(Options{Store: e.st, Now: e.clock.now, Seal: testRing, MaxClusterObjects: 3})
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	go m.Run(ctx)
	<-m.ReadyC()
	objs := []inventory.Object{lbService("a", "192.168.1.1"), lbService("b", "192.168.1.2"), lbService("c", "192.168.1.3")}
	rev, err := m.WriteInventory(e.ctx, "east", 0, objs, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.WriteInventory(e.ctx, "east", rev, []inventory.Object{lbService("d", "192.168.1.4")}, nil, false); !errors.Is(err, ErrQuota) {
		t.Fatalf("a fourth object over a quota of three: %v", err)
	}
	// Replacing one keeps the count: allowed.
	if _, err := m.WriteInventory(e.ctx, "east", rev, []inventory.Object{lbService("d", "192.168.1.4")}, []inventory.Key{{Kind: inventory.KindService, Namespace: "shop", Name: "a"}}, false); err != nil {
		t.Fatalf("a replacement within the quota: %v", err)
	}
	bad := lbService("e\x00vil", "192.168.1.5")
	if _, err := m.WriteInventory(e.ctx, "east", 0, []inventory.Object{bad}, nil, false); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an object with a NUL in its name: %v", err)
	}
	vm := &inventory.VirtualMachine{Meta: inventory.Meta{Name: "fake-vm"}, Tags: []inventory.Tag{{Scope: "role", Value: "trusted"}}}
	if _, err := m.WriteInventory(e.ctx, "east", 0, []inventory.Object{vm}, nil, false); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a cluster reporting a VM: %v", err)
	}
}

package manager

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/license"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/store"
)

// Test address plan: cluster "east" with nodes 10.0.1.0/24 and VIPs
// 192.168.1.0/24; VMs in 172.16.0.0/16.

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time)         { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type env struct {
	st    *store.Store
	m     *Manager
	clock *clock
	ctx   context.Context
	stop  func()
}

func openStore(t testing.TB, dir string) *store.Store {
	st, err := store.Open(context.Background(), store.Options{DataDir: dir, UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// start runs a manager on st (initializing the installation when new).
func start(t testing.TB, st *store.Store, c *clock) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ring := testRing
	if _, err := Initialize(ctx, st, c.now(), ring); err != nil {
		t.Fatal(err)
	}
	m := New(Options{Store: st, Now: c.now, Seal: ring})
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	for !m.Ready() {
		time.Sleep(5 * time.Millisecond)
	}
	e := &env{st: st, m: m, clock: c, ctx: ctx, stop: func() { cancel(); <-done }}
	t.Cleanup(e.stop)
	return e
}

func newEnv(t testing.TB) *env {
	return start(t, openStore(t, t.TempDir()), &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)})
}

func doc(t testing.TB, yaml string) *model.Infra {
	t.Helper()
	docs, err := model.ParseDocument("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return docs[0]
}

const groupsDoc = `
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - resource_type: ChildGroup
      Group:
        id: lb
        expression:
        - {resource_type: Condition, member_type: KubernetesService, key: Tag, operator: EQUALS, value: "dis:k8s:app|web"}
    - resource_type: ChildGroup
      Group:
        id: vms
        expression: [{resource_type: IPAddressExpression, ip_addresses: [172.16.0.0/24]}]
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: p
        category: Application
        rules:
        - {id: r1, source_groups: [/infra/domains/default/groups/vms], destination_groups: [/infra/domains/default/groups/lb], services: [/infra/services/HTTPS], action: ALLOW}
        - {id: r2, source_groups: [/infra/domains/default/groups/vms], action: DROP, sequence_number: 10}
`

func lbService(name, vip string) *inventory.Service {
	return &inventory.Service{Meta: inventory.Meta{Cluster: "east", Namespace: "shop", Name: name, Labels: map[string]string{"app": "web"}},
		Type: inventory.ServiceLoadBalancer, LoadBalancer: []inventory.LoadBalancerIngress{{IP: netipAddr(vip)}}}
}

func addresses(e *env, group string) []string {
	var out []string
	e.m.Read(func(v View) {
		for _, r := range v.Index().Addresses(group) {
			out = append(out, address.FormatRange(r))
		}
	})
	return out
}

func TestApplyAndReadBack(t *testing.T) {
	e := newEnv(t)
	res, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, groupsDoc), User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 5 || res.Revision == 0 { // 2 groups, a policy, 2 rules (the default domain exists)
		t.Fatalf("result = %+v", res)
	}
	// The write is visible as soon as Apply returns.
	var rule *model.Rule
	var meta ObjectMeta
	e.m.Read(func(v View) {
		rule = v.Config().Rules["/infra/domains/default/security-policies/p/rules/r1"]
		meta, _ = v.Meta(rule.Path)
	})
	if rule == nil || rule.CreateUser != "alice" || rule.CreateTime != e.clock.now().UnixMilli() || meta.Revision != 0 {
		t.Fatalf("stored rule = %+v, meta %+v", rule, meta)
	}
	if _, err := e.m.SyncCluster(e.ctx, Cluster{Name: "east", ID: "id-east", Source: "test"}, []inventory.Object{lbService("a", "192.168.1.1")}); err != nil {
		t.Fatal(err)
	}
	if got := addresses(e, "/infra/domains/default/groups/lb"); fmt.Sprint(got) != "[192.168.1.1]" {
		t.Fatalf("lb = %v", got)
	}
	// Re-applying the same document changes nothing: no change is
	// reported, nothing is committed, the revision stays.
	e.clock.set(e.clock.now().Add(time.Hour))
	before := e.m.Revision()
	res, err = e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, groupsDoc), User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 0 || res.Revision != before || e.m.Revision() != before {
		t.Fatalf("the same document again: %+v, revision %d -> %d", res, before, e.m.Revision())
	}
	// Deleting what does not exist is no change either.
	res, err = e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, `
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, marked_for_delete: true, Group: {id: never-existed}}
`), User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 0 || res.Revision != before || e.m.Revision() != before {
		t.Fatalf("deleting what does not exist: %+v, revision %d -> %d", res, before, e.m.Revision())
	}
	// A change is an update: its object's revision and stamps move.
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, strings.Replace(groupsDoc, "action: ALLOW", "action: DROP", 1)), User: "bob"}); err != nil {
		t.Fatal(err)
	}
	e.m.Read(func(v View) {
		rule = v.Config().Rules["/infra/domains/default/security-policies/p/rules/r1"]
		meta, _ = v.Meta(rule.Path)
	})
	if rule.CreateUser != "alice" || rule.LastModifiedUser != "bob" || meta.Revision != 1 {
		t.Fatalf("after update: %+v %+v", rule, meta)
	}
}

func TestRefusedChangesWriteNothing(t *testing.T) {
	e := newEnv(t)
	before := e.m.Revision()
	tests := []struct {
		name string
		req  ApplyRequest
		kind error
		want string
	}{
		{"invalid", ApplyRequest{Doc: doc(t, `
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: ok, expression: [{resource_type: IPAddressExpression, ip_addresses: [10.0.0.1]}]}}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy: {id: p, rules: [{id: r, source_groups: [/infra/domains/default/groups/missing]}]}
`)}, ErrInvalid, "groups/missing does not exist"},
		{"unknown project", ApplyRequest{Project: "nope", Doc: doc(t, groupsDoc)}, ErrNotFound, `project "nope" does not exist`},
		{"kubernetes group in a project", ApplyRequest{Project: "team", Doc: doc(t, groupsDoc)}, ErrInvalid, "create it in the default space"},
	}
	if _, err := e.m.PutProject(e.ctx, Project{ID: "team"}); err != nil {
		t.Fatal(err)
	}
	before = e.m.Revision()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.m.Apply(e.ctx, tt.req)
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.kind, tt.want)
			}
			if e.m.Revision() != before {
				t.Fatal("a refused change wrote to the store")
			}
		})
	}
}

func TestExpectedRevision(t *testing.T) {
	e := newEnv(t)
	ip := 0
	put := func(expect map[string]int64, require bool) error {
		// Each put changes the group: a put of what is there changes
		// nothing, and its revision stays.
		ip++
		g := fmt.Sprintf(`{"resource_type":"Group","id":"g","expression":[{"resource_type":"IPAddressExpression","ip_addresses":["10.0.0.%d"]}]}`, ip)
		req := ApplyRequest{Doc: doc(t, g), Expect: expect}
		if require {
			req.RequireExpect = []string{"/infra/domains/default/groups/g"}
		}
		_, err := e.m.Apply(e.ctx, req)
		return err
	}
	p := "/infra/domains/default/groups/g"
	if err := put(nil, true); err != nil {
		t.Fatalf("creating needs no revision: %v", err)
	}
	if err := put(nil, true); !errors.Is(err, ErrStale) {
		t.Fatalf("replacing without a revision: %v", err)
	}
	if err := put(map[string]int64{p: 3}, true); !errors.Is(err, ErrStale) {
		t.Fatalf("a stale revision: %v", err)
	}
	if err := put(map[string]int64{p: 0}, true); err != nil {
		t.Fatalf("the current revision: %v", err)
	}
	if err := put(map[string]int64{p: 0}, true); !errors.Is(err, ErrStale) {
		t.Fatalf("the same revision twice: %v", err)
	}
}

func TestEntitlement(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, groupsDoc)}); err != nil {
		t.Fatalf("the evaluation license allows everything: %v", err)
	}
	// Past the evaluation's 60 days. Writing what is configured changes
	// nothing and needs nothing; a change of a rule needs DFW.
	e.clock.set(e.clock.now().AddDate(0, 0, 61))
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, groupsDoc)}); err != nil {
		t.Fatalf("expired, the same document again: %v", err)
	}
	_, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, strings.Replace(groupsDoc, "action: ALLOW", "action: DROP", 1))})
	if !errors.Is(err, ErrNotEntitled) || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "DFW") {
		t.Fatalf("expired: %v", err)
	}
	// Groups without Kubernetes member types and deletions need nothing;
	// configured policies stay.
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, `{"resource_type":"Group","id":"ips","expression":[{"resource_type":"IPAddressExpression","ip_addresses":["10.0.0.1"]}]}`)}); err != nil {
		t.Fatalf("an IP group: %v", err)
	}
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: model.Place(model.Ref{Kind: model.KindRule, Domain: "default", Policy: "p", PolicyKind: model.KindSecurityPolicy, ID: "r2"}, model.Stub(model.KindRule, "r2"), true)}); err != nil {
		t.Fatalf("a deletion: %v", err)
	}
	// A license signed by an operator's key.
	pub, priv, _ := license.GenerateKey()
	l, _ := license.Sign(license.License{ID: "acme", Licensee: "ACME", Features: []string{license.GFW}, NotBefore: e.clock.now(), Expires: e.clock.now().AddDate(1, 0, 0)}, priv)
	if err := e.m.InstallLicense(e.ctx, l); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a license from an untrusted key: %v", err)
	}
	e.m.trust = append(e.m.trust, pub)
	if err := e.m.InstallLicense(e.ctx, l); err != nil {
		t.Fatal(err)
	}
	if st := e.m.License(); !st.Valid || fmt.Sprint(st.Active) != "[GFW]" {
		t.Fatalf("license = %+v", st)
	}
	_, err = e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, groupsDoc)})
	if !errors.Is(err, ErrNotEntitled) || !strings.Contains(err.Error(), "does not include the DFW entitlement") {
		t.Fatalf("GFW-only license and a DFW policy: %v", err)
	}
	// A Kubernetes group is allowed with either feature.
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, `{"resource_type":"Group","id":"k","expression":[{"resource_type":"Condition","member_type":"AntreaEgress","key":"Name","operator":"EQUALS","value":"x"}]}`)}); err != nil {
		t.Fatalf("a Kubernetes group with GFW: %v", err)
	}
}

func TestDryRun(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.SyncCluster(e.ctx, Cluster{Name: "east", Source: "test"}, []inventory.Object{lbService("a", "192.168.1.1"), lbService("b", "192.168.1.2")}); err != nil {
		t.Fatal(err)
	}
	rev := e.m.Revision()
	res, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, groupsDoc), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if e.m.Revision() != rev || !res.DryRun {
		t.Fatal("a dry run wrote")
	}
	var lb *GroupDelta
	for _, g := range res.Groups {
		if g.Path == "/infra/domains/default/groups/lb" {
			lb = g.Delta
		}
	}
	if lb == nil || fmt.Sprint(lb.AddedAddresses) != "[192.168.1.1 192.168.1.2]" || len(lb.AddedMembers) != 2 {
		t.Fatalf("dry run groups = %+v", res.Groups)
	}
}

func TestEventsAndResume(t *testing.T) {
	e := newEnv(t)
	start := e.m.Revision()
	_, sub, err := e.m.Subscribe(start)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, groupsDoc)}); err != nil {
		t.Fatal(err)
	}
	rev, err := e.m.SyncCluster(e.ctx, Cluster{Name: "east", Source: "test"}, []inventory.Object{lbService("a", "192.168.1.1")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	want := "membership /infra/domains/default/groups/lb"
	deadline := time.After(10 * time.Second)
	for len(got) == 0 || got[len(got)-1] != want {
		select {
		case ev := <-sub.C:
			got = append(got, ev.Type+" "+ev.Path)
		case <-deadline:
			t.Fatalf("no %q among %v", want, got)
		}
	}
	// Configuration events first (one per object written: the default
	// domain, given as it is, is not), then the membership the literal
	// addresses of vms give, then the cluster record and the membership
	// its inventory gives (one transaction).
	if got[0] != "config /infra/domains/default/groups/lb" || len(got) != 8 || got[5] != "membership /infra/domains/default/groups/vms" || got[6] != "cluster east" {
		t.Fatalf("events: %v", got)
	}
	// A watcher resuming at the config revision gets the membership event.
	replay, sub2, err := e.m.Subscribe(rev - 1)
	if err != nil {
		t.Fatal(err)
	}
	sub2.Close()
	if len(replay) == 0 || replay[len(replay)-1].Group == nil || fmt.Sprint(replay[len(replay)-1].Group.AddedAddresses) != "[192.168.1.1]" {
		t.Fatalf("replay = %+v", replay)
	}
	if _, _, err := e.m.Subscribe(start - 1); !errors.Is(err, ErrTooOld) {
		t.Fatalf("resuming before the kept history: %v", err)
	}
}

// TestTwoManagers runs two managers on one store, as with an external
// etcd cluster: each sees the other's writes, and concurrent changes are
// serialised by the store so the result is valid.
func TestTwoManagers(t *testing.T) {
	st := openStore(t, t.TempDir())
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	a, b := start(t, st, c), start(t, st, c)
	if _, err := a.m.Apply(a.ctx, ApplyRequest{Doc: doc(t, groupsDoc)}); err != nil {
		t.Fatal(err)
	}
	if err := b.m.WaitApplied(b.ctx, a.m.Revision()); err != nil {
		t.Fatal(err)
	}
	// b deletes the group the policy uses while a adds a rule using it:
	// one of them must be refused.
	del := model.Place(model.Ref{Kind: model.KindGroup, Domain: "default", ID: "vms"}, model.Stub(model.KindGroup, "vms"), true)
	addRule := doc(t, `{"resource_type":"Rule","id":"r3","parent_path":"/infra/domains/default/security-policies/p","source_groups":["/infra/domains/default/groups/vms"],"action":"REJECT"}`)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); _, errs[0] = b.m.Apply(b.ctx, ApplyRequest{Doc: del}) }()
	go func() { defer wg.Done(); _, errs[1] = a.m.Apply(a.ctx, ApplyRequest{Doc: addRule}) }()
	wg.Wait()
	if errs[0] == nil {
		t.Fatalf("deleting a group in use must be refused: %v", errs)
	}
	if errs[1] != nil {
		t.Fatalf("adding the rule: %v", errs[1])
	}
	a.m.Read(func(v View) {
		if errs := v.Config().Validate(); len(errs) > 0 {
			t.Fatalf("the stored configuration is invalid: %v", errs)
		}
	})
}

// TestRestart stops a manager and starts another on the same data: the
// state, memberships included, comes back.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	st := openStore(t, dir)
	e := start(t, st, c)
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, groupsDoc)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.SyncCluster(e.ctx, Cluster{Name: "east", Source: "test"}, []inventory.Object{lbService("a", "192.168.1.1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.PutProject(e.ctx, Project{ID: "team"}); err != nil {
		t.Fatal(err)
	}
	e.stop()
	st.Close()
	e2 := start(t, openStore(t, dir), c)
	if got := addresses(e2, "/infra/domains/default/groups/lb"); fmt.Sprint(got) != "[192.168.1.1]" {
		t.Fatalf("after restart lb = %v", got)
	}
	if _, ok := e2.m.Project("team"); !ok || !e2.m.License().Valid {
		t.Fatal("project or license lost")
	}
	if err := e2.m.DeleteProject(e2.ctx, "team"); err != nil {
		t.Fatal(err)
	}
}

func TestSyncAndRemoveCluster(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, groupsDoc)}); err != nil {
		t.Fatal(err)
	}
	cl := Cluster{Name: "east", ID: "id-east", Source: "test"}
	r1, _ := e.m.SyncCluster(e.ctx, cl, []inventory.Object{lbService("a", "192.168.1.1"), lbService("b", "192.168.1.2")})
	r2, _ := e.m.SyncCluster(e.ctx, cl, []inventory.Object{lbService("a", "192.168.1.1"), lbService("b", "192.168.1.2")})
	if r1 != r2 {
		t.Fatal("an unchanged sync wrote")
	}
	if _, err := e.m.SyncCluster(e.ctx, cl, []inventory.Object{lbService("b", "192.168.1.3")}); err != nil {
		t.Fatal(err)
	}
	if got := addresses(e, "/infra/domains/default/groups/lb"); fmt.Sprint(got) != "[192.168.1.3]" {
		t.Fatalf("after the second sync: %v", got)
	}
	if err := e.m.RemoveCluster(e.ctx, "east"); err != nil {
		t.Fatal(err)
	}
	if got := addresses(e, "/infra/domains/default/groups/lb"); got != nil || len(e.m.Clusters()) != 0 {
		t.Fatalf("after removing the cluster: %v %v", got, e.m.Clusters())
	}
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	tok, info, err := e.m.CreateToken(e.ctx, TokenRequest{ID: "grafana", Role: access.Reader, Description: "dashboards"})
	if err != nil || info.ID != "grafana" || info.Role != access.Reader {
		t.Fatal(err, info)
	}
	if p, ok := e.m.Authenticate(tok); !ok || p.Role != access.Reader || p.Name != "token:grafana" {
		t.Fatalf("Authenticate = %+v %v", p, ok)
	}
	if _, ok := e.m.Authenticate(tok + "x"); ok {
		t.Fatal("a wrong token authenticated")
	}
	for _, tt := range []struct {
		name string
		q    TokenRequest
		kind error
	}{
		{"same id", TokenRequest{ID: "grafana", Role: access.Reader}, ErrConflict},
		{"unknown role", TokenRequest{ID: "x", Role: "root"}, ErrInvalid},
		{"certificate role", TokenRequest{ID: "x", Role: access.Cluster}, ErrInvalid},
		{"project role without project", TokenRequest{ID: "x", Role: access.ProjectAdmin}, ErrInvalid},
		{"global role with project", TokenRequest{ID: "x", Role: access.Admin, Project: "p"}, ErrInvalid},
		{"unknown project", TokenRequest{ID: "x", Role: access.ProjectReader, Project: "nope"}, ErrNotFound},
		{"expired at birth", TokenRequest{ID: "x", Role: access.Reader, Expires: e.clock.now().Add(-time.Second)}, ErrInvalid},
		{"bad id", TokenRequest{ID: "a b", Role: access.Reader}, ErrInvalid},
		{"control characters", TokenRequest{ID: "x", Role: access.Reader, Description: "\x1b[2J"}, ErrInvalid},
	} {
		if _, _, err := e.m.CreateToken(e.ctx, tt.q); !errors.Is(err, tt.kind) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.kind)
		}
	}
	// Expiry: valid until the moment, then nobody.
	short, _, err := e.m.CreateToken(e.ctx, TokenRequest{ID: "short", Role: access.Reader, Expires: e.clock.now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.m.Authenticate(short); !ok {
		t.Fatal("a token before its expiry")
	}
	e.clock.advance(time.Hour)
	if _, ok := e.m.Authenticate(short); ok {
		t.Fatal("an expired token authenticated")
	}
	if ti, _ := e.m.Token("short"); !ti.Expired {
		t.Fatalf("not shown expired: %+v", ti)
	}
	// Last use is kept to the minute and survives in the store.
	e.m.Authenticate(tok)
	e.m.flushTokenUse(e.ctx)
	if ti, _ := e.m.Token("grafana"); ti.LastUsed.IsZero() {
		t.Fatalf("no last use: %+v", ti)
	}
	if kv, ok, _ := e.st.Get(e.ctx, store.TokenUsedPrefix+"grafana"); !ok || len(kv.Value) == 0 {
		t.Fatal("last use not stored")
	}
	// Revocation is immediate; the last admin token stays.
	if err := e.m.RevokeToken(e.ctx, "grafana"); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.m.Authenticate(tok); ok {
		t.Fatal("a revoked token authenticated")
	}
	if _, ok, _ := e.st.Get(e.ctx, store.TokenUsedPrefix+"grafana"); ok {
		t.Fatal("a revoked token's last use stayed")
	}
	if err := e.m.RevokeToken(e.ctx, "grafana"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
	if err := e.m.RevokeToken(e.ctx, "admin"); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "last admin") {
		t.Fatalf("revoking the last admin token: %v", err)
	}
	if _, _, err := e.m.CreateToken(e.ctx, TokenRequest{ID: "admin2", Role: access.Admin}); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RevokeToken(e.ctx, "admin"); err != nil {
		t.Fatalf("revoking an admin token with another left: %v", err)
	}
}

func TestProjectTokensGoWithTheProject(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.PutProject(e.ctx, Project{ID: "team-a"}); err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.m.CreateToken(e.ctx, TokenRequest{ID: "a-admin", Role: access.ProjectAdmin, Project: "team-a"})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := e.m.Authenticate(tok); !ok || p.Project != "team-a" || p.Role != access.ProjectAdmin {
		t.Fatalf("%+v %v", p, ok)
	}
	if err := e.m.DeleteProject(e.ctx, "team-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.PutProject(e.ctx, Project{ID: "team-a"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.m.Authenticate(tok); ok {
		t.Fatal("a token of a deleted project works in the project created again under its id")
	}
}

func TestUpdateInventory(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, groupsDoc)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.UpdateInventory(e.ctx, "east", []inventory.Object{lbService("a", "192.168.1.1"), lbService("b", "192.168.1.2")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.UpdateInventory(e.ctx, "east", []inventory.Object{lbService("a", "192.168.1.5")},
		[]inventory.Key{{Kind: inventory.KindService, Namespace: "shop", Name: "b"}}); err != nil {
		t.Fatal(err)
	}
	if got := addresses(e, "/infra/domains/default/groups/lb"); fmt.Sprint(got) != "[192.168.1.5]" {
		t.Fatalf("lb = %v", got)
	}
}

package manager

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/store"
	"github.com/kordon-dev/kordon/internal/wire"
)

func TestRegisterCluster(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"", "East", "-east", "east-", "e_st", "a/b", strings.Repeat("a", 64)} {
		if _, _, err := e.m.RegisterCluster(e.ctx, name, SourceAdapter); !errors.Is(err, ErrInvalid) {
			t.Errorf("name %q: %v, want invalid", name, err)
		}
	}
	if _, err := e.m.SyncCluster(e.ctx, Cluster{Name: "demo-a", Source: SourceDemo, Demo: true}, []inventory.Object{lbService("a", "192.168.1.1")}); err != nil {
		t.Fatal(err)
	}
	c, creds, err := e.m.RegisterCluster(e.ctx, "east", SourceAdapter)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(creds.Cert))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "east" || fmt.Sprint(cert.Subject.OrganizationalUnit) != "[cluster]" || c.CertSerial == "" || c.ID == "" {
		t.Fatalf("identity: CN %q OU %v, record %+v", cert.Subject.CommonName, cert.Subject.OrganizationalUnit, c)
	}
	if serial, _ := pki.SerialOf([]byte(creds.Cert)); serial != c.CertSerial {
		t.Fatalf("serial %s, recorded %s", serial, c.CertSerial)
	}
	// Registering a real cluster ends the demo.
	if got := e.m.Clusters(); len(got) != 1 || got[0].Name != "east" {
		t.Fatalf("clusters = %+v", got)
	}
	if _, _, err := e.m.RegisterCluster(e.ctx, "east", SourceAdapter); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "unique") {
		t.Fatalf("second registration: %v", err)
	}
	// An in-process cluster reports through the manager: no identity.
	if _, creds, err := e.m.RegisterCluster(e.ctx, "local", SourceInProcess); err != nil || creds.Cert != "" {
		t.Fatalf("in-process: %v, %+v", err, creds)
	}
	noPrivateKeyStored(t, e)
	// Rotation issues a new identity; the old certificate is refused.
	old := c.CertSerial
	rc, fresh, err := e.m.RotateCluster(e.ctx, "east")
	if err != nil || fresh.Key == "" || fresh.Key == creds.Key || rc.CertSerial == old {
		t.Fatalf("rotate: %v %+v", err, rc)
	}
	if err := e.m.ClusterIdentity("east", old); !errors.Is(err, ErrRevoked) {
		t.Fatalf("the rotated-out certificate: %v", err)
	}
	if err := e.m.ClusterIdentity("east", rc.CertSerial); err != nil {
		t.Fatalf("the new certificate: %v", err)
	}
	if _, _, err := e.m.RotateCluster(e.ctx, "local"); !errors.Is(err, ErrConflict) {
		t.Fatalf("rotating an in-process cluster: %v", err)
	}
	if _, _, err := e.m.RotateCluster(e.ctx, "nowhere"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rotating an unknown cluster: %v", err)
	}
	noPrivateKeyStored(t, e)
}

// noPrivateKeyStored checks that no stored value holds a private key in
// the clear: identities' keys are handed out once and the CA's is sealed.
func noPrivateKeyStored(t *testing.T, e *env) {
	t.Helper()
	kvs, _, err := e.st.List(e.ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		if strings.Contains(string(kv.Value), "PRIVATE KEY") {
			t.Fatalf("%s holds a private key in the clear", kv.Key)
		}
	}
}

func TestClusterIdentity(t *testing.T) {
	e := newEnv(t)
	c, _, err := e.m.RegisterCluster(e.ctx, "east", SourceAdapter)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.m.RegisterCluster(e.ctx, "local", SourceInProcess); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, serial, want string
	}{
		{"east", c.CertSerial, ""},
		{"east", "0badc0de", "was replaced"},
		{"west", c.CertSerial, "not registered"},
		{"local", "", "was replaced"},
	} {
		err := e.m.ClusterIdentity(tt.name, tt.serial)
		if tt.want == "" && err != nil || tt.want != "" && (!errors.Is(err, ErrRevoked) || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s/%s: %v, want %q", tt.name, tt.serial, err, tt.want)
		}
	}
	if _, err := e.m.DeregisterCluster(e.ctx, "east"); err != nil {
		t.Fatal(err)
	}
	if err := e.m.ClusterIdentity("east", c.CertSerial); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after deregistration: %v", err)
	}
	// A new registration of the name is a new identity: the old
	// certificate stays refused.
	if _, _, err := e.m.RegisterCluster(e.ctx, "east", SourceAdapter); err != nil {
		t.Fatal(err)
	}
	if err := e.m.ClusterIdentity("east", c.CertSerial); !errors.Is(err, ErrRevoked) {
		t.Fatalf("old certificate after re-registration: %v", err)
	}
}

func encoded(t *testing.T, o inventory.Object) string {
	t.Helper()
	b, err := inventory.Encode(o)
	if err != nil {
		t.Fatal(err)
	}
	return inventory.Hash(b)
}

func TestWriteInventory(t *testing.T) {
	e := newEnv(t)
	if _, _, err := e.m.RegisterCluster(e.ctx, "east", SourceAdapter); err != nil {
		t.Fatal(err)
	}
	rev, digest, err := e.m.InventoryDigest(e.ctx, "east")
	if err != nil || rev != 0 || len(digest) != 0 {
		t.Fatalf("empty digest: %d %v %v", rev, digest, err)
	}
	a, b := lbService("a", "192.168.1.1"), lbService("b", "192.168.1.2")
	rev1, err := e.m.WriteInventory(e.ctx, "east", 0, []inventory.Object{a, b}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	rev, digest, _ = e.m.InventoryDigest(e.ctx, "east")
	if rev != rev1 || len(digest) != 2 || digest["Service/shop/a"] != encoded(t, a) {
		t.Fatalf("digest at %d (wrote %d): %v", rev, rev1, digest)
	}
	// A write based on an older revision is refused and changes nothing.
	if _, err := e.m.WriteInventory(e.ctx, "east", 0, []inventory.Object{lbService("c", "192.168.1.3")}, nil, false); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale base: %v", err)
	}
	// Something else moving the inventory (a second adapter) refuses the
	// first one's next delta.
	if _, err := e.m.UpdateInventory(e.ctx, "east", nil, []inventory.Key{inventory.KeyOf(b)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.WriteInventory(e.ctx, "east", rev1, nil, []inventory.Key{inventory.KeyOf(a)}, false); err != nil {
		// UpdateInventory does not move the inventory revision: only
		// adapter writes do, so this base is still current.
		t.Fatalf("delete: %v", err)
	}
	if got := addresses(e, "/infra/domains/default/groups/lb"); got != nil {
		t.Fatalf("no group yet, addresses %v", got)
	}
	if _, _, err := e.m.InventoryDigest(e.ctx, "east"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.WriteInventory(e.ctx, "west", 0, []inventory.Object{a}, nil, true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unregistered cluster: %v", err)
	}
	if len(e.m.Clusters()) != 1 {
		t.Fatalf("a refused write created a cluster: %+v", e.m.Clusters())
	}
}

func TestClusterHealth(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, groupsDoc)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.m.RegisterCluster(e.ctx, "east", SourceAdapter); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.SyncCluster(e.ctx, Cluster{Name: "files", Source: SourceDir}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.WriteInventory(e.ctx, "east", 0, []inventory.Object{lbService("a", "192.168.1.1")}, nil, true); err != nil {
		t.Fatal(err)
	}
	const lb = "/infra/domains/default/groups/lb"
	t0 := e.clock.now()
	status := func(name string) ClusterStatus {
		for _, c := range e.m.ClusterStatuses() {
			if c.Name == name {
				return c
			}
		}
		t.Fatalf("no cluster %s", name)
		return ClusterStatus{}
	}
	stale := func() string {
		var out []Stale
		e.m.Read(func(v View) { out = v.StaleMembers(lb) })
		return fmt.Sprint(out)
	}
	if st := status("files"); st.State != StateUp {
		t.Fatalf("a directory cluster has no adapter and is Up: %+v", st)
	}
	if st := status("east"); st.State != StateUnknown || st.Reason != "no heartbeat received yet" || st.Objects["Service"] != 1 {
		t.Fatalf("before any heartbeat: %+v", st)
	}
	beat := func(status, reason string, since time.Time) {
		t.Helper()
		hb := wire.Heartbeat{Status: status, Error: reason, Interval: 10 * time.Second, Since: since, Kubernetes: "v1.37.2", APIs: map[string]string{"Service": "v1"}}
		if err := e.m.RecordHeartbeat(e.ctx, "east", hb); err != nil {
			t.Fatal(err)
		}
	}
	beat("up", "", t0)
	if st := status("east"); st.State != StateUp || !st.Since.Equal(t0) || st.Heartbeat == nil || st.Heartbeat.Kubernetes != "v1.37.2" {
		t.Fatalf("after a heartbeat: %+v", st)
	}
	if s := stale(); s != "[]" {
		t.Fatalf("stale while Up: %s", s)
	}
	// Three heartbeats missed: Unknown, and the group keeps the member,
	// marked stale since the last heartbeat.
	e.clock.set(t0.Add(31 * time.Second))
	if st := status("east"); st.State != StateUnknown || !st.Since.Equal(t0) || !strings.Contains(st.Reason, "3 missed") {
		t.Fatalf("after 31s of silence: %+v", st)
	}
	if got := addresses(e, lb); fmt.Sprint(got) != "[192.168.1.1]" {
		t.Fatalf("members of an Unknown cluster must stay: %v", got)
	}
	if s := stale(); s != fmt.Sprintf("[{east Unknown %s}]", t0) {
		t.Fatalf("stale = %s", s)
	}
	t1 := e.clock.now()
	beat("down", "watching the Kubernetes API: connection refused", t1)
	if st := status("east"); st.State != StateDown || !strings.Contains(st.Reason, "connection refused") || !st.Since.Equal(t1) {
		t.Fatalf("after a down heartbeat: %+v", st)
	}
	for _, tt := range []struct {
		hb   wire.Heartbeat
		want error
	}{
		{wire.Heartbeat{Status: "sideways", Interval: time.Second}, ErrInvalid},
		{wire.Heartbeat{Status: "up", Interval: time.Millisecond}, ErrInvalid},
		{wire.Heartbeat{Status: "up", Interval: 2 * time.Hour}, ErrInvalid},
	} {
		if err := e.m.RecordHeartbeat(e.ctx, "east", tt.hb); !errors.Is(err, tt.want) {
			t.Errorf("%+v: %v, want %v", tt.hb, err, tt.want)
		}
	}
	if err := e.m.RecordHeartbeat(e.ctx, "west", wire.Heartbeat{Status: "up", Interval: time.Second}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("heartbeat of an unregistered cluster: %v", err)
	}
}

func TestDeregisterCluster(t *testing.T) {
	e := newEnv(t)
	const named = `
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - resource_type: ChildGroup
      Group:
        id: east-nodes
        expression:
        - resource_type: NestedExpression
          expressions:
          - {resource_type: Condition, member_type: KubernetesCluster, key: Name, operator: EQUALS, value: east}
          - {resource_type: ConjunctionOperator, conjunction_operator: AND}
          - {resource_type: Condition, member_type: KubernetesNode, key: IPAddress, operator: MATCHES, value: "*"}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: nodes
        category: Application
        rules:
        - {id: n1, source_groups: [/infra/domains/default/groups/east-nodes], action: ALLOW}
`
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, groupsDoc)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Apply(e.ctx, ApplyRequest{Doc: doc(t, named)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.m.RegisterCluster(e.ctx, "east", SourceAdapter); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.WriteInventory(e.ctx, "east", 0, []inventory.Object{lbService("a", "192.168.1.1"), lbService("b", "192.168.1.2")}, nil, true); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RecordHeartbeat(e.ctx, "east", wire.Heartbeat{Status: "up", Interval: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	_, sub, err := e.m.Subscribe(e.m.Revision())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	rep, err := e.m.DeregisterCluster(e.ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rep.Groups) != "[/infra/domains/default/groups/east-nodes /infra/domains/default/groups/lb]" ||
		fmt.Sprint(rep.Rules) != "[/infra/domains/default/security-policies/nodes/rules/n1 /infra/domains/default/security-policies/p/rules/r1]" {
		t.Fatalf("report = %+v", rep)
	}
	// Both members leave in one change, at the deregistration's revision.
	var removed []string
	deadline := time.After(10 * time.Second)
	for len(removed) < 2 {
		select {
		case ev := <-sub.C:
			if ev.Revision != rep.Revision {
				t.Fatalf("event at %d, deregistered at %d: %+v", ev.Revision, rep.Revision, ev)
			}
			if ev.Type == "membership" {
				removed = append(removed, ev.Group.RemovedAddresses...)
			}
		case <-deadline:
			t.Fatalf("removed so far: %v", removed)
		}
	}
	if fmt.Sprint(removed) != "[192.168.1.1 192.168.1.2]" || addresses(e, "/infra/domains/default/groups/lb") != nil {
		t.Fatalf("removed %v", removed)
	}
	if st := e.m.ClusterStatuses(); len(st) != 0 {
		t.Fatalf("statuses after deregistration: %+v", st)
	}
	kvs, _, err := e.st.List(e.ctx, store.Root)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		if strings.Contains(kv.Key, "east") && !strings.Contains(kv.Key, "east-nodes") {
			t.Errorf("left behind: %s", kv.Key)
		}
	}
	if _, err := e.m.DeregisterCluster(e.ctx, "east"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second deregistration: %v", err)
	}
}

// TestRegisterDemoName: the demo's cluster names are the examples' (the
// README registers prod-east); registering one replaces the demo cluster
// of that name, its inventory included.
func TestRegisterDemoName(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"prod-east", "prod-west"} {
		if _, err := e.m.SyncCluster(e.ctx, Cluster{Name: n, Source: SourceDemo, Demo: true}, []inventory.Object{lbService("a", "192.168.1.1")}); err != nil {
			t.Fatal(err)
		}
	}
	c, _, err := e.m.RegisterCluster(e.ctx, "prod-east", SourceAdapter)
	if err != nil {
		t.Fatal(err)
	}
	got := e.m.Clusters()
	if len(got) != 1 || got[0].Name != "prod-east" || got[0].Demo || got[0].Source != SourceAdapter || got[0].ID != c.ID {
		t.Fatalf("clusters = %+v", got)
	}
	if _, digest, err := e.m.InventoryDigest(e.ctx, "prod-east"); err != nil || len(digest) != 0 {
		t.Fatalf("the demo's inventory survived: %v, %v", digest, err)
	}
	if _, _, err := e.m.RegisterCluster(e.ctx, "prod-east", SourceAdapter); !errors.Is(err, ErrConflict) {
		t.Fatalf("a registered name was taken again: %v", err)
	}
}

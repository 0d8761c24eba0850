package manager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/store"
	"github.com/kordon-dev/kordon/internal/wire"
)

// clusterName: cluster names appear in paths and certificates; NSX
// requires them unique.
var clusterName = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$`)

// ErrRevoked: a client certificate whose identity no longer exists.
var ErrRevoked = errors.New("identity revoked")

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// RegisterCluster creates a cluster and its identity: a client certificate
// signed by the installation's CA, with the cluster's name as common name.
// Registering a real cluster ends the demo.
func (m *Manager) RegisterCluster(ctx context.Context, name, source string) (Cluster, Credentials, error) {
	if !clusterName.MatchString(name) {
		return Cluster{}, Credentials{}, &WriteError{Kind: ErrInvalid, Message: fmt.Sprintf("cluster name %q: use lower-case letters, digits, '-' and '.' (at most 63, starting and ending with a letter or digit)", name)}
	}
	c := Cluster{Name: name, ID: newUUID(), Source: source, Registered: m.now().UTC()}
	var creds Credentials
	var ops []store.Op
	if source == SourceAdapter {
		// Only a remote adapter needs an identity; an in-process one
		// reports through the manager itself. Its key is handed out now
		// and never stored.
		var err error
		if creds, c.CertSerial, err = m.issueIdentity(ctx, name, "cluster"); err != nil {
			return Cluster{}, Credentials{}, err
		}
	}
	rec, _ := json.Marshal(c)
	ops = append(ops, store.Op{Key: store.ClustersPrefix + name, Value: rec})
	// The name must be free, or held by a demo cluster, which this
	// registration replaces along with the rest of the demo.
	expect := int64(0)
	if kv, ok, err := m.st.Get(ctx, store.ClustersPrefix+name); err != nil {
		return Cluster{}, Credentials{}, err
	} else if ok {
		var prev Cluster
		if json.Unmarshal(kv.Value, &prev) == nil && prev.Demo {
			expect = kv.ModRevision
		} else {
			expect = -1
		}
	}
	written := map[string]bool{}
	for _, o := range ops {
		written[o.Key] = true
	}
	for _, d := range m.Clusters() {
		if d.Demo {
			for _, o := range clusterRemoval(d.Name) {
				// etcd refuses a transaction that writes a key twice.
				if !written[o.Key] {
					ops = append(ops, o)
				}
			}
		}
	}
	rev := int64(0)
	err := store.ErrConflict
	if expect >= 0 {
		rev, err = m.st.Commit(ctx, []store.Cond{{Key: store.ClustersPrefix + name, ModRevision: &expect}}, ops)
	}
	if errors.Is(err, store.ErrConflict) {
		return Cluster{}, Credentials{}, &WriteError{Kind: ErrConflict, Message: fmt.Sprintf("a cluster named %q is already registered (cluster names are unique)", name)}
	}
	if err != nil {
		return Cluster{}, Credentials{}, err
	}
	return c, creds, m.WaitApplied(ctx, rev)
}

// RotateCluster issues a new identity for a registered adapter cluster:
// the certificate it had is refused from the moment the rotation is
// applied. The new key is returned, never stored.
func (m *Manager) RotateCluster(ctx context.Context, name string) (Cluster, Credentials, error) {
	kv, ok, err := m.st.Get(ctx, store.ClustersPrefix+name)
	if err != nil {
		return Cluster{}, Credentials{}, err
	}
	if !ok {
		return Cluster{}, Credentials{}, notRegistered(name)
	}
	var c Cluster
	if err := json.Unmarshal(kv.Value, &c); err != nil {
		return Cluster{}, Credentials{}, fmt.Errorf("cluster %q: its stored record cannot be read: %w", name, err)
	}
	if c.Source != SourceAdapter {
		return Cluster{}, Credentials{}, &WriteError{Kind: ErrConflict, Message: fmt.Sprintf("cluster %q is fed by %s and has no identity to rotate", name, c.Source)}
	}
	creds, serial, err := m.issueIdentity(ctx, name, "cluster")
	if err != nil {
		return Cluster{}, Credentials{}, err
	}
	c.CertSerial = serial
	rec, _ := json.Marshal(c)
	mod := kv.ModRevision
	rev, err := m.st.Commit(ctx, []store.Cond{{Key: store.ClustersPrefix + name, ModRevision: &mod}}, []store.Op{{Key: store.ClustersPrefix + name, Value: rec}})
	if errors.Is(err, store.ErrConflict) {
		return Cluster{}, Credentials{}, &WriteError{Kind: ErrConflict, Message: fmt.Sprintf("cluster %q changed while its identity was rotated; try again", name)}
	}
	if err != nil {
		return Cluster{}, Credentials{}, err
	}
	return c, creds, m.WaitApplied(ctx, rev)
}

// issueIdentity issues a client certificate for a cluster or agent and
// returns it with its key and serial.
func (m *Manager) issueIdentity(ctx context.Context, name, kind string) (Credentials, string, error) {
	ca, err := m.ca(ctx)
	if err != nil {
		return Credentials{}, "", err
	}
	issued, err := ca.IssueClient(name, kind, 5)
	if err != nil {
		return Credentials{}, "", err
	}
	serial, err := pki.SerialOf(issued.CertPEM)
	if err != nil {
		return Credentials{}, "", err
	}
	return Credentials{Cert: string(issued.CertPEM), Key: string(issued.KeyPEM)}, serial, nil
}

// ClusterIdentity checks a client certificate presented for a cluster:
// the cluster must exist and the certificate be the one it was issued.
func (m *Manager) ClusterIdentity(name, serial string) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c, ok := m.clusters[name]
	switch {
	case !ok:
		return fmt.Errorf("%w: cluster %q is not registered (it was deregistered, or never existed); register it again and deploy its new manifests", ErrRevoked, name)
	case c.CertSerial == "" || c.CertSerial != serial:
		return fmt.Errorf("%w: this certificate of cluster %q was replaced; deploy the cluster's current manifests", ErrRevoked, name)
	}
	return nil
}

func clusterRemoval(name string) []store.Op {
	return []store.Op{
		{Key: store.ClusterInventoryPrefix(name), Delete: true, Prefix: true},
		{Key: store.ClustersPrefix + name, Delete: true},
		{Key: store.StatusPrefix + name, Delete: true},
		{Key: store.InventoryRevPrefix + name, Delete: true},
	}
}

// DeregisterReport tells what referenced a deregistered cluster.
type DeregisterReport struct {
	Cluster string `json:"cluster"`
	// Groups that held members of the cluster, or whose criteria name it.
	Groups []string `json:"groups"`
	// Rules that use those groups.
	Rules    []string `json:"rules"`
	Revision int64    `json:"revision"`
}

// DeregisterCluster removes a cluster: its inventory (its members leave
// every group in one change), its identity and its status.
func (m *Manager) DeregisterCluster(ctx context.Context, name string) (DeregisterReport, error) {
	rep := DeregisterReport{Cluster: name, Groups: []string{}, Rules: []string{}}
	m.mu.RLock()
	_, exists := m.clusters[name]
	groups := m.groupsOfClusterLocked(name)
	rules := rulesUsing(m.cfg, groups)
	m.mu.RUnlock()
	if !exists {
		return rep, notRegistered(name)
	}
	rev, err := m.st.Commit(ctx, nil, clusterRemoval(name))
	if err != nil {
		return rep, err
	}
	rep.Groups, rep.Rules, rep.Revision = groups, rules, rev
	return rep, m.WaitApplied(ctx, rev)
}

// groupsOfClusterLocked lists the groups holding members of the cluster or
// naming it in a KubernetesCluster condition.
func (m *Manager) groupsOfClusterLocked(name string) []string {
	set := map[string]bool{}
	for p, g := range m.cfg.Groups {
		if namesCluster(g.Expression, name) {
			set[p] = true
			continue
		}
		for _, mem := range m.idx.Members(p) {
			if mem.Key.Cluster == name {
				set[p] = true
				break
			}
		}
	}
	out := keys(set)
	return out
}

func namesCluster(l model.ExpressionList, name string) bool {
	for _, e := range l {
		switch x := e.(type) {
		case *model.Condition:
			if x.MemberType != model.MemberKubernetesCluster {
				continue
			}
			v, n := strings.ToLower(x.Value), strings.ToLower(name)
			switch x.Operator {
			case model.OpEquals:
				if v == n {
					return true
				}
			case model.OpIn:
				for _, s := range strings.Split(v, ",") {
					if s == n {
						return true
					}
				}
			case model.OpStartsWith:
				if strings.HasPrefix(n, v) {
					return true
				}
			case model.OpEndsWith:
				if strings.HasSuffix(n, v) {
					return true
				}
			}
		case *model.NestedExpression:
			if namesCluster(x.Expressions, name) {
				return true
			}
		}
	}
	return false
}

func rulesUsing(cfg *model.Config, groups []string) []string {
	set := map[string]bool{}
	for _, g := range groups {
		set[g] = true
	}
	var out []string
	for p, r := range cfg.Rules {
		for _, list := range [][]string{r.SourceGroups, r.DestinationGroups, r.Scope} {
			for _, g := range list {
				if set[g] {
					out = append(out, p)
					goto next
				}
			}
		}
	next:
	}
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// InventoryDigest returns the revision of a cluster's stored inventory and
// the hash of every object, keyed by object id (kind/namespace/name): an
// adapter resynchronising after a disconnection sends only what differs.
func (m *Manager) InventoryDigest(ctx context.Context, cluster string) (int64, map[string]string, error) {
	kvs, _, err := m.st.List(ctx, store.ClusterInventoryPrefix(cluster))
	if err != nil {
		return 0, nil, err
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		if k, ok := parseInventoryKey(kv.Key); ok {
			out[k.ObjectID()] = inventory.Hash(kv.Value)
		}
	}
	rev := int64(0)
	if kv, ok, err := m.st.Get(ctx, store.InventoryRevPrefix+cluster); err != nil {
		return 0, nil, err
	} else if ok {
		rev = kv.ModRevision
	}
	return rev, out, nil
}

// ErrInventoryMoved: the cluster's inventory changed since the revision
// an adapter based its write on; it must resynchronise.
var ErrInventoryMoved = errors.New("the cluster's inventory changed since that revision")

// WriteInventory applies an adapter's changes to its cluster's inventory
// in one transaction, if the inventory is still at revision base (what
// the adapter last wrote or read). It returns the new revision. sync
// marks a completed full synchronisation.
func (m *Manager) WriteInventory(ctx context.Context, cluster string, base int64, upserts []inventory.Object, deletes []inventory.Key, sync bool) (int64, error) {
	ops := make([]store.Op, 0, len(upserts)+len(deletes)+2)
	size := 0
	for i, o := range upserts {
		o.GetMeta().Cluster = cluster
		if err := inventory.Validate(o); err != nil {
			return 0, invalidf("upserts[%d] (%s): %v", i, inventory.KeyOf(o), err)
		}
		b, err := inventory.Encode(o)
		if err != nil {
			return 0, err
		}
		if len(b) > maxObjectBytes {
			return 0, &WriteError{Kind: ErrQuota, Message: fmt.Sprintf("upserts[%d] (%s): %d bytes; an inventory object is at most %d", i, inventory.KeyOf(o), len(b), maxObjectBytes)}
		}
		ops = append(ops, store.Op{Key: inventoryKey(inventory.KeyOf(o)), Value: b})
		size += len(b)
	}
	if err := m.checkQuota(cluster, upserts, deletes); err != nil {
		return 0, err
	}
	for _, k := range deletes {
		k.Cluster = cluster
		ops = append(ops, store.Op{Key: inventoryKey(k), Delete: true})
		size += len(k.Namespace) + len(k.Name) + 64
	}
	mark, _ := json.Marshal(map[string]any{"sync": sync, "time": m.now().UTC()})
	ops = append(ops, store.Op{Key: store.InventoryRevPrefix + cluster, Value: mark})
	who := "cluster " + cluster
	if err := m.overBudget(who, size); err != nil {
		return 0, err
	}
	rev, err := m.st.Commit(ctx, []store.Cond{
		{Key: store.InventoryRevPrefix + cluster, ModRevision: &base},
		{Key: store.ClustersPrefix + cluster, Exists: true},
	}, ops)
	if err != nil {
		m.writes.refund(who, size)
	}
	if errors.Is(err, store.ErrConflict) {
		if _, ok, gerr := m.st.Get(ctx, store.ClustersPrefix+cluster); gerr == nil && !ok {
			return 0, notRegistered(cluster)
		}
		return 0, &WriteError{Kind: ErrConflict, Message: ErrInventoryMoved.Error() + "; resynchronise"}
	}
	if err != nil {
		return 0, err
	}
	return rev, m.WaitApplied(ctx, rev)
}

func notRegistered(cluster string) error {
	return &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("cluster %q is not registered", cluster)}
}

// Quotas of an adapter's writes.
const (
	// maxObjectBytes bounds one stored inventory object.
	maxObjectBytes = 256 << 10
	// defaultMaxClusterObjects bounds one cluster's inventory.
	defaultMaxClusterObjects = 500000
	maxHeartbeatEntries      = 64
	maxHeartbeatError        = 4096
)

// ErrQuota: a write would take a cluster or agent past its quota.
var ErrQuota = errors.New("over quota")

// checkQuota refuses a write after which the cluster would hold more
// objects than its quota.
func (m *Manager) checkQuota(cluster string, upserts []inventory.Object, deletes []inventory.Key) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := m.idx.ClusterObjects(cluster)
	gone := make(map[inventory.Key]bool, len(deletes))
	for _, k := range deletes {
		k.Cluster = cluster
		if !gone[k] && m.idx.Has(k) {
			gone[k] = true
			n--
		}
	}
	seen := make(map[inventory.Key]bool, len(upserts))
	for _, o := range upserts {
		k := inventory.KeyOf(o)
		if !seen[k] && (!m.idx.Has(k) || gone[k]) {
			n++
		}
		seen[k] = true
	}
	if n > m.maxObjects {
		return &WriteError{Kind: ErrQuota, Message: fmt.Sprintf("cluster %q would hold %d inventory objects; its quota is %d (kordon serve --max-cluster-objects)", cluster, n, m.maxObjects)}
	}
	return nil
}

// checkHeartbeat validates an adapter's heartbeat before it is kept.
func checkHeartbeat(hb *wire.Heartbeat) error {
	if hb.Status != "up" && hb.Status != "down" {
		return invalidf(`status must be "up" or "down"`)
	}
	if hb.Interval < time.Second || hb.Interval > time.Hour {
		return invalidf("interval must be between 1s and 1h")
	}
	if err := model.CheckText(hb.Error, maxHeartbeatError, true); err != nil {
		return invalidf("error: %v", err)
	}
	for f, s := range map[string]string{"kubernetes_version": hb.Kubernetes, "adapter_version": hb.Adapter} {
		if err := checkTextField(f, s); err != nil {
			return err
		}
	}
	if len(hb.APIs) > maxHeartbeatEntries || len(hb.Counts) > maxHeartbeatEntries {
		return invalidf("apis and counts: at most %d entries each", maxHeartbeatEntries)
	}
	for k, v := range hb.APIs {
		if err := checkTextField("apis key", k); err != nil {
			return err
		}
		if err := checkTextField("apis["+k+"]", v); err != nil {
			return err
		}
	}
	for k, n := range hb.Counts {
		if err := checkTextField("counts key", k); err != nil {
			return err
		}
		if n < 0 {
			return invalidf("counts[%s]: negative", k)
		}
	}
	return nil
}

// RecordHeartbeat stores an adapter's heartbeat.
func (m *Manager) RecordHeartbeat(ctx context.Context, cluster string, hb wire.Heartbeat) error {
	if err := checkHeartbeat(&hb); err != nil {
		return err
	}
	now := m.now()
	if !m.allowReport("cluster:"+cluster, now) {
		return &WriteError{Kind: ErrTooFrequent, Message: fmt.Sprintf("cluster %q heartbeats more often than every %s", cluster, m.reportGap)}
	}
	hb.Time = now.UTC()
	b, _ := json.Marshal(hb)
	if err := m.overBudget("cluster "+cluster, len(b)); err != nil {
		return err
	}
	// A heartbeat racing a deregistration must not leave a status behind.
	rev, err := m.st.Commit(ctx, []store.Cond{{Key: store.ClustersPrefix + cluster, Exists: true}},
		[]store.Op{{Key: store.StatusPrefix + cluster, Value: b}})
	if errors.Is(err, store.ErrConflict) {
		return notRegistered(cluster)
	}
	if err != nil {
		return err
	}
	return m.WaitApplied(ctx, rev)
}

// missedBeats is how many heartbeats may be missed before a cluster's
// state becomes Unknown.
const missedBeats = 3

// clusterStatusLocked derives a cluster's state: Up, Down (its adapter
// reports a failure) or Unknown (its heartbeats stopped, or never came).
// Clusters fed from files or the demo have no adapter and are Up.
func (m *Manager) clusterStatusLocked(c *Cluster, now time.Time) ClusterStatus {
	st := ClusterStatus{Cluster: *c, Objects: map[string]int{}}
	for _, k := range inventory.Kinds {
		if n := len(m.idx.Objects(c.Name, k)); n > 0 {
			st.Objects[string(k)] = n
		}
	}
	hb, ok := m.heartbeats[c.Name]
	switch {
	case c.Source != SourceAdapter && c.Source != SourceInProcess:
		st.State, st.Since = StateUp, c.Registered
	case !ok:
		st.State, st.Since, st.Reason = StateUnknown, c.Registered, "no heartbeat received yet"
	case now.Sub(hb.Time) > missedBeats*hb.Interval:
		st.State, st.Since, st.Reason = StateUnknown, hb.Time, fmt.Sprintf("no heartbeat since %s (%d missed)", hb.Time.Format(time.RFC3339), int(now.Sub(hb.Time)/hb.Interval))
	case hb.Status == "down":
		st.State, st.Since, st.Reason = StateDown, hb.Since, hb.Error
	default:
		st.State, st.Since = StateUp, hb.Since
	}
	if ok {
		h := hb
		st.Heartbeat = &h
	}
	return st
}

// ClusterStatuses returns every cluster with its health, sorted.
func (m *Manager) ClusterStatuses() []ClusterStatus {
	m.mu.RLock()
	defer m.mu.RUnlock()
	now := m.now()
	out := make([]ClusterStatus, 0, len(m.clusters))
	for _, c := range m.clusters {
		out = append(out, m.clusterStatusLocked(c, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Stale names a cluster whose members a group holds although the cluster
// is not Up: they stay (enforcement does not flap because a link
// dropped), marked stale.
type Stale struct {
	Cluster string    `json:"cluster"`
	State   string    `json:"state"`
	Since   time.Time `json:"since"`
}

// StaleMembers lists the clusters of a group's members that are not Up.
func (v View) StaleMembers(group string) []Stale {
	seen := map[string]bool{}
	var out []Stale
	now := v.m.now()
	for _, mem := range v.m.idx.Members(group) {
		c := mem.Key.Cluster
		if seen[c] {
			continue
		}
		seen[c] = true
		rec, ok := v.m.clusters[c]
		if !ok {
			continue
		}
		if st := v.m.clusterStatusLocked(rec, now); st.State != StateUp {
			out = append(out, Stale{Cluster: c, State: st.State, Since: st.Since})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cluster < out[j].Cluster })
	return out
}

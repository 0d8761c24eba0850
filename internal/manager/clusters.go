package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/store"
	"github.com/kordon-dev/kordon/internal/wire"
)

// clusterName: cluster names appear in paths and certificates; NSX
// requires them unique.
var clusterName = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$`)

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
	return rotateIdentity(m, ctx, store.ClustersPrefix+name, "cluster", name, notRegistered(name),
		func(c *Cluster) error {
			if c.Source != SourceAdapter {
				return &WriteError{Kind: ErrConflict, Message: fmt.Sprintf("cluster %q is fed by %s and has no identity to rotate", name, c.Source)}
			}
			return nil
		},
		func(c *Cluster, serial string) { c.CertSerial = serial })
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
		{Key: store.InventoryDirPrefix + name, Delete: true},
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

// GroupsHolding lists the groups holding members of a cluster, sorted:
// for a cluster that is not Up, the groups whose members are stale.
func (v View) GroupsHolding(cluster string) []string {
	var out []string
	for p := range v.m.cfg.Groups {
		for _, mem := range v.m.idx.Members(p) {
			if mem.Key.Cluster == cluster {
				out = append(out, p)
				break
			}
		}
	}
	sort.Strings(out)
	return out
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

func notRegistered(cluster string) error {
	return &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("cluster %q is not registered", cluster)}
}

// Bounds of an adapter's heartbeat.
const (
	maxHeartbeatEntries = 64
	maxHeartbeatError   = 4096
)

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
	if err := m.overBudget("cluster "+cluster, len(b)+len(store.StatusPrefix+cluster)+revisionCost); err != nil {
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
	st := m.clusterStateLocked(c, now)
	st.Objects = map[string]int{}
	for k, n := range m.idx.KindCounts(c.Name) {
		if k != inventory.KindVirtualMachine {
			st.Objects[string(k)] = n
		}
	}
	return st
}

// clusterStateLocked is clusterStatusLocked without the object counts,
// which cost a walk of the cluster's inventory.
func (m *Manager) clusterStateLocked(c *Cluster, now time.Time) ClusterStatus {
	st := ClusterStatus{Cluster: *c}
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
		if st := v.m.clusterStateLocked(rec, now); st.State != StateUp {
			out = append(out, Stale{Cluster: c, State: st.State, Since: st.Since})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cluster < out[j].Cluster })
	return out
}

// Clusters returns the clusters, sorted by name.
func (m *Manager) Clusters() []Cluster {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Cluster, 0, len(m.clusters))
	for _, c := range m.clusters {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/store"
)

// SyncCluster stores a cluster's record and makes its stored inventory
// exactly objs, in one transaction: a full synchronisation is never seen
// half applied. Only what differs is written.
func (m *Manager) SyncCluster(ctx context.Context, c Cluster, objs []inventory.Object) (int64, error) {
	return m.syncCluster(ctx, c, objs, nil)
}

// syncCluster is SyncCluster, writing also extra in the same
// transaction (then always committed).
func (m *Manager) syncCluster(ctx context.Context, c Cluster, objs []inventory.Object, extra []store.Op) (int64, error) {
	current, _, err := m.st.List(ctx, store.ClusterInventoryPrefix(c.Name))
	if err != nil {
		return 0, err
	}
	have := make(map[string][]byte, len(current))
	for _, kv := range current {
		have[kv.Key] = kv.Value
	}
	var ops []store.Op
	if rec, ok, err := m.st.Get(ctx, store.ClustersPrefix+c.Name); err != nil {
		return 0, err
	} else if !ok || !sameCluster(rec.Value, c) {
		if ok {
			var old Cluster
			if json.Unmarshal(rec.Value, &old) == nil {
				c.ID, c.Registered = old.ID, old.Registered
			}
		}
		b, _ := json.Marshal(c)
		ops = append(ops, store.Op{Key: store.ClustersPrefix + c.Name, Value: b})
	}
	ops = append(ops, extra...)
	want := make(map[string]bool, len(objs))
	for _, o := range objs {
		o.GetMeta().Cluster = c.Name
		k := inventoryKey(inventory.KeyOf(o))
		b, err := encodeInventory(o)
		if err != nil {
			return 0, err
		}
		want[k] = true
		if string(have[k]) != string(b) {
			ops = append(ops, store.Op{Key: k, Value: b})
		}
	}
	for k := range have {
		if !want[k] {
			ops = append(ops, store.Op{Key: k, Delete: true})
		}
	}
	if len(ops) == 0 {
		return m.Revision(), nil
	}
	rev, err := m.st.Commit(ctx, nil, ops)
	if err != nil {
		return 0, err
	}
	return rev, m.WaitApplied(ctx, rev)
}

func sameCluster(stored []byte, c Cluster) bool {
	var old Cluster
	if json.Unmarshal(stored, &old) != nil {
		return false
	}
	return old.Source == c.Source && old.Demo == c.Demo
}

// RemoveCluster deletes a cluster's record and inventory in one
// transaction: its members leave every group at once.
func (m *Manager) RemoveCluster(ctx context.Context, name string) error {
	rev, err := m.st.Commit(ctx, nil, clusterRemoval(name))
	if err != nil {
		return err
	}
	return m.WaitApplied(ctx, rev)
}

// UpdateInventory writes changes to a cluster's inventory (objects that
// appeared or changed, keys that went away) in one transaction, and
// waits until they are applied.
func (m *Manager) UpdateInventory(ctx context.Context, cluster string, upserts []inventory.Object, deletes []inventory.Key) (int64, error) {
	ops := make([]store.Op, 0, len(upserts)+len(deletes))
	for _, o := range upserts {
		o.GetMeta().Cluster = cluster
		b, err := encodeInventory(o)
		if err != nil {
			return 0, err
		}
		ops = append(ops, store.Op{Key: inventoryKey(inventory.KeyOf(o)), Value: b})
	}
	for _, k := range deletes {
		k.Cluster = cluster
		ops = append(ops, store.Op{Key: inventoryKey(k), Delete: true})
	}
	if len(ops) == 0 {
		return m.Revision(), nil
	}
	rev, err := m.st.Commit(ctx, nil, ops)
	if err != nil {
		return 0, err
	}
	return rev, m.WaitApplied(ctx, rev)
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
	// Every write is charged for every key it writes and for the
	// revision it makes etcd keep, empty ones included.
	for _, op := range ops {
		size += len(op.Key)
	}
	size += len(mark) + revisionCost
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

// Quotas of an adapter's writes.
const (
	// revisionCost is what a write is charged beyond its keys and values:
	// etcd's own record of the revision.
	revisionCost = 512
	// maxObjectBytes bounds one stored inventory object.
	maxObjectBytes = 256 << 10
	// defaultMaxClusterObjects bounds one cluster's inventory.
	defaultMaxClusterObjects = 500000
)

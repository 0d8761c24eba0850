package manager

import (
	"context"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/store"
)

// DirDigest is what SyncDirCluster last recorded for a cluster, or nil.
// Removing the cluster removes it.
func (m *Manager) DirDigest(ctx context.Context, cluster string) ([]byte, error) {
	kv, ok, err := m.st.Get(ctx, store.InventoryDirPrefix+cluster)
	if err != nil || !ok {
		return nil, err
	}
	return kv.Value, nil
}

// SyncDirCluster is SyncCluster for a cluster read from an inventory
// directory: digest (which says what the inventory was read from) is
// recorded in the same transaction, so that it never describes an
// inventory other than the stored one.
func (m *Manager) SyncDirCluster(ctx context.Context, c Cluster, objs []inventory.Object, digest []byte) (int64, error) {
	return m.syncCluster(ctx, c, objs, []store.Op{{Key: store.InventoryDirPrefix + c.Name, Value: digest}})
}

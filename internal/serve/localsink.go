package serve

import (
	"context"
	"errors"
	"fmt"

	"github.com/kordon-dev/kordon/internal/adapter"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/wire"
)

// LocalSink is an adapter's sink for a manager in the same process
// (kordon serve --cluster). It lives here, not in adapter, so that the
// adapter builds without the manager: this is the one place both meet.
type LocalSink struct {
	M       *manager.Manager
	Cluster string
}

var _ adapter.Sink = (*LocalSink)(nil)

// Digest implements adapter.Sink.
func (s *LocalSink) Digest(ctx context.Context) (int64, map[string]string, error) {
	rev, objs, err := s.M.InventoryDigest(ctx, s.Cluster)
	return rev, objs, localErr(err)
}

// Write implements adapter.Sink.
func (s *LocalSink) Write(ctx context.Context, base int64, upserts [][]byte, deletes []string, sync bool) (int64, error) {
	objs := make([]inventory.Object, 0, len(upserts))
	for _, u := range upserts {
		o, err := inventory.Decode(u)
		if err != nil {
			return 0, err
		}
		objs = append(objs, o)
	}
	keys := make([]inventory.Key, 0, len(deletes))
	for _, id := range deletes {
		k, err := inventory.ParseObjectID(s.Cluster, id)
		if err != nil {
			return 0, err
		}
		keys = append(keys, k)
	}
	rev, err := s.M.WriteInventory(ctx, s.Cluster, base, objs, keys, sync)
	return rev, localErr(err)
}

// Heartbeat implements adapter.Sink.
func (s *LocalSink) Heartbeat(ctx context.Context, hb wire.Heartbeat) error {
	return localErr(s.M.RecordHeartbeat(ctx, s.Cluster, hb))
}

// localErr maps the manager's refusals to the sink's errors, as the API
// maps them to the statuses HTTPSink reads.
func localErr(err error) error {
	switch {
	case errors.Is(err, manager.ErrConflict):
		return adapter.ErrMoved
	case errors.Is(err, manager.ErrNotFound):
		return fmt.Errorf("%w: %v", adapter.ErrRevoked, err)
	}
	return err
}

package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/kordon-dev/kordon/internal/client"
	"github.com/kordon-dev/kordon/internal/wire"
)

// Sink is where an adapter reports its cluster.
type Sink interface {
	// Digest returns the inventory revision the manager holds for the
	// cluster and the hash of every object, by object id.
	Digest(ctx context.Context) (int64, map[string]string, error)
	// Write applies changes if the inventory is still at base, returning
	// the new revision; ErrMoved if it is not.
	Write(ctx context.Context, base int64, upserts [][]byte, deletes []string, sync bool) (int64, error)
	// Heartbeat reports the adapter's health.
	Heartbeat(ctx context.Context, hb wire.Heartbeat) error
}

// Errors a sink reports.
var (
	// ErrMoved: the inventory changed since the base revision; resync.
	ErrMoved = errors.New("the manager's inventory of this cluster moved; resynchronising")
	// ErrRevoked: the manager refuses this cluster's identity.
	ErrRevoked = errors.New("the manager refused this cluster's identity")
)

// HTTPSink reports to a manager over HTTPS with the cluster's client
// certificate.
type HTTPSink struct {
	c    *client.Client
	base string
}

// NewHTTPSink builds a sink from a bundle.
func NewHTTPSink(b wire.Bundle) (*HTTPSink, error) {
	c, err := client.FromBundle(b, client.Options{})
	if err != nil {
		return nil, err
	}
	return &HTTPSink{c: c, base: "/policy/api/v1/kordon/clusters/" + url.PathEscape(b.Cluster) + "/"}, nil
}

// do calls the manager. Every call of a sink may be sent twice: a write
// is conditioned on its base revision (a repeat meets ErrMoved), and a
// heartbeat says the same twice.
func (s *HTTPSink) do(ctx context.Context, method, sub string, body, out any) error {
	err := s.c.Do(ctx, method, s.base+sub, body, out, client.Gzip(), client.Idempotent())
	var e *client.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Status {
	case http.StatusConflict:
		return ErrMoved
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w: %s", ErrRevoked, e.Message)
	}
	return fmt.Errorf("manager answered %d %s: %w", e.Status, http.StatusText(e.Status), err)
}

// Digest implements Sink.
func (s *HTTPSink) Digest(ctx context.Context) (int64, map[string]string, error) {
	var out wire.InventoryDigest
	err := s.do(ctx, http.MethodGet, "inventory/digest", nil, &out)
	return out.Revision, out.Objects, err
}

// Write implements Sink.
func (s *HTTPSink) Write(ctx context.Context, base int64, upserts [][]byte, deletes []string, sync bool) (int64, error) {
	q := wire.InventoryWrite{BaseRevision: base, Sync: sync, Upserts: make([]json.RawMessage, len(upserts)), Deletes: deletes}
	for i, u := range upserts {
		q.Upserts[i] = u
	}
	var out struct {
		Revision int64 `json:"revision"`
	}
	err := s.do(ctx, http.MethodPost, "inventory", q, &out)
	return out.Revision, err
}

// Heartbeat implements Sink.
func (s *HTTPSink) Heartbeat(ctx context.Context, hb wire.Heartbeat) error {
	return s.do(ctx, http.MethodPost, "heartbeat", hb, nil)
}

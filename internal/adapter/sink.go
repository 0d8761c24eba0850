package adapter

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/pki"
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
	Heartbeat(ctx context.Context, hb manager.Heartbeat) error
}

// Errors a sink reports.
var (
	// ErrMoved: the inventory changed since the base revision; resync.
	ErrMoved = errors.New("the manager's inventory of this cluster moved; resynchronising")
	// ErrRevoked: the manager refuses this cluster's identity.
	ErrRevoked = errors.New("the manager refused this cluster's identity")
)

// ReadBundle reads a bundle file (YAML or JSON).
func ReadBundle(path string) (manager.Bundle, error) {
	var b manager.Bundle
	data, err := os.ReadFile(path)
	if err != nil {
		return b, err
	}
	if err := yaml.UnmarshalStrict(data, &b); err != nil {
		return b, fmt.Errorf("%s: %w", path, err)
	}
	if b.Cluster == "" || b.Server == "" || b.Cert == "" || b.Key == "" || b.CA == "" {
		return b, fmt.Errorf("%s: a bundle needs cluster, server, ca, cert and key", path)
	}
	return b, nil
}

// HTTPSink reports to a manager over HTTPS with the cluster's client
// certificate.
type HTTPSink struct {
	b    manager.Bundle
	http *http.Client
}

// NewHTTPSink builds a sink from a bundle.
func NewHTTPSink(b manager.Bundle) (*HTTPSink, error) {
	tc, err := pki.ClientTLS([]byte(b.CA), []byte(b.Cert), []byte(b.Key))
	if err != nil {
		return nil, err
	}
	return &HTTPSink{b: b, http: &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}}, nil
}

func (s *HTTPSink) url(sub string) string {
	return s.b.Server + "/policy/api/v1/kordon/clusters/" + s.b.Cluster + "/" + sub
}

func (s *HTTPSink) do(ctx context.Context, method, sub string, body any, out any) error {
	var rd io.Reader
	gz := false
	if body != nil {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if err := json.NewEncoder(zw).Encode(body); err != nil {
			return err
		}
		zw.Close()
		rd, gz = &buf, true
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url(sub), rd)
	if err != nil {
		return err
	}
	if gz {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	var e struct {
		Message string `json:"error_message"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	_ = json.Unmarshal(b, &e)
	switch resp.StatusCode {
	case http.StatusConflict:
		return ErrMoved
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w: %s", ErrRevoked, e.Message)
	}
	return fmt.Errorf("manager answered %s: %s", resp.Status, e.Message)
}

// Digest implements Sink.
func (s *HTTPSink) Digest(ctx context.Context) (int64, map[string]string, error) {
	var out struct {
		Revision int64             `json:"revision"`
		Objects  map[string]string `json:"objects"`
	}
	err := s.do(ctx, http.MethodGet, "inventory/digest", nil, &out)
	return out.Revision, out.Objects, err
}

// Write implements Sink.
func (s *HTTPSink) Write(ctx context.Context, base int64, upserts [][]byte, deletes []string, sync bool) (int64, error) {
	raw := make([]json.RawMessage, len(upserts))
	for i, u := range upserts {
		raw[i] = u
	}
	var out struct {
		Revision int64 `json:"revision"`
	}
	err := s.do(ctx, http.MethodPost, "inventory", map[string]any{"base_revision": base, "sync": sync, "upserts": raw, "deletes": deletes}, &out)
	return out.Revision, err
}

// Heartbeat implements Sink.
func (s *HTTPSink) Heartbeat(ctx context.Context, hb manager.Heartbeat) error {
	var out map[string]any
	return s.do(ctx, http.MethodPost, "heartbeat", hb, &out)
}

// LocalSink reports to a manager in the same process.
type LocalSink struct {
	M       *manager.Manager
	Cluster string
}

// Digest implements Sink.
func (s *LocalSink) Digest(ctx context.Context) (int64, map[string]string, error) {
	rev, objs, err := s.M.InventoryDigest(ctx, s.Cluster)
	return rev, objs, localErr(err)
}

// Write implements Sink.
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

// localErr maps the manager's refusals to the sink's errors.
func localErr(err error) error {
	switch {
	case errors.Is(err, manager.ErrConflict):
		return ErrMoved
	case errors.Is(err, manager.ErrNotFound):
		return fmt.Errorf("%w: %v", ErrRevoked, err)
	}
	return err
}

// Heartbeat implements Sink.
func (s *LocalSink) Heartbeat(ctx context.Context, hb manager.Heartbeat) error {
	return localErr(s.M.RecordHeartbeat(ctx, s.Cluster, hb))
}

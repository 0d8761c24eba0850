package enforcement

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/kordon-dev/kordon/internal/client"
	"github.com/kordon-dev/kordon/internal/realization"
	"github.com/kordon-dev/kordon/internal/wire"
)

// ErrRevoked: the manager refuses the agent's identity.
var ErrRevoked = errors.New("the manager refused this agent's identity")

// Upstream is the manager as the agent's loop sees it: where its span
// comes from and where its reports go. Behind it the loop is the same
// over HTTPS (HTTPUpstream) and against a fake, which is how its fail
// static, resync and reports are tested without a network. Both methods
// return an error wrapping ErrRevoked when the manager refuses the
// agent's identity: the loop then stops.
type Upstream interface {
	// Span returns the span once it differs from the one whose digest is
	// have ("" asks for the whole span now), waiting for a change at most
	// wait; nil when the wait ended with no change.
	Span(ctx context.Context, have string, wait time.Duration) (*Update, error)
	// Report sends the agent's realization state.
	Report(ctx context.Context, rep wire.AgentReport) error
}

// Update is the manager's answer to a span request: the whole span, or
// the delta from the span the agent has.
type Update struct {
	Span  *realization.Span  `json:"span"`
	Delta *realization.Delta `json:"delta"`
}

// HTTPUpstream reaches the manager over HTTPS as the bundle's agent.
type HTTPUpstream struct {
	c    *client.Client
	base string
}

// NewHTTPUpstream returns the upstream of the bundle's agent, whose span
// requests wait for changes up to wait.
func NewHTTPUpstream(b wire.Bundle, wait time.Duration) (*HTTPUpstream, error) {
	// A try lasts the long poll's wait and then some before it counts as
	// lost.
	c, err := client.FromBundle(b, client.Options{Timeout: wait + time.Minute})
	if err != nil {
		return nil, err
	}
	return &HTTPUpstream{c: c, base: "/policy/api/v1/kordon/agents/" + url.PathEscape(b.Agent) + "/"}, nil
}

// Span implements Upstream.
func (h *HTTPUpstream) Span(ctx context.Context, have string, wait time.Duration) (*Update, error) {
	q := url.Values{"digest": {have}, "wait": {strconv.Itoa(int(wait / time.Second))}}
	var u Update
	err := h.c.Do(ctx, http.MethodGet, h.base+"span?"+q.Encode(), nil, &u)
	if errors.Is(err, client.ErrNotModified) {
		return nil, nil
	}
	if err != nil {
		return nil, upstreamErr(err)
	}
	return &u, nil
}

// Report implements Upstream. A report states the agent's latest state
// and counters since it started, so sending it twice does no harm: it is
// retried like a read.
func (h *HTTPUpstream) Report(ctx context.Context, rep wire.AgentReport) error {
	return upstreamErr(h.c.Do(ctx, http.MethodPost, h.base+"report", rep, nil, client.Gzip(), client.Idempotent()))
}

func upstreamErr(err error) error {
	var e *client.Error
	if !errors.As(err, &e) {
		return err
	}
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		return fmt.Errorf("%w: %s", ErrRevoked, e.Message)
	}
	return fmt.Errorf("manager answered %d %s: %w", e.Status, http.StatusText(e.Status), err)
}

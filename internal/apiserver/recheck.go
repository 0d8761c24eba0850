package apiserver

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/kordon-dev/kordon/internal/access"
)

// recheckEvery is how often a long-lived answer that has nothing to send
// checks that its credentials still hold. Credentials are checked when a
// request starts; a watch stream or a span long poll runs for minutes
// after that, and a revoked or expired token, or a replaced or
// deregistered identity, must not keep receiving changes for as long.
const recheckEvery = 2 * time.Second

// errCredentialsGone is the cause of a long-lived answer's context when
// its credentials stopped holding.
var errCredentialsGone = errors.New("the request's credentials no longer hold")

// credentialCheck ends a long-lived answer once the credentials it was
// admitted with no longer admit it: it checks before anything is written
// (so that no change goes out after a revocation, however soon after it
// comes) and every recheckEvery while nothing is (so that an idle stream
// ends too), and cancels the request's context when they fail.
type credentialCheck struct {
	check  func() error
	cancel context.CancelCauseFunc
	mu     sync.Mutex
	err    error
}

// verify checks the credentials again, unless they have already failed,
// and returns why they no longer hold.
func (c *credentialCheck) verify() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		if err := c.check(); err != nil {
			c.err = err
			c.cancel(errCredentialsGone)
		}
	}
	return c.err
}

// failed returns why the credentials stopped holding, if they did.
func (c *credentialCheck) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// stillAdmits checks a request's credentials as handle did when it
// started: the same authentication (bearer or basic token, or client
// certificate), naming the same principal, which the route's rule still
// admits.
func (s *Server) stillAdmits(r *http.Request, rule access.Rule, p access.Principal, t access.Target) error {
	q, err := s.authenticate(r)
	if err != nil {
		return err
	}
	if q != p {
		return errors.New("the credentials no longer name the principal the request started as")
	}
	return access.Decide(rule, q, t)
}

// serveWhileAuthenticated serves a long-lived route for as long as the
// request's credentials hold. Once they fail the handler's context is
// cancelled and nothing more it writes reaches the client: a stream that
// has begun ends there (the client's next request is refused), and an
// answer not yet begun is 401.
func (s *Server) serveWhileAuthenticated(w http.ResponseWriter, r *http.Request, rt route, p access.Principal, t access.Target) {
	ctx, cancel := context.WithCancelCause(context.WithValue(r.Context(), ctxKey{}, p))
	cc := &credentialCheck{check: func() error { return s.stillAdmits(r, rt.rule, p, t) }, cancel: cancel}
	stopped := make(chan struct{})
	// The re-checks read the request: they end before the handler
	// returns it to the server.
	defer func() { cancel(nil); <-stopped }()
	go func() {
		defer close(stopped)
		tk := time.NewTicker(recheckEvery)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				if cc.verify() != nil {
					return
				}
			}
		}
	}()
	gw := &guardedWriter{ResponseWriter: w, cc: cc}
	rt.serve(s, gw, r.WithContext(ctx))
	if err := cc.failed(); err != nil && !gw.sent {
		s.refuseAuth(w, r, rt, "the credentials of this request no longer hold: "+err.Error())
	}
}

// guardedWriter lets a long-lived answer write only while its
// credentials hold.
type guardedWriter struct {
	http.ResponseWriter
	cc *credentialCheck
	// sent is whether the status line went out.
	sent bool
}

func (g *guardedWriter) WriteHeader(code int) {
	if g.cc.verify() != nil {
		return
	}
	g.sent = true
	g.ResponseWriter.WriteHeader(code)
}

func (g *guardedWriter) Write(b []byte) (int, error) {
	if err := g.cc.verify(); err != nil {
		return 0, errCredentialsGone
	}
	g.sent = true
	return g.ResponseWriter.Write(b)
}

// Flush sends what was written while the credentials held.
func (g *guardedWriter) Flush() {
	if f, ok := g.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (g *guardedWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

package netlimit

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options size the budget.
type Options struct {
	// Max is the most connections open at once (default 4096).
	Max int
	// Reserve is how many of them only authenticated connections may use
	// (default a tenth of Max): new connections are refused once Max-Reserve
	// of the open ones have not authenticated.
	Reserve int
	Logger  *slog.Logger
}

// Listener caps the connections of an inner listener.
type Listener struct {
	net.Listener
	max, unauthMax int
	log            *slog.Logger

	mu      sync.Mutex
	open    int
	unauth  int
	refused atomic.Uint64
	// lastErr is when a failed accept was last logged.
	lastErr time.Time
}

// Listen wraps l.
func Listen(l net.Listener, o Options) *Listener {
	if o.Max <= 0 {
		o.Max = 4096
	}
	if o.Reserve <= 0 || o.Reserve >= o.Max {
		o.Reserve = max(1, o.Max/10)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: l, max: o.Max, unauthMax: o.Max - o.Reserve, log: o.Logger}
}

// Accept returns the next connection within the budget. Connections over
// it are closed at once. When the process is out of file descriptors it
// logs, waits and tries again, so the listener never ends for that.
func (l *Listener) Accept() (net.Conn, error) {
	backoff := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !temporary(err) {
				return nil, err
			}
			l.logAcceptError(err)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		l.mu.Lock()
		ok := l.open < l.max && l.unauth < l.unauthMax
		if ok {
			l.open++
			l.unauth++
		}
		l.mu.Unlock()
		if !ok {
			l.refused.Add(1)
			c.Close()
			continue
		}
		return &conn{Conn: c, l: l}, nil
	}
}

func temporary(err error) bool {
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (l *Listener) logAcceptError(err error) {
	l.mu.Lock()
	due := time.Since(l.lastErr) > 10*time.Second
	if due {
		l.lastErr = time.Now()
	}
	open := l.open
	l.mu.Unlock()
	if due {
		l.log.Error("cannot accept connections; retrying", "error", err, "open_connections", open)
	}
}

// Stats are the budget's counts.
type Stats struct {
	Open, Unauthenticated int
	Refused               uint64
}

// Stats returns the current counts.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Open: l.open, Unauthenticated: l.unauth, Refused: l.refused.Load()}
}

// Collector exports the counts as metrics.
func (l *Listener) Collector() prometheus.Collector { return collector{l} }

type collector struct{ l *Listener }

var (
	openDesc    = prometheus.NewDesc("kordon_api_connections", "Open API connections, by whether they have authenticated.", []string{"authenticated"}, nil)
	refusedDesc = prometheus.NewDesc("kordon_api_connections_refused_total", "Connections closed at once because the connection budget was spent.", nil, nil)
	maxDesc     = prometheus.NewDesc("kordon_api_connections_max", "The connection budget.", nil, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- openDesc
	ch <- refusedDesc
	ch <- maxDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.l.Stats()
	ch <- prometheus.MustNewConstMetric(openDesc, prometheus.GaugeValue, float64(s.Open-s.Unauthenticated), "true")
	ch <- prometheus.MustNewConstMetric(openDesc, prometheus.GaugeValue, float64(s.Unauthenticated), "false")
	ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(s.Refused))
	ch <- prometheus.MustNewConstMetric(maxDesc, prometheus.GaugeValue, float64(c.l.max))
}

type conn struct {
	net.Conn
	l *Listener
	// authed and closed are guarded by l.mu.
	authed, closed bool
}

func (c *conn) Close() error {
	c.l.mu.Lock()
	if !c.closed {
		c.closed = true
		c.l.open--
		if !c.authed {
			c.l.unauth--
		}
	}
	c.l.mu.Unlock()
	return c.Conn.Close()
}

func (c *conn) authenticated() {
	c.l.mu.Lock()
	if !c.authed && !c.closed {
		c.authed = true
		c.l.unauth--
	}
	c.l.mu.Unlock()
}

type ctxKey struct{}

// ConnContext is an http.Server ConnContext: it keeps the connection in
// the context of its requests, so Authenticated can find it.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	for {
		if lc, ok := c.(*conn); ok {
			return context.WithValue(ctx, ctxKey{}, lc)
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return ctx
		}
		c = u.NetConn()
	}
}

// Authenticated moves the connection of a request to the authenticated
// part of the budget. Requests on connections of another listener are
// left alone.
func Authenticated(ctx context.Context) {
	if c, ok := ctx.Value(ctxKey{}).(*conn); ok {
		c.authenticated()
	}
}

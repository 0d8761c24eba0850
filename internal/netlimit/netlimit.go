package netlimit

import (
	"container/list"
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
	// (default a tenth of Max).
	Reserve int
	// PerPrincipal is how many connections one principal may hold (default
	// Max/32, at least 16): its oldest is closed to make room for more, so
	// that no one identity can fill the budget with authenticated
	// connections.
	PerPrincipal int
	Logger       *slog.Logger
}

// Listener caps the connections of an inner listener.
//
// A connection counts as unauthenticated from its accept until a request
// on it presents valid credentials. When a new connection finds the
// unauthenticated share (or the whole budget) full, the oldest
// unauthenticated connection is closed to make room: connections that
// never authenticate cannot hold the budget, and a client that sends its
// credentials promptly always gets in. Only when every connection has
// authenticated is a new one refused.
type Listener struct {
	net.Listener
	max, unauthMax, perMax int
	log                    *slog.Logger

	mu     sync.Mutex
	open   int
	unauth list.List // of *conn, oldest first
	// byWho are each principal's connections, oldest first.
	byWho   map[string]*list.List
	refused atomic.Uint64
	evicted atomic.Uint64
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
	if o.PerPrincipal <= 0 {
		o.PerPrincipal = max(16, o.Max/32)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: l, max: o.Max, unauthMax: o.Max - o.Reserve, perMax: o.PerPrincipal, log: o.Logger, byWho: map[string]*list.List{}}
}

// Accept returns the next connection within the budget, making room by
// closing the oldest unauthenticated one when needed. When the process is
// out of file descriptors it logs, waits and tries again, so the listener
// never ends for that.
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
		lc := &conn{Conn: c, l: l}
		l.mu.Lock()
		var victim *conn
		if l.open >= l.max || l.unauth.Len() >= l.unauthMax {
			if front := l.unauth.Front(); front != nil {
				victim = front.Value.(*conn)
				l.releaseLocked(victim)
			}
		}
		ok := l.open < l.max
		if ok {
			l.open++
			lc.elem = l.unauth.PushBack(lc)
		}
		l.mu.Unlock()
		if victim != nil {
			l.evicted.Add(1)
			victim.Conn.Close()
		}
		if !ok {
			l.refused.Add(1)
			c.Close()
			continue
		}
		return lc, nil
	}
}

// releaseLocked takes a connection out of the counts, once.
func (l *Listener) releaseLocked(c *conn) {
	if c.closed {
		return
	}
	c.closed = true
	l.open--
	if c.elem != nil {
		l.unauth.Remove(c.elem)
		c.elem = nil
	}
	if c.whoElem != nil {
		l.byWho[c.who].Remove(c.whoElem)
		if l.byWho[c.who].Len() == 0 {
			delete(l.byWho, c.who)
		}
		c.whoElem = nil
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
	Refused, Evicted      uint64
}

// Stats returns the current counts.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Open: l.open, Unauthenticated: l.unauth.Len(), Refused: l.refused.Load(), Evicted: l.evicted.Load()}
}

// Collector exports the counts as metrics.
func (l *Listener) Collector() prometheus.Collector { return collector{l} }

type collector struct{ l *Listener }

var (
	openDesc    = prometheus.NewDesc("kordon_api_connections", "Open API connections, by whether they have authenticated.", []string{"authenticated"}, nil)
	refusedDesc = prometheus.NewDesc("kordon_api_connections_refused_total", "Connections closed at once: every connection of the budget had authenticated.", nil, nil)
	evictedDesc = prometheus.NewDesc("kordon_api_connections_evicted_total", "Unauthenticated connections closed to make room for new ones.", nil, nil)
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
	ch <- prometheus.MustNewConstMetric(evictedDesc, prometheus.CounterValue, float64(s.Evicted))
	ch <- prometheus.MustNewConstMetric(maxDesc, prometheus.GaugeValue, float64(c.l.max))
}

type conn struct {
	net.Conn
	l *Listener
	// elem (its place among the unauthenticated), who and whoElem (its
	// principal and its place among that principal's) and closed are
	// guarded by l.mu.
	elem    *list.Element
	who     string
	whoElem *list.Element
	closed  bool
}

func (c *conn) Close() error {
	c.l.mu.Lock()
	c.l.releaseLocked(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

func (c *conn) authenticated(who string) {
	l := c.l
	l.mu.Lock()
	if c.closed || c.whoElem != nil {
		l.mu.Unlock()
		return
	}
	if c.elem != nil {
		l.unauth.Remove(c.elem)
		c.elem = nil
	}
	c.who = who
	conns := l.byWho[who]
	if conns == nil {
		conns = list.New()
		l.byWho[who] = conns
	}
	c.whoElem = conns.PushBack(c)
	var victim *conn
	if conns.Len() > l.perMax {
		victim = conns.Front().Value.(*conn)
		l.releaseLocked(victim)
	}
	l.mu.Unlock()
	if victim != nil {
		l.evicted.Add(1)
		victim.Conn.Close()
	}
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
// part of the budget, as one of who's (a principal's name); the first
// principal to authenticate on a connection is the one it counts for.
// Requests on connections of another listener are left alone.
func Authenticated(ctx context.Context, who string) {
	if c, ok := ctx.Value(ctxKey{}).(*conn); ok {
		c.authenticated(who)
	}
}

package apiserver

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/model"
)

// limiter bounds the heavy reads in flight: in all, so that reads can
// never take every CPU from writes (which then wait for the state lock
// the reads hold), and per principal, so that one caller cannot take
// every slot. A read that finds no slot waits a little, then is told to
// come back (429 with Retry-After, which NSX clients retry).
//
// The slot in all bounds the computation only: an answer is rendered
// into memory while the read holds it, and written out to the client
// after it is given back (see handle). A client that does not read its
// answer would otherwise hold a CPU slot until the write deadline, and a
// tenant's two tokens would hold all of them. The principal's slot is
// kept until the answer is written: it bounds how many rendered answers
// one principal has waiting on the network, so a principal's slow
// clients make only that principal's reads wait.
type limiter struct {
	slots   chan struct{}
	perMax  int
	mu      sync.Mutex
	per     map[string]*principalSlots
	waited  atomic.Uint64
	refused atomic.Uint64
}

// principalSlots are one principal's slots, and how many requests hold
// or wait for one.
type principalSlots struct {
	ch    chan struct{}
	users int
}

// heavyWait is how long a heavy read waits for a slot.
const heavyWait = 10 * time.Second

func newLimiter(total, perPrincipal int) *limiter {
	if total <= 0 {
		total = max(2, runtime.GOMAXPROCS(0))
	}
	if perPrincipal <= 0 {
		perPrincipal = max(1, total/2)
	}
	return &limiter{slots: make(chan struct{}, total), perMax: perPrincipal, per: map[string]*principalSlots{}}
}

// hold is a request's place in a limiter: a slot in all while it
// computes, and its principal's slot until it is done. It belongs to the
// request's goroutine.
type hold struct {
	l         *limiter
	name      string
	ps        *principalSlots
	computing bool
	held      bool
}

// computed gives back the slot in all: the answer is rendered, what is
// left is writing it.
func (h *hold) computed() {
	if h.computing {
		h.computing = false
		<-h.l.slots
	}
}

// release gives back every slot the request still holds.
func (h *hold) release() {
	h.computed()
	if h.held {
		h.held = false
		<-h.ps.ch
		h.l.leave(h.name, h.ps)
	}
}

func (l *limiter) acquire(ctx context.Context, p access.Principal) (*hold, error) {
	l.mu.Lock()
	ps := l.per[p.Name]
	if ps == nil {
		ps = &principalSlots{ch: make(chan struct{}, l.perMax)}
		l.per[p.Name] = ps
	}
	ps.users++
	l.mu.Unlock()
	t := time.NewTimer(heavyWait)
	defer t.Stop()
	if err := l.take(ctx, ps.ch, t.C); err != nil {
		l.leave(p.Name, ps)
		return nil, err
	}
	if err := l.take(ctx, l.slots, t.C); err != nil {
		<-ps.ch
		l.leave(p.Name, ps)
		return nil, err
	}
	return &hold{l: l, name: p.Name, ps: ps, computing: true, held: true}, nil
}

// leave forgets a principal's slots once no request holds or waits for
// one.
func (l *limiter) leave(name string, ps *principalSlots) {
	l.mu.Lock()
	if ps.users--; ps.users == 0 {
		delete(l.per, name)
	}
	l.mu.Unlock()
}

// take takes a slot of ch, waiting until timeout or the request ends.
func (l *limiter) take(ctx context.Context, ch chan struct{}, timeout <-chan time.Time) error {
	select {
	case ch <- struct{}{}:
		return nil
	default:
	}
	l.waited.Add(1)
	select {
	case ch <- struct{}{}:
		return nil
	case <-timeout:
		l.refused.Add(1)
		return apiError(http.StatusTooManyRequests, codeTooMany, "the manager is serving as many heavy reads as it will at once; retry shortly", nil)
	case <-ctx.Done():
		return apiError(http.StatusServiceUnavailable, codeUnavailable, "the request ended while waiting to be served", nil)
	}
}

func (l *limiter) collector() prometheus.Collector { return limiterCollector{l} }

type limiterCollector struct{ l *limiter }

var (
	heavyInFlight = prometheus.NewDesc("kordon_api_heavy_reads_in_flight", "Heavy reads (exports, lists, members, advice) being computed (their answers are written to clients after they give back their slot).", nil, nil)
	heavyWaited   = prometheus.NewDesc("kordon_api_heavy_reads_waited_total", "Heavy reads that waited for a slot.", nil, nil)
	heavyRefused  = prometheus.NewDesc("kordon_api_heavy_reads_refused_total", "Heavy reads answered 429.", nil, nil)
)

func (c limiterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- heavyInFlight
	ch <- heavyWaited
	ch <- heavyRefused
}

func (c limiterCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(heavyInFlight, prometheus.GaugeValue, float64(len(c.l.slots)))
	ch <- prometheus.MustNewConstMetric(heavyWaited, prometheus.CounterValue, float64(c.l.waited.Load()))
	ch <- prometheus.MustNewConstMetric(heavyRefused, prometheus.CounterValue, float64(c.l.refused.Load()))
}

// infraCache keeps the encoded export of each space for the configuration
// it was made from, plain and gzipped: a configuration is immutable, so
// the bytes are valid until it is replaced, and a flood of exports costs
// one encoding and, for clients that take gzip (Go's and most others do),
// a tenth of the bytes to encrypt and send.
type infraCache struct {
	mu  sync.Mutex
	cfg *model.Config
	doc map[string]*encodedDoc
}

type encodedDoc struct {
	once      sync.Once
	plain, gz []byte
}

func newInfraCache() *infraCache { return &infraCache{doc: map[string]*encodedDoc{}} }

// get returns the cached export of space for cfg, or builds it once.
func (c *infraCache) get(cfg *model.Config, space string, build func() []byte) *encodedDoc {
	c.mu.Lock()
	if c.cfg != cfg {
		c.cfg, c.doc = cfg, map[string]*encodedDoc{}
	}
	d := c.doc[space]
	if d == nil {
		d = &encodedDoc{}
		c.doc[space] = d
	}
	c.mu.Unlock()
	d.once.Do(func() {
		d.plain = build()
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Write(d.plain)
		zw.Close()
		d.gz = buf.Bytes()
	})
	return d
}

// bufferedAnswer is a heavy read's answer kept in memory, so that the
// read can give back its CPU slot before the answer goes out over the
// network. It adds no answer that was not in memory before: the export
// is the cache's bytes, kept by reference (writeShared), never copied;
// lists are paged (at most 1000 objects a page); the other heavy answers
// (members, EDL feeds, advice, traces, metrics) were already built whole
// before they were written (writeJSON encodes the whole value, then
// writes it once), and the buffer replaces that copy. How many wait on
// the network at once is bounded per principal: a principal's slot is
// held until its answer is written.
type bufferedAnswer struct {
	header http.Header
	status int
	buf    bytes.Buffer
	// shared is bytes that are never changed (the export cache's), when
	// they are the whole answer.
	shared []byte
}

func newBufferedAnswer() *bufferedAnswer { return &bufferedAnswer{header: http.Header{}} }

func (a *bufferedAnswer) Header() http.Header { return a.header }

func (a *bufferedAnswer) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
}

func (a *bufferedAnswer) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	if a.shared != nil {
		a.buf.Write(a.shared)
		a.shared = nil
	}
	return a.buf.Write(b)
}

// Flush does nothing: the answer is sent whole once it is complete.
func (a *bufferedAnswer) Flush() {}

// writeShared appends bytes that nobody changes, keeping a reference to
// them when they are the whole answer.
func (a *bufferedAnswer) writeShared(b []byte) {
	if a.shared == nil && a.buf.Len() == 0 {
		if a.status == 0 {
			a.status = http.StatusOK
		}
		a.shared = b
		return
	}
	a.Write(b)
}

// send writes the answer to the client.
func (a *bufferedAnswer) send(w http.ResponseWriter) {
	body := a.buf.Bytes()
	if a.shared != nil {
		body = a.shared
	}
	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	if a.status == 0 {
		a.status = http.StatusOK
	}
	if h.Get("Content-Length") == "" && a.status != http.StatusNotModified && a.status != http.StatusNoContent {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(a.status)
	if len(body) > 0 {
		w.Write(body)
	}
}

// writeShared writes bytes that are never changed (a cached export): an
// answer rendered in memory refers to them instead of copying them, so
// that a flood of exports costs no memory per request.
func writeShared(w http.ResponseWriter, b []byte) {
	if a, ok := w.(*bufferedAnswer); ok {
		a.writeShared(b)
		return
	}
	w.Write(b)
}

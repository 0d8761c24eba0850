package apiserver

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"runtime"
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

func (l *limiter) acquire(ctx context.Context, p access.Principal) (func(), error) {
	l.mu.Lock()
	ps := l.per[p.Name]
	if ps == nil {
		ps = &principalSlots{ch: make(chan struct{}, l.perMax)}
		l.per[p.Name] = ps
	}
	ps.users++
	l.mu.Unlock()
	leave := func() {
		l.mu.Lock()
		if ps.users--; ps.users == 0 {
			delete(l.per, p.Name)
		}
		l.mu.Unlock()
	}
	t := time.NewTimer(heavyWait)
	defer t.Stop()
	if err := l.take(ctx, ps.ch, t.C); err != nil {
		leave()
		return nil, err
	}
	if err := l.take(ctx, l.slots, t.C); err != nil {
		<-ps.ch
		leave()
		return nil, err
	}
	return func() { <-l.slots; <-ps.ch; leave() }, nil
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
	heavyInFlight = prometheus.NewDesc("kordon_api_heavy_reads_in_flight", "Heavy reads (exports, lists, members, advice) being served.", nil, nil)
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

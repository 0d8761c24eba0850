package apiserver

import (
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
// come back (429, which NSX clients retry).
type limiter struct {
	slots   chan struct{}
	perMax  int
	mu      sync.Mutex
	per     map[string]int
	waited  atomic.Uint64
	refused atomic.Uint64
}

// heavyWait is how long a heavy read waits for a slot.
const heavyWait = 10 * time.Second

func newLimiter(total, perPrincipal int) *limiter {
	if total <= 0 {
		total = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if perPrincipal <= 0 {
		perPrincipal = 2
	}
	return &limiter{slots: make(chan struct{}, total), perMax: perPrincipal, per: map[string]int{}}
}

func (l *limiter) acquire(ctx context.Context, p access.Principal) (func(), error) {
	key := p.Name
	l.mu.Lock()
	if l.per[key] >= l.perMax {
		l.mu.Unlock()
		l.refused.Add(1)
		return nil, apiError(http.StatusTooManyRequests, codeTooMany, "too many heavy reads in flight for "+key+" (at most "+itoa(l.perMax)+"); retry when one has finished", nil)
	}
	l.per[key]++
	l.mu.Unlock()
	done := func() {
		l.mu.Lock()
		if l.per[key]--; l.per[key] == 0 {
			delete(l.per, key)
		}
		l.mu.Unlock()
	}
	select {
	case l.slots <- struct{}{}:
	default:
		l.waited.Add(1)
		t := time.NewTimer(heavyWait)
		defer t.Stop()
		select {
		case l.slots <- struct{}{}:
		case <-t.C:
			done()
			l.refused.Add(1)
			return nil, apiError(http.StatusTooManyRequests, codeTooMany, "the manager is serving as many heavy reads as it will at once; retry shortly", nil)
		case <-ctx.Done():
			done()
			return nil, apiError(http.StatusServiceUnavailable, codeUnavailable, "the request ended while waiting to be served", nil)
		}
	}
	return func() { <-l.slots; done() }, nil
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
// it was made from: a configuration is immutable, so the bytes are valid
// until it is replaced, and a flood of exports costs one encoding.
type infraCache struct {
	mu  sync.Mutex
	cfg *model.Config
	doc map[string][]byte
}

func newInfraCache() *infraCache { return &infraCache{doc: map[string][]byte{}} }

// get returns the cached export of space for cfg, or builds it with make.
func (c *infraCache) get(cfg *model.Config, space string, build func() []byte) []byte {
	c.mu.Lock()
	if c.cfg != cfg {
		c.cfg, c.doc = cfg, map[string][]byte{}
	}
	b, ok := c.doc[space]
	c.mu.Unlock()
	if ok {
		return b
	}
	b = build()
	c.mu.Lock()
	if c.cfg == cfg {
		c.doc[space] = b
	}
	c.mu.Unlock()
	return b
}

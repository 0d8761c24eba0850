package manager

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	apply   prometheus.Histogram
	load    prometheus.Gauge
	changes prometheus.Counter
	spans   prometheus.Counter
	patched prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, m *Manager) *metrics {
	mt := &metrics{
		apply: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kordon_state_apply_seconds",
			Help:    "Time to fold one store revision into the state: configuration, inventory and membership computation.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 4, 12)}),
		load:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "kordon_state_load_seconds", Help: "Time the last full state load took."}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{Name: "kordon_store_changes_total", Help: "Stored keys changed, as applied from the store's watch."}),
		spans:   prometheus.NewCounter(prometheus.CounterOpts{Name: "kordon_span_computations_total", Help: "Enforcement-point spans computed (the others were reused unchanged)."}),
		patched: prometheus.NewCounter(prometheus.CounterOpts{Name: "kordon_span_patches_total", Help: "Enforcement-point spans changed by membership element changes alone, without compiling rules."}),
	}
	if reg == nil {
		return mt
	}
	reg.MustRegister(mt.apply, mt.load, mt.changes, mt.spans, mt.patched,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kordon_store_revision", Help: "Store revision the state reflects."},
			func() float64 { return float64(m.Revision()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kordon_groups", Help: "Groups defined, in every space."},
			func() float64 { m.mu.RLock(); defer m.mu.RUnlock(); return float64(len(m.cfg.Groups)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kordon_inventory_objects", Help: "Inventory objects held, all clusters."},
			func() float64 { m.mu.RLock(); defer m.mu.RUnlock(); return float64(m.idx.Stats().Objects) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kordon_watch_subscribers", Help: "Open watch-stream subscriptions."},
			func() float64 { return float64(m.events.subscribers()) }),
	)
	return mt
}

func (mt *metrics) applied(d time.Duration, keys int) {
	mt.apply.Observe(d.Seconds())
	mt.changes.Add(float64(keys))
}

func (mt *metrics) loaded(d time.Duration) { mt.load.Set(d.Seconds()) }

func (mt *metrics) spanComputed() { mt.spans.Inc() }

func (mt *metrics) spanPatched() { mt.patched.Inc() }

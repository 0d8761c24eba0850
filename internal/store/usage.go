package store

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Usage is how full the store is.
type Usage struct {
	// DBSize is the database file's size, InUse the part of it holding
	// data (the rest is free pages a defragmentation returns).
	DBSize, InUse int64
	// Quota is the size at which etcd refuses every write.
	Quota int64
	// Alarms are etcd's raised alarms (NOSPACE once the quota is reached).
	Alarms []string
}

// Fraction is the share of the quota used.
func (u Usage) Fraction() float64 {
	if u.Quota <= 0 {
		return 0
	}
	return float64(u.DBSize) / float64(u.Quota)
}

// Usage reads the database size from etcd's status and its alarms. With
// several members, the largest database counts.
func (s *Store) Usage(ctx context.Context) (Usage, error) {
	u := Usage{Quota: s.quota}
	for _, ep := range s.cli.Endpoints() {
		st, err := s.cli.Status(ctx, ep)
		if err != nil {
			return u, fmt.Errorf("etcd %s status: %w", ep, err)
		}
		u.DBSize, u.InUse = max(u.DBSize, st.DbSize), max(u.InUse, st.DbSizeInUse)
	}
	al, err := s.cli.AlarmList(ctx)
	if err != nil {
		return u, fmt.Errorf("etcd alarms: %w", err)
	}
	for _, a := range al.Alarms {
		u.Alarms = append(u.Alarms, a.Alarm.String())
	}
	return u, nil
}

// warnAt is the share of the quota at which the monitor starts warning.
const warnAt = 0.8

// Monitor reads the store's usage every interval until ctx ends, exports
// it through the collector it returns, and logs an error while the
// database is over 80% of its quota or etcd has raised an alarm: before
// the quota is reached, every write is still accepted, and after it none
// is.
type Monitor struct {
	s   *Store
	log *slog.Logger
	mu  sync.Mutex
	u   Usage
	err error
}

// NewMonitor makes a monitor of the store.
func NewMonitor(s *Store, log *slog.Logger) *Monitor { return &Monitor{s: s, log: log} }

// Run polls until ctx ends.
func (m *Monitor) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		m.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Monitor) poll(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u, err := m.s.Usage(pctx)
	m.mu.Lock()
	m.u, m.err = u, err
	m.mu.Unlock()
	switch {
	case err != nil && ctx.Err() == nil:
		m.log.Warn("reading the store's usage", "error", err)
	case len(u.Alarms) > 0:
		m.log.Error("etcd has raised an alarm: writes are refused until it is resolved (compact, defragment, then disarm)", "alarms", u.Alarms, "db_bytes", u.DBSize, "quota_bytes", u.Quota)
	case u.Fraction() >= warnAt:
		m.log.Error("the store is nearly full: at its quota etcd refuses every write", "db_bytes", u.DBSize, "in_use_bytes", u.InUse, "quota_bytes", u.Quota, "used", fmt.Sprintf("%.0f%%", 100*u.Fraction()))
	}
}

var (
	dbSizeDesc = prometheus.NewDesc("kordon_store_db_bytes", "Size of etcd's database file (the largest member's).", nil, nil)
	inUseDesc  = prometheus.NewDesc("kordon_store_db_in_use_bytes", "Bytes of etcd's database holding data.", nil, nil)
	quotaDesc  = prometheus.NewDesc("kordon_store_quota_bytes", "etcd's backend quota: at this database size every write is refused.", nil, nil)
	usedDesc   = prometheus.NewDesc("kordon_store_quota_used_ratio", "Database size as a share of the quota.", nil, nil)
	alarmDesc  = prometheus.NewDesc("kordon_store_alarms", "etcd alarms raised (NOSPACE: the quota is reached).", nil, nil)
)

// Describe implements prometheus.Collector.
func (m *Monitor) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dbSizeDesc, inUseDesc, quotaDesc, usedDesc, alarmDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Monitor) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	u := m.u
	m.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(dbSizeDesc, prometheus.GaugeValue, float64(u.DBSize))
	ch <- prometheus.MustNewConstMetric(inUseDesc, prometheus.GaugeValue, float64(u.InUse))
	ch <- prometheus.MustNewConstMetric(quotaDesc, prometheus.GaugeValue, float64(u.Quota))
	ch <- prometheus.MustNewConstMetric(usedDesc, prometheus.GaugeValue, u.Fraction())
	ch <- prometheus.MustNewConstMetric(alarmDesc, prometheus.GaugeValue, float64(len(u.Alarms)))
}

var _ prometheus.Collector = (*Monitor)(nil)

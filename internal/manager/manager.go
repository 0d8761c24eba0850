package manager

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/license"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/store"
)

// Options configure a manager.
type Options struct {
	Store  *store.Store
	Logger *slog.Logger
	// Now is the clock (tests move it).
	Now func() time.Time
	// Trust lists the license signing keys the operator trusts, besides
	// the evaluation key the store records.
	Trust []ed25519.PublicKey
	// Registerer receives the manager's metrics (nil: none).
	Registerer prometheus.Registerer
	// EventHistory is how many events are kept for resuming watchers.
	EventHistory int
	// Seal opens the CA's key, which is needed to issue identities.
	Seal pki.Keyring
	// ReportGap is how often one cluster's heartbeat or one agent's report
	// may be stored (default 500ms); more often is refused.
	ReportGap time.Duration
	// MaxClusterObjects bounds one cluster's inventory (default 500,000).
	MaxClusterObjects int
	// WriteBurst and WriteRate bound the bytes one cluster or agent makes
	// the store keep: at once, and regained per hour (defaults 512 MiB and
	// 256 MiB).
	WriteBurst, WriteRate int64
}

// Manager is the running state. Its methods are safe for concurrent use.
type Manager struct {
	st    *store.Store
	log   *slog.Logger
	now   func() time.Time
	trust []ed25519.PublicKey
	seal  pki.Keyring
	// reportGap and maxObjects are the quotas of clusters and agents.
	reportGap  time.Duration
	maxObjects int
	writes     *budgets

	// mu guards the state folded from the store (state.go) and what is
	// derived from it.
	mu sync.RWMutex
	state
	rev    int64
	lic    *license.License
	licErr error
	// status holds when each group's members last changed.
	status  map[string]GroupStatus
	applied chan struct{} // closed and replaced after each applied revision
	// vmAddrs are each VM's addresses that count, vmRefused the ones that
	// do not, vmObjs the objects groups select (vmaddrs.go); vmsDirty says
	// agent records changed since they were computed.
	vmAddrs   map[string][]netip.Addr
	vmRefused map[string][]RefusedAddress
	vmObjs    map[string]*inventory.VirtualMachine
	vmsDirty  bool
	// spanChanged is closed and replaced when a change may alter spans:
	// configuration, inventory or agents, not reports or heartbeats.
	spanChanged chan struct{}
	// spans holds each agent's published span (spans.go): apply patches
	// the element changes of memberships into it and retires the spans
	// whose rules may have changed; a retired span is computed again when
	// first read, under the read lock, so spans and retired have their
	// own mutex.
	spanMu  sync.Mutex
	spans   map[string]*spanEntry
	retired map[string]*spanEntry
	// recomputeSpans makes membership changes retire the spans they reach
	// instead of patching them, as kordon did before: the baseline of
	// BenchmarkSpanDelta.
	recomputeSpans bool
	// scopeGroups caches the groups Applied To names, per configuration.
	scopeGroups map[string]bool
	scopeOf     *model.Config

	// used holds when each token last authenticated here; usedStored
	// what the store says (any manager's); see tokens.go.
	usedMu     sync.Mutex
	used       map[string]time.Time
	usedStored map[string]time.Time

	// lastReport is when each cluster or agent last had a report or
	// heartbeat stored (reports.go).
	reportMu   sync.Mutex
	lastReport map[string]time.Time
	lastStored map[string]storedReport

	writeMu sync.Mutex
	// memo: what this manager's applies wrote and validated
	// (applyhash.go); guarded by writeMu.
	memo applyMemo
	// signInMu serializes sign-ins (sessions.go).
	signInMu sync.Mutex
	events   *eventLog
	ready    atomic.Bool
	readyCh  chan struct{} // closed once the state is first loaded
	metrics  *metrics
}

// New creates a manager; Run loads the state and keeps it current.
func New(o Options) *Manager {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.EventHistory <= 0 {
		o.EventHistory = 100000
	}
	if o.ReportGap <= 0 {
		o.ReportGap = defaultReportGap
	}
	if o.MaxClusterObjects <= 0 {
		o.MaxClusterObjects = defaultMaxClusterObjects
	}
	m := &Manager{st: o.Store, log: o.Logger, now: o.Now, trust: o.Trust, seal: o.Seal, reportGap: o.ReportGap, maxObjects: o.MaxClusterObjects, writes: newBudgets(o.WriteBurst, o.WriteRate), events: newEventLog(o.EventHistory),
		applied: make(chan struct{}), state: *newState(), status: map[string]GroupStatus{},
		spanChanged: make(chan struct{}), retired: map[string]*spanEntry{},
		spans: map[string]*spanEntry{}, used: map[string]time.Time{}, usedStored: map[string]time.Time{},
		vmAddrs: map[string][]netip.Addr{}, vmRefused: map[string][]RefusedAddress{}, vmObjs: map[string]*inventory.VirtualMachine{},
		lastReport: map[string]time.Time{}, lastStored: map[string]storedReport{}, readyCh: make(chan struct{})}
	m.metrics = newMetrics(o.Registerer, m)
	return m
}

// Ready reports whether the state has been loaded.
func (m *Manager) Ready() bool { return m.ready.Load() }

// ReadyC is closed once the state has been loaded.
func (m *Manager) ReadyC() <-chan struct{} { return m.readyCh }

// Run loads the state and follows the store until ctx ends. It returns
// once the first load fails or ctx ends; Ready reports true after the
// first load. Everything Run starts has ended when it returns.
func (m *Manager) Run(ctx context.Context) error {
	rev, err := m.load(ctx)
	if err != nil {
		return err
	}
	m.ready.Store(true)
	close(m.readyCh)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); m.tokenUseLoop(ctx) }()
	for ctx.Err() == nil {
		for b := range m.st.Watch(ctx, store.Root, rev+1) {
			if b.Err != nil {
				if ctx.Err() != nil {
					return nil
				}
				m.log.Warn("store watch ended", "error", b.Err)
				if errors.Is(b.Err, store.ErrCompacted) {
					if rev, err = m.load(ctx); err != nil {
						m.log.Error("reloading state", "error", err)
					}
				}
				break
			}
			m.apply(b)
			rev = b.Revision
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

func (m *Manager) spansChangedLocked() {
	close(m.spanChanged)
	m.spanChanged = make(chan struct{})
}

func (m *Manager) broadcastLocked() {
	close(m.applied)
	m.applied = make(chan struct{})
}

// WaitApplied blocks until the state reflects store revision rev.
func (m *Manager) WaitApplied(ctx context.Context, rev int64) error {
	for {
		m.mu.RLock()
		cur, ch := m.rev, m.applied
		m.mu.RUnlock()
		if cur >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for revision %d to be applied (at %d): %w", rev, cur, ctx.Err())
		}
	}
}

// Revision returns the store revision the state reflects.
func (m *Manager) Revision() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.rev
}

// EventsFrom is the oldest revision a watch may resume from: the events
// after it are kept.
func (m *Manager) EventsFrom() int64 { return m.events.oldest() }

// Subscribe returns the events after revision since and a subscription
// to the following ones.
func (m *Manager) Subscribe(since int64) ([]Event, *Subscription, error) {
	return m.events.subscribe(since)
}

package manager

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/license"
	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/store"
	"github.com/kordon-dev/kordon/internal/wire"
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

	mu        sync.RWMutex
	rev       int64
	configRev int64 // ModRevision of store.ConfigRevKey
	cfg       *model.Config
	meta      map[string]ObjectMeta
	projects  map[string]*Project
	clusters  map[string]*Cluster
	tokens    map[string]*Token // by hash
	storedKey map[string]ed25519.PublicKey
	licRaw    []byte
	lic       *license.License
	licErr    error
	// heartbeats holds each cluster's last adapter heartbeat.
	heartbeats map[string]wire.Heartbeat
	idx        *membership.Index
	status     map[string]GroupStatus
	applied    chan struct{} // closed and replaced after each applied revision
	agents     map[string]*Agent
	reports    map[string]wire.AgentReport
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
	events  *eventLog
	ready   atomic.Bool
	readyCh chan struct{} // closed once the state is first loaded
	metrics *metrics
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
		applied: make(chan struct{}), cfg: model.NewConfig(), idx: membership.New(),
		agents: map[string]*Agent{}, reports: map[string]wire.AgentReport{}, spanChanged: make(chan struct{}), retired: map[string]*spanEntry{},
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

// loaded is the state read from a full listing.
type loaded struct {
	cfg        *model.Config
	meta       map[string]ObjectMeta
	projects   map[string]*Project
	clusters   map[string]*Cluster
	tokens     map[string]*Token
	storedKey  map[string]ed25519.PublicKey
	inv        []inventory.Object
	license    []byte
	configRev  int64
	heartbeats map[string]wire.Heartbeat
	agentKVs   []store.KV
	tokenUsed  map[string]time.Time
}

// load reads the whole state and replaces the in-memory one.
func (m *Manager) load(ctx context.Context) (int64, error) {
	start := time.Now()
	kvs, rev, err := m.st.List(ctx, store.Root)
	if err != nil {
		return 0, fmt.Errorf("loading state: %w", err)
	}
	l := &loaded{cfg: model.NewConfig(), meta: map[string]ObjectMeta{}, projects: map[string]*Project{},
		clusters: map[string]*Cluster{}, tokens: map[string]*Token{}, storedKey: map[string]ed25519.PublicKey{}, heartbeats: map[string]wire.Heartbeat{}, tokenUsed: map[string]time.Time{}}
	for _, kv := range kvs {
		if err := l.add(kv); err != nil {
			m.log.Error("skipping unreadable stored value", "key", kv.Key, "error", err)
		}
	}
	idx := membership.New()
	if err := idx.Load(l.inv, l.cfg.Groups); err != nil {
		m.log.Error("loading groups", "error", err)
	}
	m.mu.Lock()
	m.cfg, m.meta, m.projects, m.clusters, m.tokens, m.storedKey = l.cfg, l.meta, l.projects, l.clusters, l.tokens, l.storedKey
	m.idx, m.rev, m.configRev, m.heartbeats = idx, rev, l.configRev, l.heartbeats
	m.status = map[string]GroupStatus{}
	for p := range l.cfg.Groups {
		m.status[p] = GroupStatus{Revision: rev}
	}
	m.licRaw = l.license
	m.setLicenseLocked(l.license)
	m.agents, m.reports = map[string]*Agent{}, map[string]wire.AgentReport{}
	m.vmAddrs, m.vmRefused, m.vmObjs = map[string][]netip.Addr{}, map[string][]RefusedAddress{}, map[string]*inventory.VirtualMachine{}
	for _, kv := range l.agentKVs {
		m.applyAgentLocked(store.Event{KV: kv})
	}
	m.vmsDirty = true
	m.refreshVMsLocked()
	m.idx.TakeDeltas() // a load is not a change
	m.retireSpansLocked()
	m.broadcastLocked()
	m.spansChangedLocked()
	m.mu.Unlock()
	m.usedMu.Lock()
	m.usedStored = l.tokenUsed
	m.usedMu.Unlock()
	m.events.reset(rev)
	m.metrics.loaded(time.Since(start))
	m.log.Info("state loaded", "revision", rev, "objects", l.cfg.Len(), "inventory", len(l.inv), "clusters", len(l.clusters), "took", time.Since(start).Round(time.Millisecond))
	return rev, nil
}

func (l *loaded) add(kv store.KV) error {
	switch {
	case strings.HasPrefix(kv.Key, store.ObjectsPrefix):
		path := store.ObjectPath(kv.Key)
		o, err := decodeObject(path, kv.Value)
		if err != nil {
			return err
		}
		l.cfg.Set(path, o)
		l.meta[path] = ObjectMeta{Revision: kv.Version - 1, ModRevision: kv.ModRevision}
	case strings.HasPrefix(kv.Key, store.InventoryPrefix):
		o, err := decodeInventory(kv.Value)
		if err != nil {
			return err
		}
		l.inv = append(l.inv, o)
	case strings.HasPrefix(kv.Key, store.ProjectsPrefix):
		var p Project
		if err := json.Unmarshal(kv.Value, &p); err != nil {
			return err
		}
		p.Revision = kv.Version - 1
		l.projects[p.ID] = &p
	case strings.HasPrefix(kv.Key, store.ClustersPrefix):
		var c Cluster
		if err := json.Unmarshal(kv.Value, &c); err != nil {
			return err
		}
		l.clusters[c.Name] = &c
	case strings.HasPrefix(kv.Key, store.TokensPrefix):
		var t Token
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			return err
		}
		l.tokens[t.Hash] = &t
	case strings.HasPrefix(kv.Key, store.TokenUsedPrefix):
		var t time.Time
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			return err
		}
		l.tokenUsed[strings.TrimPrefix(kv.Key, store.TokenUsedPrefix)] = t
	case strings.HasPrefix(kv.Key, store.TrustPrefix):
		k, err := license.ParsePublicKey(kv.Value)
		if err != nil {
			return err
		}
		l.storedKey[kv.Key] = k
	case strings.HasPrefix(kv.Key, store.StatusPrefix):
		var hb wire.Heartbeat
		if err := json.Unmarshal(kv.Value, &hb); err != nil {
			return err
		}
		l.heartbeats[strings.TrimPrefix(kv.Key, store.StatusPrefix)] = hb
	case strings.HasPrefix(kv.Key, store.AgentsPrefix), strings.HasPrefix(kv.Key, store.AgentReportPrefix):
		l.agentKVs = append(l.agentKVs, kv)
	case kv.Key == store.LicenseKey:
		l.license = kv.Value
	case kv.Key == store.ConfigRevKey:
		l.configRev = kv.ModRevision
	}
	return nil
}

// apply folds one store revision into the state, then publishes its
// events.
func (m *Manager) apply(b store.Batch) {
	if len(b.Events) == 0 {
		m.mu.Lock()
		if b.Revision > m.rev {
			m.rev = b.Revision
			m.broadcastLocked()
		}
		m.mu.Unlock()
		return
	}
	start := time.Now()
	now := m.now()
	var evs []Event
	m.mu.Lock()
	next := m.cfg
	cloned := false
	groups := map[string]*model.Group{}
	licenseChanged := false
	spans := false
	for _, ev := range b.Events {
		key := ev.Key
		switch {
		case strings.HasPrefix(key, store.AgentsPrefix), strings.HasPrefix(key, store.AgentReportPrefix):
			spans = m.applyAgentLocked(ev) || spans
		case strings.HasPrefix(key, store.ObjectsPrefix):
			if !cloned {
				next, cloned = m.cfg.Clone(), true
			}
			path := store.ObjectPath(key)
			e := Event{Revision: b.Revision, Time: now, Type: "config", Path: path, Op: string(model.OpUpsert)}
			if ev.Deleted {
				if o, ok := next.Object(path); ok {
					e.Kind = string(o.Kind())
				}
				next.Remove(path)
				delete(m.meta, path)
				e.Op = string(model.OpDelete)
				if e.Kind == string(model.KindGroup) {
					groups[path] = nil
				}
			} else {
				o, err := decodeObject(path, ev.Value)
				if err != nil {
					m.log.Error("unreadable stored object", "path", path, "error", err)
					continue
				}
				next.Set(path, o)
				m.meta[path] = ObjectMeta{Revision: ev.Version - 1, ModRevision: ev.ModRevision}
				e.Kind = string(o.Kind())
				if g, ok := o.(*model.Group); ok {
					groups[path] = g
				}
			}
			evs = append(evs, e)
		case strings.HasPrefix(key, store.InventoryPrefix):
			m.applyInventory(ev)
			spans = true
		case strings.HasPrefix(key, store.ProjectsPrefix):
			evs = append(evs, m.applyProject(b.Revision, now, ev))
		case strings.HasPrefix(key, store.ClustersPrefix):
			evs = append(evs, m.applyCluster(b.Revision, now, ev))
		case strings.HasPrefix(key, store.TokensPrefix):
			m.applyToken(ev)
		case strings.HasPrefix(key, store.TokenUsedPrefix):
			m.applyTokenUsed(key, ev)
		case strings.HasPrefix(key, store.TrustPrefix):
			if ev.Deleted {
				delete(m.storedKey, key)
			} else if k, err := license.ParsePublicKey(ev.Value); err == nil {
				m.storedKey[key] = k
			}
			licenseChanged = true
		case strings.HasPrefix(key, store.StatusPrefix):
			name := strings.TrimPrefix(key, store.StatusPrefix)
			var hb wire.Heartbeat
			if ev.Deleted {
				delete(m.heartbeats, name)
			} else if json.Unmarshal(ev.Value, &hb) == nil {
				m.heartbeats[name] = hb
			}
		case key == store.LicenseKey:
			m.licRaw, licenseChanged = ev.Value, true
			if ev.Deleted {
				m.licRaw = nil
			}
			evs = append(evs, Event{Revision: b.Revision, Time: now, Type: "license", Op: opOf(ev)})
		case key == store.ConfigRevKey:
			m.configRev = ev.ModRevision
		}
	}
	m.cfg = next
	spans = spans || cloned
	m.refreshVMsLocked()
	for _, p := range model.Paths(groups) {
		if g := groups[p]; g == nil {
			m.idx.DeleteGroup(p)
			delete(m.status, p)
		} else if err := m.idx.SetGroup(p, g); err != nil {
			m.log.Error("group cannot be evaluated", "path", p, "error", err)
		} else if _, ok := m.status[p]; !ok {
			m.status[p] = GroupStatus{}
		}
	}
	deltas := m.idx.TakeDeltas()
	if cloned {
		m.retireSpansLocked()
	} else if len(deltas) > 0 {
		m.patchSpansLocked(deltas, b.Revision)
	}
	for _, d := range deltas {
		evs = append(evs, Event{Revision: b.Revision, Time: now, Type: "membership", Path: d.Group, Group: groupDelta(d)})
		if _, ok := m.status[d.Group]; ok {
			m.status[d.Group] = GroupStatus{Revision: b.Revision, LastChange: now}
		}
	}
	for p, s := range m.status {
		s.Revision = b.Revision
		m.status[p] = s
	}
	if licenseChanged {
		m.setLicenseLocked(m.licRaw)
	}
	m.rev = b.Revision
	m.broadcastLocked()
	if spans {
		m.spansChangedLocked()
	}
	m.mu.Unlock()
	m.events.publish(evs)
	m.metrics.applied(time.Since(start), len(b.Events))
}

func opOf(ev store.Event) string {
	if ev.Deleted {
		return string(model.OpDelete)
	}
	return string(model.OpUpsert)
}

func (m *Manager) applyInventory(ev store.Event) {
	k, ok := parseInventoryKey(ev.Key)
	if !ok {
		return
	}
	if ev.Deleted {
		m.idx.Delete(k)
		return
	}
	o, err := decodeInventory(ev.Value)
	if err != nil {
		m.log.Error("unreadable inventory object", "key", ev.Key, "error", err)
		return
	}
	m.idx.Upsert(o)
}

func (m *Manager) applyProject(rev int64, now time.Time, ev store.Event) Event {
	id := strings.TrimPrefix(ev.Key, store.ProjectsPrefix)
	e := Event{Revision: rev, Time: now, Type: "project", Path: model.Space(id), Op: opOf(ev)}
	if ev.Deleted {
		delete(m.projects, id)
		return e
	}
	var p Project
	if err := json.Unmarshal(ev.Value, &p); err == nil {
		p.Revision = ev.Version - 1
		m.projects[id] = &p
	}
	return e
}

func (m *Manager) applyCluster(rev int64, now time.Time, ev store.Event) Event {
	name := strings.TrimPrefix(ev.Key, store.ClustersPrefix)
	e := Event{Revision: rev, Time: now, Type: "cluster", Path: name, Op: opOf(ev)}
	if ev.Deleted {
		delete(m.clusters, name)
		return e
	}
	var c Cluster
	if err := json.Unmarshal(ev.Value, &c); err == nil {
		m.clusters[name] = &c
	}
	return e
}

func (m *Manager) applyToken(ev store.Event) {
	if ev.Deleted {
		for h, t := range m.tokens {
			if store.TokensPrefix+t.ID == ev.Key {
				delete(m.tokens, h)
			}
		}
		return
	}
	var t Token
	if err := json.Unmarshal(ev.Value, &t); err == nil {
		m.tokens[t.Hash] = &t
	}
}

// setLicenseLocked verifies the stored license against every trusted key.
func (m *Manager) setLicenseLocked(raw []byte) {
	m.lic, m.licErr = nil, nil
	if raw == nil {
		return
	}
	l, err := license.Parse(raw)
	if err == nil {
		err = license.Verify(l, m.trustedLocked())
	}
	if err != nil {
		m.licErr = err
		m.log.Warn("the stored license is not valid", "error", err)
		return
	}
	m.lic = &l
}

func (m *Manager) trustedLocked() []ed25519.PublicKey {
	out := append([]ed25519.PublicKey(nil), m.trust...)
	for _, k := range m.storedKey {
		out = append(out, k)
	}
	return out
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

// Subscribe returns the events after revision since and a subscription
// to the following ones.
func (m *Manager) Subscribe(since int64) ([]Event, *Subscription, error) {
	return m.events.subscribe(since)
}

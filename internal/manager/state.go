package manager

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/license"
	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/store"
	"github.com/kordon-dev/kordon/internal/wire"
)

// state is what the manager folds from the store. Every stored key has
// one entry in keyTable, used alike to load the whole store (a listing
// is folded as if every key had just been written) and to apply each
// revision the watch brings, so the two cannot come to read a key
// differently; a value that cannot be read is logged the same way by
// both and changes nothing.
type state struct {
	configRev int64 // ModRevision of store.ConfigRevKey
	cfg       *model.Config
	meta      map[string]ObjectMeta
	projects  map[string]*Project
	clusters  map[string]*Cluster
	tokens    map[string]*Token   // by hash
	sessions  map[string]*Session // by hash
	storedKey map[string]ed25519.PublicKey
	licRaw    []byte
	// heartbeats holds each cluster's last adapter heartbeat.
	heartbeats map[string]wire.Heartbeat
	idx        *membership.Index
	agents     map[string]*Agent
	reports    map[string]wire.AgentReport
}

func newState() *state {
	return &state{cfg: model.NewConfig(), meta: map[string]ObjectMeta{}, projects: map[string]*Project{},
		clusters: map[string]*Cluster{}, tokens: map[string]*Token{}, sessions: map[string]*Session{}, storedKey: map[string]ed25519.PublicKey{},
		heartbeats: map[string]wire.Heartbeat{}, idx: membership.New(), agents: map[string]*Agent{}, reports: map[string]wire.AgentReport{}}
}

// fold is one pass of store changes into a state, and what the pass
// leaves to do once every key of it is in.
type fold struct {
	rev int64
	now time.Time
	// loading: a full listing into a new state (no events; inventory is
	// loaded in bulk at the end).
	loading bool
	// configured: the configuration was copied for this pass and changed;
	// before is the one it was copied from, paths the objects changed.
	configured bool
	before     *model.Config
	paths      []string
	groups     map[string]*model.Group // groups defined (nil: deleted)
	inv        []inventory.Object      // loading: every inventory object
	intern     inventory.Interner      // loading: shared by inv's objects
	evs        []Event
	// agents are the agents whose record changed (true: deleted).
	agents    map[string]bool
	tokenUsed map[string]*time.Time // nil: deleted
	license   bool
	// spans: something changed that spans may read.
	spans bool
}

func newFold(rev int64, now time.Time, loading bool) *fold {
	return &fold{rev: rev, now: now, loading: loading, configured: loading, groups: map[string]*model.Group{},
		agents: map[string]bool{}, tokenUsed: map[string]*time.Time{}}
}

func (f *fold) event(e Event) {
	if !f.loading {
		e.Revision, e.Time = f.rev, f.now
		f.evs = append(f.evs, e)
	}
}

// keyHandler folds the keys under prefix (or the key itself, exact).
type keyHandler struct {
	prefix string
	exact  bool
	fold   func(s *state, f *fold, ev store.Event) error
}

var keyTable = []keyHandler{
	{prefix: store.ObjectsPrefix, fold: (*state).foldObject},
	{prefix: store.InventoryPrefix, fold: (*state).foldInventory},
	{prefix: store.ProjectsPrefix, fold: (*state).foldProject},
	{prefix: store.ClustersPrefix, fold: (*state).foldCluster},
	{prefix: store.TokensPrefix, fold: (*state).foldToken},
	{prefix: store.TokenUsedPrefix, fold: (*state).foldTokenUsed},
	{prefix: store.SessionsPrefix, fold: (*state).foldSession},
	{prefix: store.TrustPrefix, fold: (*state).foldTrust},
	{prefix: store.StatusPrefix, fold: (*state).foldHeartbeat},
	{prefix: store.AgentsPrefix, fold: (*state).foldAgent},
	{prefix: store.AgentReportPrefix, fold: (*state).foldReport},
	{prefix: store.LicenseKey, exact: true, fold: (*state).foldLicense},
	{prefix: store.ConfigRevKey, exact: true, fold: (*state).foldConfigRev},
}

// foldEvent folds one stored key's change. Keys no handler knows (an
// earlier version's, say) are left alone.
func (s *state) foldEvent(f *fold, ev store.Event) error {
	for _, h := range keyTable {
		if h.exact && ev.Key == h.prefix || !h.exact && strings.HasPrefix(ev.Key, h.prefix) {
			return h.fold(s, f, ev)
		}
	}
	return nil
}

// decode reads a stored JSON value; a deleted key has none.
func decode(ev store.Event, v any) error {
	if err := json.Unmarshal(ev.Value, v); err != nil {
		return fmt.Errorf("unreadable value: %w", err)
	}
	return nil
}

func (s *state) foldObject(f *fold, ev store.Event) error {
	path := store.ObjectPath(ev.Key)
	var o model.Object
	if !ev.Deleted {
		var err error
		if o, err = decodeObject(path, ev.Value); err != nil {
			return err
		}
	}
	if !f.configured {
		// Readers may hold the configuration: change a copy.
		f.before = s.cfg
		s.cfg, f.configured = s.cfg.Clone(), true
	}
	f.paths = append(f.paths, path)
	e := Event{Type: "config", Path: path, Op: string(model.OpUpsert)}
	if ev.Deleted {
		if old, ok := s.cfg.Object(path); ok {
			e.Kind = string(old.Kind())
		}
		s.cfg.Remove(path)
		delete(s.meta, path)
		e.Op = string(model.OpDelete)
		if e.Kind == string(model.KindGroup) {
			f.groups[path] = nil
		}
	} else {
		s.cfg.Set(path, o)
		s.meta[path] = ObjectMeta{Revision: ev.Version - 1, ModRevision: ev.ModRevision}
		e.Kind = string(o.Kind())
		if g, ok := o.(*model.Group); ok {
			f.groups[path] = g
		}
	}
	f.event(e)
	return nil
}

func (s *state) foldInventory(f *fold, ev store.Event) error {
	f.spans = true
	if ev.Deleted {
		if k, ok := parseInventoryKey(ev.Key); ok {
			s.idx.Delete(k)
		}
		return nil
	}
	o, err := decodeInventory(ev.Value)
	if err != nil {
		return err
	}
	if f.loading {
		// The whole inventory is in memory at once here (and the
		// index keeps what it needs of it): its objects share equal
		// strings and label maps.
		f.intern.Share(o)
		f.inv = append(f.inv, o)
	} else {
		s.idx.Upsert(o)
	}
	return nil
}

func (s *state) foldProject(f *fold, ev store.Event) error {
	id := strings.TrimPrefix(ev.Key, store.ProjectsPrefix)
	if ev.Deleted {
		delete(s.projects, id)
	} else {
		var p Project
		if err := decode(ev, &p); err != nil {
			return err
		}
		p.Revision, p.modRevision = ev.Version-1, ev.ModRevision
		s.projects[id] = &p
	}
	f.event(Event{Type: "project", Path: model.Space(id), Op: opOf(ev)})
	return nil
}

func (s *state) foldCluster(f *fold, ev store.Event) error {
	name := strings.TrimPrefix(ev.Key, store.ClustersPrefix)
	if ev.Deleted {
		delete(s.clusters, name)
	} else {
		var c Cluster
		if err := decode(ev, &c); err != nil {
			return err
		}
		s.clusters[name] = &c
	}
	f.event(Event{Type: "cluster", Path: name, Op: opOf(ev)})
	return nil
}

func (s *state) foldToken(_ *fold, ev store.Event) error {
	if ev.Deleted {
		for h, t := range s.tokens {
			if store.TokensPrefix+t.ID == ev.Key {
				delete(s.tokens, h)
			}
		}
		return nil
	}
	var t Token
	if err := decode(ev, &t); err != nil {
		return err
	}
	s.tokens[t.Hash] = &t
	return nil
}

func (s *state) foldTokenUsed(f *fold, ev store.Event) error {
	id := strings.TrimPrefix(ev.Key, store.TokenUsedPrefix)
	if ev.Deleted {
		f.tokenUsed[id] = nil
		return nil
	}
	var t time.Time
	if err := decode(ev, &t); err != nil {
		return err
	}
	f.tokenUsed[id] = &t
	return nil
}

func (s *state) foldTrust(f *fold, ev store.Event) error {
	f.license = true
	if ev.Deleted {
		delete(s.storedKey, ev.Key)
		return nil
	}
	k, err := license.ParsePublicKey(ev.Value)
	if err != nil {
		return err
	}
	s.storedKey[ev.Key] = k
	return nil
}

func (s *state) foldHeartbeat(_ *fold, ev store.Event) error {
	name := strings.TrimPrefix(ev.Key, store.StatusPrefix)
	if ev.Deleted {
		delete(s.heartbeats, name)
		return nil
	}
	var hb wire.Heartbeat
	if err := decode(ev, &hb); err != nil {
		return err
	}
	s.heartbeats[name] = hb
	return nil
}

// foldAgent folds an agent's record; what follows from it (its VM object
// and addresses, its span) is the manager's to redo once the pass is in.
func (s *state) foldAgent(f *fold, ev store.Event) error {
	name := strings.TrimPrefix(ev.Key, store.AgentsPrefix)
	if ev.Deleted {
		delete(s.agents, name)
		f.agents[name], f.spans = true, true
		return nil
	}
	var a Agent
	if err := decode(ev, &a); err != nil {
		return err
	}
	s.agents[name] = &a
	f.agents[name], f.spans = false, true
	return nil
}

func (s *state) foldReport(_ *fold, ev store.Event) error {
	name := strings.TrimPrefix(ev.Key, store.AgentReportPrefix)
	if ev.Deleted {
		delete(s.reports, name)
		return nil
	}
	var rep wire.AgentReport
	if err := decode(ev, &rep); err != nil {
		return err
	}
	s.reports[name] = rep
	return nil
}

func (s *state) foldLicense(f *fold, ev store.Event) error {
	s.licRaw, f.license = ev.Value, true
	if ev.Deleted {
		s.licRaw = nil
	}
	f.event(Event{Type: "license", Op: opOf(ev)})
	return nil
}

func (s *state) foldConfigRev(_ *fold, ev store.Event) error {
	s.configRev = ev.ModRevision
	return nil
}

// load reads the whole store into a new state, folded outside the lock
// as the watch's revisions are, and puts it in place of the current one.
func (m *Manager) load(ctx context.Context) (int64, error) {
	start := time.Now()
	var s *state
	var f *fold
	var rev int64
	// The keys are read a page at a time and folded as they come, so
	// the raw state is never all in memory with its decoded form. A page
	// read after its revision was compacted (etcd keeps an hour of
	// history) starts the load again.
	for try := 1; ; try++ {
		s, f = newState(), newFold(0, start, true)
		var err error
		rev, err = m.st.Scan(ctx, store.Root, func(kv store.KV) error {
			m.foldLogged(s, f, store.Event{KV: kv})
			return nil
		})
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrCompacted) || try == 3 {
			return 0, fmt.Errorf("loading state: %w", err)
		}
		m.log.Warn("loading state again", "error", err)
	}
	f.rev = rev
	if err := s.idx.Load(f.inv, s.cfg.Groups); err != nil {
		m.log.Error("loading groups", "error", err)
	}
	m.mu.Lock()
	m.state = *s
	m.status = map[string]GroupStatus{}
	for p := range s.cfg.Groups {
		m.status[p] = GroupStatus{}
	}
	m.setLicenseLocked(s.licRaw)
	m.vmAddrs, m.vmRefused, m.vmObjs = map[string][]netip.Addr{}, map[string][]RefusedAddress{}, map[string]*inventory.VirtualMachine{}
	m.vmsDirty = true
	m.refreshVMsLocked()
	m.idx.TakeDeltas() // a load is not a change
	m.retireSpansLocked()
	m.forgetSpansOfGoneAgentsLocked()
	m.rev = rev
	m.broadcastLocked()
	m.spansChangedLocked()
	m.mu.Unlock()
	m.usedMu.Lock()
	m.usedStored = map[string]time.Time{}
	m.usedMu.Unlock()
	m.tokensUsed(f)
	m.events.reset(rev)
	m.metrics.loaded(time.Since(start))
	m.log.Info("state loaded", "revision", rev, "objects", s.cfg.Len(), "inventory", len(f.inv), "clusters", len(s.clusters), "took", time.Since(start).Round(time.Millisecond))
	return rev, nil
}

// foldLogged folds one key, logging a value that cannot be read.
func (m *Manager) foldLogged(s *state, f *fold, ev store.Event) {
	if err := s.foldEvent(f, ev); err != nil {
		m.log.Error("skipping an unreadable stored value", "key", ev.Key, "revision", ev.ModRevision, "error", err)
	}
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
	f := newFold(b.Revision, m.now().UTC(), false)
	m.mu.Lock()
	for _, ev := range b.Events {
		m.foldLogged(&m.state, f, ev)
	}
	m.agentsChangedLocked(f)
	m.refreshVMsLocked()
	deltas := m.groupsChangedLocked(f)
	if f.configured {
		m.retireTouchedLocked(f.before, f.paths)
	}
	if len(deltas) > 0 {
		m.patchSpansLocked(deltas, b.Revision)
	}
	if f.license {
		m.setLicenseLocked(m.licRaw)
	}
	m.rev = b.Revision
	m.broadcastLocked()
	if f.spans || f.configured {
		m.spansChangedLocked()
	}
	m.mu.Unlock()
	m.tokensUsed(f)
	m.events.publish(f.evs)
	m.metrics.applied(time.Since(start), len(b.Events))
	m.log.Debug("revision applied", "revision", b.Revision, "keys", len(b.Events), "membership_changes", len(deltas), "took", time.Since(start))
}

// agentsChangedLocked redoes what follows from changed agent records:
// their spans are computed again, their VM objects refreshed.
func (m *Manager) agentsChangedLocked(f *fold) {
	for name, gone := range f.agents {
		if gone {
			m.dropSpan(name)
		} else {
			m.retireSpan(name)
		}
		m.vmsDirty = true
	}
}

// groupsChangedLocked evaluates the groups the pass defined or deleted,
// takes the membership deltas of the whole pass and records them as
// events and in the groups' status.
func (m *Manager) groupsChangedLocked(f *fold) []membership.Delta {
	for _, p := range model.Paths(f.groups) {
		if g := f.groups[p]; g == nil {
			m.idx.DeleteGroup(p)
			delete(m.status, p)
		} else if err := m.idx.SetGroup(p, g); err != nil {
			m.log.Error("group cannot be evaluated", "path", p, "error", err)
		} else if _, ok := m.status[p]; !ok {
			m.status[p] = GroupStatus{}
		}
	}
	deltas := m.idx.TakeDeltas()
	for _, d := range deltas {
		f.evs = append(f.evs, Event{Revision: f.rev, Time: f.now, Type: "membership", Path: d.Group, Group: groupDelta(d)})
		if _, ok := m.status[d.Group]; ok {
			m.status[d.Group] = GroupStatus{LastChange: f.now}
		}
	}
	return deltas
}

// tokensUsed records the last-use times the pass brought.
func (m *Manager) tokensUsed(f *fold) {
	m.usedMu.Lock()
	defer m.usedMu.Unlock()
	for id, t := range f.tokenUsed {
		if t == nil {
			delete(m.usedStored, id)
			delete(m.used, id)
		} else {
			m.usedStored[id] = *t
		}
	}
}

func opOf(ev store.Event) string {
	if ev.Deleted {
		return string(model.OpDelete)
	}
	return string(model.OpUpsert)
}

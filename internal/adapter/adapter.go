package adapter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/wire"
)

// Options configure an adapter.
type Options struct {
	Cluster   string
	Kube      kubernetes.Interface
	Dynamic   dynamic.Interface
	Discovery discovery.DiscoveryInterface
	Sink      Sink
	Logger    *slog.Logger
	// Heartbeat is the heartbeat interval (default 10s).
	Heartbeat time.Duration
	// Batch is how long changes are collected before being sent
	// (default 100ms).
	Batch time.Duration
	// Rediscover is how often the adapter looks for CRDs installed or
	// removed since it started (default 30s).
	Rediscover time.Duration
	// Version is reported in heartbeats.
	Version string
}

// Adapter keeps one cluster's inventory in the manager current.
type Adapter struct {
	o   Options
	log *slog.Logger

	mu       sync.Mutex
	kinds    map[inventory.Kind]*source
	pending  map[string][]byte // stored form by object id; nil: gone
	base     int64             // inventory revision last written or read
	resync   bool              // the next send must be a full synchronisation
	synced   bool              // a full synchronisation completed
	lastSync time.Time
	kubeErr  error
	kubeAt   time.Time
	sendErr  error
	status   string
	since    time.Time
	wake     chan struct{}
}

// source is one watched kind.
type source struct {
	kind     inventory.Kind
	version  string // API group/version watched
	informer cache.SharedIndexInformer
	stop     chan struct{} // nil for the typed informers, which live as long as Run
}

// New returns an adapter.
func New(o Options) *Adapter {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 10 * time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 100 * time.Millisecond
	}
	if o.Rediscover <= 0 {
		o.Rediscover = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Adapter{o: o, log: o.Logger.With("cluster", o.Cluster), kinds: map[inventory.Kind]*source{},
		pending: map[string][]byte{}, resync: true, wake: make(chan struct{}, 1), status: "up", since: time.Now()}
}

// Run watches the cluster and reports it until ctx ends, or the manager
// refuses the cluster's identity (ErrRevoked).
func (a *Adapter) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(a.o.Kube, 0, informers.WithTransform(a.transform))
	for _, s := range []*source{
		{kind: inventory.KindNode, version: "v1", informer: factory.Core().V1().Nodes().Informer()},
		{kind: inventory.KindNamespace, version: "v1", informer: factory.Core().V1().Namespaces().Informer()},
		{kind: inventory.KindService, version: "v1", informer: factory.Core().V1().Services().Informer()},
		{kind: inventory.KindPod, version: "v1", informer: factory.Core().V1().Pods().Informer()},
		{kind: inventory.KindIngress, version: "networking.k8s.io/v1", informer: factory.Networking().V1().Ingresses().Informer()},
	} {
		a.watch(s)
	}
	factory.Start(ctx.Done())
	defer a.stopAll()
	a.discover()
	hb := time.NewTicker(a.o.Heartbeat)
	defer hb.Stop()
	disc := time.NewTicker(a.o.Rediscover)
	defer disc.Stop()
	flush := time.NewTicker(a.o.Batch)
	defer flush.Stop()
	// The first heartbeat goes out at once, while the informers still
	// list: the manager learns the adapter runs, and a revoked identity is
	// refused before any work.
	if err := a.heartbeat(ctx); errors.Is(err, ErrRevoked) {
		a.log.Error("the manager refused this cluster's identity; stopping", "error", err)
		return err
	}
	backoff := time.Duration(0)
	var retryAt time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hb.C:
			if err := a.heartbeat(ctx); errors.Is(err, ErrRevoked) {
				a.log.Error("the manager refused this cluster's identity; stopping", "error", err)
				return err
			}
			continue
		case <-disc.C:
			a.discover()
		case <-flush.C:
		case <-a.wake:
		}
		if time.Now().Before(retryAt) {
			continue
		}
		err := a.send(ctx)
		switch {
		case err == nil:
			backoff = 0
		case errors.Is(err, ErrRevoked):
			a.log.Error("the manager refused this cluster's identity; stopping", "error", err)
			return err
		case ctx.Err() != nil:
			return nil
		default:
			backoff = min(max(2*backoff, 200*time.Millisecond), 10*time.Second)
			retryAt = time.Now().Add(backoff)
			if errors.Is(err, ErrMoved) {
				a.log.Info("the manager's copy moved; resynchronising")
			} else {
				a.log.Warn("reporting to the manager failed; will resynchronise", "error", err, "retry_in", backoff)
			}
		}
	}
}

// watch registers a source's event handlers.
func (a *Adapter) watch(s *source) {
	a.mu.Lock()
	a.kinds[s.kind] = s
	a.mu.Unlock()
	_ = s.informer.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		// An ended or expired watch is routine: the reflector lists again.
		if !errors.Is(err, io.EOF) && !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
			a.noteKubeErr(err)
		}
	})
	_, _ = s.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.record(s, obj, false) },
		UpdateFunc: func(old, obj any) { a.update(s, old, obj) },
		DeleteFunc: func(obj any) { a.record(s, obj, true) },
	})
}

// record notes an object's new state, or its deletion, for the next send.
// Events of a source that was replaced (its CRD's version changed, or the
// CRD went away) are ignored: the full synchronisation that follows the
// replacement accounts for its objects.
func (a *Adapter) record(s *source, obj any, deleted bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	c, ok := obj.(*cached)
	if !ok {
		return
	}
	var enc []byte
	if !deleted {
		enc = c.enc
	}
	id := idOf(s.kind, c)
	a.mu.Lock()
	if a.kinds[s.kind] == s {
		a.pending[id] = enc
	}
	a.mu.Unlock()
}

// update records a changed object unless its record is unchanged: most
// updates (a Pod's conditions, a Node's heartbeat) touch nothing kordon
// reads, and relists replay every object.
func (a *Adapter) update(s *source, old, obj any) {
	if o, ok := old.(*cached); ok {
		if n, ok := obj.(*cached); ok && o.enc != nil && bytes.Equal(o.enc, n.enc) {
			return
		}
	}
	a.record(s, obj, false)
}

// encode converts a cached object to its stored form; an object kordon
// cannot read is logged and left out, as if absent.
func (a *Adapter) encode(id string, obj any) []byte {
	o, err := convert(a.o.Cluster, obj)
	if err == nil && o != nil {
		var b []byte
		if b, err = inventory.Encode(o); err == nil {
			return b
		}
	}
	if err != nil {
		a.log.Warn("object cannot be read; it is left out of the inventory", "object", id, "error", err)
	}
	return nil
}

// discover starts informers for the CRD kinds the cluster serves, in the
// most preferred version it serves, and stops those of kinds it no longer
// serves or now serves in a preferred version. Either way a full
// synchronisation follows, so a version change sends only what differs
// and an uninstalled CRD's objects leave the inventory. A kind whose
// discovery fails keeps its informer: a flaky API server must not empty
// the inventory.
func (a *Adapter) discover() {
	for _, ck := range crdKinds {
		version, err := preferred(a.o.Discovery, ck)
		if err != nil {
			a.noteKubeErr(fmt.Errorf("discovering %s.%s: %w", ck.resource, ck.group, err))
			continue
		}
		gv := ""
		if version != "" {
			gv = ck.group + "/" + version
		}
		a.mu.Lock()
		cur := a.kinds[ck.kind]
		a.mu.Unlock()
		if cur != nil && cur.version == gv {
			continue
		}
		if cur != nil {
			a.log.Info("API version to watch changed", "kind", ck.kind, "was", cur.version, "now", gv)
			a.stop(cur)
		}
		if gv == "" {
			continue
		}
		inf := dynamicinformer.NewDynamicSharedInformerFactory(a.o.Dynamic, 0).ForResource(ck.gvr(version)).Informer()
		_ = inf.SetTransform(a.transform)
		s := &source{kind: ck.kind, version: gv, informer: inf, stop: make(chan struct{})}
		a.watch(s)
		a.mu.Lock()
		a.resync = true
		a.mu.Unlock()
		go inf.Run(s.stop)
		a.log.Info("watching", "kind", ck.kind, "version", gv)
	}
}

// preferred returns the most preferred version of a CRD kind the cluster
// serves, "" if it serves none.
func preferred(d discovery.DiscoveryInterface, ck crdKind) (string, error) {
	for _, v := range ck.versions {
		l, err := d.ServerResourcesForGroupVersion(ck.group + "/" + v)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return "", err
		}
		for _, r := range l.APIResources {
			if r.Name == ck.resource {
				return v, nil
			}
		}
	}
	return "", nil
}

// stop ends a source; the next send is a full synchronisation.
func (a *Adapter) stop(s *source) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s.stop != nil {
		close(s.stop)
		s.stop = nil
	}
	delete(a.kinds, s.kind)
	a.resync = true
}

func (a *Adapter) stopAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.kinds {
		if s.stop != nil {
			close(s.stop)
			s.stop = nil
		}
	}
}

func (a *Adapter) noteKubeErr(err error) {
	a.mu.Lock()
	a.kubeErr, a.kubeAt = err, time.Now()
	a.mu.Unlock()
}

// syncedLocked reports whether every watched kind has been listed.
func (a *Adapter) syncedLocked() bool {
	for _, s := range a.kinds {
		if !s.informer.HasSynced() {
			return false
		}
	}
	return true
}

// snapshotLocked lists every watched object in its stored form, by id.
func (a *Adapter) snapshotLocked() map[string][]byte {
	out := map[string][]byte{}
	for _, s := range a.kinds {
		for _, obj := range s.informer.GetStore().List() {
			if c, ok := obj.(*cached); ok && c.enc != nil {
				out[idOf(s.kind, c)] = c.enc
			}
		}
	}
	return out
}

// send reports what changed: a full synchronisation when one is due (at
// start, after a conflict or failure, after a CRD appeared or went), else
// the pending deltas. Nothing is sent while a watched kind is still
// listing: a partial view is never reported as complete.
func (a *Adapter) send(ctx context.Context) error {
	a.mu.Lock()
	if !a.syncedLocked() {
		a.mu.Unlock()
		return nil
	}
	if a.resync {
		return a.fullSyncLocked(ctx) // unlocks
	}
	if len(a.pending) == 0 {
		a.mu.Unlock()
		return nil
	}
	pending, base := a.pending, a.base
	a.pending = map[string][]byte{}
	a.mu.Unlock()
	var upserts [][]byte
	var deletes []string
	for _, id := range sortedKeys(pending) {
		if enc := pending[id]; enc != nil {
			upserts = append(upserts, enc)
		} else {
			deletes = append(deletes, id)
		}
	}
	rev, err := a.o.Sink.Write(ctx, base, upserts, deletes, false)
	a.log.Debug("changes sent", "upserts", len(upserts), "deletes", len(deletes), "base", base, "revision", rev, "error", err)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		// The deltas taken are lost with the request; a full
		// synchronisation recovers them from the informers' stores.
		a.resync, a.sendErr = true, err
		return err
	}
	a.base, a.sendErr = rev, nil
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fullSyncLocked compares the cluster with the manager's digest and sends
// the difference as one complete synchronisation. It is called with a.mu
// held and releases it.
func (a *Adapter) fullSyncLocked(ctx context.Context) error {
	// Informers update their stores before they call handlers, so a
	// change is either in this snapshot or recorded as pending after it;
	// what was pending before is in the snapshot.
	a.pending = map[string][]byte{}
	want := a.snapshotLocked()
	a.mu.Unlock()
	rev, have, err := a.o.Sink.Digest(ctx)
	if err != nil {
		a.noteSendErr(err)
		return err
	}
	var upserts [][]byte
	var deletes []string
	for _, id := range sortedKeys(want) {
		if have[id] != inventory.Hash(want[id]) {
			upserts = append(upserts, want[id])
		}
	}
	for _, id := range sortedKeys(have) {
		if _, ok := want[id]; !ok {
			deletes = append(deletes, id)
		}
	}
	newRev, err := a.o.Sink.Write(ctx, rev, upserts, deletes, true)
	if err != nil {
		a.noteSendErr(err)
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.base, a.resync, a.synced, a.lastSync, a.sendErr = newRev, false, true, time.Now(), nil
	a.log.Info("synchronised", "objects", len(want), "sent", len(upserts), "deleted", len(deletes), "revision", newRev)
	return nil
}

func (a *Adapter) noteSendErr(err error) {
	a.mu.Lock()
	a.resync, a.sendErr = true, err
	a.mu.Unlock()
}

// heartbeat reports health: down while the cluster's API server or the
// manager cannot be reached, or while the first listing is still under
// way after an error; up otherwise.
func (a *Adapter) heartbeat(ctx context.Context) error {
	a.mu.Lock()
	status, reason := "up", ""
	switch {
	case a.kubeErr != nil && time.Since(a.kubeAt) < 2*a.o.Heartbeat:
		status, reason = "down", "watching the Kubernetes API: "+a.kubeErr.Error()
	case a.sendErr != nil && !errors.Is(a.sendErr, ErrMoved):
		status, reason = "down", "reporting to the manager: "+a.sendErr.Error()
	}
	if status != a.status {
		a.status, a.since = status, time.Now()
	}
	hb := wire.Heartbeat{Status: status, Error: reason, Interval: a.o.Heartbeat, Since: a.since, LastSync: a.lastSync,
		APIs: map[string]string{}, Counts: map[string]int{}, Adapter: a.o.Version}
	for k, s := range a.kinds {
		hb.APIs[string(k)] = s.version
		hb.Counts[string(k)] = len(s.informer.GetStore().ListKeys())
	}
	a.mu.Unlock()
	if v, err := a.o.Discovery.ServerVersion(); err == nil {
		hb.Kubernetes = v.GitVersion
	}
	cctx, cancel := context.WithTimeout(ctx, a.o.Heartbeat)
	defer cancel()
	if err := a.o.Sink.Heartbeat(cctx, hb); err != nil {
		if !errors.Is(err, ErrRevoked) {
			a.log.Warn("heartbeat failed", "error", err)
		}
		return err
	}
	return nil
}

// Synced reports whether the manager holds the cluster as last listed: a
// full synchronisation completed and none is due.
func (a *Adapter) Synced() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.synced && !a.resync
}

// Flush sends pending changes now rather than at the next batch tick.
func (a *Adapter) Flush() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

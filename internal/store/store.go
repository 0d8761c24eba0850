package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Limits kordon sets on its embedded etcd, and recommends for an external
// one: a hierarchical document is applied in one transaction, so a large
// one needs many operations and bytes.
const (
	MaxTxnOps       = 100000
	MaxRequestBytes = 64 << 20
	quotaBytes      = 8 << 30
	// snapshotCount and snapshotCatchUp bound the raft log the embedded
	// etcd keeps in memory (see startEmbedded).
	snapshotCount   = 100
	snapshotCatchUp = 10
)

// Options say where the state lives.
type Options struct {
	// DataDir holds the embedded etcd; used when Endpoints is empty.
	DataDir string
	// Endpoints of an external etcd cluster.
	Endpoints []string
	// TLS to the external cluster (all optional).
	CAFile, CertFile, KeyFile string
	// UnsafeNoFsync trades durability for speed; tests only.
	UnsafeNoFsync bool
	Logger        *slog.Logger
	// QuotaBytes is the backend quota of an external cluster, for the
	// usage metrics (default etcd's, 2 GiB); the embedded etcd's is 8 GiB.
	QuotaBytes int64
}

// Store is an open etcd keyspace.
type Store struct {
	cli   *clientv3.Client
	etcd  *embed.Etcd
	log   *slog.Logger
	quota int64
	close sync.Once
}

// Errors callers test for.
var (
	// ErrConflict: a precondition of a Commit failed; re-read and retry.
	ErrConflict = errors.New("store: precondition failed")
	// ErrCompacted: a Watch asked for history etcd no longer keeps.
	ErrCompacted = errors.New("store: revision compacted")
)

// Open starts the embedded etcd (or connects to the external cluster) and
// waits until it serves.
func Open(ctx context.Context, o Options) (*Store, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{log: log, quota: o.QuotaBytes}
	if s.quota <= 0 {
		s.quota = 2 << 30
	}
	endpoints := o.Endpoints
	var tlsInfo *transport.TLSInfo
	if len(endpoints) == 0 {
		e, ep, err := startEmbedded(ctx, o)
		if err != nil {
			return nil, err
		}
		s.etcd, endpoints, s.quota = e, []string{ep}, quotaBytes
	} else if o.CAFile != "" || o.CertFile != "" {
		tlsInfo = &transport.TLSInfo{TrustedCAFile: o.CAFile, CertFile: o.CertFile, KeyFile: o.KeyFile}
	}
	cfg := clientv3.Config{
		Endpoints: endpoints, DialTimeout: 10 * time.Second, Logger: zap.NewNop(),
		MaxCallSendMsgSize: MaxRequestBytes + 1<<20, MaxCallRecvMsgSize: 1 << 30,
		Context: context.WithoutCancel(ctx),
	}
	if tlsInfo != nil {
		tc, err := tlsInfo.ClientConfig()
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("etcd TLS: %w", err)
		}
		cfg.TLS = tc
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	s.cli = cli
	// A read proves the cluster is reachable and has a leader.
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := cli.Get(rctx, "/kordon-ping"); err != nil {
		s.Close()
		return nil, fmt.Errorf("etcd %v: %w", endpoints, err)
	}
	return s, nil
}

// maxSocketPath is the longest unix socket path Linux takes (108 bytes
// with the terminating NUL).
const maxSocketPath = 107

// socketDir is where the embedded etcd's unix sockets are: the data
// directory, so only its owner can reach them, or, when that path is too
// long for a socket, a private directory of this user's under the system's
// temporary directory, named after the data directory. The embedded etcd
// never listens on TCP: there it would need authentication of its own.
func socketDir(dir string) (string, error) {
	longest := "etcd-client.sock"
	if len(filepath.Join(dir, longest)) <= maxSocketPath {
		return dir, nil
	}
	sum := sha256.Sum256([]byte(dir))
	for _, base := range []string{os.TempDir(), "/tmp"} {
		d := filepath.Join(base, fmt.Sprintf("kordon-%d-%x", os.Getuid(), sum[:6]))
		if len(filepath.Join(d, longest)) > maxSocketPath {
			continue
		}
		if err := privateDir(d); err != nil {
			return "", fmt.Errorf("the data directory's path is too long for etcd's unix socket (at most %d bytes), and %v", maxSocketPath-len(longest)-1, err)
		}
		return d, nil
	}
	return "", fmt.Errorf("the data directory's path is too long for etcd's unix socket, and the temporary directory's too: use a shorter --data-dir")
}

// privateDir makes sure d is a directory only this user can enter: made
// now with mode 0700, or already one owned by this user with that mode.
func privateDir(d string) error {
	if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("cannot create %s for its sockets: %w", d, err)
	}
	fi, err := os.Lstat(d)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir() || fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%s exists and is not a directory", d)
	case !ok || int(st.Uid) != os.Getuid():
		return fmt.Errorf("%s belongs to another user; refusing to put etcd's sockets there", d)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("%s is open to other users (mode %v); refusing to put etcd's sockets there", d, fi.Mode().Perm())
	}
	return nil
}

// How long the embedded etcd's start may take: the check of its files,
// then until it serves.
const (
	checkTimeout = 2 * time.Minute
	readyTimeout = 60 * time.Second
)

// startEtcd starts etcd, turning a panic while it starts (its fatal log
// panics, see startEmbedded) into an error.
func startEtcd(cfg *embed.Config) (e *embed.Etcd, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("etcd failed while starting: %v", r)
		}
	}()
	return embed.StartEtcd(cfg)
}

// stopEtcd stops an etcd that did not become ready: the server first, as
// Close alone waits for listeners that wait for a ready server.
func stopEtcd(e *embed.Etcd) {
	e.Server.Stop()
	e.Close()
}

func startEmbedded(ctx context.Context, o Options) (*embed.Etcd, string, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DataDir == "" {
		return nil, "", fmt.Errorf("store: a data directory is required for the embedded etcd")
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("data directory %s: %w", dir, err)
	}
	cfg := embed.NewConfig()
	cfg.Dir = filepath.Join(dir, "etcd")
	cfg.Name = "kordon"
	sockets, err := socketDir(dir)
	if err != nil {
		return nil, "", err
	}
	client := url.URL{Scheme: "unix", Path: filepath.Join(sockets, "etcd-client.sock")}
	peer := url.URL{Scheme: "unix", Path: filepath.Join(sockets, "etcd-peer.sock")}
	for _, f := range []string{client.Path, peer.Path} {
		// A socket left by a killed process. The caller holds the data
		// directory's lock, so no running manager owns it.
		_ = os.Remove(f)
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.MaxTxnOps, cfg.MaxRequestBytes, cfg.QuotaBackendBytes = MaxTxnOps, MaxRequestBytes, quotaBytes
	// History is kept for an hour so watchers can resume after a
	// reconnection.
	cfg.AutoCompactionMode, cfg.AutoCompactionRetention = embed.CompactorModePeriodic, "1h"
	cfg.UnsafeNoFsync = o.UnsafeNoFsync
	// etcd keeps the raft log since its last snapshot in memory, and a
	// restart reads it all back from the WAL: a cluster's full
	// synchronisation is one transaction of megabytes, so the defaults
	// (a snapshot every 10,000 entries, 5,000 kept after it) held every
	// synchronisation of a large installation in memory after a restart.
	// A single member has no follower to catch up from the log.
	cfg.SnapshotCount, cfg.SnapshotCatchUpEntries = snapshotCount, snapshotCatchUp
	// etcd's warnings and errors reach the manager's log, and a fatal
	// error of etcd's while it starts becomes an error here, not an exit
	// without a word.
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(slogCore{log: o.Logger.With("component", "etcd"), level: zapcore.WarnLevel},
		zap.WithFatalHook(zapcore.WriteThenPanic)))
	// etcd hangs, panics or dies of SIGBUS on some damage of its files
	// (check.go); they are found first and named.
	if err := checkDataDir(cfg.Dir, checkTimeout); err != nil {
		return nil, "", err
	}
	e, err := startEtcd(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("embedded etcd in %s: %w", cfg.Dir, err)
	}
	// etcd listens for peers at a unix URL's host alone (for clients, at
	// host and path), so its peer listener is an abstract socket, which
	// any local user could reach; a single member has no peers: it is
	// closed at once.
	for _, p := range e.Peers {
		_ = p.Listener.Close()
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-ctx.Done():
		stopEtcd(e)
		return nil, "", fmt.Errorf("embedded etcd in %s: %w", cfg.Dir, ctx.Err())
	case <-time.After(readyTimeout):
		stopEtcd(e)
		return nil, "", fmt.Errorf("embedded etcd in %s did not become ready within %s", cfg.Dir, readyTimeout)
	}
	return e, client.String(), nil
}

// Close stops the client and the embedded etcd; later calls do nothing.
func (s *Store) Close() error {
	s.close.Do(func() {
		if s.cli != nil {
			s.cli.Close()
		}
		if s.etcd != nil {
			s.etcd.Close()
			<-s.etcd.Server.StopNotify()
		}
	})
	return nil
}

// Embedded reports whether the store runs its own etcd.
func (s *Store) Embedded() bool { return s.etcd != nil }

// KV is a stored value. Version counts writes since the key was created
// (1 for a new key); ModRevision is the store revision of its last write.
type KV struct {
	Key            string
	Value          []byte
	Version        int64
	CreateRevision int64
	ModRevision    int64
}

func fromPB(kv *mvccpb.KeyValue) KV {
	return KV{Key: string(kv.Key), Value: kv.Value, Version: kv.Version, CreateRevision: kv.CreateRevision, ModRevision: kv.ModRevision}
}

// Get reads one key.
func (s *Store) Get(ctx context.Context, key string) (KV, bool, error) {
	r, err := s.cli.Get(ctx, key)
	if err != nil {
		return KV{}, false, err
	}
	if len(r.Kvs) == 0 {
		return KV{}, false, nil
	}
	return fromPB(r.Kvs[0]), true, nil
}

// List reads every key under prefix, sorted, and the store revision the
// read reflects.
func (s *Store) List(ctx context.Context, prefix string) ([]KV, int64, error) {
	r, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, err
	}
	out := make([]KV, len(r.Kvs))
	for i, kv := range r.Kvs {
		out[i] = fromPB(kv)
	}
	return out, r.Header.Revision, nil
}

// scanPage is how many keys one read of Scan asks for.
const scanPage = 2000

// Scan calls fn with every key under prefix, sorted, as of one store
// revision, which it returns. It reads the keys a page at a time, so
// that a large state is never one response of hundreds of megabytes
// (with its copies in etcd, gRPC and here) but flows through fn. When
// the revision is compacted between pages (etcd keeps it an hour) the
// read fails with ErrCompacted, and fn has seen part of the keys.
func (s *Store) Scan(ctx context.Context, prefix string, fn func(KV) error) (int64, error) {
	end := clientv3.GetPrefixRangeEnd(prefix)
	from, rev := prefix, int64(0)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(scanPage)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		r, err := s.cli.Get(ctx, from, opts...)
		if errors.Is(err, rpctypes.ErrCompacted) {
			return 0, fmt.Errorf("%w: reading %s at revision %d", ErrCompacted, prefix, rev)
		}
		if err != nil {
			return 0, err
		}
		if rev == 0 {
			rev = r.Header.Revision
		}
		for _, kv := range r.Kvs {
			if err := fn(fromPB(kv)); err != nil {
				return 0, err
			}
		}
		if !r.More || len(r.Kvs) == 0 {
			return rev, nil
		}
		from = string(r.Kvs[len(r.Kvs)-1].Key) + "\x00"
	}
}

// Revision returns the store's current revision.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	r, err := s.cli.Get(ctx, "/kordon-ping", clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return r.Header.Revision, nil
}

// Op is one write of a Commit. Delete removes Key (with Prefix, every key
// under it); otherwise Value is stored.
type Op struct {
	Key    string
	Value  []byte
	Delete bool
	Prefix bool
}

// Cond is a precondition of a Commit: the key's current ModRevision (0
// when the key must not exist) or its Version, or (Exists) that the key
// exists; or (NotAfter) that no key under the prefix Key was written
// after a revision, the revision a List of the prefix answered at: a
// decision made from the list still holds (a key deleted since does not
// count).
type Cond struct {
	Key         string
	ModRevision *int64
	Version     *int64
	Exists      bool
	NotAfter    *int64
}

// Commit applies ops atomically if every condition holds, and returns the
// revision of the write. A failed condition returns ErrConflict and writes
// nothing.
func (s *Store) Commit(ctx context.Context, conds []Cond, ops []Op) (int64, error) {
	if len(ops) > MaxTxnOps {
		return 0, fmt.Errorf("store: %d writes in one change; the limit is %d", len(ops), MaxTxnOps)
	}
	var cmps []clientv3.Cmp
	for _, c := range conds {
		if c.ModRevision != nil {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(c.Key), "=", *c.ModRevision))
		}
		if c.Version != nil {
			cmps = append(cmps, clientv3.Compare(clientv3.Version(c.Key), "=", *c.Version))
		}
		if c.Exists {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(c.Key), ">", 0))
		}
		if c.NotAfter != nil {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(c.Key), "<", *c.NotAfter+1).WithPrefix())
		}
	}
	var puts []clientv3.Op
	for _, o := range ops {
		switch {
		case o.Delete && o.Prefix:
			puts = append(puts, clientv3.OpDelete(o.Key, clientv3.WithPrefix()))
		case o.Delete:
			puts = append(puts, clientv3.OpDelete(o.Key))
		default:
			puts = append(puts, clientv3.OpPut(o.Key, string(o.Value)))
		}
	}
	r, err := s.cli.Txn(ctx).If(cmps...).Then(puts...).Commit()
	if err != nil {
		return 0, err
	}
	if !r.Succeeded {
		return 0, ErrConflict
	}
	return r.Header.Revision, nil
}

// Event is one change seen by a watch.
type Event struct {
	KV
	Deleted bool
}

// Batch is the changes of one store revision (one transaction), or the
// error that ended the watch.
type Batch struct {
	Revision int64
	Events   []Event
	Err      error
}

// Watch streams the changes under prefix from revision from (inclusive),
// one batch per transaction, until ctx ends. The channel closes after a
// batch carrying Err (ErrCompacted when from is older than the history
// etcd keeps).
func (s *Store) Watch(ctx context.Context, prefix string, from int64) <-chan Batch {
	out := make(chan Batch, 64)
	go func() {
		defer close(out)
		wc := s.cli.Watch(clientv3.WithRequireLeader(ctx), prefix, clientv3.WithPrefix(), clientv3.WithRev(from), clientv3.WithProgressNotify())
		for resp := range wc {
			if resp.CompactRevision != 0 {
				out <- Batch{Err: fmt.Errorf("%w: revision %d is older than %d", ErrCompacted, from, resp.CompactRevision)}
				return
			}
			if err := resp.Err(); err != nil {
				out <- Batch{Err: err}
				return
			}
			var cur *Batch
			for _, ev := range resp.Events {
				rev := ev.Kv.ModRevision
				if cur != nil && cur.Revision != rev {
					out <- *cur
					cur = nil
				}
				if cur == nil {
					cur = &Batch{Revision: rev}
				}
				cur.Events = append(cur.Events, Event{KV: fromPB(ev.Kv), Deleted: ev.Type == mvccpb.DELETE})
			}
			if cur != nil {
				out <- *cur
			} else if resp.IsProgressNotify() {
				out <- Batch{Revision: resp.Header.Revision}
			}
		}
		if ctx.Err() == nil {
			out <- Batch{Err: errors.New("store: watch closed")}
		}
	}()
	return out
}

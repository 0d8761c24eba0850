package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

func open(t *testing.T, o Options) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ptr[T any](v T) *T { return &v }

// external starts an etcd on loopback, as an operator's cluster would be.
func external(t *testing.T) string {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	u, _ := url.Parse("http://127.0.0.1:0")
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*u}, []url.URL{*u}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*u}, []url.URL{*u}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = true
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	<-e.Server.ReadyNotify()
	t.Cleanup(e.Close)
	return "http://" + e.Clients[0].Addr().String()
}

func TestStore(t *testing.T) {
	for _, mode := range []string{"embedded", "external"} {
		t.Run(mode, func(t *testing.T) {
			o := Options{DataDir: t.TempDir(), UnsafeNoFsync: true}
			if mode == "external" {
				o = Options{Endpoints: []string{external(t)}}
			}
			s := open(t, o)
			if s.Embedded() != (mode == "embedded") {
				t.Fatal("Embedded() is wrong")
			}
			testStore(t, s)
		})
	}
}

func testStore(t *testing.T, s *Store) {
	ctx := context.Background()
	start, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	watch := s.Watch(ctx, Root+"t/", start+1)
	rev1, err := s.Commit(ctx, []Cond{{Key: Root + "t/a", ModRevision: ptr[int64](0)}},
		[]Op{{Key: Root + "t/a", Value: []byte("1")}, {Key: Root + "t/b", Value: []byte("2")}})
	if err != nil {
		t.Fatal(err)
	}
	// The same precondition now fails and writes nothing.
	if _, err := s.Commit(ctx, []Cond{{Key: Root + "t/a", ModRevision: ptr[int64](0)}}, []Op{{Key: Root + "t/c", Value: []byte("3")}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale precondition: %v", err)
	}
	if _, ok, _ := s.Get(ctx, Root+"t/c"); ok {
		t.Fatal("a failed commit wrote")
	}
	kv, ok, err := s.Get(ctx, Root+"t/a")
	if err != nil || !ok || string(kv.Value) != "1" || kv.Version != 1 || kv.ModRevision != rev1 {
		t.Fatalf("Get = %+v %v %v", kv, ok, err)
	}
	rev2, err := s.Commit(ctx, []Cond{{Key: Root + "t/a", Version: ptr[int64](1)}}, []Op{{Key: Root + "t/a", Value: []byte("1b")}, {Key: Root + "t/b", Delete: true}})
	if err != nil {
		t.Fatal(err)
	}
	list, rev, err := s.List(ctx, Root+"t/")
	if err != nil || rev != rev2 || len(list) != 1 || list[0].Version != 2 {
		t.Fatalf("List = %+v rev %d (want %d) %v", list, rev, rev2, err)
	}
	if _, err := s.Commit(ctx, nil, []Op{{Key: Root + "t/", Delete: true, Prefix: true}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 3 {
		select {
		case b := <-watch:
			if b.Err != nil {
				t.Fatal(b.Err)
			}
			if len(b.Events) == 0 {
				continue
			}
			got = append(got, fmt.Sprintf("rev+%d:%d", b.Revision-start, len(b.Events)))
		case <-time.After(10 * time.Second):
			t.Fatalf("watch saw only %v", got)
		}
	}
	// One batch per transaction: 2 puts, then a put and a delete, then a
	// prefix delete of the remaining key.
	if want := []string{"rev+1:2", "rev+2:2", "rev+3:1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("watch batches %v, want %v", got, want)
	}
}

func TestWatchCompacted(t *testing.T) {
	s := open(t, Options{DataDir: t.TempDir(), UnsafeNoFsync: true})
	ctx := context.Background()
	var rev int64
	for i := 0; i < 3; i++ {
		var err error
		if rev, err = s.Commit(ctx, nil, []Op{{Key: Root + "x", Value: []byte{byte(i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.cli.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	b := <-s.Watch(ctx, Root, rev-1)
	if !errors.Is(b.Err, ErrCompacted) {
		t.Fatalf("watch from a compacted revision: %+v", b)
	}
}

// TestDurable reopens the embedded store: what a commit acknowledged is
// there (fsync stays on, as in production).
// More commits than snapshotCount make etcd snapshot its log, so the
// reopened store is read from a snapshot and the log after it.
func TestDurable(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{DataDir: dir})
	var rev int64
	for i := range snapshotCount*2 + 7 {
		var err error
		if rev, err = s.Commit(context.Background(), nil, []Op{{Key: fmt.Sprintf("%sk%d", Root, i%10), Value: []byte(fmt.Sprint(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = open(t, Options{DataDir: dir})
	kv, ok, err := s.Get(context.Background(), Root+"k6")
	if err != nil || !ok || string(kv.Value) != fmt.Sprint(snapshotCount*2+6) || kv.ModRevision != rev {
		t.Fatalf("after reopen: %+v %v %v", kv, ok, err)
	}
	if snaps, _ := filepath.Glob(filepath.Join(dir, "etcd", "member", "snap", "*.snap")); len(snaps) == 0 {
		t.Error("etcd took no snapshot")
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(context.Background(), Options{}); err == nil {
		t.Error("no data directory and no endpoints must fail")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := Open(ctx, Options{Endpoints: []string{"http://127.0.0.1:1"}}); err == nil {
		t.Error("an unreachable external etcd must fail")
	}
	_ = clientv3.WithPrefix
}

// TestNotAfter: a decision made from a List of a prefix commits only if
// nothing under the prefix was written since; deletions do not count.
func TestNotAfter(t *testing.T) {
	s := open(t, Options{DataDir: t.TempDir(), UnsafeNoFsync: true})
	ctx := context.Background()
	p := Root + "n/"
	if _, err := s.Commit(ctx, nil, []Op{{Key: p + "a", Value: []byte("1")}, {Key: p + "b", Value: []byte("1")}}); err != nil {
		t.Fatal(err)
	}
	_, rev, err := s.List(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	cond := []Cond{{Key: p, NotAfter: &rev}}
	if _, err := s.Commit(ctx, nil, []Op{{Key: p + "b", Delete: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, cond, []Op{{Key: Root + "decided", Value: []byte("1")}}); err != nil {
		t.Fatalf("a deletion under the prefix failed the condition: %v", err)
	}
	if _, err := s.Commit(ctx, nil, []Op{{Key: p + "c", Value: []byte("new")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, cond, []Op{{Key: Root + "decided", Value: []byte("2")}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("a key written after the list: %v, want a conflict", err)
	}
	empty := []Cond{{Key: Root + "nothing-here/", NotAfter: &rev}}
	if _, err := s.Commit(ctx, empty, []Op{{Key: Root + "decided", Value: []byte("3")}}); err != nil {
		t.Fatalf("an empty prefix: %v", err)
	}
}

// Scan reads every key of a prefix a page at a time, as of the revision
// of its first page: keys written between two pages are not seen, nor
// are keys beside the prefix; a revision compacted between pages fails
// the scan with ErrCompacted.
func TestScan(t *testing.T) {
	s := open(t, Options{DataDir: t.TempDir(), UnsafeNoFsync: true})
	ctx := context.Background()
	n := 2*scanPage + 7
	var ops []Op
	for i := range n {
		ops = append(ops, Op{Key: fmt.Sprintf("%sscan/%06d", Root, i), Value: []byte{byte(i)}})
	}
	ops = append(ops, Op{Key: Root + "scan", Value: []byte("beside")}, Op{Key: Root + "scan0", Value: []byte("beside")})
	rev, err := s.Commit(ctx, nil, ops)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var later int64
	got, err := s.Scan(ctx, Root+"scan/", func(kv KV) error {
		if len(keys) == scanPage { // between the first two pages
			if later, err = s.Commit(ctx, nil, []Op{{Key: Root + "scan/000000a", Value: []byte("new")}, {Key: Root + "scan/999999", Value: []byte("new")}}); err != nil {
				return err
			}
		}
		keys = append(keys, kv.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != rev || later <= rev {
		t.Errorf("scanned at revision %d, want %d (written during the scan at %d)", got, rev, later)
	}
	if len(keys) != n {
		t.Fatalf("%d keys, want %d", len(keys), n)
	}
	for i, k := range keys {
		if want := fmt.Sprintf("%sscan/%06d", Root, i); k != want {
			t.Fatalf("key %d: %s, want %s", i, k, want)
		}
	}
	stop := errors.New("stop")
	if _, err := s.Scan(ctx, Root+"scan/", func(KV) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("an error of fn: %v", err)
	}
	seen := 0
	_, err = s.Scan(ctx, Root+"scan/", func(KV) error {
		if seen++; seen == scanPage {
			now, err := s.Commit(ctx, nil, []Op{{Key: Root + "scan/000000b", Value: []byte("new")}})
			if err != nil {
				return err
			}
			if _, err := s.cli.Compact(ctx, now); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, ErrCompacted) {
		t.Errorf("a scan whose revision was compacted between pages: %v", err)
	}
}

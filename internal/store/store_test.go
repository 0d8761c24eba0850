package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
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
func TestDurable(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{DataDir: dir})
	rev, err := s.Commit(context.Background(), nil, []Op{{Key: Root + "k", Value: []byte("v")}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, Options{DataDir: dir})
	kv, ok, err := s.Get(context.Background(), Root+"k")
	if err != nil || !ok || string(kv.Value) != "v" || kv.ModRevision != rev {
		t.Fatalf("after reopen: %+v %v %v", kv, ok, err)
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

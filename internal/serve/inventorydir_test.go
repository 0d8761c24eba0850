package serve

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/store"
)

// restartable is a manager over a store in a data directory that
// outlives it, so that a test can stop it and start another on the same
// state, as a restart does.
type restartable struct {
	tb      testing.TB
	dataDir string
	ring    pki.Keyring
	m       *manager.Manager
	stop    func()
}

func newRestartable(tb testing.TB) *restartable {
	r := &restartable{tb: tb, dataDir: tb.TempDir(), ring: pki.KeyringForTest()}
	r.start(func(ctx context.Context, st *store.Store) {
		if _, err := manager.Initialize(ctx, st, time.Now(), r.ring); err != nil {
			tb.Fatal(err)
		}
	})
	tb.Cleanup(func() { r.stop() })
	return r
}

// start opens the store and runs a manager on it until it has loaded
// its state; it returns how long that took.
func (r *restartable) start(init func(context.Context, *store.Store)) time.Duration {
	t0 := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, store.Options{DataDir: r.dataDir, UnsafeNoFsync: true})
	if err != nil {
		r.tb.Fatal(err)
	}
	if init != nil {
		init(ctx, st)
	}
	m := manager.New(manager.Options{Store: st, Seal: r.ring})
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	<-m.ReadyC()
	r.m, r.stop = m, func() { cancel(); <-done; st.Close() }
	return time.Since(t0)
}

func (r *restartable) restart() time.Duration {
	r.stop()
	return r.start(nil)
}

func (r *restartable) source(dir string) *dirSource {
	return &dirSource{dir: dir, m: r.m, o: Options{Logger: slog.New(slog.DiscardHandler)}}
}

// lbService is a kubectl dump of one LoadBalancer Service at ip.
func lbService(ip string) string {
	return "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {type: LoadBalancer, ports: [{port: 443}]}\n" +
		"status: {loadBalancer: {ingress: [{ip: " + ip + "}]}}\n"
}

func (r *restartable) vip(cluster string) string {
	var out string
	r.m.Read(func(v manager.View) {
		if o, ok := v.Index().Object(inventory.Key{Cluster: cluster, Kind: inventory.KindService, Namespace: "shop", Name: "web"}); ok {
			out = o.(*inventory.Service).LoadBalancer[0].IP.String()
		}
	})
	return out
}

// TestInventoryDirDigests checks that a cluster's files are decoded
// again only when their content changed since its inventory was stored,
// across restarts, and whatever their sizes and times say.
func TestInventoryDirDigests(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for i, c := range []string{"east", "west"} {
		os.MkdirAll(filepath.Join(dir, c), 0o755)
		files[c] = filepath.Join(dir, c, "svc.yaml")
		os.WriteFile(files[c], []byte(lbService(netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}).String())), 0o644)
	}
	r := newRestartable(t)
	ctx := context.Background()
	check := func(step string, got dirSync, decoded, unchanged int) {
		t.Helper()
		if got.decoded != decoded || got.unchanged != unchanged {
			t.Fatalf("%s: decoded %d, unchanged %d; want %d, %d", step, got.decoded, got.unchanged, decoded, unchanged)
		}
	}
	check("first start", r.source(dir).sync(ctx), 2, 0)
	check("again", r.source(dir).sync(ctx), 0, 2)
	r.restart()
	check("restart", r.source(dir).sync(ctx), 0, 2)
	if got := r.vip("east"); got != "192.0.2.1" {
		t.Fatalf("after a restart, east's VIP is %q", got)
	}

	// Same size, same time, other content: only a digest of the content
	// sees it.
	info, _ := os.Stat(files["east"])
	os.WriteFile(files["east"], []byte(lbService("192.0.2.9")), 0o644)
	os.Chtimes(files["east"], info.ModTime(), info.ModTime())
	r.restart()
	check("east edited", r.source(dir).sync(ctx), 1, 1)
	if got := r.vip("east"); got != "192.0.2.9" {
		t.Fatalf("east's VIP is %q after its file changed", got)
	}

	// Removing a cluster forgets what it was read from.
	if err := r.m.RemoveCluster(ctx, "west"); err != nil {
		t.Fatal(err)
	}
	check("west removed", r.source(dir).sync(ctx), 1, 1)
	if got := r.vip("west"); got != "192.0.2.2" {
		t.Fatalf("west's VIP is %q after the directory served it again", got)
	}

	// A file added is a change too.
	os.WriteFile(filepath.Join(dir, "west", "more.yaml"), []byte(strings.ReplaceAll(lbService("192.0.2.3"), "name: web", "name: api")), 0o644)
	check("file added", r.source(dir).sync(ctx), 1, 1)
}

package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/benchdata"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/store"
)

// benchAPI is newAPI for benchmarks, with fsync on (production
// durability) unless fast is set.
func benchAPI(b *testing.B, fast bool) (*api, *store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, store.Options{DataDir: b.TempDir(), UnsafeNoFsync: fast})
	if err != nil {
		b.Fatal(err)
	}
	ring := pki.KeyringForTest()
	boot, err := manager.Initialize(ctx, st, time.Now(), ring)
	if err != nil {
		b.Fatal(err)
	}
	m := manager.New(manager.Options{Store: st, Seal: ring, ReportGap: time.Nanosecond})
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	for !m.Ready() {
		time.Sleep(5 * time.Millisecond)
	}
	srv := newTLSServer(New(Options{Manager: m, MaxBody: 256 << 20}))
	b.Cleanup(func() { srv.Close(); cancel(); <-done; st.Close() })
	return &api{t: b, srv: srv, m: m, admin: boot.AdminToken}, st
}

// send issues a request, failing the benchmark on an error status.
func (a *api) send(b *testing.B, method, path, body string) string {
	code, out := a.do(a.admin, method, path, body)
	if code != 200 {
		b.Fatalf("%s %s: %d %s", method, path, code, out)
	}
	return out
}

func percentile(d []time.Duration, p int) time.Duration {
	slices.Sort(d)
	return d[(len(d)-1)*p/100]
}

// BenchmarkAPIWrites measures single-object writes through the API (TLS,
// validation, one etcd transaction with fsync, waiting until applied),
// against one bare etcd transaction measured in the same run:
//
//	go test ./internal/apiserver -run '^$' -bench APIWrites -benchtime 500x
func BenchmarkAPIWrites(b *testing.B) {
	for _, kind := range []string{"groups", "rules"} {
		b.Run(kind, func(b *testing.B) {
			a, st := benchAPI(b, false)
			ctx := context.Background()
			base := time.Now()
			for i := 0; i < 200; i++ {
				if _, err := st.Commit(ctx, nil, []store.Op{{Key: fmt.Sprintf("/bench/%d", i), Value: []byte(`{"x":1}`)}}); err != nil {
					b.Fatal(err)
				}
			}
			etcdPer := time.Since(base) / 200
			pol := "/policy/api/v1/infra/domains/default/security-policies/p"
			a.send(b, "PATCH", groups+"/vms", ipGrp)
			a.send(b, "PATCH", pol, `{"category":"Application"}`)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if kind == "groups" {
					a.send(b, "PATCH", fmt.Sprintf("%s/g%d", groups, i), fmt.Sprintf(`{"expression":[{"resource_type":"IPAddressExpression","ip_addresses":["10.%d.%d.%d"]}]}`, i>>16&255, i>>8&255, i&255))
				} else {
					a.send(b, "PATCH", fmt.Sprintf("%s/rules/r%d", pol, i), fmt.Sprintf(`{"sequence_number":%d,"source_groups":["/infra/domains/default/groups/vms"],"action":"DROP"}`, i))
				}
			}
			b.StopTimer()
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(time.Second)/float64(per), "writes/s")
			b.ReportMetric(float64(per)/float64(etcdPer), "x-etcd-txn")
		})
	}
}

// atScale loads the foundation issue's scale into a manager behind the
// API: 100 clusters of inventory and 10,010 groups. KORDON_BENCH_CLUSTERS
// lowers the cluster count for a quicker run.
func atScale(b *testing.B) (*api, benchdata.Scale, []string) {
	s := benchdata.Full
	if n := os.Getenv("KORDON_BENCH_CLUSTERS"); n != "" {
		fmt.Sscan(n, &s.Clusters)
	}
	a, _ := benchAPI(b, true)
	ctx := context.Background()
	byCluster := map[string][]inventory.Object{}
	for _, o := range s.Inventory() {
		byCluster[o.GetMeta().Cluster] = append(byCluster[o.GetMeta().Cluster], o)
	}
	for c, objs := range byCluster {
		if _, err := a.m.SyncCluster(ctx, manager.Cluster{Name: c, ID: c, Source: "bench"}, objs); err != nil {
			b.Fatal(err)
		}
	}
	gs := s.Groups()
	doc := &model.Infra{}
	dom := &model.Domain{}
	dom.ID = "default"
	var paths []string
	for _, p := range model.Paths(gs) {
		g := gs[p]
		g.ID = p[strings.LastIndex(p, "/")+1:]
		dom.Children = append(dom.Children, model.Wrap(g))
		paths = append(paths, p)
	}
	doc.Children = model.ChildList{model.Wrap(dom)}
	body, _ := json.Marshal(doc)
	a.send(b, "PATCH", "/policy/api/v1/infra", string(body))
	return a, s, paths
}

// BenchmarkAtScale measures, with the foundation's scale loaded: member
// queries through the API (p50, p99) against the same reads in process,
// and the time from an inventory change to its event on the watch
// stream (p50, p99) against a bare etcd put-to-watch in the same run.
//
//	go test ./internal/apiserver -run '^$' -bench AtScale -benchtime 2000x -timeout 30m
func BenchmarkAtScale(b *testing.B) {
	a, s, paths := atScale(b)
	seq := 0 // VIPs stay new across the framework's repeated runs
	b.Run("member-queries", func(b *testing.B) {
		rnd := rand.New(rand.NewPCG(1, 2))
		var api, local []time.Duration
		for i := 0; i < b.N; i++ {
			p := paths[rnd.IntN(len(paths))]
			t0 := time.Now()
			a.send(b, "GET", "/policy/api/v1"+p+"/members/effective", "")
			api = append(api, time.Since(t0))
			t1 := time.Now()
			a.m.Read(func(v manager.View) { _ = effective(v, p) })
			local = append(local, time.Since(t1))
		}
		b.ReportMetric(float64(percentile(api, 50).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(percentile(api, 99).Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(percentile(api, 50))/float64(percentile(local, 50)), "x-in-process")
	})
	b.Run("inventory-to-watch-event", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", a.srv.URL+"/policy/api/v1/kordon/watch?types=membership", nil)
		req.Header.Set("Authorization", "Bearer "+a.admin)
		resp, err := a.srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		lines := bufio.NewScanner(resp.Body)
		lines.Buffer(make([]byte, 1<<20), 1<<26)
		lines.Scan() // start
		var lat []time.Duration
		for i := 0; i < b.N; i++ {
			// A LoadBalancer Service's VIP moves to an address it never had.
			seq++
			c := seq % s.Clusters
			svc := s.Service(fmt.Sprintf("cluster-%03d", c), c, (seq/s.Clusters%50)*20+12, 0)
			svc.LoadBalancer = []inventory.LoadBalancerIngress{{IP: benchdata.Addr4(45, seq>>16&255, seq>>8&255, seq&255)}}
			t0 := time.Now()
			if _, err := a.m.UpdateInventory(ctx, svc.Cluster, []inventory.Object{svc}, nil); err != nil {
				b.Fatal(err)
			}
			for lines.Scan() && !strings.Contains(lines.Text(), `"type":"membership"`) {
			}
			lat = append(lat, time.Since(t0))
		}
		base := etcdWatchLatency(b, 200)
		b.ReportMetric(float64(percentile(lat, 50).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(percentile(lat, 99).Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(percentile(lat, 50))/float64(base), "x-etcd-watch")
	})
}

// etcdWatchLatency is the median time from a put to its watch event on a
// bare embedded etcd.
func etcdWatchLatency(b *testing.B, n int) time.Duration {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, store.Options{DataDir: b.TempDir(), UnsafeNoFsync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	rev, _ := st.Revision(ctx)
	w := st.Watch(ctx, "/w/", rev+1)
	var lat []time.Duration
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := st.Commit(ctx, nil, []store.Op{{Key: fmt.Sprintf("/w/%d", i), Value: []byte("x")}}); err != nil {
			b.Fatal(err)
		}
		<-w
		lat = append(lat, time.Since(t0))
	}
	return percentile(lat, 50)
}

// BenchmarkWriteUnderReadFlood measures the latency of admin writes while
// readers export the configuration (GET /infra, 5 MB here) as fast as they
// can, as a ratio to the same writes on an idle manager in the same run
// (goal: p99 within 3x). The readers are 120 goroutines over 12 reader
// tokens; the heavy-read limiter keeps them from taking every CPU.
//
//	go test ./internal/apiserver -run '^$' -bench WriteUnderReadFlood -benchtime 200x
func BenchmarkWriteUnderReadFlood(b *testing.B) {
	a, _ := benchAPI(b, false)
	ctx := context.Background()
	var doc strings.Builder
	doc.WriteString(`{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","Domain":{"id":"default","children":[`)
	for i := range 5000 {
		if i > 0 {
			doc.WriteString(",")
		}
		fmt.Fprintf(&doc, `{"resource_type":"ChildGroup","Group":{"id":"g%d","description":"%s","expression":[{"resource_type":"IPAddressExpression","ip_addresses":["10.%d.%d.0/24"]}]}}`,
			i, strings.Repeat("d", 800), i/256, i%256)
	}
	doc.WriteString(`]}}]}`)
	a.send(b, "PATCH", "/policy/api/v1/infra", doc.String())
	export := a.send(b, "GET", "/policy/api/v1/infra", "")
	var readers []string
	for i := range 12 {
		tok, _, err := a.m.CreateToken(ctx, manager.TokenRequest{ID: fmt.Sprintf("r%d", i), Role: access.Reader})
		if err != nil {
			b.Fatal(err)
		}
		readers = append(readers, tok)
	}
	writes := func(n int, tag string) []time.Duration {
		out := make([]time.Duration, 0, n)
		for i := range n {
			start := time.Now()
			a.send(b, "PATCH", fmt.Sprintf("%s/%s-%d", groups, tag, i), ipGrp)
			out = append(out, time.Since(start))
		}
		return out
	}
	n := max(b.N, 20)
	idle := writes(n, "idle")
	stop := make(chan struct{})
	done := make(chan int, 120)
	for r := range 120 {
		go func() {
			reads := 0
			for {
				select {
				case <-stop:
					done <- reads
					return
				default:
				}
				if code, _ := a.do(readers[r%len(readers)], "GET", "/policy/api/v1/infra", ""); code == 200 {
					reads++
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	b.ResetTimer()
	start := time.Now()
	flood := writes(n, "flood")
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	reads := 0
	for range 120 {
		reads += <-done
	}
	ip50, ip99 := percentile(idle, 50), percentile(idle, 99)
	fp50, fp99 := percentile(flood, 50), percentile(flood, 99)
	b.ReportMetric(float64(ip50.Microseconds())/1000, "idle-p50-ms")
	b.ReportMetric(float64(ip99.Microseconds())/1000, "idle-p99-ms")
	b.ReportMetric(float64(fp50.Microseconds())/1000, "flood-p50-ms")
	b.ReportMetric(float64(fp99.Microseconds())/1000, "flood-p99-ms")
	b.ReportMetric(float64(fp50)/float64(ip50), "p50-ratio")
	b.ReportMetric(float64(fp99)/float64(ip99), "p99-ratio")
	b.ReportMetric(float64(reads)/elapsed.Seconds(), "exports/s")
	b.ReportMetric(float64(len(export))/(1<<20), "export-MB")
}

package serve

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/benchdata"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
)

// BenchmarkApplyOneChange measures an API apply of the scale's whole
// configuration (10,010 groups and 10,000 rules: ~20,100 objects) in which
// one group changed, against the first apply of the same document in the
// same run (goal: at least 20x cheaper). After the first apply, the
// objects sent as they were are neither decoded again (the API's decode
// cache), nor compared with what is stored (the manager wrote them from
// the same bytes), nor validated again (only the changed group and what
// names it are): what is left in proportion to the document is reading
// it once and hashing each object.
//
//	go test ./internal/serve -run '^$' -bench ApplyOneChange -benchtime 3x -timeout 30m
//
// KORDON_BENCH_CLUSTERS sets the inventory's cluster count (default 10:
// the inventory changes what members cost, not what an apply decides).
func BenchmarkApplyOneChange(b *testing.B) {
	s := benchdata.Full
	s.Clusters = 10
	if n := os.Getenv("KORDON_BENCH_CLUSTERS"); n != "" {
		fmt.Sscan(n, &s.Clusters)
	}
	in := newInstallation(b)
	byCluster := map[string][]inventory.Object{}
	for _, o := range s.Inventory() {
		byCluster[o.GetMeta().Cluster] = append(byCluster[o.GetMeta().Cluster], o)
	}
	for c, objs := range byCluster {
		if _, err := in.m.SyncCluster(context.Background(), manager.Cluster{Name: c, ID: c, Source: "bench"}, objs); err != nil {
			b.Fatal(err)
		}
	}
	plain, paths := scaleDoc(b, s, "")
	changed, _ := scaleDoc(b, s, paths[len(paths)/2])
	apply := func(doc []byte) time.Duration {
		t0 := time.Now()
		if w := in.do(http.MethodPatch, "/policy/api/v1/infra", string(doc), "", in.admin, nil); w.Code != 200 {
			b.Fatalf("apply: %d %s", w.Code, w.Body.String()[:min(400, w.Body.Len())])
		}
		return time.Since(t0)
	}
	first := apply(plain)
	var once []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The group changes, then changes back: one group each time.
		once = append(once, apply(changed), apply(plain))
	}
	b.ReportMetric(float64(first.Milliseconds()), "first-ms")
	b.ReportMetric(float64(median(once).Milliseconds()), "one-change-ms")
	b.ReportMetric(float64(first)/float64(median(once)), "x-cheaper")
}

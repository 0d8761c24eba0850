package serve

import (
	"context"
	"fmt"
	"os"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/benchdata"
)

// BenchmarkInventoryDirRestart measures a warm restart of a manager
// serving an inventory directory at the scale of the fixtures (100
// clusters, 339,000 objects as `kubectl get -o json` prints them): the
// time until its state is loaded from etcd and the directory is synced,
// against loading the state alone (x-load-state), in the same run; and
// the first sync of the directory (cold-sync-s), which decodes it all:
//
//	go test ./internal/serve -run '^$' -bench InventoryDirRestart -benchtime 3x -timeout 60m
//
// KORDON_BENCH_CLUSTERS lowers the cluster count for a quicker run.
func BenchmarkInventoryDirRestart(b *testing.B) {
	s := benchdata.Full
	if n := os.Getenv("KORDON_BENCH_CLUSTERS"); n != "" {
		fmt.Sscan(n, &s.Clusters)
	}
	f, err := s.WriteFiles(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	r := newRestartable(b)
	t0 := time.Now()
	if n := r.source(f.Inventory).sync(ctx); n.decoded != s.Clusters || n.objects != f.Objects {
		b.Fatalf("first sync: %+v, want %d clusters and %d objects", n, s.Clusters, f.Objects)
	}
	cold := time.Since(t0)
	b.ResetTimer()
	var state, ready time.Duration
	var peak uint64
	for i := 0; i < b.N; i++ {
		stop := sampleHeap(&peak)
		st := r.restart()
		t1 := time.Now()
		n := r.source(f.Inventory).sync(ctx)
		ready += st + time.Since(t1)
		stop()
		state += st
		if n.decoded != 0 || n.unchanged != s.Clusters {
			b.Fatalf("warm restart: %+v, want every cluster unchanged", n)
		}
	}
	b.StopTimer()
	b.ReportMetric(cold.Seconds(), "cold-sync-s")
	b.ReportMetric(state.Seconds()/float64(b.N), "load-state-s")
	b.ReportMetric(ready.Seconds()/float64(b.N), "ready-s")
	b.ReportMetric(float64(ready)/float64(state), "x-load-state")
	b.ReportMetric(float64(peak>>20), "peak-heap-MiB")
}

// sampleHeap records in peak the largest heap seen every 20 ms until
// stop is called; stop waits for the sampler to end.
func sampleHeap(peak *uint64) (stop func()) {
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			*peak = max(*peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-ended }
}

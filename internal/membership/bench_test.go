package membership

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"slices"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/benchdata"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
)

// build computes everything from scratch, as a manager starting with a
// stored configuration and inventory does.
func build(objs []inventory.Object, groups map[string]*model.Group) *Index {
	x := New()
	if err := x.Load(objs, groups); err != nil {
		panic(err)
	}
	return x
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkMembershipFullBuild measures computing every membership from
// scratch at the foundation issue's scale. Run it on one core:
//
//	go test ./internal/membership -run '^$' -bench FullBuild -cpu 1 -benchtime 3x
func BenchmarkMembershipFullBuild(b *testing.B) {
	s := benchdata.Full
	objs, groups := s.Inventory(), s.Groups()
	b.ReportMetric(float64(len(objs)), "objects")
	b.ReportMetric(float64(len(groups)), "groups")
	// The baseline, in this run: the least any index must do, filing
	// every object under its key.
	// The median of five, as one run is at the mercy of the collector.
	var runs []time.Duration
	for range 5 {
		start := time.Now()
		byKey := make(map[inventory.Key]inventory.Object, len(objs))
		for _, o := range objs {
			byKey[inventory.KeyOf(o)] = o
		}
		runs = append(runs, time.Since(start))
		runtime.KeepAlive(byKey)
	}
	slices.Sort(runs)
	baseline := runs[2]
	base := heapInUse()
	peak := startPeakSampler()
	var x *Index
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x = nil
		x = build(objs, groups)
	}
	b.StopTimer()
	b.ReportMetric(float64(peak()-base)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(heapInUse()-base)/(1<<20), "heap-MB")
	b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(baseline), "x-keyed-map")
	runtime.KeepAlive(x)
}

// startPeakSampler samples the live heap every 5 ms (through
// runtime/metrics, which does not stop the world) until the returned
// function is called; that returns the highest value seen.
func startPeakSampler() func() uint64 {
	done, result := make(chan struct{}), make(chan uint64)
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				result <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); return <-result }
}

// BenchmarkMembershipIncremental measures applying one inventory change
// (and collecting its deltas) against the full build, both in this run:
// it reports the median and 99th percentile of one change and how many
// times cheaper the median is than a full build.
func BenchmarkMembershipIncremental(b *testing.B) {
	s := benchdata.Full
	objs, groups := s.Inventory(), s.Groups()
	start := time.Now()
	x := build(objs, groups)
	full := time.Since(start)
	changes := []func(c, i, gen int) inventory.Object{
		func(c, i, gen int) inventory.Object { // a LoadBalancer VIP moves
			return s.Service(fmt.Sprintf("cluster-%03d", c), c, (i%50)*20+12, gen)
		},
		func(c, i, gen int) inventory.Object { // a pod is relabelled (NodePortLocal services recompute)
			return s.Pod(fmt.Sprintf("cluster-%03d", c), c, i%s.Pods, gen)
		},
		func(c, i, gen int) inventory.Object { // an Egress IP is reassigned
			return &inventory.Egress{Meta: inventory.Meta{Cluster: fmt.Sprintf("cluster-%03d", c), Name: fmt.Sprintf("egress-%02d", i%s.Egresses),
				Labels: map[string]string{"purpose": fmt.Sprintf("p%d", (i%s.Egresses)%10)}}, StatusIP: benchdata.Addr4(10, c, 201+gen%2, i%s.Egresses+1)}
		},
		func(c, i, gen int) inventory.Object { // a Service changes app label: it moves between groups
			svc := s.Service(fmt.Sprintf("cluster-%03d", c), c, i%s.Services, 0)
			svc.Labels["app"] = fmt.Sprintf("app-%02d", (i+gen)%s.Apps)
			return svc
		},
	}
	durations := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o := changes[i%len(changes)](i%s.Clusters, i/len(changes), i/len(changes)+1)
		t0 := time.Now()
		x.Upsert(o)
		x.TakeDeltas()
		durations = append(durations, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(durations)
	p50, p99 := durations[len(durations)/2], durations[len(durations)*99/100]
	b.ReportMetric(float64(p50.Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(p99.Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(full.Seconds(), "full-build-s")
	b.ReportMetric(float64(full)/float64(p50), "x-cheaper-than-full")
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/adapter"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/wire"
)

// parallel runs f(i) for i in [0, n) on w workers.
func parallel(b testing.TB, n, w int, f func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range w {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}

func ipOf(base netip.Addr, i int) netip.Addr {
	a := base.As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(i)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// realisticPod is a Pod as a Deployment's ReplicaSet makes it, with the
// status a kubelet writes: what an untrimmed informer would cache.
func realisticPod(ns string, i int) *corev1.Pod {
	env := make([]corev1.EnvVar, 12)
	for j := range env {
		env[j] = corev1.EnvVar{Name: fmt.Sprintf("SETTING_%d", j), Value: fmt.Sprintf("value-%d-%d", i, j)}
	}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 10}
	c := func(name string, port int32) corev1.Container {
		return corev1.Container{Name: name, Image: "registry.example/shop/" + name + ":v1.42.7", Env: env,
			Ports:         []corev1.ContainerPort{{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP}},
			Resources:     corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}, Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}},
			LivenessProbe: probe, ReadinessProbe: probe,
			VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}, {Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}}}
	}
	ctrl := true
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("shop-%d", i),
		Labels:          map[string]string{"app": fmt.Sprintf("svc-%d", i%5000), "tier": "web", "pod-template-hash": "7d9f8b6c5d", "version": "v1"},
		Annotations:     map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-11-01T10:00:00Z"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "shop-7d9f8b6c5d", UID: "0b5e6f1c-3f0e-4f7e-9d1a-6a2b3c4d5e6f", Controller: &ctrl}}},
		Spec: corev1.PodSpec{NodeName: fmt.Sprintf("node-%d", i%100), ServiceAccountName: "default", Containers: []corev1.Container{c("app", 8080), c("sidecar", 9090)},
			Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}},
				{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}}}}}
	if i%10 == 0 {
		p.Annotations["nodeportlocal.antrea.io"] = fmt.Sprintf(`[{"podPort":8080,"nodeIP":"%s","nodePort":%d,"protocol":"tcp"}]`, ipOf(netip.MustParseAddr("10.60.0.1"), i%100), 61000+i%1000)
	}
	return p
}

func podStatus(i int) []byte {
	ip := ipOf(netip.MustParseAddr("10.244.0.2"), i)
	now := "2026-11-25T10:00:00Z"
	cs := func(name string) map[string]any {
		return map[string]any{"name": name, "ready": true, "restartCount": 0, "image": "registry.example/shop/" + name + ":v1.42.7",
			"imageID": "registry.example/shop/" + name + "@sha256:3f1c9e7b2d4a6c8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e", "started": true,
			"containerID": fmt.Sprintf("containerd://%064d", i), "state": map[string]any{"running": map[string]any{"startedAt": now}}}
	}
	var conds []map[string]any
	for _, c := range []string{"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"} {
		conds = append(conds, map[string]any{"type": c, "status": "True", "lastTransitionTime": now})
	}
	b, _ := json.Marshal(map[string]any{"status": map[string]any{"phase": "Running", "podIP": ip.String(), "podIPs": []map[string]string{{"ip": ip.String()}},
		"hostIP": ipOf(netip.MustParseAddr("10.60.0.1"), i%100).String(), "startTime": now, "qosClass": "Burstable", "conditions": conds,
		"containerStatuses": []any{cs("app"), cs("sidecar")}}})
	return b
}

// populate makes a cluster of nodes, pods (with status) and headless
// Services.
func populate(b testing.TB, k *kube, nodes, pods, services int) {
	b.Helper()
	start := time.Now()
	if _, err := k.cs.CoreV1().Namespaces().Create(bg, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	parallel(b, nodes, 8, func(i int) error {
		n := node(fmt.Sprintf("node-%d", i), ipOf(netip.MustParseAddr("10.60.0.1"), i).String())
		created, err := k.cs.CoreV1().Nodes().Create(bg, n, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		created.Status = n.Status
		_, err = k.cs.CoreV1().Nodes().UpdateStatus(bg, created, metav1.UpdateOptions{})
		return err
	})
	parallel(b, pods, 8, func(i int) error {
		if _, err := k.cs.CoreV1().Pods("shop").Create(bg, realisticPod("shop", i), metav1.CreateOptions{}); err != nil {
			return err
		}
		_, err := k.cs.CoreV1().Pods("shop").Patch(bg, fmt.Sprintf("shop-%d", i), types.MergePatchType, podStatus(i), metav1.PatchOptions{}, "status")
		return err
	})
	parallel(b, services, 8, func(i int) error {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d", i), Labels: map[string]string{"tier": "web", "app": fmt.Sprintf("svc-%d", i)},
			Annotations: map[string]string{"nodeportlocal.antrea.io/enabled": "true"}},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": fmt.Sprintf("svc-%d", i)},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
		_, err := k.cs.CoreV1().Services("shop").Create(bg, s, metav1.CreateOptions{})
		return err
	})
	b.Logf("cluster populated: %d nodes, %d pods, %d services in %s", nodes, pods, services, time.Since(start).Round(time.Second))
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkPropagation measures, in a cluster of 10,000 objects, the time
// from a write to the kube-apiserver until the manager's membership
// reflects it, at 100 changes a second: each change moves one of 100
// Egresses to a new IP, and the change counts as propagated when the
// manager's watch stream shows that IP joining the group. The baseline,
// measured in the same run, is a bare client-go informer in this process
// seeing the same write: the floor any watcher of the API server pays.
//
//	go test ./test/e2e -run '^$' -bench Propagation -benchtime 3000x -timeout 30m
func BenchmarkPropagation(b *testing.B) {
	if b.N < 100 {
		// The testing package first calls every benchmark with N = 1; a
		// cluster of 10,000 objects is built only for the measured run.
		b.Logf("%d changes are too few to measure percentiles; run with -benchtime 3000x", b.N)
		return
	}
	k := startKube(b)
	dir := b.TempDir()
	s := serve(b, dir, "--no-demo")
	os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(`resource_type: Group
id: egresses
expression: [{resource_type: Condition, member_type: AntreaEgress, key: Name, operator: MATCHES, value: ".*"}]
`), 0o600)
	s.run(0, "apply", "-f", "policy.yaml")
	s.run(0, "cluster", "register", "bench", "--bundle-out", "bundle.yaml")
	const egresses = 100
	populate(b, k, 100, 5000, 10000-5000-100-egresses)
	egressRes := k.dyn.Resource(antrea("v1beta1", "egresses"))
	parallel(b, egresses, 8, func(i int) error {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "crd.antrea.io/v1beta1", "kind": "Egress", "metadata": map[string]any{"name": fmt.Sprintf("eg-%d", i)},
			"spec": map[string]any{"appliedTo": map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app": fmt.Sprintf("svc-%d", i)}}}}}}
		if _, err := egressRes.Create(bg, u, metav1.CreateOptions{}); err != nil {
			return err
		}
		_, err := egressRes.Patch(bg, u.GetName(), types.MergePatchType, []byte(fmt.Sprintf(`{"status":{"egressIP":"%s"}}`, ipOf(netip.MustParseAddr("10.70.0.1"), i))), metav1.PatchOptions{}, "status")
		return err
	})
	a := s.start("adapter", "--bundle", "bundle.yaml", "--kubeconfig", k.kubeconfig)
	all := fmt.Sprintf("%s-%s", ipOf(netip.MustParseAddr("10.70.0.1"), 0), ipOf(netip.MustParseAddr("10.70.0.1"), egresses-1))
	waitFor(b, 5*time.Minute, "the adapter's first synchronisation", func() bool { return s.members("egresses") == all })

	// Both observers record when they first see each new IP.
	var mu sync.Mutex
	seen, floor := map[string]time.Time{}, map[string]time.Time{}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	s.watchAdded(ctx, b, "egresses", func(now time.Time, added []netipx.IPRange) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range added {
			for a := r.From(); a.IsValid() && a.Compare(r.To()) <= 0; a = a.Next() {
				if _, ok := seen[a.String()]; !ok {
					seen[a.String()] = now
				}
			}
		}
	})
	inf := dynamicinformer.NewDynamicSharedInformerFactory(k.dyn, 0).ForResource(antrea("v1beta1", "egresses")).Informer()
	inf.AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: func(_, obj any) {
		now := time.Now()
		ip, _, _ := unstructured.NestedString(obj.(*unstructured.Unstructured).Object, "status", "egressIP")
		mu.Lock()
		if _, ok := floor[ip]; !ok {
			floor[ip] = now
		}
		mu.Unlock()
	}})
	go inf.Run(ctx.Done())
	cache.WaitForCacheSync(ctx.Done(), inf.HasSynced)
	time.Sleep(time.Second) // the watch stream is open

	wrote := make(map[string]time.Time, b.N)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	began := time.Now()
	for i := range b.N {
		<-tick.C
		ip := ipOf(netip.MustParseAddr("10.80.0.1"), i).String()
		patch := []byte(`{"status":{"egressIP":"` + ip + `"}}`)
		wrote[ip] = time.Now()
		if _, err := egressRes.Patch(bg, fmt.Sprintf("eg-%d", i%egresses), types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
			b.Fatal(err)
		}
	}
	rate := float64(b.N) / time.Since(began).Seconds()
	missing := func() (n int, example string) {
		mu.Lock()
		defer mu.Unlock()
		for ip := range wrote {
			if _, ok := seen[ip]; !ok {
				n, example = n+1, ip
			}
		}
		return n, example
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		n, example := missing()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d changes never reached the manager's watch stream (%s, for one); members now %s; adapter:\n%s", n, len(wrote), example, s.members("egresses"), a.out.String())
		}
	}
	b.StopTimer()
	var lat, base []time.Duration
	mu.Lock()
	for ip, t0 := range wrote {
		lat = append(lat, seen[ip].Sub(t0))
		if f, ok := floor[ip]; ok {
			base = append(base, f.Sub(t0))
		}
	}
	mu.Unlock()
	b.ReportMetric(rate, "changes/s")
	b.ReportMetric(ms(percentile(lat, 0.5)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
	b.ReportMetric(ms(percentile(base, 0.5)), "informer-p50-ms")
	b.ReportMetric(ms(percentile(base, 0.99)), "informer-p99-ms")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d changes at %.0f/s: write → manager membership p50 %.1f ms, p99 %.1f ms, max %.1f ms; bare informer p50 %.1f ms, p99 %.1f ms (%d seen)",
		len(lat), rate, ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)), ms(percentile(lat, 1)), ms(percentile(base, 0.5)), ms(percentile(base, 0.99)), len(base))
	a.cmd.Process.Signal(os.Interrupt)
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func rss(pid int) (cur, peak uint64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = v << 10
		case "VmHWM:":
			peak = v << 10
		}
	}
	return
}

func mib(v uint64) float64 { return float64(v) / (1 << 20) }

// BenchmarkAdapterMemory measures the adapter's memory with 50,000 Pods
// and 5,000 Services: the heap its caches hold once synchronised (in this
// process), against client-go informers caching the same kinds untrimmed,
// measured the same way in the same run; and the resident memory of a
// `kordon adapter` process.
//
//	go test ./test/e2e -run '^$' -bench AdapterMemory -benchtime 1x -timeout 60m
func BenchmarkAdapterMemory(b *testing.B) {
	k := startKube(b)
	dir := b.TempDir()
	s := serve(b, dir, "--no-demo")
	s.run(0, "cluster", "register", "mem", "--bundle-out", "bundle.yaml")
	populate(b, k, 100, 50000, 5000)
	bundle, err := wire.ReadBundle(filepath.Join(dir, "bundle.yaml"), wire.ClusterIdentity)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		// kordon's adapter, in this process.
		before := heapInUse()
		sink, err := adapter.NewHTTPSink(bundle)
		if err != nil {
			b.Fatal(err)
		}
		o := adapter.Options{Cluster: "mem", Sink: sink}
		if err := o.WithClients(k.cfg); err != nil {
			b.Fatal(err)
		}
		ad := adapter.New(o)
		ctx, cancel := context.WithCancel(bg)
		done := make(chan struct{})
		go func() { ad.Run(ctx); close(done) }()
		waitFor(b, 10*time.Minute, "the adapter's synchronisation", ad.Synced)
		kordonHeap := heapInUse() - before
		runtime.KeepAlive(ad)
		cancel()
		<-done

		// Untrimmed informers on the same kinds.
		before = heapInUse()
		pb := rest.CopyConfig(k.cfg)
		pb.ContentType = "application/vnd.kubernetes.protobuf"
		f := informers.NewSharedInformerFactory(kubernetes.NewForConfigOrDie(pb), 0)
		pods, svcs := f.Core().V1().Pods().Informer(), f.Core().V1().Services().Informer()
		ictx, icancel := context.WithCancel(bg)
		f.Start(ictx.Done())
		cache.WaitForCacheSync(ictx.Done(), pods.HasSynced, svcs.HasSynced)
		plainHeap := heapInUse() - before
		runtime.KeepAlive(pods)
		icancel()
		f.Shutdown()

		// The real process.
		a := s.start("adapter", "--bundle", "bundle.yaml", "--kubeconfig", k.kubeconfig)
		var st manager.ClusterStatus
		waitFor(b, 10*time.Minute, "the adapter process's synchronisation", func() bool {
			c, _ := s.client()
			return c.Do(bg, http.MethodGet, "/policy/api/v1/kordon/clusters/mem", nil, &st) == nil && st.Heartbeat != nil &&
				st.Heartbeat.LastSync.After(time.Now().Add(-time.Minute)) && st.Heartbeat.Counts["Pod"] == 50000
		})
		time.Sleep(2 * time.Second)
		cur, peak := rss(a.cmd.Process.Pid)
		a.cmd.Process.Signal(os.Interrupt)
		<-a.done

		b.ReportMetric(mib(kordonHeap), "adapter-heap-MiB")
		b.ReportMetric(mib(plainHeap), "informer-heap-MiB")
		b.ReportMetric(float64(plainHeap)/float64(kordonHeap), "x-smaller")
		b.ReportMetric(mib(cur), "process-rss-MiB")
		b.ReportMetric(mib(peak), "process-peak-rss-MiB")
		b.ReportMetric(0, "ns/op")
		b.Logf("50,000 pods + 5,000 services: adapter caches %.0f MiB of heap, untrimmed informers %.0f MiB (%.1fx); kordon adapter process RSS %.0f MiB, peak %.0f MiB",
			mib(kordonHeap), mib(plainHeap), float64(plainHeap)/float64(kordonHeap), mib(cur), mib(peak))
	}
}

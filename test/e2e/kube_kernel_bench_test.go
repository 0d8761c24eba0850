package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"go4.org/netipx"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kordon-dev/kordon/internal/manager"
)

// kubeKernelPolicy names the Services labelled tier=web as the sources of
// a gateway rule, so that the gateway agent keeps their addresses in its
// table.
const kubeKernelPolicy = `resource_type: Infra
children:
- resource_type: ChildTier0
  Tier0: {id: t0-core}
- resource_type: ChildTier1
  Tier1: {id: t1-edge, tier0_path: /infra/tier-0s/t0-core}
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: web, expression: [{resource_type: Condition, member_type: KubernetesService, key: Tag, operator: EQUALS, value: "dis:k8s:tier|web"}]}}
    - {resource_type: ChildGroup, Group: {id: db, expression: [{resource_type: IPAddressExpression, ip_addresses: ["172.16.10.0/24"]}]}}
    - resource_type: ChildGatewayPolicy
      GatewayPolicy:
        id: web-to-db
        category: LocalGatewayRules
        scope: [/infra/tier-1s/t1-edge]
        rules:
        - {id: web-to-db, source_groups: [/infra/domains/default/groups/web], destination_groups: [/infra/domains/default/groups/db], services: [/infra/services/HTTPS], action: ALLOW, scope: [/infra/tier-1s/t1-edge]}
`

// parseSpan reads an address, a range or a prefix as the watch stream
// prints them.
func parseSpan(s string) (netipx.IPRange, bool) {
	if r, err := netipx.ParseIPRange(s); err == nil {
		return r, true
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return netipx.RangeOfPrefix(p), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netipx.IPRangeFrom(a, a), true
	}
	return netipx.IPRange{}, false
}

// watchAdded follows the manager's membership events of the group id
// (default domain) until ctx ends, calling added with the time each
// event was read and the address ranges it added.
func (s *server) watchAdded(ctx context.Context, b *testing.B, id string, added func(time.Time, []netipx.IPRange)) {
	b.Helper()
	c, err := s.client()
	if err != nil {
		b.Fatal(err)
	}
	resp, err := c.Stream(ctx, http.MethodGet, "/policy/api/v1/kordon/watch?types=membership&path_prefix=/infra/domains/default/groups/"+id, nil)
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			now := time.Now()
			var ev manager.Event
			if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Group == nil {
				continue
			}
			var spans []netipx.IPRange
			for _, a := range ev.Group.AddedAddresses {
				if r, ok := parseSpan(a); ok {
					spans = append(spans, r)
				}
			}
			added(now, spans)
		}
	}()
}

// sighting is one line of an observer: when it arrived and the addresses
// it added.
type sighting struct {
	at    time.Time
	spans []netipx.IPRange
}

// observer keeps every sighting; matching happens after the writes, so
// that a range which happens to cover an address written later cannot
// count for it.
type observer struct {
	mu   sync.Mutex
	seen []sighting
}

func (o *observer) add(at time.Time, spans []netipx.IPRange) {
	if len(spans) == 0 {
		return
	}
	o.mu.Lock()
	o.seen = append(o.seen, sighting{at, spans})
	o.mu.Unlock()
}

// first is when a added first appeared at or after t, if it did.
func (o *observer) first(a netip.Addr, t time.Time) (time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.seen {
		if s.at.Before(t) {
			continue
		}
		for _, r := range s.spans {
			if r.Contains(a) {
				return s.at, true
			}
		}
	}
	return time.Time{}, false
}

// elemSpans is the IPv4 addresses that elements added: the first field
// of each key (a concatenated key pads each field to 4 bytes, the address
// comes first in kordon's), up to its key end where the set holds ranges.
// The end marker of an interval set's range is no address of its own.
func elemSpans(els []nftables.SetElement) []netipx.IPRange {
	var out []netipx.IPRange
	for _, e := range els {
		if e.IntervalEnd || len(e.Key) < 4 {
			continue
		}
		from := netip.AddrFrom4([4]byte(e.Key[:4]))
		to := from
		if len(e.KeyEnd) >= 4 {
			to = netip.AddrFrom4([4]byte(e.KeyEnd[:4]))
		}
		if r := netipx.IPRangeFrom(from, to); r.IsValid() {
			out = append(out, r)
		}
	}
	return out
}

// change is one write: the address it moved a Service to and when the
// client-go call was made and returned.
type change struct {
	addr          netip.Addr
	called, wrote time.Time
}

// BenchmarkKubeToKernel measures what a user of kordon waits for: a
// Kubernetes write until the nftables table of a running agent holds its
// effect. A real kube-apiserver (envtest), the adapter as a process, the
// manager (`kordon serve`) and a gateway agent (`kordon agent run`) in its
// own network namespace; 100 LoadBalancer Services labelled tier=web are
// the sources of a gateway rule. Each change moves one Service's
// load-balancer IP to a new address with client-go, at 10 and then 100
// changes a second; it is measured from the write returning until the
// kernel announces (nftables' netlink notifications, heard in the
// agent's namespace) that address being added to the agent's table. The
// baseline, measured in the same run, is the same write until the
// manager's watch stream, read here, shows the address joining the group:
// the difference is roughly the manager → agent → kernel part.
//
//	go test ./test/e2e -run '^$' -bench KubeToKernel -benchtime 1x
func BenchmarkKubeToKernel(b *testing.B) {
	for _, bin := range []string{"kube-apiserver", "etcd", "kubectl"} {
		k8sBin(b, bin)
	}
	if inPrivateNetNS(b, "BenchmarkKubeToKernel") {
		return
	}
	exec.Command("ip", "link", "set", "lo", "up").Run()
	// The agent's namespace reaches the manager over a management link;
	// everything else runs in this private namespace.
	gw := newNetNS(b, fmt.Sprintf("kk%d-gw", os.Getpid()%100000))
	ipCmd(b, "link", "add", "m-gw", "type", "veth", "peer", "name", "m0", "netns", gw.name)
	ipCmd(b, "addr", "add", "10.255.0.1/24", "dev", "m-gw")
	ipCmd(b, "link", "set", "m-gw", "up")
	ipCmd(b, "-n", gw.name, "addr", "add", "10.255.0.2/24", "dev", "m0")
	ipCmd(b, "-n", gw.name, "link", "set", "m0", "up")
	// kube-apiserver takes its advertised address from the default route.
	ipCmd(b, "route", "add", "default", "via", "10.255.0.2")

	k := startKube(b)
	dir := b.TempDir()
	l, err := net.Listen("tcp", "10.255.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	s := serve(b, dir, "--no-demo", "--listen", listen, "--tls-san", "10.255.0.1")
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(kubeKernelPolicy), 0o600); err != nil {
		b.Fatal(err)
	}
	s.run(0, "apply", "-f", "policy.yaml")
	s.run(0, "cluster", "register", "bench", "--bundle-out", "cluster.bundle")
	s.run(0, "agent", "register", "edge-1", "--role", "gateway", "--gateway", "/infra/tier-1s/t1-edge", "--bundle-out", "edge-1.bundle")

	// Addresses two apart: a Service's new address never touches another's,
	// so neither the manager nor the agent merges it into a range.
	addrOf := func(j int) netip.Addr { return ipOf(netip.MustParseAddr("10.80.0.2"), 2*j) }
	const services = 100
	svcs := k.cs.CoreV1().Services("shop")
	if _, err := k.cs.CoreV1().Namespaces().Create(bg, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	parallel(b, services, 8, func(i int) error {
		sv, err := svcs.Create(bg, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Labels: map[string]string{"tier": "web"}},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": fmt.Sprintf("web-%d", i)},
				Ports: []corev1.ServicePort{{Port: 443, TargetPort: intstr.FromInt32(8443), Protocol: corev1.ProtocolTCP}}}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		sv.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: addrOf(i).String()}}
		_, err = svcs.UpdateStatus(bg, sv, metav1.UpdateOptions{})
		return err
	})
	next := services // the index of the next fresh address

	adapter := s.start("adapter", "--bundle", "cluster.bundle", "--kubeconfig", k.kubeconfig)
	agent := s.startIn(gw, "agent", "run", "--bundle", "edge-1.bundle")
	defer func() {
		if b.Failed() {
			b.Logf("adapter:\n%s\nagent:\n%s", adapter.out, agent.out)
		}
	}()
	// holdsLatest says whether the agent's table holds every Service's
	// latest address, as nft lists it.
	holdsLatest := func() bool {
		out, _ := exec.Command("ip", "netns", "exec", gw.name, "nft", "list", "table", "inet", "kordon").CombinedOutput()
		words := map[string]bool{}
		for _, w := range strings.FieldsFunc(string(out), func(r rune) bool { return r != '.' && (r < '0' || r > '9') }) {
			words[w] = true
		}
		for j := next - services; j < next; j++ {
			if !words[addrOf(j).String()] {
				return false
			}
		}
		return true
	}
	waitFor(b, 2*time.Minute, "the agent's table holding every Service's address", holdsLatest)

	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	kernel, mgr := &observer{}, &observer{}

	// The kernel's side: nftables' netlink notifications in the agent's
	// namespace, which the kernel sends as it commits each batch. (`nft
	// monitor` 1.0.6 stops in the middle of printing an element of a
	// concatenated range set, and the agent's table has such sets.)
	nsFile, err := os.Open(gw.path)
	if err != nil {
		b.Fatal(err)
	}
	defer nsFile.Close()
	conn, err := nftables.New(nftables.WithNetNSFd(int(nsFile.Fd())))
	if err != nil {
		b.Fatal(err)
	}
	mon := nftables.NewMonitor(nftables.WithMonitorAction(nftables.MonitorActionNew), nftables.WithMonitorObject(nftables.MonitorObjectElements))
	events, err := conn.AddMonitor(mon)
	if err != nil {
		b.Fatal(err)
	}
	monDone := make(chan struct{})
	go func() {
		defer close(monDone)
		for ev := range events {
			now := time.Now()
			if els, ok := ev.Data.([]nftables.SetElement); ok && ev.Type == nftables.MonitorEventTypeNewSetElem {
				kernel.add(now, elemSpans(els))
			}
		}
	}()
	defer func() { mon.Close(); <-monDone }()
	// The monitor is known to listen to the right namespace once it sees an
	// element added to a table of the benchmark's own there.
	probe := func(script string) {
		cmd := exec.Command("ip", "netns", "exec", gw.name, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("nft: %v\n%s", err, out)
		}
	}
	probe("table inet kkprobe {\n set s {\n type ipv4_addr\n }\n}\n")
	monStart := time.Now()
	waitFor(b, 10*time.Second, "the netlink monitor", func() bool {
		probe("flush set inet kkprobe s\nadd element inet kkprobe s { 192.0.2.1 }\n")
		_, ok := kernel.first(netip.MustParseAddr("192.0.2.1"), monStart)
		return ok
	})
	probe("delete table inet kkprobe\n")

	// The manager's side: its watch stream of the group's membership.
	s.watchAdded(ctx, b, "web", mgr.add)
	time.Sleep(time.Second) // the watch stream is open

	type result struct {
		rate                       float64
		changes, lost, mgrLost     int
		kern, base, split, callDur []time.Duration
	}
	// phase writes at rate changes a second for d, each change on its own
	// goroutine at its scheduled time so that a slow answer does not slow
	// the rate down, then waits for both observers.
	phase := func(rate int, d time.Duration) result {
		n := int(d.Seconds() * float64(rate))
		interval := time.Second / time.Duration(rate)
		changes := make([]change, n)
		var wg sync.WaitGroup
		var errMu sync.Mutex
		var firstErr error
		sem := make(chan struct{}, 64)
		began := time.Now()
		for i := range n {
			time.Sleep(time.Until(began.Add(time.Duration(i) * interval)))
			sem <- struct{}{}
			a := addrOf(next + i)
			wg.Go(func() {
				defer func() { <-sem }()
				patch := []byte(`{"status":{"loadBalancer":{"ingress":[{"ip":"` + a.String() + `"}]}}}`)
				called := time.Now()
				_, err := svcs.Patch(bg, fmt.Sprintf("web-%d", (next+i)%services), types.MergePatchType, patch, metav1.PatchOptions{}, "status")
				changes[i] = change{addr: a, called: called, wrote: time.Now()}
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
				}
			})
		}
		wg.Wait()
		r := result{rate: float64(n-1) / changes[n-1].called.Sub(began).Seconds(), changes: n}
		next += n
		if firstErr != nil {
			b.Fatal(firstErr)
		}
		unseen := func() int {
			u := 0
			for _, ch := range changes {
				if _, ok := kernel.first(ch.addr, ch.called); !ok {
					u++
				}
			}
			return u
		}
		for deadline := time.Now().Add(30 * time.Second); unseen() > 0 && time.Now().Before(deadline); {
			time.Sleep(200 * time.Millisecond)
		}
		for _, ch := range changes {
			r.callDur = append(r.callDur, ch.wrote.Sub(ch.called))
			kt, kok := kernel.first(ch.addr, ch.called)
			mt, mok := mgr.first(ch.addr, ch.called)
			if !kok {
				r.lost++
			} else {
				r.kern = append(r.kern, kt.Sub(ch.wrote))
			}
			if !mok {
				r.mgrLost++
			} else {
				r.base = append(r.base, mt.Sub(ch.wrote))
			}
			if kok && mok {
				r.split = append(r.split, kt.Sub(mt))
			}
		}
		return r
	}

	b.ResetTimer()
	for _, p := range []struct {
		rate int
		d    time.Duration
	}{{10, 10 * time.Second}, {100, 15 * time.Second}} {
		r := phase(p.rate, p.d)
		name := fmt.Sprintf("at%d", p.rate)
		metric(name+"-changes/s", r.rate)
		metric(name+"-p50-ms", ms(percentile(r.kern, 0.5)))
		metric(name+"-p99-ms", ms(percentile(r.kern, 0.99)))
		metric(name+"-max-ms", ms(percentile(r.kern, 1)))
		metric(name+"-lost", float64(r.lost))
		metric(name+"-manager-p50-ms", ms(percentile(r.base, 0.5)))
		metric(name+"-manager-p99-ms", ms(percentile(r.base, 0.99)))
		metric(name+"-manager-max-ms", ms(percentile(r.base, 1)))
		metric(name+"-manager-to-kernel-p50-ms", ms(percentile(r.split, 0.5)))
		metric(name+"-manager-to-kernel-p99-ms", ms(percentile(r.split, 0.99)))
		logf("%d changes at %.1f/s (the write itself p50 %.1f ms, p99 %.1f ms): write returned → element in the agent's table p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d never seen; "+
			"→ the manager's membership event p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d never seen; manager event → kernel p50 %.1f ms, p99 %.1f ms, max %.1f ms",
			r.changes, r.rate, ms(percentile(r.callDur, 0.5)), ms(percentile(r.callDur, 0.99)),
			ms(percentile(r.kern, 0.5)), ms(percentile(r.kern, 0.99)), ms(percentile(r.kern, 1)), r.lost,
			ms(percentile(r.base, 0.5)), ms(percentile(r.base, 0.99)), ms(percentile(r.base, 1)), r.mgrLost,
			ms(percentile(r.split, 0.5)), ms(percentile(r.split, 0.99)), ms(percentile(r.split, 1)))
		// A change the kernel never saw is a result too, not noise; more
		// than a handful means the measurement above is of the survivors.
		if r.lost > r.changes/200+2 {
			b.Fatalf("%d of %d changes at %d/s never reached the agent's table", r.lost, r.changes, p.rate)
		}
	}
	b.StopTimer()
	waitFor(b, 30*time.Second, "the agent's table holding every Service's latest address", holdsLatest)
}

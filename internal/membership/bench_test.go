package membership

import (
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
)

// scale is the benchmark's shape: per cluster, the counts the foundation
// issue names; groups are spread over clusters (100 per cluster plus a few
// spanning every cluster).
type scale struct {
	clusters, nodes, services, pods, egresses, pools, ingresses, gateways, namespaces, apps int
}

var fullScale = scale{clusters: 100, nodes: 100, services: 1000, pods: 2000, egresses: 50, pools: 20, ingresses: 100, gateways: 100, namespaces: 20, apps: 40}

func addr4(a, b, c, d int) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(a), byte(b), byte(c), byte(d)})
}

// inventoryAt generates the objects of every cluster.
func (s scale) inventory() []inventory.Object {
	var out []inventory.Object
	for c := 0; c < s.clusters; c++ {
		cl := fmt.Sprintf("cluster-%03d", c)
		for n := 0; n < s.namespaces; n++ {
			out = append(out, &inventory.Namespace{Meta: inventory.Meta{Cluster: cl, Name: fmt.Sprintf("ns-%02d", n), Labels: map[string]string{"team": fmt.Sprintf("team-%d", n%5)}}})
		}
		for n := 0; n < s.nodes; n++ {
			out = append(out, &inventory.Node{Meta: inventory.Meta{Cluster: cl, Name: fmt.Sprintf("node-%03d", n), Labels: map[string]string{"zone": fmt.Sprintf("z%d", n%3)}},
				InternalIPs: []netip.Addr{addr4(10, c, 0, n+1)}, PodCIDRs: []netip.Prefix{netip.PrefixFrom(addr4(100, c, n, 0), 24)}})
		}
		for i := 0; i < s.services; i++ {
			out = append(out, s.service(cl, c, i, 0))
		}
		for i := 0; i < s.pods; i++ {
			out = append(out, s.pod(cl, c, i, 0))
		}
		for i := 0; i < s.egresses; i++ {
			out = append(out, &inventory.Egress{Meta: inventory.Meta{Cluster: cl, Name: fmt.Sprintf("egress-%02d", i), Labels: map[string]string{"purpose": fmt.Sprintf("p%d", i%10)}},
				StatusIP: addr4(10, c, 200, i+1)})
		}
		for i := 0; i < s.pools; i++ {
			out = append(out, &inventory.IPPool{Meta: inventory.Meta{Cluster: cl, Name: fmt.Sprintf("pool-%02d", i), Labels: map[string]string{"routable": "true"}},
				Ranges: []inventory.IPRange{{CIDR: netip.PrefixFrom(addr4(20, c, i, 0), 24)}}})
		}
		for i := 0; i < s.ingresses; i++ {
			out = append(out, &inventory.Ingress{Meta: inventory.Meta{Cluster: cl, Namespace: fmt.Sprintf("ns-%02d", i%s.namespaces), Name: fmt.Sprintf("ing-%03d", i), Labels: map[string]string{"app": fmt.Sprintf("app-%02d", i%s.apps)}},
				LoadBalancer: []inventory.LoadBalancerIngress{{IP: addr4(30, c, 1, i+1)}}})
		}
		for i := 0; i < s.gateways; i++ {
			out = append(out, &inventory.Gateway{Meta: inventory.Meta{Cluster: cl, Namespace: fmt.Sprintf("ns-%02d", i%s.namespaces), Name: fmt.Sprintf("gw-%03d", i), Labels: map[string]string{"app": fmt.Sprintf("app-%02d", i%s.apps)}},
				Addresses: []netip.Addr{addr4(30, c, 2, i+1)}})
		}
	}
	return out
}

// service: 60% ClusterIP, 20% LoadBalancer, 15% NodePort, 5% ClusterIP
// with NodePortLocal. gen varies the VIP so changes can be generated.
func (s scale) service(cl string, c, i, gen int) *inventory.Service {
	svc := &inventory.Service{Meta: inventory.Meta{Cluster: cl, Namespace: fmt.Sprintf("ns-%02d", i%s.namespaces), Name: fmt.Sprintf("svc-%04d", i),
		Labels: map[string]string{"app": fmt.Sprintf("app-%02d", i%s.apps), "tier": []string{"web", "api", "data"}[i%3]}},
		Selector: map[string]string{"app": fmt.Sprintf("app-%02d", i%s.apps)},
		Ports:    []inventory.ServicePort{{Protocol: address.TCP, Port: 80, TargetPort: 8080}}}
	switch m := i % 20; {
	case m < 12:
		svc.Type = inventory.ServiceClusterIP
	case m < 16:
		svc.Type = inventory.ServiceLoadBalancer
		svc.LoadBalancer = []inventory.LoadBalancerIngress{{IP: addr4(40+gen%2, c, i/250, i%250+1)}}
	case m < 19:
		svc.Type = inventory.ServiceNodePort
		svc.Ports[0].NodePort = int32(30000 + i)
	default:
		svc.Type, svc.NodePortLocal = inventory.ServiceClusterIP, true
	}
	return svc
}

// pod: every pod of an app whose Service uses NodePortLocal gets a
// mapping on its node.
func (s scale) pod(cl string, c, i, gen int) *inventory.Pod {
	app := i % s.apps
	p := &inventory.Pod{Meta: inventory.Meta{Cluster: cl, Namespace: fmt.Sprintf("ns-%02d", i%s.namespaces), Name: fmt.Sprintf("pod-%04d", i),
		Labels: map[string]string{"app": fmt.Sprintf("app-%02d", app)}}, IPs: []netip.Addr{addr4(100, c, i%s.nodes, i/s.nodes+2)}}
	if gen%2 == 1 {
		p.Labels["version"] = "v2"
	}
	p.NodePortLocal = []inventory.NPLMapping{{PodPort: 8080, NodeIP: addr4(10, c, 0, i%s.nodes+1), NodePort: int32(61000 + i%1000), Protocol: address.TCP}}
	return p
}

// groups returns 100 groups per cluster and 10 spanning every cluster.
func (s scale) groups() map[string]*model.Group {
	out := map[string]*model.Group{}
	add := func(id string, g *model.Group) { out[model.GroupPath("default", id)] = g }
	svc, ing, gw := model.MemberKubernetesService, model.MemberKubernetesIngress, model.MemberKubernetesGateway
	for c := 0; c < s.clusters; c++ {
		cl := fmt.Sprintf("cluster-%03d", c)
		inCluster := condition(model.MemberKubernetesCluster, "Name", "EQUALS", cl)
		id := func(k string, i int) string { return fmt.Sprintf("%s-%s-%02d", cl, k, i) }
		for a := 0; a < 40; a++ {
			add(id("app", a), newGroupDef(nested(inCluster, condition(svc, "Tag", "EQUALS", fmt.Sprintf("dis:k8s:app|app-%02d", a%s.apps)))))
		}
		for n := 0; n < 10; n++ {
			add(id("ns", n), newGroupDef(nested(inCluster, condition(model.MemberKubernetesNamespace, "Name", "EQUALS", fmt.Sprintf("ns-%02d", n)), condition(svc, "Name", "STARTSWITH", "svc-"))))
		}
		for n := 0; n < 10; n++ {
			add(id("entry", n), newGroupDef(
				nested(inCluster, condition(model.MemberKubernetesNamespace, "Tag", "EQUALS", fmt.Sprintf("dis:k8s:team|team-%d", n%5)), condition(ing, "Tag", "EQUALS", fmt.Sprintf("dis:k8s:app|app-%02d", n))), or(),
				nested(inCluster, condition(gw, "Tag", "EQUALS", fmt.Sprintf("dis:k8s:app|app-%02d", n)))))
		}
		for n := 0; n < 10; n++ {
			add(id("egress", n), newGroupDef(nested(inCluster, condition(model.MemberAntreaEgress, "Tag", "EQUALS", fmt.Sprintf("dis:k8s:purpose|p%d", n)))))
		}
		add(id("pools", 0), newGroupDef(nested(inCluster, condition(model.MemberAntreaIPPool, "Tag", "EQUALS", "dis:k8s:routable|true"))))
		add(id("nodes", 0), newGroupDef(nested(inCluster, condition(model.MemberKubernetesNode, "IPAddress", "MATCHES", "*"))))
		add(id("podcidrs", 0), newGroupDef(nested(inCluster, condition(model.MemberKubernetesNode, "PodCidr", "MATCHES", "*"))))
		for n := 0; n < 17; n++ {
			add(id("names", n), newGroupDef(nested(inCluster, condition(svc, "Name", "IN", fmt.Sprintf("svc-%04d,svc-%04d,svc-%04d", n*50, n*50+17, n*50+35)))))
		}
		for n := 0; n < 10; n++ {
			add(id("nested", n), newGroupDef(&model.PathExpression{Paths: []string{
				model.GroupPath("default", id("app", n)), model.GroupPath("default", id("egress", n)), model.GroupPath("default", id("nodes", 0))}},
				or(), &model.IPAddressExpression{IPAddresses: []string{fmt.Sprintf("172.16.%d.0/24", c)}}))
		}
	}
	for a := 0; a < 10; a++ {
		add(fmt.Sprintf("global-app-%02d", a), newGroupDef(condition(svc, "Tag", "EQUALS", fmt.Sprintf("dis:k8s:app|app-%02d", a))))
	}
	return out
}

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
	s := fullScale
	objs, groups := s.inventory(), s.groups()
	b.ReportMetric(float64(len(objs)), "objects")
	b.ReportMetric(float64(len(groups)), "groups")
	base := heapInUse()
	var x *Index
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x = nil
		x = build(objs, groups)
	}
	b.StopTimer()
	b.ReportMetric(float64(heapInUse()-base)/(1<<20), "heap-MB")
	runtime.KeepAlive(x)
}

// BenchmarkMembershipIncremental measures applying one inventory change
// (and collecting its deltas) against the full build, both in this run:
// it reports the median and 99th percentile of one change and how many
// times cheaper the median is than a full build.
func BenchmarkMembershipIncremental(b *testing.B) {
	s := fullScale
	objs, groups := s.inventory(), s.groups()
	start := time.Now()
	x := build(objs, groups)
	full := time.Since(start)
	changes := []func(c, i, gen int) inventory.Object{
		func(c, i, gen int) inventory.Object { // a LoadBalancer VIP moves
			return s.service(fmt.Sprintf("cluster-%03d", c), c, (i%50)*20+12, gen)
		},
		func(c, i, gen int) inventory.Object { // a pod is relabelled (NodePortLocal services recompute)
			return s.pod(fmt.Sprintf("cluster-%03d", c), c, i%s.pods, gen)
		},
		func(c, i, gen int) inventory.Object { // an Egress IP is reassigned
			return &inventory.Egress{Meta: inventory.Meta{Cluster: fmt.Sprintf("cluster-%03d", c), Name: fmt.Sprintf("egress-%02d", i%s.egresses),
				Labels: map[string]string{"purpose": fmt.Sprintf("p%d", (i%s.egresses)%10)}}, StatusIP: addr4(10, c, 201+gen%2, i%s.egresses+1)}
		},
		func(c, i, gen int) inventory.Object { // a Service changes app label: it moves between groups
			svc := s.service(fmt.Sprintf("cluster-%03d", c), c, i%s.services, 0)
			svc.Labels["app"] = fmt.Sprintf("app-%02d", (i+gen)%s.apps)
			return svc
		},
	}
	durations := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o := changes[i%len(changes)](i%s.clusters, i/len(changes), i/len(changes)+1)
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

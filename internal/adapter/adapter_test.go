package adapter_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kordon-dev/kordon/internal/adapter"
	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/serve"
	"github.com/kordon-dev/kordon/internal/store"
	"github.com/kordon-dev/kordon/internal/wire"
)

// servedAPIs is a discovery client whose served CRD versions a test
// changes while the adapter runs (client-go's fake discovery is not safe
// to change concurrently), and whose failures it can switch on.
type servedAPIs struct {
	discovery.DiscoveryInterface
	mu     sync.Mutex
	served map[string][]string // group/version -> resources
	fail   bool
}

func (d *servedAPIs) serve(gv string, resources ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(resources) == 0 {
		delete(d.served, gv)
		return
	}
	d.served[gv] = resources
}

func (d *servedAPIs) setFail(v bool) {
	d.mu.Lock()
	d.fail = v
	d.mu.Unlock()
}

func (d *servedAPIs) ServerResourcesForGroupVersion(gv string) (*metav1.APIResourceList, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail {
		return nil, apierrors.NewInternalError(errors.New("etcd is having a bad day"))
	}
	rs, ok := d.served[gv]
	if !ok {
		return nil, apierrors.NewNotFound(schema.GroupResource{}, gv)
	}
	out := &metav1.APIResourceList{GroupVersion: gv}
	for _, r := range rs {
		out.APIResources = append(out.APIResources, metav1.APIResource{Name: r, Namespaced: r == "gateways"})
	}
	return out, nil
}

// fakeCluster is a cluster made of client-go's fake clients.
type fakeCluster struct {
	kube *kubefake.Clientset
	dyn  *dynamicfake.FakeDynamicClient
	disc *servedAPIs

	mu      sync.Mutex
	watches map[string]int // resource -> watches started
}

var listKinds = adapter.CRDListKinds()

func newFakeCluster(objs ...runtime.Object) *fakeCluster {
	kube := kubefake.NewClientset(objs...)
	fc := &fakeCluster{kube: kube, dyn: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds),
		disc: &servedAPIs{DiscoveryInterface: kube.Discovery(), served: map[string][]string{}}, watches: map[string]int{}}
	count := func(a k8stesting.Action) (bool, watch.Interface, error) {
		fc.mu.Lock()
		fc.watches[a.GetResource().Resource]++
		fc.mu.Unlock()
		return false, nil, nil
	}
	fc.kube.PrependWatchReactor("*", count)
	fc.dyn.PrependWatchReactor("*", count)
	return fc
}

// watching waits until resource has n watches open: the fake clients
// drop events that happen between an informer's list and its watch.
func (fc *fakeCluster) watching(t *testing.T, n int, resources ...string) {
	t.Helper()
	eventually(t, func() (bool, string) {
		fc.mu.Lock()
		defer fc.mu.Unlock()
		for _, r := range resources {
			if fc.watches[r] < n {
				return false, fmt.Sprintf("watches: %v", fc.watches)
			}
		}
		return true, ""
	})
}

func eventually(t *testing.T, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reached: %s", why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mgr is a real manager on an embedded etcd.
type mgr struct {
	m   *manager.Manager
	ctx context.Context
}

func newManager(t *testing.T, policy string) *mgr {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, store.Options{DataDir: t.TempDir(), UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	ring := pki.KeyringForTest()
	if _, err := manager.Initialize(ctx, st, time.Now(), ring); err != nil {
		t.Fatal(err)
	}
	m := manager.New(manager.Options{Store: st, Seal: ring})
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	for !m.Ready() {
		time.Sleep(5 * time.Millisecond)
	}
	docs, err := model.ParseDocument("policy.yaml", []byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(ctx, manager.ApplyRequest{Doc: docs[0]}); err != nil {
		t.Fatal(err)
	}
	return &mgr{m: m, ctx: ctx}
}

const groupsPolicy = `
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: web, expression: [{resource_type: Condition, member_type: KubernetesService, key: Tag, operator: EQUALS, value: "dis:k8s:app|web"}]}}
    - {resource_type: ChildGroup, Group: {id: nodes, expression: [{resource_type: Condition, member_type: KubernetesNode, key: IPAddress, operator: MATCHES, value: "*"}]}}
    - {resource_type: ChildGroup, Group: {id: ingress, expression: [{resource_type: Condition, member_type: KubernetesIngress, key: Name, operator: EQUALS, value: web}]}}
    - {resource_type: ChildGroup, Group: {id: gateway, expression: [{resource_type: Condition, member_type: KubernetesGateway, key: Name, operator: EQUALS, value: gw}]}}
    - {resource_type: ChildGroup, Group: {id: egress, expression: [{resource_type: Condition, member_type: AntreaEgress, key: Name, operator: EQUALS, value: eg}]}}
    - {resource_type: ChildGroup, Group: {id: pool, expression: [{resource_type: Condition, member_type: AntreaIPPool, key: Name, operator: EQUALS, value: pool-a}]}}
`

// members describes a group's effective members: addresses, then IP+port
// members.
func (m *mgr) members(group string) string {
	var addrs, ports []string
	m.m.Read(func(v manager.View) {
		for _, r := range v.Index().Addresses("/infra/domains/default/groups/" + group) {
			addrs = append(addrs, address.FormatRange(r))
		}
		for _, p := range v.Index().IPPorts("/infra/domains/default/groups/" + group) {
			ports = append(ports, p.String())
		}
	})
	return strings.TrimSpace(strings.Join(addrs, " ") + " " + strings.Join(ports, " "))
}

func (m *mgr) expect(t *testing.T, want map[string]string) {
	t.Helper()
	eventually(t, func() (bool, string) {
		var diffs []string
		for g, w := range want {
			if got := m.members(g); got != w {
				diffs = append(diffs, fmt.Sprintf("%s: %q, want %q", g, got, w))
			}
		}
		slices.Sort(diffs)
		return len(diffs) == 0, strings.Join(diffs, "; ")
	})
}

// run starts an adapter for cluster c1, reporting to m.
func run(t *testing.T, m *mgr, fc *fakeCluster, sink adapter.Sink) (*adapter.Adapter, chan error) {
	t.Helper()
	if sink == nil {
		sink = &serve.LocalSink{M: m.m, Cluster: "c1"}
	}
	a := adapter.New(adapter.Options{Cluster: "c1", Kube: fc.kube, Dynamic: fc.dyn, Discovery: fc.disc, Sink: sink,
		Heartbeat: time.Second, Batch: 10 * time.Millisecond, Rediscover: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the adapter did not stop")
		}
	})
	return a, done
}

func gvr(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

var (
	egressV1alpha2 = gvr("crd.antrea.io", "v1alpha2", "egresses")
	egressV1beta1  = gvr("crd.antrea.io", "v1beta1", "egresses")
	poolV1alpha2   = gvr("crd.antrea.io", "v1alpha2", "ippools")
	poolV1beta1    = gvr("crd.antrea.io", "v1beta1", "ippools")
	gatewayV1      = gvr("gateway.networking.k8s.io", "v1", "gateways")
)

func (fc *fakeCluster) apply(t *testing.T, r schema.GroupVersionResource, ns, y string) {
	t.Helper()
	u := unstr(t, y)
	ctx := context.Background()
	res := fc.dyn.Resource(r).Namespace(ns)
	if _, err := res.Get(ctx, u.GetName(), metav1.GetOptions{}); err == nil {
		if _, err := res.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := res.Create(ctx, u, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestAdapterFollowsCluster walks one cluster through the changes an
// adapter must follow, checking the manager's groups after each.
func TestAdapterFollowsCluster(t *testing.T) {
	ctx := context.Background()
	nplSvc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "npl", Labels: map[string]string{"app": "web"},
		Annotations: map[string]string{inventory.AnnotationNPLEnabled: "true"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10", Selector: map[string]string{"app": "npl"},
			Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}}}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "npl-1", Labels: map[string]string{"app": "npl"}},
		Spec:   corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
		Status: corev1.PodStatus{PodIP: "10.244.0.7", PodIPs: []corev1.PodIP{{IP: "10.244.0.7"}}}}
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "192.168.1.20"}}}}}
	fc := newFakeCluster(node("n1", "10.0.0.1"), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		lbService("web", "192.168.1.10"), nplSvc, pod, ing)
	m := newManager(t, groupsPolicy)
	if _, _, err := m.m.RegisterCluster(m.ctx, "c1", manager.SourceInProcess); err != nil {
		t.Fatal(err)
	}
	a, _ := run(t, m, fc, nil)
	// No CRD is installed: the core kinds alone are reported.
	m.expect(t, map[string]string{"nodes": "10.0.0.1", "web": "192.168.1.10", "ingress": "192.168.1.20", "egress": "", "gateway": "", "pool": ""})
	eventually(t, func() (bool, string) { return a.Synced(), "not synced" })
	fc.watching(t, 1, "nodes", "services", "pods", "ingresses", "namespaces")

	kube := fc.kube
	steps := []struct {
		name   string
		change func(t *testing.T)
		want   map[string]string
	}{
		{"NodePortLocal mapping added", func(t *testing.T) {
			p, _ := kube.CoreV1().Pods("shop").Get(ctx, "npl-1", metav1.GetOptions{})
			p.Annotations = map[string]string{inventory.AnnotationNPL: `[{"podPort":8080,"nodeIP":"10.0.0.1","nodePort":61001,"protocol":"tcp"}]`}
			mustDo(t)(kube.CoreV1().Pods("shop").Update(ctx, p, metav1.UpdateOptions{}))
		}, map[string]string{"web": "192.168.1.10 10.0.0.1:TCP/61001"}},
		{"NodePortLocal mapping removed", func(t *testing.T) {
			p, _ := kube.CoreV1().Pods("shop").Get(ctx, "npl-1", metav1.GetOptions{})
			p.Annotations = nil
			mustDo(t)(kube.CoreV1().Pods("shop").Update(ctx, p, metav1.UpdateOptions{}))
		}, map[string]string{"web": "192.168.1.10"}},
		{"LoadBalancer becomes NodePort", func(t *testing.T) {
			s := lbService("web", "")
			s.Spec.Type = corev1.ServiceTypeNodePort
			mustDo(t)(kube.CoreV1().Services("shop").Update(ctx, s, metav1.UpdateOptions{}))
		}, map[string]string{"web": "10.0.0.1:TCP/31443"}},
		{"NodePort becomes ClusterIP", func(t *testing.T) {
			s := lbService("web", "")
			s.Spec.Type, s.Spec.Ports[0].NodePort = corev1.ServiceTypeClusterIP, 0
			mustDo(t)(kube.CoreV1().Services("shop").Update(ctx, s, metav1.UpdateOptions{}))
		}, map[string]string{"web": ""}},
		{"a second node joins", func(t *testing.T) {
			mustDo(t)(kube.CoreV1().Nodes().Create(ctx, node("n2", "10.0.0.2"), metav1.CreateOptions{}))
		}, map[string]string{"nodes": "10.0.0.1-10.0.0.2"}},
		{"Antrea CRDs installed, v1alpha2 only", func(t *testing.T) {
			fc.apply(t, egressV1alpha2, "", egress("v1alpha2", "10.1.0.5"))
			fc.apply(t, poolV1alpha2, "", `{apiVersion: crd.antrea.io/v1alpha2, kind: IPPool, metadata: {name: pool-a}, spec: {ipVersion: 4, ipRanges: [{cidr: 10.2.0.0/24, gateway: 10.2.0.1, prefixLength: 24}]}}`)
			fc.disc.serve("crd.antrea.io/v1alpha2", "egresses", "externalippools", "ippools")
		}, map[string]string{"egress": "10.1.0.5", "pool": "10.2.0.0/24"}},
		{"Egress IP reassigned", func(t *testing.T) {
			fc.watching(t, 1, "egresses")
			fc.apply(t, egressV1alpha2, "", egress("v1alpha2", "10.1.0.6"))
		}, map[string]string{"egress": "10.1.0.6"}},
		{"Gateway API installed", func(t *testing.T) {
			fc.apply(t, gatewayV1, "shop", `{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: {name: gw, namespace: shop}, spec: {gatewayClassName: antrea, listeners: [{name: https, port: 443, protocol: HTTPS}]}, status: {addresses: [{type: IPAddress, value: 192.168.1.30}, {type: Hostname, value: gw.example}]}}`)
			fc.disc.serve("gateway.networking.k8s.io/v1", "gateways")
		}, map[string]string{"gateway": "192.168.1.30"}},
		{"Gateway addresses change", func(t *testing.T) {
			fc.watching(t, 1, "gateways")
			fc.apply(t, gatewayV1, "shop", `{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: {name: gw, namespace: shop}, spec: {gatewayClassName: antrea}, status: {addresses: [{value: 192.168.1.31}, {type: IPAddress, value: "fd00::31"}]}}`)
		}, map[string]string{"gateway": "192.168.1.31 fd00::31"}},
		{"Ingress deleted", func(t *testing.T) {
			if err := kube.NetworkingV1().Ingresses("shop").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{"ingress": ""}},
		{"Gateway API uninstalled", func(t *testing.T) {
			fc.disc.serve("gateway.networking.k8s.io/v1")
		}, map[string]string{"gateway": "", "egress": "10.1.0.6"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change(t)
			m.expect(t, st.want)
		})
	}

	// Antrea upgraded: v1beta1 is served too. The adapter moves to it
	// and the Egress never leaves its group on the way.
	t.Run("Antrea upgraded to v1beta1", func(t *testing.T) {
		_, sub, err := m.m.Subscribe(m.m.Revision())
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		fc.apply(t, egressV1beta1, "", egress("v1beta1", "10.1.0.6"))
		fc.apply(t, poolV1beta1, "", `{apiVersion: crd.antrea.io/v1beta1, kind: IPPool, metadata: {name: pool-a}, spec: {ipRanges: [{cidr: 10.2.0.0/24}], subnetInfo: {gateway: 10.2.0.1, prefixLength: 24}}}`)
		fc.disc.serve("crd.antrea.io/v1beta1", "egresses", "externalippools", "ippools")
		eventually(t, func() (bool, string) {
			hb := heartbeatOf(m, "c1")
			return hb != nil && hb.APIs["Egress"] == "crd.antrea.io/v1beta1" && a.Synced(), fmt.Sprintf("heartbeat %+v", hb)
		})
		m.expect(t, map[string]string{"egress": "10.1.0.6", "pool": "10.2.0.0/24"})
		for {
			select {
			case ev := <-sub.C:
				if ev.Group != nil && (len(ev.Group.RemovedAddresses) > 0 || len(ev.Group.RemovedMembers) > 0) {
					t.Fatalf("a member left on the upgrade: %+v", ev)
				}
				continue
			default:
			}
			break
		}
	})

	t.Run("discovery fails", func(t *testing.T) {
		fc.disc.setFail(true)
		time.Sleep(100 * time.Millisecond) // several rediscoveries
		m.expect(t, map[string]string{"egress": "10.1.0.6", "pool": "10.2.0.0/24"})
		fc.disc.setFail(false)
	})

	// What the manager holds is exactly the cluster: compare digests.
	t.Run("digest equals the cluster", func(t *testing.T) {
		eventually(t, func() (bool, string) {
			_, have, err := m.m.InventoryDigest(m.ctx, "c1")
			if err != nil {
				return false, err.Error()
			}
			want := a.Snapshot()
			if len(have) != len(want) {
				return false, fmt.Sprintf("manager %d objects, cluster %d", len(have), len(want))
			}
			for id, enc := range want {
				if have[id] != inventory.Hash(enc) {
					return false, "differs: " + id
				}
			}
			return true, ""
		})
	})
}

// TestAdapterEgressInEffectAndNamedTargetPort: through the adapter's
// informers and the manager, an Egress's pool IP joins its group only
// once Antrea reports a Node took it, and a NodePortLocal Service with a
// named target port holds only the mappings of the container port of
// that name, not its pods' other mappings. This follows antrea-agent's
// egress controller (pkg/agent/controller/egress/egress_controller.go,
// syncEgress and updateEgressStatus) and NodePortLocal controller
// (pkg/agent/nodeportlocal/k8s/npl_controller.go, handleAddUpdatePod).
func TestAdapterEgressInEffectAndNamedTargetPort(t *testing.T) {
	ctx := context.Background()
	svc := func(name string, labels map[string]string, target intstr.IntOrString) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, Labels: labels,
			Annotations: map[string]string{inventory.AnnotationNPLEnabled: "true"}},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10", Selector: map[string]string{"app": "npl"},
				Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: target}}}}
	}
	web := svc("web-npl", map[string]string{"app": "web"}, intstr.FromString("http"))
	metrics := svc("metrics", nil, intstr.FromString("metrics"))
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "npl-1", Labels: map[string]string{"app": "npl"},
		Annotations: map[string]string{inventory.AnnotationNPL: `[{"podPort":8080,"nodeIP":"10.0.0.1","nodePort":61001,"protocol":"tcp"},{"podPort":9100,"nodeIP":"10.0.0.1","nodePort":61002,"protocol":"tcp"}]`}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "nginx", Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}, {Name: "metrics", ContainerPort: 9100, Protocol: corev1.ProtocolTCP}}}}},
		Status: corev1.PodStatus{PodIP: "10.244.0.7", PodIPs: []corev1.PodIP{{IP: "10.244.0.7"}}}}
	fc := newFakeCluster(node("n1", "10.0.0.1"), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, web, metrics, pod)
	fc.apply(t, egressV1beta1, "", `{apiVersion: crd.antrea.io/v1beta1, kind: Egress, metadata: {name: eg}, spec: {appliedTo: {podSelector: {matchLabels: {app: web}}}, egressIP: 10.1.0.5, externalIPPool: ext},
  status: {conditions: [{type: IPAssigned, status: "False", reason: AssignmentError, message: "Failed to assign the IP to EgressNode: no Node available"}]}}`)
	fc.disc.serve("crd.antrea.io/v1beta1", "egresses", "externalippools", "ippools")
	m := newManager(t, groupsPolicy)
	if _, _, err := m.m.RegisterCluster(m.ctx, "c1", manager.SourceInProcess); err != nil {
		t.Fatal(err)
	}
	a, _ := run(t, m, fc, nil)
	eventually(t, func() (bool, string) { return a.Synced(), "not synced" })
	m.expect(t, map[string]string{"web": "10.0.0.1:TCP/61001", "egress": ""})
	fc.watching(t, 1, "egresses", "pods")
	fc.apply(t, egressV1beta1, "", `{apiVersion: crd.antrea.io/v1beta1, kind: Egress, metadata: {name: eg}, spec: {appliedTo: {podSelector: {matchLabels: {app: web}}}, egressIP: 10.1.0.5, externalIPPool: ext},
  status: {egressNode: n1, egressIP: 10.1.0.5, conditions: [{type: IPAssigned, status: "True", reason: Assigned}]}}`)
	m.expect(t, map[string]string{"egress": "10.1.0.5"})
	// The Service's target port now names the other container port.
	web.Spec.Ports[0].TargetPort = intstr.FromString("metrics")
	mustDo(t)(fc.kube.CoreV1().Services("shop").Update(ctx, web, metav1.UpdateOptions{}))
	m.expect(t, map[string]string{"web": "10.0.0.1:TCP/61002"})
	// "True" is not "true": Antrea ignores the Service.
	web.Annotations[inventory.AnnotationNPLEnabled] = "True"
	mustDo(t)(fc.kube.CoreV1().Services("shop").Update(ctx, web, metav1.UpdateOptions{}))
	m.expect(t, map[string]string{"web": ""})
}

func heartbeatOf(m *mgr, cluster string) *wire.Heartbeat {
	for _, c := range m.m.ClusterStatuses() {
		if c.Name == cluster {
			return c.Heartbeat
		}
	}
	return nil
}

func mustDo(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestAdapterResynchronises: when the manager's copy moved under the
// adapter (another writer, a restore), its next delta is refused and it
// sends a full synchronisation of only what differs.
func TestAdapterResynchronises(t *testing.T) {
	ctx := context.Background()
	fc := newFakeCluster(node("n1", "10.0.0.1"), lbService("web", "192.168.1.10"))
	m := newManager(t, groupsPolicy)
	if _, _, err := m.m.RegisterCluster(m.ctx, "c1", manager.SourceInProcess); err != nil {
		t.Fatal(err)
	}
	a, _ := run(t, m, fc, nil)
	m.expect(t, map[string]string{"nodes": "10.0.0.1", "web": "192.168.1.10"})
	eventually(t, func() (bool, string) { return a.Synced(), "not synced" })
	fc.watching(t, 1, "nodes", "services")
	// Another writer: a stray Service appears, the real node vanishes.
	rev, _, err := m.m.InventoryDigest(m.ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	stray := &inventory.Service{Meta: inventory.Meta{Namespace: "shop", Name: "stray", Labels: map[string]string{"app": "web"}},
		Type: inventory.ServiceLoadBalancer, LoadBalancer: []inventory.LoadBalancerIngress{{IP: mustAddr("192.168.1.99")}}}
	if _, err := m.m.WriteInventory(m.ctx, "c1", rev, []inventory.Object{stray}, []inventory.Key{{Kind: inventory.KindNode, Name: "n1"}}, false); err != nil {
		t.Fatal(err)
	}
	m.expect(t, map[string]string{"nodes": "", "web": "192.168.1.10 192.168.1.99"})
	// The adapter's next change meets the moved revision.
	mustDo(t)(fc.kube.CoreV1().Nodes().Create(ctx, node("n2", "10.0.0.2"), metav1.CreateOptions{}))
	m.expect(t, map[string]string{"nodes": "10.0.0.1-10.0.0.2", "web": "192.168.1.10"})
}

// blockingList holds every list of a resource until released: the kind
// stays unsynced meanwhile.
func blockingList(fc *fakeCluster, resource string) (release func()) {
	ch := make(chan struct{})
	fc.dyn.PrependReactor("list", resource, func(k8stesting.Action) (bool, runtime.Object, error) {
		<-ch
		return false, nil, nil
	})
	return sync.OnceFunc(func() { close(ch) })
}

// TestAdapterNeverSendsPartialView: while one kind is still listing,
// nothing is reported: a manager must not take half a cluster for all
// of it.
func TestAdapterNeverSendsPartialView(t *testing.T) {
	fc := newFakeCluster(node("n1", "10.0.0.1"), lbService("web", "192.168.1.10"))
	fc.disc.serve("crd.antrea.io/v1beta1", "egresses", "externalippools", "ippools")
	fc.apply(t, egressV1beta1, "", egress("v1beta1", "10.1.0.5"))
	release := blockingList(fc, "egresses")
	defer release()
	m := newManager(t, groupsPolicy)
	if _, _, err := m.m.RegisterCluster(m.ctx, "c1", manager.SourceInProcess); err != nil {
		t.Fatal(err)
	}
	a, _ := run(t, m, fc, nil)
	fc.watching(t, 1, "nodes", "services") // the core kinds listed
	// Long enough for dozens of send attempts.
	time.Sleep(300 * time.Millisecond)
	if a.Synced() || m.members("nodes") != "" || m.members("web") != "" {
		t.Fatalf("reported before every kind was listed: synced %v, nodes %q", a.Synced(), m.members("nodes"))
	}
	// The heartbeat already tells the manager the adapter runs.
	eventually(t, func() (bool, string) { return heartbeatOf(m, "c1") != nil, "no heartbeat" })
	release()
	m.expect(t, map[string]string{"nodes": "10.0.0.1", "web": "192.168.1.10", "egress": "10.1.0.5"})
}

// TestAdapterRevoked: a deregistered cluster's adapter stops with
// ErrRevoked.
func TestAdapterRevoked(t *testing.T) {
	fc := newFakeCluster(node("n1", "10.0.0.1"))
	m := newManager(t, groupsPolicy)
	if _, _, err := m.m.RegisterCluster(m.ctx, "c1", manager.SourceInProcess); err != nil {
		t.Fatal(err)
	}
	a, done := run(t, m, fc, nil)
	eventually(t, func() (bool, string) { return a.Synced(), "not synced" })
	if _, err := m.m.DeregisterCluster(m.ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, adapter.ErrRevoked) || !strings.Contains(err.Error(), "not registered") {
			t.Fatalf("Run returned %v", err)
		}
		done <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("the adapter of a deregistered cluster still runs")
	}
	if got := m.members("nodes"); got != "" {
		t.Fatalf("members after deregistration: %q", got)
	}
}

// TestAdapterHealth: the heartbeat says Down, and why, while the
// cluster's API server fails, and Up again once it recovers.
func TestAdapterHealth(t *testing.T) {
	fc := newFakeCluster(node("n1", "10.0.0.1"))
	var failing sync.Map
	fc.kube.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if _, ok := failing.Load("pods"); ok {
			return true, nil, apierrors.NewServiceUnavailable("the API server is restarting")
		}
		return false, nil, nil
	})
	failing.Store("pods", true)
	m := newManager(t, groupsPolicy)
	if _, _, err := m.m.RegisterCluster(m.ctx, "c1", manager.SourceInProcess); err != nil {
		t.Fatal(err)
	}
	a, _ := run(t, m, fc, nil)
	state := func() manager.ClusterStatus {
		for _, c := range m.m.ClusterStatuses() {
			if c.Name == "c1" {
				return c
			}
		}
		return manager.ClusterStatus{}
	}
	eventually(t, func() (bool, string) {
		st := state()
		return st.State == manager.StateDown && strings.Contains(st.Reason, "restarting"), fmt.Sprintf("%s %s", st.State, st.Reason)
	})
	if a.Synced() {
		t.Fatal("synced without the pods")
	}
	failing.Delete("pods")
	eventually(t, func() (bool, string) {
		st := state()
		hb := st.Heartbeat
		return st.State == manager.StateUp && a.Synced() && hb != nil && hb.Counts["Node"] == 1 && hb.APIs["Pod"] == "v1" && !hb.LastSync.IsZero(),
			fmt.Sprintf("%s %s %+v", st.State, st.Reason, hb)
	})
}

// failingSink refuses writes while told to, as an unreachable manager.
type failingSink struct {
	adapter.Sink
	mu   sync.Mutex
	fail bool
}

func (s *failingSink) set(v bool) { s.mu.Lock(); s.fail = v; s.mu.Unlock() }

func (s *failingSink) Write(ctx context.Context, base int64, up [][]byte, del []string, sync bool) (int64, error) {
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if fail {
		return 0, &net503{}
	}
	return s.Sink.Write(ctx, base, up, del, sync)
}

type net503 struct{}

func (*net503) Error() string {
	return "manager answered " + http.StatusText(http.StatusServiceUnavailable)
}

// TestAdapterCatchesUpAfterManagerOutage: changes made while the manager
// could not be reached arrive once it can, deletes included.
func TestAdapterCatchesUpAfterManagerOutage(t *testing.T) {
	ctx := context.Background()
	fc := newFakeCluster(node("n1", "10.0.0.1"), lbService("web", "192.168.1.10"))
	m := newManager(t, groupsPolicy)
	if _, _, err := m.m.RegisterCluster(m.ctx, "c1", manager.SourceInProcess); err != nil {
		t.Fatal(err)
	}
	sink := &failingSink{Sink: &serve.LocalSink{M: m.m, Cluster: "c1"}}
	a, _ := run(t, m, fc, sink)
	m.expect(t, map[string]string{"nodes": "10.0.0.1", "web": "192.168.1.10"})
	eventually(t, func() (bool, string) { return a.Synced(), "not synced" })
	fc.watching(t, 1, "nodes", "services")
	sink.set(true)
	mustDo(t)(fc.kube.CoreV1().Nodes().Create(ctx, node("n2", "10.0.0.2"), metav1.CreateOptions{}))
	if err := fc.kube.CoreV1().Services("shop").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() (bool, string) { return !a.Synced(), "no failed send yet" })
	if got := m.members("nodes"); got != "10.0.0.1" {
		t.Fatalf("nodes during the outage: %q", got)
	}
	sink.set(false)
	m.expect(t, map[string]string{"nodes": "10.0.0.1-10.0.0.2", "web": ""})
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// The object builders are the package's own tests' (transform_test.go),
// shared through export_test.go.
var (
	node      = adapter.TestNode
	lbService = adapter.TestLBService
	unstr     = adapter.TestUnstr
	egress    = adapter.TestEgress
)

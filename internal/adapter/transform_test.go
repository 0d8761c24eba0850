package adapter

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
)

// TestTransformCachesRecords: the informer caches an object's identity
// and its record, the same record the whole object gives; an object
// kordon cannot read caches no record.
func TestTransformCachesRecords(t *testing.T) {
	a := New(Options{Cluster: "c1"})
	full := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "p", UID: "u1", ResourceVersion: "42", Labels: map[string]string{"app": "web"},
		Annotations:   map[string]string{inventory.AnnotationNPL: `[{"podPort":80,"nodeIP":"10.0.0.1","nodePort":61000}]`, "other": strings.Repeat("x", 1000)},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}},
		Spec:   corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "nginx", Env: []corev1.EnvVar{{Name: "A", Value: "b"}}}}},
		Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "10.244.0.5"}, {IP: "fd00::5"}}, Conditions: []corev1.PodCondition{{Type: corev1.PodReady}}}}
	broken := full.DeepCopy()
	broken.Annotations[inventory.AnnotationNPL] = "not json"
	egress := unstr(t, egress("v1alpha2", "10.1.0.5"))
	for _, tt := range []struct {
		obj      runtime.Object
		readable bool
	}{
		{full, true}, {broken, false}, {node("n1", "10.0.0.1"), true}, {lbService("web", "192.168.1.1"), true},
		{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"team": "a"}}}, true}, {egress, true},
	} {
		got, err := a.transform(tt.obj.DeepCopyObject())
		if err != nil {
			t.Fatal(err)
		}
		c := got.(*cached)
		m, _ := metaOf(tt.obj)
		if c.Name != m.GetName() || c.Namespace != m.GetNamespace() || c.ResourceVersion != m.GetResourceVersion() || c.Labels != nil || c.ManagedFields != nil {
			t.Errorf("%T: cached metadata %+v", tt.obj, c.ObjectMeta)
		}
		if !tt.readable {
			if c.enc != nil {
				t.Errorf("%T: unreadable object cached a record", tt.obj)
			}
			continue
		}
		o, err := convert("c1", tt.obj)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := inventory.Encode(o)
		if string(c.enc) != string(want) {
			t.Errorf("%T: cached record\n%s\nwant\n%s", tt.obj, c.enc, want)
		}
		if again, _ := a.transform(c); again != c {
			t.Errorf("%T: transforming a cached object changed it", tt.obj)
		}
	}
}

func metaOf(obj any) (metav1.Object, error) {
	o, ok := obj.(metav1.Object)
	if !ok {
		return nil, errors.New("no metadata")
	}
	return o, nil
}

func node(name, ip string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:   corev1.NodeSpec{PodCIDRs: []string{"10.244.0.0/24"}},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}, {Type: corev1.NodeHostName, Address: name}}, Images: []corev1.ContainerImage{{Names: []string{"big/image:1"}, SizeBytes: 1 << 30}}}}
}

func lbService(name, vip string) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Port: 443, Protocol: corev1.ProtocolTCP, NodePort: 31443, TargetPort: intstr.FromInt32(8443)}}}}
	if vip != "" {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: vip}}
	}
	return s
}

func unstr(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(y), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func egress(version, ip string) string {
	return `{apiVersion: crd.antrea.io/` + version + `, kind: Egress, metadata: {name: eg}, spec: {appliedTo: {podSelector: {matchLabels: {app: web}}}, externalIPPool: ext}, status: {egressIP: "` + ip + `", egressNode: n1}}`
}

// TestTransformKeepsWhatResolutionNeeds: the trimmed record keeps what
// resolving a named targetPort and an Egress's IP in effect need, and no
// more: a pod's named container ports (not its unnamed ones, nor plain
// init containers'), an Egress's IPAllocated and IPAssigned conditions.
// Antrea's NodePortLocal resolves a named target port through
// pod.spec.containers[].ports (handleAddUpdatePod in
// pkg/agent/nodeportlocal/k8s/npl_controller.go); its agent realizes a
// pool's egress IP only once a Node took it and reported it in status
// (syncEgress, updateEgressStatus in
// pkg/agent/controller/egress/egress_controller.go).
func TestTransformKeepsWhatResolutionNeeds(t *testing.T) {
	a := New(Options{Cluster: "c1"})
	always := corev1.ContainerRestartPolicyAlways
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "p", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "n1",
			InitContainers: []corev1.Container{{Name: "init", Ports: []corev1.ContainerPort{{Name: "setup", ContainerPort: 9999}}},
				{Name: "proxy", RestartPolicy: &always, Ports: []corev1.ContainerPort{{Name: "admin", ContainerPort: 15000, Protocol: corev1.ProtocolTCP}}}},
			Containers: []corev1.Container{{Name: "c", Image: "nginx", Ports: []corev1.ContainerPort{
				{ContainerPort: 9090, Protocol: corev1.ProtocolTCP}, {Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP, HostPort: 80}}}}},
		Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "10.244.0.5"}}}}
	eg := unstr(t, `{apiVersion: crd.antrea.io/v1beta1, kind: Egress, metadata: {name: eg}, spec: {appliedTo: {podSelector: {matchLabels: {app: web}}}, egressIP: 10.1.0.5, externalIPPool: ext},
  status: {egressNode: "", egressIP: "", conditions: [{type: IPAllocated, status: "True", reason: Allocated, lastTransitionTime: "2026-01-01T00:00:00Z"},
    {type: IPAssigned, status: "False", reason: AssignmentError, message: "Failed to assign the IP to EgressNode: no Node available", lastTransitionTime: "2026-01-01T00:00:00Z"}, {type: Other, status: "True"}]}}`)
	decode := func(obj runtime.Object) inventory.Object {
		t.Helper()
		got, err := a.transform(obj)
		if err != nil {
			t.Fatal(err)
		}
		o, err := inventory.Decode(got.(*cached).enc)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	p := decode(pod).(*inventory.Pod)
	want := []inventory.NamedPort{{Name: "http", Port: 8080, Protocol: address.TCP}, {Name: "admin", Port: 15000, Protocol: address.TCP, Sidecar: true}}
	if !reflect.DeepEqual(p.NamedPorts, want) {
		t.Errorf("named ports %+v, want %+v", p.NamedPorts, want)
	}
	e := decode(eg).(*inventory.Egress)
	if eff := e.Effect(); len(eff.IPs) != 0 || !strings.Contains(eff.Why, "IPAssigned False (AssignmentError), Failed to assign the IP to EgressNode: no Node available") {
		t.Errorf("Egress effect %+v", eff)
	}
	if len(e.Conditions) != 2 {
		t.Errorf("conditions %+v: IPAllocated and IPAssigned only", e.Conditions)
	}
}

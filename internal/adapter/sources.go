package adapter

import (
	"bytes"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kordon-dev/kordon/internal/inventory"
)

// crdKind is a kind served by a CRD, in the versions kordon reads, most
// preferred first.
type crdKind struct {
	kind     inventory.Kind
	group    string
	resource string
	versions []string
}

var crdKinds = []crdKind{
	{inventory.KindGateway, "gateway.networking.k8s.io", "gateways", []string{"v1", "v1beta1"}},
	{inventory.KindEgress, "crd.antrea.io", "egresses", []string{"v1beta1", "v1alpha2"}},
	{inventory.KindExternalIPPool, "crd.antrea.io", "externalippools", []string{"v1beta1", "v1alpha2"}},
	{inventory.KindIPPool, "crd.antrea.io", "ippools", []string{"v1beta1", "v1alpha2"}},
}

func (c crdKind) gvr(version string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: c.group, Version: version, Resource: c.resource}
}

// cached is what an informer keeps of an object: its identity and the
// record kordon stores, made as the object arrives. Fifty thousand Pods
// cached whole (spec, status, managed fields) cost gigabytes; as records,
// tens of megabytes (BenchmarkAdapterMemory). Comparing records also tells
// which updates touch nothing kordon reads.
type cached struct {
	metav1.ObjectMeta // name, namespace and resource version only
	// enc is the stored form; nil for an object kordon cannot read, which
	// is then absent from the inventory.
	enc []byte
}

func (c *cached) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

func (c *cached) DeepCopyObject() runtime.Object {
	return &cached{ObjectMeta: *c.ObjectMeta.DeepCopy(), enc: bytes.Clone(c.enc)}
}

// kindOf names the inventory kind of an object an informer delivers.
func kindOf(obj any) inventory.Kind {
	switch o := obj.(type) {
	case *corev1.Node:
		return inventory.KindNode
	case *corev1.Namespace:
		return inventory.KindNamespace
	case *corev1.Service:
		return inventory.KindService
	case *corev1.Pod:
		return inventory.KindPod
	case *networkingv1.Ingress:
		return inventory.KindIngress
	case *unstructured.Unstructured:
		return inventory.Kind(o.GetKind())
	}
	return ""
}

// transform turns what the API server sends into what the informer
// caches.
func (a *Adapter) transform(obj any) (any, error) {
	if c, ok := obj.(*cached); ok {
		return c, nil
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return obj, nil
	}
	c := &cached{ObjectMeta: metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), ResourceVersion: m.GetResourceVersion()}}
	c.enc = a.encode(idOf(kindOf(obj), m), obj)
	return c, nil
}

// convert turns a cached object into kordon's record; ok is false for an
// object kordon cannot read (it is then treated as absent).
func convert(cluster string, obj any) (inventory.Object, error) {
	switch o := obj.(type) {
	case *corev1.Node:
		return inventory.FromNode(cluster, o)
	case *corev1.Namespace:
		return inventory.FromNamespace(cluster, o)
	case *corev1.Service:
		return inventory.FromService(cluster, o)
	case *corev1.Pod:
		return inventory.FromPod(cluster, o)
	case *networkingv1.Ingress:
		return inventory.FromIngress(cluster, o)
	case *unstructured.Unstructured:
		b, err := json.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		return inventory.Convert(cluster, inventory.Source{APIVersion: o.GetAPIVersion(), Kind: o.GetKind()}, b)
	}
	return nil, nil
}

// idOf is an object's id (kind/namespace/name) from its cached form.
func idOf(kind inventory.Kind, obj metav1.Object) string {
	ns := obj.GetNamespace()
	if !kind.Namespaced() {
		ns = ""
	}
	return string(kind) + "/" + ns + "/" + obj.GetName()
}

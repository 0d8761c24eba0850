package adapter

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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

// slim trims what informers cache to the fields kordon reads: a Node's
// status carries its image list, a Pod its whole spec; tens of thousands
// of them would cost more memory than everything else together.
func slim(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		keep := &corev1.Pod{ObjectMeta: slimMeta(o.ObjectMeta, inventory.AnnotationNPL, inventory.AnnotationIPPools)}
		keep.Spec.NodeName, keep.Spec.HostNetwork = o.Spec.NodeName, o.Spec.HostNetwork
		keep.Status.PodIP, keep.Status.PodIPs = o.Status.PodIP, o.Status.PodIPs
		return keep, nil
	case *corev1.Node:
		keep := &corev1.Node{ObjectMeta: slimMeta(o.ObjectMeta)}
		keep.Spec.PodCIDR, keep.Spec.PodCIDRs = o.Spec.PodCIDR, o.Spec.PodCIDRs
		keep.Status.Addresses = o.Status.Addresses
		return keep, nil
	case *corev1.Namespace:
		return &corev1.Namespace{ObjectMeta: slimMeta(o.ObjectMeta)}, nil
	case *corev1.Service:
		o.ManagedFields = nil
		return o, nil
	case *networkingv1.Ingress:
		o.ManagedFields = nil
		return o, nil
	case *unstructured.Unstructured:
		unstructured.RemoveNestedField(o.Object, "metadata", "managedFields")
		return o, nil
	}
	return obj, nil
}

func slimMeta(m metav1.ObjectMeta, annotations ...string) metav1.ObjectMeta {
	out := metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion, Labels: m.Labels}
	for _, a := range annotations {
		if v, ok := m.Annotations[a]; ok {
			if out.Annotations == nil {
				out.Annotations = map[string]string{}
			}
			out.Annotations[a] = v
		}
	}
	return out
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

package inventory

import (
	"maps"
	"reflect"
	"testing"
	"unsafe"
)

// TestDumpSharesLabels checks that objects of a dump with equal labels
// share one map, and that sharing changes no object's labels.
func TestDumpSharesLabels(t *testing.T) {
	d := &Dump{}
	d.LoadFile("c1", "pods.yaml", []byte(`apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Pod, metadata: {name: a, namespace: shop, labels: {app: web, tier: fe}}}
- {apiVersion: v1, kind: Pod, metadata: {name: b, namespace: shop, labels: {tier: fe, app: web}}}
- {apiVersion: v1, kind: Pod, metadata: {name: c, namespace: shop, labels: {app: web}}}
- {apiVersion: v1, kind: Service, metadata: {name: web, namespace: shop, labels: {app: web}}, spec: {selector: {app: web}}}
`))
	if len(d.Objects) != 4 || len(d.Problems) != 0 {
		t.Fatalf("%d objects, problems %v", len(d.Objects), d.Problems)
	}
	labels := func(i int) map[string]string { return d.Objects[i].GetMeta().Labels }
	same := func(x, y map[string]string) bool {
		return reflect.ValueOf(x).UnsafePointer() == reflect.ValueOf(y).UnsafePointer()
	}
	if !same(labels(0), labels(1)) || !same(labels(2), labels(3)) || !same(labels(2), d.Objects[3].(*Service).Selector) {
		t.Error("equal label maps are not shared")
	}
	if same(labels(0), labels(2)) {
		t.Error("different label maps are shared")
	}
	for i, want := range []map[string]string{{"app": "web", "tier": "fe"}, {"app": "web", "tier": "fe"}, {"app": "web"}, {"app": "web"}} {
		if !maps.Equal(labels(i), want) {
			t.Errorf("object %d: labels %v, want %v", i, labels(i), want)
		}
	}
}

// Objects decoded one at a time share equal strings and label maps
// through an Interner, and keep their content.
func TestInternerShare(t *testing.T) {
	var objs []Object
	for _, name := range []string{"a", "b"} {
		p := &Pod{}
		p.Name, p.Namespace, p.Labels, p.NodeName = name, "ns-"+"1", map[string]string{"app": "web"}, "node-"+"7"
		b, err := Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		o, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
	}
	var in Interner
	for _, o := range objs {
		in.Share(o)
	}
	a, b := objs[0].(*Pod), objs[1].(*Pod)
	if reflect.ValueOf(a.Labels).Pointer() != reflect.ValueOf(b.Labels).Pointer() {
		t.Error("equal label maps are not shared")
	}
	if unsafe.StringData(a.NodeName) != unsafe.StringData(b.NodeName) || unsafe.StringData(a.Namespace) != unsafe.StringData(b.Namespace) {
		t.Error("equal strings are not shared")
	}
	if a.Name != "a" || b.Name != "b" || b.Labels["app"] != "web" || b.NodeName != "node-7" {
		t.Errorf("content changed: %+v %+v", a, b)
	}
}

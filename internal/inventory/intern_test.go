package inventory

import (
	"maps"
	"reflect"
	"testing"
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

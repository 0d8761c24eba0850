package apiserver

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
)

// TestEveryMemberEndpointServes fails when a member kind of model's table
// names an NSX members endpoint that the API does not serve: for each, a
// group selecting one object of the kind must list it at
// .../members/<endpoint>.
func TestEveryMemberEndpointServes(t *testing.T) {
	a := newAPI(t, 0)
	objs := map[inventory.Key]inventory.Object{} // a node is two member kinds
	type probe struct {
		kind  model.MemberKind
		group string
	}
	var probes []probe
	for i, k := range model.MemberKinds() {
		if k.Endpoint == "" {
			continue
		}
		if !k.Type.Kubernetes {
			t.Errorf("member type %s: this test makes cluster objects only; extend it for its endpoint %s", k.Type.Name, k.Endpoint)
			continue
		}
		o := inventory.New(inventory.Kind(k.Type.Inventory))
		if o == nil {
			t.Errorf("member type %s: inventory has no kind %q", k.Type.Name, k.Type.Inventory)
			continue
		}
		m := o.GetMeta()
		m.Cluster, m.Name = "east", "probe"
		if k.Type.Namespaced {
			m.Namespace = "shop"
		}
		objs[inventory.KeyOf(o)] = o
		key, op, value := k.Key, model.OpEquals, "probe"
		if key == "" {
			key = model.KeyName
		}
		if r, ok := k.Type.Rule(key); ok && r.Value == model.ValueAll {
			op, value = model.OpMatches, "*"
		}
		g := fmt.Sprintf("probe-%d", i)
		a.expect("PATCH", groups+"/"+g, fmt.Sprintf(`{"expression":[{"resource_type":"Condition","member_type":%q,"key":%q,"operator":%q,"value":%q}]}`, k.Type.Name, key, op, value), 200)
		probes = append(probes, probe{k, g})
	}
	var list []inventory.Object
	for _, o := range objs {
		list = append(list, o)
	}
	if _, err := a.m.SyncCluster(context.Background(), manager.Cluster{Name: "east", ID: "uuid-east", Source: "test"}, list); err != nil {
		t.Fatal(err)
	}
	for _, p := range probes {
		code, body := a.do(a.admin, "GET", groups+"/"+p.group+"/members/"+p.kind.Endpoint, "")
		if code != 200 {
			t.Errorf("member type %s: GET .../members/%s answers %d: %s", p.kind.Type.Name, p.kind.Endpoint, code, body)
			continue
		}
		if !strings.Contains(body, `"display_name": "probe"`) {
			t.Errorf("member type %s: .../members/%s does not list the member: %s", p.kind.Type.Name, p.kind.Endpoint, body)
		}
	}
}

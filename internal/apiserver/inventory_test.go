package apiserver

import (
	"context"
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
)

// TestInventoryAndReferences: the routes the console reads besides NSX's
// (inventory objects, one object's groups, a group's references, a page
// of a group's members, policies without their rules), their answers and
// their refusals.
func TestInventoryAndReferences(t *testing.T) {
	a := newAPI(t, 0)
	ctx := context.Background()
	var objs []inventory.Object
	for _, n := range []string{"web", "web-2", "db"} {
		objs = append(objs, &inventory.Service{Meta: inventory.Meta{Cluster: "east", Namespace: "shop", Name: n}, Type: inventory.ServiceLoadBalancer,
			LoadBalancer: []inventory.LoadBalancerIngress{{IP: mustAddr("192.168.1." + map[string]string{"web": "1", "web-2": "2", "db": "3"}[n])}}})
	}
	if _, err := a.m.SyncCluster(ctx, manager.Cluster{Name: "east", ID: "east", Source: "test"}, objs); err != nil {
		t.Fatal(err)
	}
	a.expect("PATCH", groups+"/web", k8sGrp, 200)
	a.expect("PATCH", groups+"/outer", `{"expression":[{"resource_type":"PathExpression","paths":["/infra/domains/default/groups/web"]}]}`, 200)
	pol := "/policy/api/v1/infra/domains/default/security-policies/p"
	a.expect("PATCH", pol, `{"category":"Application","rules":[{"id":"r","action":"DROP","destination_groups":["/infra/domains/default/groups/web"]}]}`, 200)
	inv := "/policy/api/v1/kordon/inventory"
	for _, tt := range []struct {
		name, path string
		status     int
		want, not  []string
	}{
		{"by kind and name", inv + "/objects?kind=Service&q=WEB", 200, []string{`"result_count": 2`, `"name": "web-2"`, `"192.168.1.2"`}, []string{`"db"`}},
		{"paged", inv + "/objects?kind=Service&page_size=1", 200, []string{`"result_count": 3`, `"cursor": "1"`}, nil},
		{"not a kind", inv + "/objects?kind=Secret", 400, []string{`is not an inventory kind`}, nil},
		{"a search too long", inv + "/objects?q=" + strings.Repeat("x", maxInventoryQuery+1), 400, []string{"q: at most 256 bytes"}, nil},
		{"one object and its groups", inv + "/object?cluster=east&kind=Service&namespace=shop&name=web", 200,
			[]string{`"member_type": "KubernetesService"`, `"192.168.1.1"`, `"/infra/domains/default/groups/outer"`, `"direct_groups": [` + "\n" + `    "/infra/domains/default/groups/web"`}, nil},
		{"an object that is not there", inv + "/object?cluster=east&kind=Service&namespace=shop&name=nope", 404, []string{"is not in the inventory"}, nil},
		{"an object not named", inv + "/object?cluster=east", 400, []string{"give cluster, kind, name"}, nil},
		{"references", groups + "/web/references", 200, []string{`"result_count": 2`, `"path": "/infra/domains/default/groups/outer"`, `"field": "destination_groups[0]"`}, nil},
		{"references of no group", groups + "/nope/references", 404, []string{"does not exist"}, nil},
		{"a page of members with the counts", groups + "/web/members/effective?page_size=1", 200, []string{`"member_count": 1`, `"KubernetesService": 1`, `"ip_address_count": 1`}, nil},
		{"policies without rules", "/policy/api/v1/infra/domains/default/security-policies?include_rules=false", 200, []string{`"rule_count": 1`}, []string{`"rules"`}},
		{"include_rules neither", "/policy/api/v1/infra/domains/default/security-policies?include_rules=no", 400, []string{"include_rules must be true or false"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out := a.do(a.admin, "GET", tt.path, "")
			if code != tt.status {
				t.Fatalf("status %d, want %d: %s", code, tt.status, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("%q not in %s", w, out)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out, n) {
					t.Errorf("%q in %s", n, out)
				}
			}
		})
	}
	// The inventory is the installation's: a project's principal reads
	// none of it.
	a.expect("PUT", projectV1Path("dev"), `{}`, 200)
	pr := a.token("dev-reader", access.ProjectReader, "dev")
	for _, p := range []string{inv + "/objects", inv + "/object?cluster=east&kind=Service&namespace=shop&name=web"} {
		if code, out := a.do(pr, "GET", p, ""); code != 403 {
			t.Errorf("%s as a project's reader: %d %s", p, code, out)
		}
	}
}

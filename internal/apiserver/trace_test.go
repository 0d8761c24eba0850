package apiserver

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
)

// TestTraceAndAdvise: the trace and advise endpoints answer from the
// manager's live state, follow inventory changes, are reads, and refuse
// bad requests with NSX's error body.
func TestTraceAndAdvise(t *testing.T) {
	a := newAPI(t, 0)
	ctx := context.Background()
	east := manager.Cluster{Name: "east", ID: "uuid-east", Source: "test"}
	objs := func(egressIP string) []inventory.Object {
		eg := &inventory.Egress{Meta: inventory.Meta{Cluster: "east", Name: "eg"}}
		if egressIP != "" {
			eg.StatusIP = netip.MustParseAddr(egressIP)
		}
		return []inventory.Object{
			&inventory.Node{Meta: inventory.Meta{Cluster: "east", Name: "n1"}, InternalIPs: []netip.Addr{mustAddr("10.0.1.1")}},
			&inventory.Namespace{Meta: inventory.Meta{Cluster: "east", Name: "shop"}},
			&inventory.Pod{Meta: inventory.Meta{Cluster: "east", Namespace: "shop", Name: "p", Labels: map[string]string{"app": "web"}}, NodeName: "n1", IPs: []netip.Addr{mustAddr("10.244.0.5")}},
			withSelector(eg),
			&inventory.Service{Meta: inventory.Meta{Cluster: "east", Namespace: "shop", Name: "web"}, Type: inventory.ServiceNodePort,
				Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 80, NodePort: 30080}}},
		}
	}
	if _, err := a.m.SyncCluster(ctx, east, objs("")); err != nil {
		t.Fatal(err)
	}
	doc := `{"resource_type":"Infra","children":[{"resource_type":"ChildTier1","Tier1":{"id":"t1"}},{"resource_type":"ChildDomain","Domain":{"id":"default","children":[
		{"resource_type":"ChildGroup","Group":{"id":"eg","expression":[{"resource_type":"Condition","member_type":"AntreaEgress","key":"Name","operator":"EQUALS","value":"eg"}]}},
		{"resource_type":"ChildGroup","Group":{"id":"vms",` + ipGrp[1:] + `},
		{"resource_type":"ChildGatewayPolicy","GatewayPolicy":{"id":"gp","category":"LocalGatewayRules","scope":["/infra/tier-1s/t1"],"rules":[
			{"id":"eg-to-vms","source_groups":["/infra/domains/default/groups/eg"],"destination_groups":["/infra/domains/default/groups/vms"],"action":"ALLOW"},
			{"id":"rest","destination_groups":["/infra/domains/default/groups/vms"],"action":"DROP"}]}}]}}]}`
	a.expect("PATCH", "/policy/api/v1/infra", doc, 200)

	// The Egress has no IP yet: the pod leaves with its node's IP.
	out := `{"from_pod":"east/shop/p","to":"172.16.0.9","protocol":"TCP","port":5432,"gateway":"/infra/tier-1s/t1"}`
	a.expect("POST", "/policy/api/v1/kordon/trace", out, 200, `"via": "Node"`, `"address": "10.0.1.1"`, `"verdict": "DROP"`, "no egress IP assigned yet")
	a.expect("GET", "/policy/api/v1/kordon/advise", "", 200, `"code": "egress-without-ip"`, `"code": "group-resolves-to-nothing"`)
	// Antrea assigns the IP: the same trace now leaves with it and is allowed.
	if _, err := a.m.SyncCluster(ctx, east, objs("10.0.9.1")); err != nil {
		t.Fatal(err)
	}
	a.expect("POST", "/policy/api/v1/kordon/trace", out, 200, `"via": "Egress"`, `"address": "10.0.9.1"`, `"verdict": "ALLOW"`, `gp/rules/eg-to-vms`)
	if body := a.expect("GET", "/policy/api/v1/kordon/advise", "", 200); strings.Contains(body, "egress-without-ip") {
		t.Errorf("advise still reports the Egress without IP: %s", body)
	}
	a.expect("POST", "/policy/api/v1/kordon/trace", `{"from":"172.16.0.9","to_service":"east/shop/web"}`, 200, `"via": "NodePort"`, `"port": 30080`)

	// A reader may trace (a read); bad requests say what is wrong.
	if code, body := a.do(a.reader, "POST", "/policy/api/v1/kordon/trace", out); code != 200 {
		t.Errorf("a reader's trace: %d %s", code, body)
	}
	for _, tc := range []struct{ body, want string }{
		{`{}`, "either from_pod"},
		{`{"from_pod":"east/shop/p","from":"1.2.3.4"}`, "either from_pod"},
		{`{"from_pod":"east/shop/nope","to":"172.16.0.9","port":1}`, "not in the inventory"},
		{`{"from_pod":"east/shop/p","to":"172.16.0.9"}`, "port is required"},
		{`{"from":"172.16.0.9","to_service":"east/shop/web","colour":1}`, "unknown field"},
		{`{"from":"172.16.0.9","to_service":"east/shop/web","gateway":"/infra/tier-1s/none"}`, "not an existing tier-0 or tier-1"},
	} {
		a.expect("POST", "/policy/api/v1/kordon/trace", tc.body, 400, `"error_code"`, tc.want)
	}
}

func withSelector(e *inventory.Egress) *inventory.Egress {
	e.PodSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	return e
}

package membership

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
)

// TestSeedSummaryTable resolves the example policy over the example
// inventory and checks every group against the seed's summary table.
func TestSeedSummaryTable(t *testing.T) {
	x := loadExamples(t)
	tests := []struct {
		group   string
		addrs   []string
		ipPorts []string
		members []string
	}{
		// Kubernetes Node (IPAddress): node InternalIPs, dual-stack too.
		{"east-nodes", []string{"10.10.1.11-10.10.1.13", "fd00:10:10:1::11"}, nil,
			[]string{"prod-east/Node/east-node-1", "prod-east/Node/east-node-2", "prod-east/Node/east-node-3"}},
		// Kubernetes Node (PodCidr): spec.podCIDRs.
		{"east-pod-cidrs", []string{"10.244.1.0-10.244.3.255", "fd00:244:1::/64"}, nil,
			[]string{"prod-east/Node/east-node-1", "prod-east/Node/east-node-2", "prod-east/Node/east-node-3"}},
		// Antrea Egress: egress IPs; an unassigned Egress is a member with no address.
		{"payments-egress", []string{"10.10.1.100"}, nil, []string{"prod-east/Egress/egress-payments"}},
		{"all-egress", []string{"10.10.1.100", "10.30.1.100"}, nil,
			[]string{"prod-east/Egress/egress-batch", "prod-east/Egress/egress-payments", "prod-west/Egress/egress-analytics"}},
		// Antrea IP Pool: ranges, v1beta1 CIDR and v1alpha2 start-end.
		{"routable-pools", []string{"10.20.0.0/25", "10.40.0.10-10.40.0.50"}, nil,
			[]string{"prod-east/IPPool/routable-pool", "prod-west/IPPool/west-pool"}},
		// Service type=LoadBalancer: LB IPs only (not its node ports).
		{"frontend-lb", []string{"192.168.50.10", "192.168.60.10"}, nil,
			[]string{"prod-east/Service/shop/frontend", "prod-west/Service/shop/frontend"}},
		// Service type=NodePort: every node InternalIP of the Service's family
		// (catalog is IPv4 only: not the IPv6 node address) x node port.
		{"catalog-nodeport", nil, []string{
			"10.10.1.11:TCP/30080", "10.10.1.12:TCP/30080", "10.10.1.13:TCP/30080",
			"10.30.1.11:TCP/30080", "10.30.1.11:UDP/30125", "10.30.1.12:TCP/30080", "10.30.1.12:UDP/30125"},
			[]string{"prod-east/Service/shop/catalog", "prod-west/Service/shop/catalog"}},
		// Service type=ClusterIP with NodePortLocal: node IP + NPL port of each selected pod.
		{"cart-npl", nil, []string{"10.10.1.11:TCP/61001", "10.10.1.12:TCP/61002"}, []string{"prod-east/Service/shop/cart"}},
		// Service type=ClusterIP: a member, but no address.
		{"redis-clusterip", nil, nil, []string{"prod-east/Service/shop/redis"}},
		// Ingress and Gateway: their IPs.
		{"shop-ingress", []string{"192.168.50.30"}, nil, []string{"prod-east/Ingress/shop/web"}},
		{"k8s-gateways", []string{"192.168.50.40", "192.168.60.40"}, nil,
			[]string{"prod-east/Gateway/payments/pay-gw", "prod-west/Gateway/analytics/query-gw"}},
		// Nested groups and literal addresses.
		{"k8s-sources", []string{"10.10.1.11-10.10.1.13", "10.10.1.100", "10.20.0.0/25", "10.30.1.100", "10.40.0.10-10.40.0.50", "fd00:10:10:1::11"}, nil,
			[]string{"prod-east/Egress/egress-batch", "prod-east/Egress/egress-payments", "prod-west/Egress/egress-analytics",
				"prod-east/IPPool/routable-pool", "prod-west/IPPool/west-pool",
				"prod-east/Node/east-node-1", "prod-east/Node/east-node-2", "prod-east/Node/east-node-3"}},
		{"app-vms", []string{"172.16.20.10-172.16.20.20", "fd00:172:16:20::/64"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.group, func(t *testing.T) {
			p := model.GroupPath("default", tt.group)
			if got := addrs(x, p); !equalStrings(got, tt.addrs) {
				t.Errorf("addresses = %q, want %q", got, tt.addrs)
			}
			if got := ipPorts(x, p); !equalStrings(got, tt.ipPorts) {
				t.Errorf("ip+port = %q, want %q", got, tt.ipPorts)
			}
			if got := memberNames(x, p); !equalStrings(got, tt.members) {
				t.Errorf("members = %q, want %q", got, tt.members)
			}
		})
	}
}

func loadExamples(t testing.TB) *Index {
	t.Helper()
	dump, err := inventory.LoadDir(filepath.Join("..", "..", "examples", "inventory"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dump.Problems) > 0 {
		t.Fatalf("example inventory has problems: %v", dump.Problems)
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := model.ParseDocument("policy.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := model.NewConfig().Apply("", docs[0])
	if err != nil {
		t.Fatal(err)
	}
	x := New()
	for _, o := range dump.Objects {
		x.Upsert(o)
	}
	for _, p := range model.Paths(cfg.Groups) {
		setGroup(t, x, p, cfg.Groups[p])
	}
	return x
}

func TestOperators(t *testing.T) {
	x := New()
	for _, s := range []*inventory.Service{
		lbService("east", "shop", "web-frontend", "192.168.1.1", "app=Web", "tier=front"),
		lbService("east", "shop", "web-backend", "192.168.1.2", "app=web", "tier=back"),
		lbService("east", "shop", "api", "192.168.1.3", "app=api"),
		lbService("West-2", "shop", "Web-Frontend", "192.168.2.1", "team=web"),
	} {
		x.Upsert(s)
	}
	svc := model.MemberKubernetesService
	tests := []struct {
		name string
		g    *model.Group
		want []string
	}{
		{"EQUALS is case-insensitive", newGroupDef(condition(svc, "Name", "EQUALS", "WEB-FRONTEND")), []string{"192.168.1.1", "192.168.2.1"}},
		{"NOTEQUALS", newGroupDef(condition(svc, "Name", "NOTEQUALS", "api")), []string{"192.168.1.1-192.168.1.2", "192.168.2.1"}},
		{"CONTAINS", newGroupDef(condition(svc, "Name", "CONTAINS", "back")), []string{"192.168.1.2"}},
		{"STARTSWITH", newGroupDef(condition(svc, "Name", "STARTSWITH", "web-")), []string{"192.168.1.1-192.168.1.2", "192.168.2.1"}},
		{"ENDSWITH", newGroupDef(condition(svc, "Name", "ENDSWITH", "END")), []string{"192.168.1.1-192.168.1.2", "192.168.2.1"}},
		{"IN", newGroupDef(condition(svc, "Name", "IN", "api,web-backend")), []string{"192.168.1.2/31"}},
		{"NOTIN", newGroupDef(condition(svc, "Name", "NOTIN", "api,web-backend")), []string{"192.168.1.1", "192.168.2.1"}},
		{"MATCHES regex, whole value", newGroupDef(condition(svc, "Name", "MATCHES", "web-(front|back)end")), []string{"192.168.1.1-192.168.1.2", "192.168.2.1"}},
		{"MATCHES is anchored", newGroupDef(condition(svc, "Name", "MATCHES", "front")), nil},
		{"Tag scope|value, case-insensitive value", newGroupDef(condition(svc, "Tag", "EQUALS", "dis:k8s:app|WEB")), []string{"192.168.1.1-192.168.1.2"}},
		{"Tag |value matches any scope", newGroupDef(condition(svc, "Tag", "EQUALS", "|web")), []string{"192.168.1.1-192.168.1.2", "192.168.2.1"}},
		{"Tag scope| matches any value", newGroupDef(condition(svc, "Tag", "EQUALS", "dis:k8s:tier|")), []string{"192.168.1.1-192.168.1.2"}},
		{"Tag without the dis:k8s: prefix matches nothing", newGroupDef(condition(svc, "Tag", "EQUALS", "app|web")), nil},
		{"Tag NOTEQUALS means no such tag", newGroupDef(condition(svc, "Tag", "NOTEQUALS", "dis:k8s:app|web")), []string{"192.168.1.3", "192.168.2.1"}},
		{"Cluster EQUALS scopes by AND", newGroupDef(nested(condition(model.MemberKubernetesCluster, "Name", "EQUALS", "west-2"), condition(svc, "Name", "STARTSWITH", "web"))), []string{"192.168.2.1"}},
		{"Cluster IN", newGroupDef(nested(condition(model.MemberKubernetesCluster, "Name", "IN", "east,nowhere"), condition(svc, "Name", "EQUALS", "api"))), []string{"192.168.1.3"}},
		{"Cluster STARTSWITH", newGroupDef(nested(condition(model.MemberKubernetesCluster, "Name", "STARTSWITH", "WEST"), condition(svc, "Name", "CONTAINS", "web"))), []string{"192.168.2.1"}},
		{"Namespace EQUALS", newGroupDef(nested(condition(model.MemberKubernetesNamespace, "Name", "EQUALS", "other"), condition(svc, "Name", "EQUALS", "api"))), nil},
		{"OR between criteria", newGroupDef(condition(svc, "Name", "EQUALS", "api"), or(), condition(svc, "Name", "EQUALS", "web-backend")), []string{"192.168.1.2/31"}},
		{"AND between single same-type conditions", newGroupDef(condition(svc, "Name", "STARTSWITH", "web"), and(), condition(svc, "Tag", "EQUALS", "dis:k8s:tier|back")), []string{"192.168.1.2"}},
		{"left to right: (A OR B) AND C", newGroupDef(condition(svc, "Name", "EQUALS", "api"), or(), condition(svc, "Name", "EQUALS", "web-backend"), and(), condition(svc, "Tag", "EQUALS", "dis:k8s:app|api")), []string{"192.168.1.3"}},
		{"other member types select nothing here", newGroupDef(condition(model.MemberAntreaEgress, "Name", "EQUALS", "api")), nil},
		{"literal addresses", newGroupDef(&model.IPAddressExpression{IPAddresses: []string{"10.0.0.0/24", "10.0.1.0/24", "2001:db8::1"}}), []string{"10.0.0.0/23", "2001:db8::1"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := model.GroupPath("default", "g"+string(rune('a'+i)))
			setGroup(t, x, p, tt.g)
			if got := addrs(x, p); !equalStrings(got, tt.want) {
				t.Errorf("addresses = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNamespaceTagCriteria(t *testing.T) {
	x := New()
	x.Upsert(&inventory.Namespace{Meta: meta("east", "", "shop", "team=web")})
	x.Upsert(&inventory.Namespace{Meta: meta("east", "", "pay", "team=pay")})
	x.Upsert(lbService("east", "shop", "a", "192.168.1.1"))
	x.Upsert(lbService("east", "pay", "b", "192.168.1.2"))
	p := "/infra/domains/default/groups/web"
	setGroup(t, x, p, newGroupDef(nested(condition(model.MemberKubernetesNamespace, "Tag", "EQUALS", "dis:k8s:team|web"), condition(model.MemberKubernetesService, "Name", "MATCHES", "*"))))
	if got := addrs(x, p); !equalStrings(got, []string{"192.168.1.1"}) {
		t.Fatalf("before relabel: %q", got)
	}
	x.TakeDeltas()
	x.Upsert(&inventory.Namespace{Meta: meta("east", "", "pay", "team=web")})
	if got := addrs(x, p); !equalStrings(got, []string{"192.168.1.1-192.168.1.2"}) {
		t.Fatalf("after relabelling pay: %q", got)
	}
	d := x.TakeDeltas()
	if len(d) != 1 || len(d[0].AddedMembers) != 1 || d[0].AddedMembers[0].Key.Name != "b" {
		t.Fatalf("delta = %+v", d)
	}
	x.Delete(inventory.Key{Cluster: "east", Kind: inventory.KindNamespace, Name: "shop"})
	if got := addrs(x, p); !equalStrings(got, []string{"192.168.1.2"}) {
		t.Fatalf("after deleting namespace shop (its labels go): %q", got)
	}
}

func TestNodePortFollowsNodes(t *testing.T) {
	x := New()
	x.Upsert(node("east", "n1", "10.0.1.1"))
	x.Upsert(nodePortService("east", "shop", "catalog", 30080))
	p := "/infra/domains/default/groups/np"
	setGroup(t, x, p, newGroupDef(condition(model.MemberKubernetesService, "Name", "EQUALS", "catalog")))
	x.TakeDeltas()
	steps := []struct {
		name        string
		change      func()
		want        []string
		added, gone []string
	}{
		{"node added", func() { x.Upsert(node("east", "n2", "10.0.1.2")) },
			[]string{"10.0.1.1:TCP/30080", "10.0.1.2:TCP/30080"}, []string{"10.0.1.2:TCP/30080"}, nil},
		{"node IP changed", func() { x.Upsert(node("east", "n2", "10.0.1.3")) },
			[]string{"10.0.1.1:TCP/30080", "10.0.1.3:TCP/30080"}, []string{"10.0.1.3:TCP/30080"}, []string{"10.0.1.2:TCP/30080"}},
		{"node port changed", func() { x.Upsert(nodePortService("east", "shop", "catalog", 30081)) },
			[]string{"10.0.1.1:TCP/30081", "10.0.1.3:TCP/30081"}, []string{"10.0.1.1:TCP/30081", "10.0.1.3:TCP/30081"}, []string{"10.0.1.1:TCP/30080", "10.0.1.3:TCP/30080"}},
		{"a node of another cluster is not a member", func() { x.Upsert(node("west", "w1", "10.0.2.1")) },
			[]string{"10.0.1.1:TCP/30081", "10.0.1.3:TCP/30081"}, nil, nil},
		{"node deleted", func() { x.Delete(inventory.Key{Cluster: "east", Kind: inventory.KindNode, Name: "n1"}) },
			[]string{"10.0.1.3:TCP/30081"}, nil, []string{"10.0.1.1:TCP/30081"}},
		{"type changed to ClusterIP", func() {
			s := nodePortService("east", "shop", "catalog", 30081)
			s.Type = inventory.ServiceClusterIP
			x.Upsert(s)
		}, nil, nil, []string{"10.0.1.3:TCP/30081"}},
	}
	for _, st := range steps {
		st.change()
		if got := ipPorts(x, p); !equalStrings(got, st.want) {
			t.Fatalf("%s: ip+port = %q, want %q", st.name, got, st.want)
		}
		var added, gone []string
		for _, d := range x.TakeDeltas() {
			for _, m := range d.AddedIPPorts {
				added = append(added, m.String())
			}
			for _, m := range d.RemovedIPPorts {
				gone = append(gone, m.String())
			}
		}
		if !equalStrings(added, st.added) || !equalStrings(gone, st.gone) {
			t.Fatalf("%s: delta +%q -%q, want +%q -%q", st.name, added, gone, st.added, st.gone)
		}
	}
}

func TestNodePortLocalFollowsPods(t *testing.T) {
	x := New()
	x.Upsert(nplService("east", "shop", "cart", "app=cart", 8080))
	x.Upsert(pod("east", "shop", "cart-0", "app=cart", npl("10.0.1.1", 8080, 61001)))
	x.Upsert(pod("east", "shop", "other", "app=other", npl("10.0.1.1", 8080, 61009)))
	p := "/infra/domains/default/groups/npl"
	setGroup(t, x, p, newGroupDef(condition(model.MemberKubernetesService, "Name", "EQUALS", "cart")))
	check := func(step string, want ...string) {
		t.Helper()
		if got := ipPorts(x, p); !equalStrings(got, want) {
			t.Fatalf("%s: ip+port = %q, want %q", step, got, want)
		}
	}
	check("initial", "10.0.1.1:TCP/61001")
	x.Upsert(pod("east", "shop", "cart-1", "app=cart", npl("10.0.1.2", 8080, 61002), npl("10.0.1.2", 9090, 61003)))
	check("pod added; the mapping of another port is not the service's", "10.0.1.1:TCP/61001", "10.0.1.2:TCP/61002")
	x.Upsert(pod("east", "shop", "cart-0", "app=cart"))
	check("annotation removed", "10.0.1.2:TCP/61002")
	x.Upsert(pod("east", "shop", "other", "app=cart", npl("10.0.1.1", 8080, 61009)))
	check("pod relabelled into the selector", "10.0.1.1:TCP/61009", "10.0.1.2:TCP/61002")
	x.Delete(inventory.Key{Cluster: "east", Kind: inventory.KindPod, Namespace: "shop", Name: "cart-1"})
	check("pod deleted", "10.0.1.1:TCP/61009")
	s := nplService("east", "shop", "cart", "app=cart", 8080)
	s.NodePortLocal = false
	x.Upsert(s)
	check("annotation removed from the service: a plain ClusterIP resolves to nothing")
	x.Upsert(pod("east", "shop", "late", "app=cart", npl("10.0.1.5", 8080, 61010)))
	s.NodePortLocal = true
	x.Upsert(s)
	check("re-enabled", "10.0.1.1:TCP/61009", "10.0.1.5:TCP/61010")
	named := nplService("east", "shop", "cart", "app=cart", 0)
	named.Ports[0].TargetPort, named.Ports[0].TargetPortName = 0, "http"
	x.Upsert(named)
	check("a named target port the pods do not declare maps nothing")
	late := pod("east", "shop", "late", "app=cart", npl("10.0.1.5", 8080, 61010))
	late.NamedPorts = []inventory.NamedPort{{Name: "http", Port: 8080, Protocol: address.TCP}}
	x.Upsert(late)
	check("the pod declares it", "10.0.1.5:TCP/61010")
}

// TestNodePortLocalNamedTargetPort follows Antrea's NodePortLocal
// controller (pkg/agent/nodeportlocal/k8s/npl_controller.go):
// getTargetPortsForServicesOfPod keeps a Service's named target ports
// as name:protocol, and handleAddUpdatePod resolves them through each
// port of the pod's spec.containers with that name and protocol, mapping
// only the resolved container ports (sidecar init containers are not
// read). So a Service owns the mappings of its own ports only, not every
// mapping of its pods, and the pods of one Service may resolve a name to
// different ports.
func TestNodePortLocalNamedTargetPort(t *testing.T) {
	x := New()
	web := nplService("east", "shop", "web", "app=shop", 0)
	web.Ports[0].TargetPortName = "http"
	metrics := nplService("east", "shop", "metrics", "app=shop", 0)
	metrics.Ports[0].TargetPortName = "metrics"
	dns := nplService("east", "shop", "dns", "app=shop", 0)
	dns.Ports[0].Protocol, dns.Ports[0].TargetPortName = address.UDP, "http"
	for _, s := range []*inventory.Service{web, metrics, dns} {
		x.Upsert(s)
	}
	named := func(ports ...inventory.NamedPort) []inventory.NamedPort { return ports }
	http := func(port int32) inventory.NamedPort {
		return inventory.NamedPort{Name: "http", Port: port, Protocol: address.TCP}
	}
	mport := inventory.NamedPort{Name: "metrics", Port: 9100, Protocol: address.TCP}
	sidecar := inventory.NamedPort{Name: "http", Port: 15001, Protocol: address.TCP, Sidecar: true}
	// Antrea maps every target port of every NPL Service selecting the
	// pod: 8080 for web, 9100 for metrics.
	p0 := pod("east", "shop", "shop-0", "app=shop", npl("10.0.1.1", 8080, 61001), npl("10.0.1.1", 9100, 61002))
	p0.NamedPorts = named(http(8080), mport)
	p1 := pod("east", "shop", "shop-1", "app=shop", npl("10.0.1.2", 8081, 61003), npl("10.0.1.2", 9100, 61004))
	p1.NamedPorts = named(http(8081), mport)
	x.Upsert(p0)
	x.Upsert(p1)
	paths := map[string]string{}
	for _, n := range []string{"web", "metrics", "dns"} {
		paths[n] = "/infra/domains/default/groups/" + n
		setGroup(t, x, paths[n], newGroupDef(condition(model.MemberKubernetesService, "Name", "EQUALS", n)))
	}
	check := func(step string, want map[string][]string) {
		t.Helper()
		for n, w := range want {
			if got := ipPorts(x, paths[n]); !equalStrings(got, w) {
				t.Fatalf("%s: %s ip+port = %q, want %q", step, n, got, w)
			}
		}
	}
	check("initial: each Service its own ports, the name resolved per pod", map[string][]string{
		"web": {"10.0.1.1:TCP/61001", "10.0.1.2:TCP/61003"}, "metrics": {"10.0.1.1:TCP/61002", "10.0.1.2:TCP/61004"}, "dns": nil})
	p1 = pod("east", "shop", "shop-1", "app=shop", npl("10.0.1.2", 9100, 61004), npl("10.0.1.2", 15001, 61005))
	p1.NamedPorts = named(mport, sidecar)
	x.Upsert(p1)
	check("a port named only by a sidecar is not resolved", map[string][]string{
		"web": {"10.0.1.1:TCP/61001"}, "metrics": {"10.0.1.1:TCP/61002", "10.0.1.2:TCP/61004"}})
	p1 = pod("east", "shop", "shop-1", "app=shop", npl("10.0.1.2", 8080, 61006), npl("10.0.1.2", 9100, 61004))
	p1.NamedPorts = named(http(8080), mport)
	x.Upsert(p1)
	check("the pod names the port again", map[string][]string{"web": {"10.0.1.1:TCP/61001", "10.0.1.2:TCP/61006"}})
	web.Ports[0].TargetPortName = "metrics"
	x.Upsert(web)
	check("the Service's target port renamed", map[string][]string{"web": {"10.0.1.1:TCP/61002", "10.0.1.2:TCP/61004"}})
	web.Ports[0].TargetPortName, web.Ports[0].TargetPort = "", 8080
	x.Upsert(web)
	check("a numeric target port", map[string][]string{"web": {"10.0.1.1:TCP/61001", "10.0.1.2:TCP/61006"}})
}

// TestEgressIPInEffect follows antrea-agent's egress controller
// (pkg/agent/controller/egress/egress_controller.go, syncEgress and
// updateEgressStatus): an IP from an ExternalIPPool is SNATed only once
// the agent of a Node took it and reported it in status.egressIP; while
// no Node has it (IPAssigned False) the selected pods leave with their
// nodes' IPs, so the group holds no address for the Egress. A manual
// spec.egressIP (no pool) is realized without status.
func TestEgressIPInEffect(t *testing.T) {
	x := New()
	m := meta("east", "", "eg", "purpose=pay")
	x.Upsert(&inventory.Egress{Meta: m, SpecIP: ip("10.9.0.5"), ExternalIPPool: "pool",
		Conditions: []inventory.EgressCondition{{Type: inventory.EgressIPAssigned, Status: "False", Reason: "AssignmentError"}}})
	p := "/infra/domains/default/groups/eg"
	setGroup(t, x, p, newGroupDef(condition(model.MemberAntreaEgress, "Tag", "EQUALS", "dis:k8s:purpose|pay")))
	if got := addrs(x, p); got != nil {
		t.Fatalf("IP no node took resolves to %q", got)
	}
	if got := memberNames(x, p); len(got) != 1 {
		t.Fatalf("the Egress is still a member: %q", got)
	}
	x.TakeDeltas()
	x.Upsert(&inventory.Egress{Meta: m, SpecIP: ip("10.9.0.5"), ExternalIPPool: "pool", StatusIP: ip("10.9.0.5"), EgressNode: "n1"})
	if got := addrs(x, p); !equalStrings(got, []string{"10.9.0.5"}) {
		t.Fatalf("assigned: %q", got)
	}
	if d := x.TakeDeltas(); len(d) != 1 || len(d[0].AddedAddresses) != 1 {
		t.Fatalf("assignment delta %+v", d)
	}
	x.Upsert(&inventory.Egress{Meta: m, SpecIP: ip("10.9.0.7"), ExternalIPPool: "pool", StatusIP: ip("10.9.0.5"), EgressNode: "n1"})
	if got := addrs(x, p); got != nil {
		t.Fatalf("stale status after the IP moved: %q", got)
	}
	x.Upsert(&inventory.Egress{Meta: m, SpecIP: ip("10.9.0.8")})
	if got := addrs(x, p); !equalStrings(got, []string{"10.9.0.8"}) {
		t.Fatalf("manual IP: %q", got)
	}
	x.Upsert(&inventory.Egress{Meta: m, SpecIP: ip("10.9.0.5"), ExternalIPPool: "pool"})
	b, _ := json.Marshal(x.NSXMembers(p, model.MembersAntreaEgresses, "", nil))
	if !strings.Contains(string(b), `"egress_ip":""`) || strings.Contains(string(b), "10.9.0.5") {
		t.Fatalf("NSX member of an Egress whose IP is not in effect: %s", b)
	}
}

func TestContributionsChange(t *testing.T) {
	x := New()
	eg := &inventory.Egress{Meta: meta("east", "", "eg", "purpose=pay")}
	x.Upsert(eg)
	gw := &inventory.Gateway{Meta: meta("east", "shop", "gw"), Addresses: ips("192.168.5.1")}
	x.Upsert(gw)
	pe, pg := "/infra/domains/default/groups/eg", "/infra/domains/default/groups/gw"
	setGroup(t, x, pe, newGroupDef(condition(model.MemberAntreaEgress, "Tag", "EQUALS", "dis:k8s:purpose|pay")))
	setGroup(t, x, pg, newGroupDef(condition(model.MemberKubernetesGateway, "Name", "EQUALS", "gw")))
	if got := addrs(x, pe); got != nil {
		t.Fatalf("unassigned egress resolves to %q", got)
	}
	x.TakeDeltas()
	eg = &inventory.Egress{Meta: eg.Meta, StatusIP: ip("10.9.0.5"), EgressNode: "n1"}
	x.Upsert(eg)
	eg = &inventory.Egress{Meta: eg.Meta, StatusIP: ip("10.9.0.6"), EgressNode: "n2"}
	x.Upsert(eg)
	d := x.TakeDeltas()
	if len(d) != 1 || len(d[0].AddedAddresses) != 1 || address.FormatRange(d[0].AddedAddresses[0]) != "10.9.0.6" || len(d[0].RemovedAddresses) != 0 {
		t.Fatalf("assign then reassign in one batch should net to +10.9.0.6, got %+v", d)
	}
	x.Upsert(&inventory.Gateway{Meta: gw.Meta, Addresses: ips("192.168.5.2", "192.168.5.3")})
	if got := addrs(x, pg); !equalStrings(got, []string{"192.168.5.2/31"}) {
		t.Fatalf("gateway addresses = %q", got)
	}
	x.Upsert(&inventory.Egress{Meta: meta("east", "", "eg", "purpose=other"), StatusIP: ip("10.9.0.6")})
	if got := addrs(x, pe); got != nil {
		t.Fatalf("relabelled egress still in group: %q", got)
	}
}

func TestNestedGroups(t *testing.T) {
	x := New()
	x.Upsert(lbService("east", "shop", "a", "192.168.1.1"))
	child, parent, top := "/infra/domains/default/groups/child", "/infra/domains/default/groups/parent", "/infra/domains/default/groups/top"
	// The parent is defined before its child exists: order must not matter.
	setGroup(t, x, parent, newGroupDef(&model.PathExpression{Paths: []string{child}}, or(), &model.IPAddressExpression{IPAddresses: []string{"192.168.1.1"}}))
	setGroup(t, x, top, newGroupDef(&model.PathExpression{Paths: []string{parent}}))
	setGroup(t, x, child, newGroupDef(condition(model.MemberKubernetesService, "Name", "EQUALS", "a")))
	for _, p := range []string{parent, top} {
		if got := addrs(x, p); !equalStrings(got, []string{"192.168.1.1"}) {
			t.Fatalf("%s = %q", p, got)
		}
	}
	x.TakeDeltas()
	x.Delete(inventory.Key{Cluster: "east", Kind: inventory.KindService, Namespace: "shop", Name: "a"})
	if got := addrs(x, top); !equalStrings(got, []string{"192.168.1.1"}) {
		t.Fatalf("the literal address must keep 192.168.1.1 in top: %q", got)
	}
	for _, d := range x.TakeDeltas() {
		if d.Group != child && (len(d.RemovedAddresses) > 0 || len(d.AddedAddresses) > 0) {
			t.Fatalf("%s changed addresses although another source still provides them: %+v", d.Group, d)
		}
	}
	if err := x.SetGroup(child, newGroupDef(&model.PathExpression{Paths: []string{top}})); err == nil {
		t.Fatal("a cycle was accepted")
	}
	if got := memberNames(x, child); got != nil {
		t.Fatalf("a refused change must leave the group as it was, members %q", got)
	}
	x.DeleteGroup(parent)
	if got := addrs(x, top); got != nil {
		t.Fatalf("top still holds %q after its only child was deleted", got)
	}
	if !x.Defined(top) || x.Defined(parent) {
		t.Fatal("Defined is wrong after delete")
	}
}

func TestClusterLifecycle(t *testing.T) {
	x := New()
	x.Upsert(node("east", "n1", "10.0.1.1"))
	x.Upsert(node("west", "n1", "10.0.2.1"))
	x.Upsert(&inventory.IPPool{Meta: meta("east", "", "pool"), Ranges: []inventory.IPRange{{CIDR: netipPrefix("10.20.0.0/24")}}})
	p := "/infra/domains/default/groups/all"
	setGroup(t, x, p, newGroupDef(condition(model.MemberKubernetesNode, "IPAddress", "MATCHES", "*"), or(), condition(model.MemberAntreaIPPool, "Name", "MATCHES", ".*")))
	x.TakeDeltas()
	x.ReplaceCluster("east", []inventory.Object{node("east", "n2", "10.0.1.2")})
	if got := addrs(x, p); !equalStrings(got, []string{"10.0.1.2", "10.0.2.1"}) {
		t.Fatalf("after resync of east: %q", got)
	}
	d := x.TakeDeltas()
	if len(d) != 1 || len(d[0].RemovedMembers) != 2 || len(d[0].AddedMembers) != 1 {
		t.Fatalf("resync delta = %+v", d)
	}
	x.DeleteCluster("east")
	if got := addrs(x, p); !equalStrings(got, []string{"10.0.2.1"}) {
		t.Fatalf("after deleting east: %q", got)
	}
	if c := x.Clusters(); !equalStrings(c, []string{"west"}) {
		t.Fatalf("clusters = %q", c)
	}
}

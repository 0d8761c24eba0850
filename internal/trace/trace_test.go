package trace

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func meta(ns, name string, labels map[string]string) inventory.Meta {
	return inventory.Meta{Cluster: "c1", Namespace: ns, Name: name, Labels: labels}
}

func sel(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

// world is a small dual-stack cluster c1: three nodes (n1, n2 gateway
// nodes; n3 v4 only), namespaces pay (team=pay) and web, an IPPool of
// routable addresses, and Egresses with the selectors the tests need.
func world() []inventory.Object {
	return []inventory.Object{
		&inventory.Node{Meta: meta("", "n1", nil), InternalIPs: addrs("10.0.0.1", "fd00::1")},
		&inventory.Node{Meta: meta("", "n2", nil), InternalIPs: addrs("10.0.0.2", "fd00::2")},
		&inventory.Node{Meta: meta("", "n3", nil), InternalIPs: addrs("10.0.0.3")},
		&inventory.Namespace{Meta: meta("", "pay", map[string]string{"team": "pay"})},
		&inventory.Namespace{Meta: meta("", "web", nil)},
		&inventory.Namespace{Meta: meta("", "batch", nil)},
		&inventory.IPPool{Meta: meta("", "routable", nil), Ranges: []inventory.IPRange{{CIDR: netip.MustParsePrefix("10.20.0.0/24")}}},
		// pay: by namespace, v4 only, assigned.
		&inventory.Egress{Meta: meta("", "eg-pay", nil), NamespaceSelector: sel("team", "pay"), SpecIP: netip.MustParseAddr("10.0.9.1"), StatusIP: netip.MustParseAddr("10.0.9.1"), EgressNode: "n2"},
		// batch: by pod label, not assigned yet.
		&inventory.Egress{Meta: meta("", "eg-batch", nil), PodSelector: sel("app", "report"), ExternalIPPool: "pool", EgressNode: ""},
		// an IP from a pool that no Node took: not in effect.
		&inventory.Egress{Meta: meta("", "eg-untaken", nil), PodSelector: sel("app", "untaken"), SpecIP: netip.MustParseAddr("10.0.9.11"), ExternalIPPool: "pool",
			Conditions: []inventory.EgressCondition{{Type: inventory.EgressIPAssigned, Status: "False", Reason: "AssignmentError", Message: "Failed to assign the IP to EgressNode: no Node available"}}},
		// spec.egressIPs only: Antrea realizes none of them.
		&inventory.Egress{Meta: meta("", "eg-plural", nil), PodSelector: sel("app", "plural"), SpecIPs: addrs("10.0.9.12")},
		// two Egresses with different IPs both select app=dup.
		&inventory.Egress{Meta: meta("", "eg-dup-a", nil), PodSelector: sel("app", "dup"), StatusIP: netip.MustParseAddr("10.0.9.5"), EgressNode: "n1"},
		&inventory.Egress{Meta: meta("", "eg-dup-b", nil), PodSelector: sel("app", "dup"), StatusIP: netip.MustParseAddr("10.0.9.6"), EgressNode: "n2"},
		// two Egresses with the same IP both select app=same.
		&inventory.Egress{Meta: meta("", "eg-same-a", nil), PodSelector: sel("app", "same"), SpecIP: netip.MustParseAddr("10.0.9.7")},
		&inventory.Egress{Meta: meta("", "eg-same-b", nil), PodSelector: sel("app", "same"), StatusIP: netip.MustParseAddr("10.0.9.7")},
		// pod AND namespace selector: only app=api in namespace web.
		&inventory.Egress{Meta: meta("", "eg-web-api", nil), PodSelector: sel("app", "api"), NamespaceSelector: sel("kubernetes.io/metadata.name", "web"), StatusIP: netip.MustParseAddr("10.0.9.8")},
		// an empty appliedTo selects nothing.
		&inventory.Egress{Meta: meta("", "eg-empty", nil), StatusIP: netip.MustParseAddr("10.0.9.9")},
		// an Egress of each family for app=ds6 (an Egress has one IP).
		&inventory.Egress{Meta: meta("", "eg-ds4", nil), PodSelector: sel("app", "ds6"), SpecIP: netip.MustParseAddr("10.0.9.10"), EgressNode: "n1"},
		&inventory.Egress{Meta: meta("", "eg-ds6", nil), PodSelector: sel("app", "ds6"), SpecIP: netip.MustParseAddr("fd00:9::10"), EgressNode: "n1"},

		&inventory.Pod{Meta: meta("pay", "pay-0", map[string]string{"app": "pay"}), NodeName: "n1", IPs: addrs("10.244.1.5", "fd00:244:1::5")},
		&inventory.Pod{Meta: meta("batch", "report-0", map[string]string{"app": "report"}), NodeName: "n3", IPs: addrs("10.244.3.5")},
		&inventory.Pod{Meta: meta("batch", "untaken-0", map[string]string{"app": "untaken"}), NodeName: "n3", IPs: addrs("10.244.3.6")},
		&inventory.Pod{Meta: meta("batch", "plural-0", map[string]string{"app": "plural"}), NodeName: "n3", IPs: addrs("10.244.3.7")},
		&inventory.Pod{Meta: meta("web", "dup-0", map[string]string{"app": "dup"}), NodeName: "n1", IPs: addrs("10.244.1.6")},
		&inventory.Pod{Meta: meta("web", "same-0", map[string]string{"app": "same"}), NodeName: "n1", IPs: addrs("10.244.1.7")},
		&inventory.Pod{Meta: meta("web", "api-0", map[string]string{"app": "api"}), NodeName: "n2", IPs: addrs("10.244.2.8")},
		&inventory.Pod{Meta: meta("batch", "api-1", map[string]string{"app": "api"}), NodeName: "n2", IPs: addrs("10.244.2.9")},
		&inventory.Pod{Meta: meta("web", "ds-0", map[string]string{"app": "ds6"}), NodeName: "n2", IPs: addrs("10.244.2.10", "fd00:244:2::10")},
		&inventory.Pod{Meta: meta("web", "ledger-0", map[string]string{"app": "ledger"}), NodeName: "n1", IPs: addrs("10.20.0.15"),
			NamedPorts: []inventory.NamedPort{{Name: "grpc", Port: 7001, Protocol: address.TCP}, {Name: "admin", Port: 15000, Protocol: address.TCP, Sidecar: true}}},
		&inventory.Pod{Meta: meta("pay", "ledger-1", map[string]string{"app": "ledger"}), NodeName: "n1", IPs: addrs("10.20.0.16")},
		&inventory.Pod{Meta: meta("web", "orphan-0", map[string]string{"app": "orphan"}), NodeName: "n9", IPs: addrs("10.244.9.5")},
		&inventory.Pod{Meta: meta("web", "hostnet-0", map[string]string{"app": "dup"}), NodeName: "n2", HostNetwork: true, IPs: addrs("10.0.0.2")},
		&inventory.Pod{Meta: meta("web", "pending-0", map[string]string{"app": "x"})},
		&inventory.Pod{Meta: meta("web", "ds-n3", map[string]string{"app": "x"}), NodeName: "n3", IPs: addrs("10.244.3.10", "fd00:244:3::10")},
		&inventory.Pod{Meta: meta("web", "v4only-0", map[string]string{"app": "x"}), NodeName: "n3", IPs: addrs("10.244.3.9")},

		// Inbound targets.
		&inventory.Service{Meta: meta("web", "lb", nil), Type: inventory.ServiceLoadBalancer, Selector: map[string]string{"app": "api"},
			Ports:        []inventory.ServicePort{{Name: "https", Protocol: address.TCP, Port: 443, TargetPort: 8443, NodePort: 30443}},
			LoadBalancer: []inventory.LoadBalancerIngress{{IP: netip.MustParseAddr("192.168.50.10")}, {Hostname: "lb.example"}}},
		&inventory.Service{Meta: meta("web", "lb-pending", nil), Type: inventory.ServiceLoadBalancer, Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 80}}},
		&inventory.Service{Meta: meta("web", "np", nil), Type: inventory.ServiceNodePort, ClusterIPs: addrs("10.96.0.53"), Ports: []inventory.ServicePort{{Protocol: address.UDP, Port: 53, NodePort: 30053}}},
		&inventory.Service{Meta: meta("web", "npl-named", nil), Type: inventory.ServiceClusterIP, NodePortLocal: true, Selector: map[string]string{"app": "cart"},
			Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 80, TargetPortName: "http"}}},
		&inventory.Service{Meta: meta("web", "npl-metrics", nil), Type: inventory.ServiceClusterIP, NodePortLocal: true, Selector: map[string]string{"app": "cart"},
			Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 9090, TargetPortName: "metrics"}}},
		&inventory.Service{Meta: meta("web", "npl-undeclared", nil), Type: inventory.ServiceClusterIP, NodePortLocal: true, Selector: map[string]string{"app": "cart"},
			Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 80, TargetPortName: "grpc"}}},
		&inventory.Service{Meta: meta("web", "npl-capital", nil), Type: inventory.ServiceClusterIP, NodePortLocalIgnored: `"True"`, Selector: map[string]string{"app": "cart"},
			Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 80, TargetPort: 8080}}},
		&inventory.Service{Meta: meta("web", "npl", nil), Type: inventory.ServiceClusterIP, NodePortLocal: true, Selector: map[string]string{"app": "cart"},
			Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 80, TargetPort: 8080}}},
		&inventory.Pod{Meta: meta("web", "cart-0", map[string]string{"app": "cart"}), NodeName: "n1", IPs: addrs("10.244.1.31"),
			NodePortLocal: []inventory.NPLMapping{{PodPort: 8080, NodeIP: netip.MustParseAddr("10.0.0.1"), NodePort: 61001, Protocol: address.TCP},
				{PodPort: 9090, NodeIP: netip.MustParseAddr("10.0.0.1"), NodePort: 61002, Protocol: address.TCP}},
			NamedPorts: []inventory.NamedPort{{Name: "http", Port: 8080, Protocol: address.TCP}, {Name: "metrics", Port: 9090, Protocol: address.TCP}}},
		&inventory.Service{Meta: meta("web", "redis", nil), Type: inventory.ServiceClusterIP, Selector: map[string]string{"app": "redis"}, Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 6379}}},
		&inventory.Service{Meta: meta("web", "ledger", nil), Type: inventory.ServiceClusterIP, Selector: map[string]string{"app": "ledger"}, Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 7000}}},
		&inventory.Service{Meta: meta("web", "ledger-named", nil), Type: inventory.ServiceClusterIP, Selector: map[string]string{"app": "ledger"},
			Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 7000, TargetPortName: "grpc"}, {Protocol: address.TCP, Port: 15000, TargetPortName: "admin"}, {Protocol: address.UDP, Port: 7000, TargetPortName: "grpc"}}},
		&inventory.Ingress{Meta: meta("web", "shop", nil), TLS: true, LoadBalancer: []inventory.LoadBalancerIngress{{IP: netip.MustParseAddr("192.168.50.20")}}},
		&inventory.Ingress{Meta: meta("web", "shop-pending", nil)},
		&inventory.Gateway{Meta: meta("web", "gw", nil), Addresses: addrs("192.168.50.30"), Listeners: []inventory.Listener{{Name: "http", Port: 80, Protocol: "HTTP"}, {Name: "dns", Port: 53, Protocol: "UDP"}}},
		&inventory.Gateway{Meta: meta("web", "gw-pending", nil), Listeners: []inventory.Listener{{Name: "http", Port: 80, Protocol: "HTTP"}}},
	}
}

func index(t *testing.T, cfg *model.Config, objs []inventory.Object) *membership.Index {
	t.Helper()
	x := membership.New()
	groups := map[string]*model.Group{}
	if cfg != nil {
		groups = cfg.Groups
	}
	if err := x.Load(objs, groups); err != nil {
		t.Fatal(err)
	}
	return x
}

func srcAddrs(ex Exit) []string {
	var out []string
	for _, s := range ex.Sources {
		out = append(out, s.Via+" "+s.Address.String())
	}
	return out
}

func TestPodExit(t *testing.T) {
	x := index(t, nil, world())
	for _, tc := range []struct {
		name, pod  string
		v4         bool
		want       []string
		ambiguous  bool
		unresolved string
		note       string
	}{
		{"Egress by namespace selector", "c1/pay/pay-0", true, []string{"Egress 10.0.9.1"}, false, "", ""},
		{"dual-stack pod, v4-only Egress, IPv6 destination: node masquerade", "c1/pay/pay-0", false, []string{"Node fd00::1"}, false, "", "no IPv6 egress IP"},
		{"an Egress of each family, IPv6 destination", "c1/web/ds-0", false, []string{"Egress fd00:9::10"}, false, "", "Egress eg-ds4 selects the pod but has no IPv6 egress IP"},
		{"an Egress of each family, IPv4 destination", "c1/web/ds-0", true, []string{"Egress 10.0.9.10"}, false, "", ""},
		{"Egress not assigned yet: node masquerade", "c1/batch/report-0", true, []string{"Node 10.0.0.3"}, false, "", "no egress IP assigned yet"},
		// antrea-agent (pkg/agent/controller/egress/egress_controller.go,
		// syncEgress) installs SNAT for a pool's IP only on the Node its
		// scheduler picked, which reports it in status; none did here.
		{"pool IP no Node took: node masquerade", "c1/batch/untaken-0", true, []string{"Node 10.0.0.3"}, false, "",
			"Egress eg-untaken selects the pod but its egress IP 10.0.9.11 is not in effect: 10.0.9.11 comes from ExternalIPPool pool but no Node has taken it (status.egressIP is empty): IPAssigned False (AssignmentError), Failed to assign the IP to EgressNode: no Node available; Antrea installs no SNAT for it"},
		// The agent reads spec.egressIP only; the webhook refuses
		// spec.egressIPs (pkg/controller/egress/validate.go).
		{"spec.egressIPs only: node masquerade", "c1/batch/plural-0", true, []string{"Node 10.0.0.3"}, false, "", "its egress IP 10.0.9.12 is not in effect: it names its IPs in spec.egressIPs"},
		// syncEgress realizes a manual spec.egressIP without reading the
		// status; snatRuleFlow tunnels to the IP from other Nodes.
		{"manual IP without status", "c1/web/same-0", true, []string{"Egress 10.0.9.7"}, false, "", "no Node reports holding Egress eg-same-a's IP 10.0.9.7"},
		{"two Egresses with different IPs: both traced", "c1/web/dup-0", true, []string{"Egress 10.0.9.5", "Egress 10.0.9.6"}, true, "", "does not define which"},
		{"two Egresses with one IP: not ambiguous", "c1/web/same-0", true, []string{"Egress 10.0.9.7"}, false, "", ""},
		{"pod and namespace selector both match", "c1/web/api-0", true, []string{"Egress 10.0.9.8"}, false, "", ""},
		{"pod selector matches, namespace does not", "c1/batch/api-1", true, []string{"Node 10.0.0.2"}, false, "", ""},
		{"routable IPPool address", "c1/web/ledger-0", true, []string{"IPPool 10.20.0.15"}, false, "", ""},
		{"routable IPPool address bypasses a selecting Egress", "c1/pay/ledger-1", true, []string{"IPPool 10.20.0.16"}, false, "", "bypasses the Antrea gateway"},
		{"pod on a node that left", "c1/web/orphan-0", true, nil, false, `node "n9" is not in the inventory`, ""},
		{"host-network pod ignores Egress", "c1/web/hostnet-0", true, []string{"HostNetwork 10.0.0.2"}, false, "", ""},
		{"pod without an address yet", "c1/web/pending-0", true, nil, false, "no address yet", ""},
		{"v4-only pod, IPv6 destination", "c1/web/v4only-0", false, nil, false, "has no IPv6 address", ""},
		{"dual-stack pod on a v4-only node, IPv6 destination", "c1/web/ds-n3", false, nil, false, "node n3 has no IPv6 InternalIP", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := ParsePodRef(tc.pod)
			if err != nil {
				t.Fatal(err)
			}
			ex, err := PodExit(x, key, tc.v4)
			if err != nil {
				t.Fatal(err)
			}
			if got := srcAddrs(ex); !slices.Equal(got, tc.want) {
				t.Errorf("sources %v, want %v", got, tc.want)
			}
			if ex.Ambiguous != tc.ambiguous {
				t.Errorf("ambiguous %v, want %v", ex.Ambiguous, tc.ambiguous)
			}
			if tc.unresolved == "" && ex.Unresolved != "" || !strings.Contains(ex.Unresolved, tc.unresolved) {
				t.Errorf("unresolved %q, want it to say %q", ex.Unresolved, tc.unresolved)
			}
			if tc.note != "" && !strings.Contains(strings.Join(ex.Notes, "|"), tc.note) {
				t.Errorf("notes %q lack %q", ex.Notes, tc.note)
			}
		})
	}
	if _, err := PodExit(x, inventory.Key{Cluster: "c1", Kind: inventory.KindPod, Namespace: "web", Name: "nope"}, true); err == nil || !strings.Contains(err.Error(), "c1/web/nope is not in the inventory") {
		t.Errorf("a missing pod: %v", err)
	}
	for _, bad := range []string{"", "c1/web", "c1//x", "a/b/c/d"} {
		if _, err := ParsePodRef(bad); err == nil {
			t.Errorf("ParsePodRef(%q) accepted", bad)
		}
	}
}

func entryStrings(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Via+" "+netip.AddrPortFrom(e.Address, e.Port).String()+"/"+e.Protocol.String())
	}
	return out
}

func TestEntries(t *testing.T) {
	x := index(t, nil, world())
	for _, tc := range []struct {
		kind inventory.Kind
		ref  string
		want []string
		why  string
	}{
		{inventory.KindService, "c1/web/lb", []string{
			"LoadBalancerVIP 192.168.50.10:443/TCP",
			"NodePort 10.0.0.1:30443/TCP", "NodePort 10.0.0.2:30443/TCP", "NodePort 10.0.0.3:30443/TCP", "NodePort [fd00::1]:30443/TCP", "NodePort [fd00::2]:30443/TCP"}, ""},
		{inventory.KindService, "c1/web/lb-pending", nil, "no load-balancer IP yet"},
		// An IPv4-only Service: its node port is not on the IPv6 node addresses.
		{inventory.KindService, "c1/web/np", []string{"NodePort 10.0.0.1:30053/UDP", "NodePort 10.0.0.2:30053/UDP", "NodePort 10.0.0.3:30053/UDP"}, ""},
		// Named target ports, resolved through the pod's containers as
		// Antrea's NodePortLocal does (pkg/agent/nodeportlocal/k8s/
		// npl_controller.go, handleAddUpdatePod): each Service its own
		// mapping; a name no container declares maps nothing.
		{inventory.KindService, "c1/web/npl-named", []string{"NodePortLocal 10.0.0.1:61001/TCP"}, ""},
		{inventory.KindService, "c1/web/npl-metrics", []string{"NodePortLocal 10.0.0.1:61002/TCP"}, ""},
		{inventory.KindService, "c1/web/npl-undeclared", nil, `named target port that a backend pod's containers do not declare: "grpc" (TCP) on cart-0`},
		// Antrea acts on nodeportlocal.antrea.io/enabled: "true" only
		// (npl_controller.go compares the value with "true").
		{inventory.KindService, "c1/web/npl-capital", nil, `annotation is "True": Antrea enables NodePortLocal only for the exact value "true"`},
		// Only the mapping of the Service's target port, not 9090.
		{inventory.KindService, "c1/web/npl", []string{"NodePortLocal 10.0.0.1:61001/TCP"}, ""},
		{inventory.KindService, "c1/web/redis", nil, "reachable only inside its cluster"},
		{inventory.KindService, "c1/web/ledger", []string{"RoutablePodIP 10.20.0.15:7000/TCP"}, ""},
		// Kubernetes resolves a named target port per pod (FindPort in
		// k8s.io/endpointslice: containers, then sidecars), by protocol.
		{inventory.KindService, "c1/web/ledger-named", []string{"RoutablePodIP 10.20.0.15:7001/TCP", "RoutablePodIP 10.20.0.15:15000/TCP"}, ""},
		{inventory.KindIngress, "c1/web/shop", []string{"IngressVIP 192.168.50.20:80/TCP", "IngressVIP 192.168.50.20:443/TCP"}, ""},
		{inventory.KindIngress, "c1/web/shop-pending", nil, "no VIP yet"},
		{inventory.KindGateway, "c1/web/gw", []string{"GatewayVIP 192.168.50.30:80/TCP", "GatewayVIP 192.168.50.30:53/UDP"}, ""},
		{inventory.KindGateway, "c1/web/gw-pending", nil, "no IP address yet"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			key, _ := ParseTarget(tc.kind, tc.ref)
			es, why, err := Entries(x, key)
			if err != nil {
				t.Fatal(err)
			}
			if got := entryStrings(es); !slices.Equal(got, tc.want) {
				t.Errorf("entries\n%v\nwant\n%v", got, tc.want)
			}
			if !strings.Contains(why, tc.why) || tc.why == "" && why != "" {
				t.Errorf("why %q, want %q", why, tc.why)
			}
		})
	}
	if _, _, err := Entries(x, inventory.Key{Cluster: "c1", Kind: inventory.KindService, Namespace: "web", Name: "gone"}); err == nil {
		t.Error("a missing Service is not an error")
	}
}

// policyDoc: the seed's recommendation. The gateway firewall of t1
// allows the payments Egress and routable pools to the DB VMs and drops
// node IPs; the DFW allows VMs to the web LB and NodePortLocal cart and
// rejects the rest of VM -> cluster traffic on those ports.
const policyDoc = `
resource_type: Infra
children:
- {resource_type: ChildTier1, Tier1: {id: t1}}
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: db-vms, expression: [{resource_type: IPAddressExpression, ip_addresses: [172.16.10.0/24, "fd00:172:16:10::/64"]}]}}
    - {resource_type: ChildGroup, Group: {id: app-vms, expression: [{resource_type: IPAddressExpression, ip_addresses: [172.16.20.0/24]}]}}
    - {resource_type: ChildGroup, Group: {id: pay-egress, expression: [{resource_type: Condition, member_type: AntreaEgress, key: Name, operator: EQUALS, value: eg-pay}]}}
    - {resource_type: ChildGroup, Group: {id: pools, expression: [{resource_type: Condition, member_type: AntreaIPPool, key: Name, operator: EQUALS, value: routable}]}}
    - {resource_type: ChildGroup, Group: {id: nodes, expression: [{resource_type: Condition, member_type: KubernetesNode, key: IPAddress, operator: MATCHES, value: "*"}]}}
    - {resource_type: ChildGroup, Group: {id: web-lb, expression: [{resource_type: Condition, member_type: KubernetesService, key: Name, operator: EQUALS, value: lb}]}}
    - {resource_type: ChildGroup, Group: {id: cart-npl, expression: [{resource_type: Condition, member_type: KubernetesService, key: Name, operator: EQUALS, value: npl}]}}
    - resource_type: ChildGatewayPolicy
      GatewayPolicy:
        id: cluster-to-vms
        category: LocalGatewayRules
        scope: [/infra/tier-1s/t1]
        rules:
        - {id: pay-to-db, sequence_number: 10, source_groups: [/infra/domains/default/groups/pay-egress], destination_groups: [/infra/domains/default/groups/db-vms], services: [ANY], action: ALLOW}
        - {id: pools-to-db, sequence_number: 20, source_groups: [/infra/domains/default/groups/pools], destination_groups: [/infra/domains/default/groups/db-vms], services: [ANY], action: ALLOW}
        - {id: nodes-to-db, sequence_number: 30, source_groups: [/infra/domains/default/groups/nodes], destination_groups: [/infra/domains/default/groups/db-vms], services: [ANY], action: DROP}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: vms-to-cluster
        category: Application
        scope: [/infra/domains/default/groups/app-vms]
        rules:
        - {id: to-lb, sequence_number: 10, source_groups: [/infra/domains/default/groups/app-vms], destination_groups: [/infra/domains/default/groups/web-lb], services: [/infra/services/HTTPS], action: ALLOW, direction: OUT}
        - {id: to-npl, sequence_number: 20, source_groups: [/infra/domains/default/groups/app-vms], destination_groups: [/infra/domains/default/groups/cart-npl], services: [ANY], action: ALLOW, direction: OUT}
        - {id: rest, sequence_number: 30, source_groups: [/infra/domains/default/groups/app-vms], destination_groups: [ANY], services: [ANY], action: REJECT, direction: OUT}
`

func config(t *testing.T, doc string) *model.Config {
	t.Helper()
	cfg, err := model.ParseConfig("policy.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func hopSummary(hs []Hop) []string {
	var out []string
	for _, h := range hs {
		s := h.Flow.Src + "->" + h.Flow.Dst + " " + h.Verdict
		for _, g := range h.Gateways {
			s += " gfw:" + g.RulePath[strings.LastIndex(g.RulePath, "/")+1:]
		}
		s += " dfw:" + h.DFW.RulePath[strings.LastIndex(h.DFW.RulePath, "/")+1:]
		out = append(out, s)
	}
	return out
}

// TestOutboundScenarios covers the seed's three ways out of a cluster:
// SNAT through an Egress, SNAT to the node, routable pods.
func TestOutboundScenarios(t *testing.T) {
	cfg := config(t, policyDoc)
	objs := world()
	x := index(t, cfg, objs)
	fw := NewFirewalls(cfg, x)
	for _, tc := range []struct {
		name, pod, to string
		want          []string
	}{
		{"scenario 1: SNAT through an Egress", "c1/pay/pay-0", "172.16.10.5", []string{"10.0.9.1->172.16.10.5 ALLOW gfw:pay-to-db dfw:default"}},
		{"scenario 2: SNAT to the node", "c1/batch/report-0", "172.16.10.5", []string{"10.0.0.3->172.16.10.5 DROP gfw:nodes-to-db dfw:default"}},
		{"scenario 3: routable pod", "c1/web/ledger-0", "172.16.10.5", []string{"10.20.0.15->172.16.10.5 ALLOW gfw:pools-to-db dfw:default"}},
		{"dual-stack pod to an IPv6 VM leaves through its node", "c1/pay/pay-0", "fd00:172:16:10::5", []string{"fd00::1->fd00:172:16:10::5 DROP gfw:nodes-to-db dfw:default"}},
		{"ambiguous Egress choice: every candidate", "c1/web/dup-0", "172.16.10.5", []string{
			"10.0.9.5->172.16.10.5 ALLOW gfw:default dfw:default", "10.0.9.6->172.16.10.5 ALLOW gfw:default dfw:default"}},
		{"pod on a node that left: nothing to decide", "c1/web/orphan-0", "172.16.10.5", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := TraceOutbound(x, fw, OutboundRequest{Pod: tc.pod, To: tc.to, Protocol: "TCP", Port: 5432})
			if err != nil {
				t.Fatal(err)
			}
			if got := hopSummary(out.Hops); !slices.Equal(got, tc.want) {
				t.Errorf("hops\n%v\nwant\n%v", got, tc.want)
			}
			if !slices.Equal(out.Gateways, []string{"/infra/tier-1s/t1"}) {
				t.Errorf("gateways %v", out.Gateways)
			}
		})
	}
	// The Egress IP moves: the next trace follows it, and the rule that
	// decides changes with the membership.
	for i, o := range objs {
		if e, ok := o.(*inventory.Egress); ok && e.Name == "eg-pay" {
			c := *e
			c.SpecIP, c.StatusIP = netip.MustParseAddr("10.0.9.2"), netip.MustParseAddr("10.0.9.2")
			objs[i] = &c
			x.Upsert(&c)
		}
	}
	fw = NewFirewalls(cfg, x)
	out, err := TraceOutbound(x, fw, OutboundRequest{Pod: "c1/pay/pay-0", To: "172.16.10.5", Protocol: "TCP", Port: 5432})
	if err != nil {
		t.Fatal(err)
	}
	if got := hopSummary(out.Hops); !slices.Equal(got, []string{"10.0.9.2->172.16.10.5 ALLOW gfw:pay-to-db dfw:default"}) {
		t.Errorf("after the Egress IP moved: %v", got)
	}
	for _, bad := range []OutboundRequest{
		{Pod: "c1/pay", To: "172.16.10.5", Port: 1},
		{Pod: "c1/pay/pay-0", To: "nowhere", Port: 1},
		{Pod: "c1/pay/pay-0", To: "172.16.10.5"},
		{Pod: "c1/pay/pay-0", To: "172.16.10.5", Port: 1, Gateway: "/infra/tier-1s/nope"},
		{Pod: "c1/pay/missing", To: "172.16.10.5", Port: 1},
	} {
		if _, err := TraceOutbound(x, fw, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestInboundScenarios covers the seed's three ways in: VIPs, node IP +
// port (NodePort, NodePortLocal), routable pod IPs.
func TestInboundScenarios(t *testing.T) {
	cfg := config(t, policyDoc)
	x := index(t, cfg, world())
	fw := NewFirewalls(cfg, x)
	for _, tc := range []struct {
		name string
		q    InboundRequest
		want []string
		why  string
	}{
		{"scenario 1: LoadBalancer VIP and its NodePorts", InboundRequest{From: "172.16.20.7", ToService: "c1/web/lb", Gateway: "/infra/tier-1s/t1"}, []string{
			"172.16.20.7->192.168.50.10 ALLOW gfw:default dfw:to-lb",
			"172.16.20.7->10.0.0.1 REJECT gfw:default dfw:rest", "172.16.20.7->10.0.0.2 REJECT gfw:default dfw:rest", "172.16.20.7->10.0.0.3 REJECT gfw:default dfw:rest"}, ""},
		{"scenario 2: NodePortLocal", InboundRequest{From: "172.16.20.7", ToService: "c1/web/npl"}, []string{"172.16.20.7->10.0.0.1 ALLOW gfw:default dfw:to-npl"}, ""},
		{"scenario 3: routable pod IP", InboundRequest{From: "172.16.20.7", ToService: "c1/web/ledger"}, []string{"172.16.20.7->10.20.0.15 REJECT gfw:default dfw:rest"}, ""},
		{"a VM outside the policy's scope: the DFW rules do not apply", InboundRequest{From: "172.16.99.7", ToIngress: "c1/web/shop"}, []string{
			"172.16.99.7->192.168.50.20 ALLOW gfw:default dfw:default", "172.16.99.7->192.168.50.20 ALLOW gfw:default dfw:default"}, ""},
		{"a ClusterIP Service is not reachable", InboundRequest{From: "172.16.20.7", ToService: "c1/web/redis"}, nil, "reachable only inside its cluster"},
		{"a Gateway", InboundRequest{From: "172.16.20.7", ToGateway: "c1/web/gw"}, []string{"172.16.20.7->192.168.50.30 REJECT gfw:default dfw:rest", "172.16.20.7->192.168.50.30 REJECT gfw:default dfw:rest"}, ""},
		{"IPv6 source: only IPv6 ways in are decided", InboundRequest{From: "fd00:172:16:20::7", ToService: "c1/web/lb"}, []string{
			"fd00:172:16:20::7->fd00::1 ALLOW gfw:default dfw:default", "fd00:172:16:20::7->fd00::2 ALLOW gfw:default dfw:default"}, ""},
		{"IPv6 source, IPv4-only Service: no way in of its family", InboundRequest{From: "fd00:172:16:20::7", ToService: "c1/web/np"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := TraceInbound(x, fw, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := hopSummary(out.Hops); !slices.Equal(got, tc.want) {
				t.Errorf("hops\n%v\nwant\n%v", got, tc.want)
			}
			if !strings.Contains(out.Unreachable, tc.why) || tc.why == "" && out.Unreachable != "" {
				t.Errorf("unreachable %q, want %q", out.Unreachable, tc.why)
			}
		})
	}
	for _, bad := range []InboundRequest{
		{From: "x", ToService: "c1/web/lb"},
		{From: "172.16.20.7"},
		{From: "172.16.20.7", ToService: "c1/web/lb", ToIngress: "c1/web/shop"},
		{From: "172.16.20.7", ToService: "c1/web"},
		{From: "172.16.20.7", ToService: "c1/web/missing"},
	} {
		if _, err := TraceInbound(x, fw, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestAmbiguous agrees with PodExit on which pods' Egress is ambiguous.
func TestAmbiguous(t *testing.T) {
	x := index(t, nil, world())
	var got []string
	for _, a := range Ambiguous(x, "c1") {
		got = append(got, a.Pod.String()+" "+strings.Join(a.Egresses, ","))
	}
	if want := []string{"c1/Pod/web/dup-0 eg-dup-a,eg-dup-b"}; !slices.Equal(got, want) {
		t.Errorf("ambiguous %v, want %v", got, want)
	}
	for _, o := range x.Objects("c1", inventory.KindPod) {
		for _, v4 := range []bool{true, false} {
			ex, err := PodExit(x, inventory.KeyOf(o), v4)
			if err != nil {
				t.Fatal(err)
			}
			if ex.Ambiguous && !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, inventory.KeyOf(o).String()+" ") }) {
				t.Errorf("PodExit finds %s ambiguous, Ambiguous does not", inventory.KeyOf(o))
			}
		}
	}
}

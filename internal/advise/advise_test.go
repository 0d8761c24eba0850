package advise

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
	"github.com/kordon-dev/kordon/internal/reach"
)

func meta(cluster, ns, name string, labels map[string]string) inventory.Meta {
	return inventory.Meta{Cluster: cluster, Namespace: ns, Name: name, Labels: labels}
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func objects() []inventory.Object {
	app := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
	return []inventory.Object{
		&inventory.Node{Meta: meta("c1", "", "n1", nil), InternalIPs: []netip.Addr{ip("10.0.0.1")}},
		&inventory.Namespace{Meta: meta("c1", "", "web", nil)},
		&inventory.Egress{Meta: meta("c1", "", "eg-none", nil), PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "none"}}},
		&inventory.Egress{Meta: meta("c1", "", "eg-a", nil), PodSelector: app, StatusIP: ip("10.0.9.1")},
		&inventory.Egress{Meta: meta("c1", "", "eg-b", nil), PodSelector: app, StatusIP: ip("10.0.9.2")},
		&inventory.Egress{Meta: meta("c1", "", "eg-untaken", nil), PodSelector: app, SpecIP: ip("10.0.9.3"), ExternalIPPool: "pool",
			Conditions: []inventory.EgressCondition{{Type: inventory.EgressIPAssigned, Status: "False", Reason: "AssignmentError", Message: "Failed to assign the IP to EgressNode: no Node available"}}},
		&inventory.Egress{Meta: meta("c1", "", "eg-plural", nil), PodSelector: app, SpecIPs: []netip.Addr{ip("10.0.9.4")}},
		&inventory.Egress{Meta: meta("c1", "", "eg-exhausted", nil), PodSelector: app, ExternalIPPool: "pool",
			Conditions: []inventory.EgressCondition{{Type: inventory.EgressIPAllocated, Status: "False", Reason: "AllocationError", Message: "Cannot allocate EgressIP from ExternalIPPool: no available IP"}}},
		&inventory.Service{Meta: meta("c1", "web", "cache", nil), Type: inventory.ServiceClusterIP, NodePortLocalIgnored: `"True"`, Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 11211}}},
		&inventory.Pod{Meta: meta("c1", "web", "x-0", map[string]string{"app": "x"}), NodeName: "n1", IPs: []netip.Addr{ip("10.244.0.5")}},
		&inventory.Service{Meta: meta("c1", "web", "redis", nil), Type: inventory.ServiceClusterIP, Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 6379}}},
		&inventory.Service{Meta: meta("c1", "web", "lb", nil), Type: inventory.ServiceLoadBalancer, Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 443}}},
		&inventory.Service{Meta: meta("c1", "web", "np", nil), Type: inventory.ServiceNodePort, Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 80, NodePort: 30080}}},
		&inventory.Service{Meta: meta("c2", "web", "np2", nil), Type: inventory.ServiceNodePort, Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 80, NodePort: 30080}}},
		&inventory.Ingress{Meta: meta("c1", "web", "ing", nil)},
		&inventory.Gateway{Meta: meta("c1", "web", "gw", nil)},
		&inventory.Node{Meta: meta("c3", "", "m1", nil), InternalIPs: []netip.Addr{ip("10.3.0.1")}},
	}
}

const doc = `
resource_type: Infra
children:
- {resource_type: ChildTier1, Tier1: {id: t1}}
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: vms, expression: [{resource_type: IPAddressExpression, ip_addresses: [172.16.0.0/24]}]}}
    - {resource_type: ChildGroup, Group: {id: egress, expression: [{resource_type: Condition, member_type: AntreaEgress, key: Name, operator: STARTSWITH, value: eg-}]}}
    - {resource_type: ChildGroup, Group: {id: nodes, expression: [{resource_type: Condition, member_type: KubernetesNode, key: IPAddress, operator: MATCHES, value: "*"}]}}
    - {resource_type: ChildGroup, Group: {id: nested-nodes, expression: [{resource_type: PathExpression, paths: [/infra/domains/default/groups/nodes]}]}}
    - {resource_type: ChildGroup, Group: {id: redis, expression: [{resource_type: Condition, member_type: KubernetesService, key: Name, operator: EQUALS, value: redis}]}}
    - {resource_type: ChildGroup, Group: {id: services, expression: [{resource_type: Condition, member_type: KubernetesService, key: Name, operator: MATCHES, value: ".*"}]}}
    - {resource_type: ChildGroup, Group: {id: unused-empty, expression: [{resource_type: Condition, member_type: KubernetesIngress, key: Name, operator: EQUALS, value: nope}]}}
    - {resource_type: ChildGroup, Group: {id: c3-nodes, expression: [{resource_type: NestedExpression, expressions: [
        {resource_type: Condition, member_type: KubernetesCluster, key: Name, operator: EQUALS, value: c3},
        {resource_type: ConjunctionOperator, conjunction_operator: AND},
        {resource_type: Condition, member_type: KubernetesNode, key: IPAddress, operator: MATCHES, value: "*"}]}]}}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: dfw
        category: Application
        rules:
        - {id: egress-to-vms-on-dfw, sequence_number: 10, source_groups: [/infra/domains/default/groups/egress], destination_groups: [/infra/domains/default/groups/vms], action: ALLOW}
        - {id: to-nodes, sequence_number: 20, source_groups: [/infra/domains/default/groups/vms], destination_groups: [/infra/domains/default/groups/nested-nodes], action: ALLOW}
        - {id: from-services, sequence_number: 30, source_groups: [/infra/domains/default/groups/services], destination_groups: [/infra/domains/default/groups/vms], action: DROP}
        - {id: vms-any, sequence_number: 40, source_groups: [/infra/domains/default/groups/vms], destination_groups: [ANY], action: DROP}
        - {id: vms-web, sequence_number: 50, source_groups: [/infra/domains/default/groups/vms], destination_groups: [ANY], services: [/infra/services/HTTPS], action: ALLOW}
        - {id: to-redis, sequence_number: 60, source_groups: [ANY], destination_groups: [/infra/domains/default/groups/redis], action: ALLOW}
        - {id: to-egress, sequence_number: 70, source_groups: [/infra/domains/default/groups/vms], destination_groups: [/infra/domains/default/groups/egress], action: ALLOW}
    - resource_type: ChildGatewayPolicy
      GatewayPolicy:
        id: gfw
        category: LocalGatewayRules
        scope: [/infra/tier-1s/t1]
        rules:
        - {id: vms-to-services-on-gfw, sequence_number: 10, source_groups: [/infra/domains/default/groups/vms], destination_groups: [/infra/domains/default/groups/services], action: ALLOW}
        - {id: nodes-allow, sequence_number: 20, source_groups: [/infra/domains/default/groups/nodes], destination_groups: [/infra/domains/default/groups/vms], action: ALLOW}
        - {id: c3-nodes, sequence_number: 30, source_groups: [/infra/domains/default/groups/c3-nodes], destination_groups: [/infra/domains/default/groups/vms], action: ALLOW}
`

func setup(t *testing.T) (*model.Config, *membership.Index) {
	t.Helper()
	cfg, err := model.ParseConfig("advise.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	x := membership.New()
	if err := x.Load(objects(), cfg.Groups); err != nil {
		t.Fatal(err)
	}
	return cfg, x
}

const (
	g  = "/infra/domains/default/groups/"
	dr = "/infra/domains/default/security-policies/dfw/rules/"
	gr = "/infra/domains/default/gateway-policies/gfw/rules/"
)

func TestAdvise(t *testing.T) {
	cfg, x := setup(t)
	status := map[string]string{"c1": "Up", "c2": "Up", "c3": "Unknown"}
	fs := Advise(Input{Config: cfg, Index: x, ClusterStatus: func(c string) (string, bool) { s, ok := status[c]; return s, ok }})
	type key struct{ code, severity, first string }
	got := map[key][]string{}
	for _, f := range fs {
		if f.Message == "" || f.Fix == "" || len(f.Objects) == 0 {
			t.Errorf("incomplete finding %+v", f)
		}
		got[key{f.Code, f.Severity, f.Objects[0]}] = f.Objects[1:]
	}
	for _, tc := range []struct {
		name string
		k    key
		rest []string
	}{
		{"the seed's recommendation: cluster to VM on the GFW", key{CodePlacementGFW, Info, dr + "egress-to-vms-on-dfw"}, []string{g + "egress"}},
		{"the seed's recommendation: VM to cluster on the DFW", key{CodePlacementDFW, Info, gr + "vms-to-services-on-gfw"}, []string{g + "services"}},
		{"Node IPs as destination, through a nested group: may be right", key{CodeSourceAsDest, Info, dr + "to-nodes"}, []string{g + "nested-nodes"}},
		{"Egress IPs as destination", key{CodeSourceAsDest, Warning, dr + "to-egress"}, []string{g + "egress"}},
		{"Services as source", key{CodeDestAsSource, Warning, dr + "from-services"}, []string{g + "services"}},
		{"a group of ClusterIP Services", key{CodeClusterIPGroup, Warning, g + "redis"}, []string{"c1/Service/web/redis"}},
		{"a mixed group with a ClusterIP Service", key{CodeClusterIPGroup, Info, g + "services"}, []string{"c1/Service/web/cache", "c1/Service/web/redis"}},
		{"an unused empty group", key{CodeEmptyGroup, Info, g + "unused-empty"}, nil},
		{"an Egress without IP", key{CodeEgressUnassigned, Warning, "c1/Egress/eg-none"}, nil},
		{"an Egress whose pool has no IP left", key{CodeEgressUnassigned, Warning, "c1/Egress/eg-exhausted"}, nil},
		{"an Egress whose IP no Node took", key{CodeEgressNotInEffect, Warning, "c1/Egress/eg-untaken"}, nil},
		{"an Egress with spec.egressIPs only", key{CodeEgressNotInEffect, Warning, "c1/Egress/eg-plural"}, nil},
		{"a LoadBalancer without IP", key{CodeNoAddressYet, Info, "c1/Service/web/lb"}, nil},
		{"an Ingress without IP", key{CodeNoAddressYet, Info, "c1/Ingress/web/ing"}, nil},
		{"a Gateway without IP", key{CodeNoAddressYet, Info, "c1/Gateway/web/gw"}, nil},
		{"a NodePort without nodes", key{CodeNodePortNoNodes, Info, "c2/Service/web/np2"}, nil},
		{"an ambiguous Egress", key{CodeEgressAmbiguous, Warning, "c1/Pod/web/x-0"}, []string{"c1/Egress/eg-a", "c1/Egress/eg-b"}},
		{"a shadowed rule", key{CodeShadowed, Warning, dr + "vms-web"}, []string{dr + "to-nodes", dr + "vms-any"}},
		{"members of a cluster not Up", key{CodeStaleMembers, Warning, g + "c3-nodes"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rest, ok := got[tc.k]
			if !ok {
				t.Fatalf("no finding %+v in\n%s", tc.k, dump(fs))
			}
			if !slices.Equal(rest, tc.rest) {
				t.Errorf("objects %v, want %v", rest, tc.rest)
			}
		})
	}
	// The redis group is reported once, as ClusterIP, not also as empty;
	// groups with addresses are never empty.
	for k := range got {
		if k.code == CodeEmptyGroup && (k.first == g+"redis" || k.first == g+"nodes") {
			t.Errorf("unexpected %+v", k)
		}
	}
	// Warnings come first.
	for i := 1; i < len(fs); i++ {
		if fs[i-1].Severity == Info && fs[i].Severity == Warning {
			t.Fatalf("a warning after an info:\n%s", dump(fs))
		}
	}
	// Offline, no cluster status is known: no stale findings.
	for _, f := range Advise(Input{Config: cfg, Index: x}) {
		if f.Code == CodeStaleMembers {
			t.Errorf("offline stale finding %+v", f)
		}
	}
}

// TestAdviseEgressNotInEffect: an Egress whose IP Antrea has not put in
// effect is reported with why, following antrea-agent's egress
// controller (pkg/agent/controller/egress/egress_controller.go:
// syncEgress installs SNAT for a pool's IP only on the Node its
// scheduler chose, updateEgressStatus reports IPAssigned False when none
// could take it; the agent reads spec.egressIP only, and
// pkg/controller/egress/validate.go refuses spec.egressIPs), and
// antrea-controller's IPAllocated condition (pkg/controller/egress/
// controller.go, updateEgressAllocatedCondition). A ClusterIP Service
// whose NodePortLocal annotation is "True" is told that Antrea wants
// "true" (pkg/agent/nodeportlocal/k8s/npl_controller.go).
func TestAdviseEgressNotInEffect(t *testing.T) {
	cfg, x := setup(t)
	msgs := map[string]Finding{}
	for _, f := range Advise(Input{Config: cfg, Index: x}) {
		msgs[f.Code+" "+f.Objects[0]] = f
	}
	for _, tc := range []struct{ key, message, fix string }{
		{CodeEgressNotInEffect + " c1/Egress/eg-untaken", "Egress eg-untaken in cluster c1 names egress IP 10.0.9.3, but it is not in effect: 10.0.9.3 comes from ExternalIPPool pool but no Node has taken it (status.egressIP is empty): IPAssigned False (AssignmentError), Failed to assign the IP to EgressNode: no Node available. Antrea installs no SNAT for it", "nodeSelector"},
		{CodeEgressNotInEffect + " c1/Egress/eg-plural", "names egress IP 10.0.9.4, but it is not in effect: it names its IPs in spec.egressIPs or spec.externalIPPools, which Antrea does not support yet", "spec.egressIP"},
		{CodeEgressUnassigned + " c1/Egress/eg-exhausted", "(no IP has been allocated from ExternalIPPool pool yet: IPAllocated False (AllocationError), Cannot allocate EgressIP from ExternalIPPool: no available IP)", ""},
		{CodeEgressUnassigned + " c1/Egress/eg-none", "has no egress IP assigned: the pods it selects leave masqueraded to their nodes' IPs (unless another Egress or an IPPool gives them their address), and it contributes no address to the groups that select it", ""},
		{CodeClusterIPGroup + " " + g + "services", `Antrea enables NodePortLocal only for the exact value "true", and c1/Service/web/cache has nodeportlocal.antrea.io/enabled: "True"`, ""},
	} {
		f, ok := msgs[tc.key]
		if !ok {
			t.Errorf("no finding %s", tc.key)
			continue
		}
		if !strings.Contains(f.Message, tc.message) || !strings.Contains(f.Fix, tc.fix) {
			t.Errorf("%s:\n message %q\n fix %q\nwant them to hold %q and %q", tc.key, f.Message, f.Fix, tc.message, tc.fix)
		}
	}
	if f := msgs[CodeEgressUnassigned+" c1/Egress/eg-none"]; strings.Contains(f.Message, "(") && strings.Contains(f.Message, "IPAllocated") {
		t.Errorf("an Egress without conditions got a reason: %q", f.Message)
	}
	for k := range msgs {
		if strings.Contains(k, "c1/Egress/eg-a") || strings.Contains(k, "c1/Egress/eg-b ") {
			if strings.HasPrefix(k, CodeEgressUnassigned) || strings.HasPrefix(k, CodeEgressNotInEffect) {
				t.Errorf("an Egress in effect reported: %s", k)
			}
		}
	}
}

func TestAdviseBudget(t *testing.T) {
	cfg, x := setup(t)
	fs := Advise(Input{Config: cfg, Index: x})
	n := 0
	for _, f := range Advise(Input{Config: cfg, Index: x, Reach: reachTiny()}) {
		if f.Code == CodeTooComplex {
			n++
		}
		if f.Code == CodeShadowed {
			t.Errorf("a shadowing claim from an analysis over budget: %+v", f)
		}
	}
	if n == 0 {
		t.Errorf("an analysis over budget is not reported; with the default budget: %s", dump(fs))
	}
}

func dump(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Severity + " " + f.Code + " " + strings.Join(f.Objects, " ") + "\n")
	}
	return b.String()
}

func reachTiny() reach.Options { return reach.Options{MaxBoxes: 1, MaxSteps: 10} }

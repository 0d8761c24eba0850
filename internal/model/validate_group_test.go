package model

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// validationBase is a small valid configuration the validation rows add
// objects to.
const validationBase = `
resource_type: Infra
children:
- {resource_type: ChildTier0, Tier0: {id: t0}}
- {resource_type: ChildTier1, Tier1: {id: t1, tier0_path: /infra/tier-0s/t0}}
- resource_type: ChildService
  Service: {id: web, service_entries: [{resource_type: L4PortSetServiceEntry, id: tcp, l4_protocol: TCP, destination_ports: ["80"]}]}
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: vms, expression: [{resource_type: IPAddressExpression, ip_addresses: [10.0.0.0/24]}]}}
    - {resource_type: ChildGroup, Group: {id: k8s, expression: [{resource_type: Condition, member_type: KubernetesService, key: Name, operator: EQUALS, value: web}]}}
    - {resource_type: ChildSecurityPolicy, SecurityPolicy: {id: app, category: Application}}
    - {resource_type: ChildSecurityPolicy, SecurityPolicy: {id: env, category: Environment}}
    - {resource_type: ChildSecurityPolicy, SecurityPolicy: {id: l2, category: Ethernet}}
    - {resource_type: ChildGatewayPolicy, GatewayPolicy: {id: edge, category: LocalGatewayRules, scope: [/infra/tier-1s/t1]}}
    - {resource_type: ChildGatewayPolicy, GatewayPolicy: {id: noscope, category: LocalGatewayRules}}
- resource_type: ChildDomain
  Domain: {id: other}
`

const (
	projDev  = "/orgs/default/projects/dev"
	gPath    = "/infra/domains/default/groups/g"
	vmsPath  = "/infra/domains/default/groups/vms"
	k8sPath  = "/infra/domains/default/groups/k8s"
	projGrp  = projDev + "/infra/domains/default/groups/g"
	otherGrp = "/infra/domains/other/groups/g"
)

// vcase is one validation row: documents added to validationBase (in the
// default space and in project "dev") and every problem Validate must
// report, exactly.
type vcase struct {
	name    string
	docs    []string
	project []string
	want    []wantErr
}

func runValidateCases(t *testing.T, cases []vcase) {
	t.Helper()
	base := configOf(t, validationBase)
	names := map[string]bool{}
	for _, tt := range cases {
		if names[tt.name] {
			t.Fatalf("duplicate row name %q", tt.name)
		}
		names[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			c, changes := applyChanges(t, base, "", tt.docs...)
			c, more := applyChanges(t, c, "dev", tt.project...)
			errs := c.Validate()
			checkErrors(t, errs, tt.want, false)
			if inc := c.ValidateChange(append(changes, more...)); !reflect.DeepEqual(inc, errs) {
				t.Errorf("ValidateChange differs from Validate:\n%v\n%v", inc, errs)
			}
			sorted := append(Errors(nil), errs...)
			sorted.Sort()
			if !reflect.DeepEqual(sorted, errs) {
				t.Errorf("errors not sorted")
			}
		})
	}
}

func TestValidationBaseIsValid(t *testing.T) {
	c := configOf(t, validationBase)
	if errs := c.Validate(); len(errs) != 0 {
		t.Fatalf("base configuration: %v", errs)
	}
}

// Conditions used by the group rows.
var (
	vm     = cond("VirtualMachine", "Name", "EQUALS", "vm-1")
	svc    = cond("KubernetesService", "Name", "EQUALS", "web")
	ing    = cond("KubernetesIngress", "Name", "EQUALS", "web")
	gw     = cond("KubernetesGateway", "Name", "ENDSWITH", "-gw")
	egr    = cond("AntreaEgress", "Name", "EQUALS", "egress-1")
	pool   = cond("AntreaIPPool", "Tag", "EQUALS", "dis:k8s:routable|true")
	node   = cond("KubernetesNode", "IPAddress", "MATCHES", "*")
	nodePC = cond("KubernetesNode", "PodCidr", "MATCHES", "*")
	cl     = cond("KubernetesCluster", "Name", "EQUALS", "prod-east")
	cl2    = cond("KubernetesCluster", "Name", "EQUALS", "prod-west")
	ns     = cond("KubernetesNamespace", "Name", "EQUALS", "shop")
)

func g(items ...string) []string { return []string{groupDoc("g", items...)} }

func TestValidateGroupsValid(t *testing.T) {
	runValidateCases(t, []vcase{
		{name: "spec example", docs: g(nested(cl, and, ns, and, cond("KubernetesIngress", "Tag", "EQUALS", "dis:k8s:app|web")), or, egr)},
		{name: "empty group", docs: g()},
		{name: "node alone", docs: g(node)},
		{name: "node pod cidr with cluster", docs: g(nested(cl, and, nodePC))},
		{name: "cluster IN five", docs: g(nested(cond("KubernetesCluster", "Name", "IN", "a,b,c,d,e"), and, svc))},
		{name: "cluster STARTSWITH with egress", docs: g(nested(cond("KubernetesCluster", "Name", "STARTSWITH", "prod-"), and, egr))},
		{name: "cluster ENDSWITH with pool", docs: g(nested(cond("KubernetesCluster", "Name", "ENDSWITH", "-east"), and, pool))},
		{name: "namespace tag with service", docs: g(nested(cond("KubernetesNamespace", "Tag", "EQUALS", "dis:k8s:team|web"), and, svc))},
		{name: "gateway with cluster and namespaces", docs: g(nested(cl, and, ns, and, cond("KubernetesNamespace", "Name", "EQUALS", "pay"), and, gw))},
		{name: "k8s tag with scope_operator EQUALS", docs: g(condWith("KubernetesService", "Tag", "EQUALS", "dis:k8s:app|web", `"scope_operator":"EQUALS"`))},
		{name: "vm tag any scope", docs: g(cond("VirtualMachine", "Tag", "EQUALS", "|web"))},
		{name: "vm tag scope only", docs: g(cond("VirtualMachine", "Tag", "EQUALS", "env|"))},
		{name: "vm tag NOTEQUALS", docs: g(condWith("VirtualMachine", "Tag", "NOTEQUALS", "env|prod", `"scope_operator":"NOTEQUALS"`))},
		{name: "vm tag MATCHES", docs: g(cond("VirtualMachine", "Tag", "MATCHES", "app|web-[0-9]+"))},
		{name: "vm name MATCHES", docs: g(cond("VirtualMachine", "Name", "MATCHES", "web-[0-9]+"))},
		{name: "vm name MATCHES star", docs: g(cond("VirtualMachine", "Name", "MATCHES", "*"))},
		{name: "vm OSName CONTAINS", docs: g(cond("VirtualMachine", "OSName", "CONTAINS", "ubuntu"))},
		{name: "vm ComputerName IN", docs: g(cond("VirtualMachine", "ComputerName", "IN", "a,b"))},
		{name: "AND between single conditions of one type", docs: g(svc, and, cond("KubernetesService", "Tag", "EQUALS", "a|b"))},
		{name: "AND between node conditions of one key", docs: g(node, and, node)},
		{name: "k8s OR vm criteria", docs: g(vm, or, svc, or, ipExpr("10.1.1.1"), or, pathExpr(vmsPath))},
		{name: "five criteria", docs: g(joinWith(or, vm, svc, ing, egr, pool)...)},
		{name: "five conditions in a criterion", docs: g(nested(cl, and, ns, and, ns, and, ns, and, svc))},
		{name: "addresses", docs: g(ipExpr("10.0.0.1", "10.0.0.0/8", "10.0.0.1-10.0.0.9", "fd00::/64", "2001:db8::1-2001:db8::ff", " 10.2.2.2 "))},
		{name: "4000 addresses", docs: g(ipExpr(repeat("10.0.0.1", 4000)...))},
		{name: "path to groups", docs: g(pathExpr(vmsPath, k8sPath))},
		{name: "IPAddress group type", docs: []string{`{"resource_type":"Group","id":"g","group_type":["IPAddress"],"expression":[` + ipExpr("10.0.0.1") + `,` + or + `,` + ipExpr("10.0.0.2") + `]}`}},
		{name: "vm group in project", project: g(vm)},
		{name: "vm group in other domain", docs: []string{`{"resource_type":"Group","path":"` + otherGrp + `","expression":[` + vm + `]}`}},
		{name: "exclude null", docs: g(condWith("VirtualMachine", "Name", "EQUALS", "a", `"exclude":null`))},
	})
}

func TestValidateGroupsInvalid(t *testing.T) {
	e := func(field, reason string) wantErr { return wantErr{gPath, field, reason} }
	big := func(n int) string { return nested(joinWith(and, repeat(vm, n)...)...) }
	var forty []wantErr
	for i := 0; i < 5; i++ {
		forty = append(forty,
			e(fmt.Sprintf("expression[%d].expressions", 2*i), "8 Conditions; an expression list holds at most 5"),
			e(fmt.Sprintf("expression[%d]", 2*i), "8 VirtualMachine conditions; a criterion holds at most 5 of one member type"))
	}
	forty = append(forty, e("expression", "40 conditions; a group may hold at most 35"))

	runValidateCases(t, []vcase{
		// Shape of expression lists (§1.3).
		{name: "even length list", docs: g(vm, or), want: []wantErr{e("expression", "2 elements; a non-empty expression list has odd length")}},
		{name: "conjunction at even index", docs: g(vm, or, or), want: []wantErr{e("expression[2]", "a ConjunctionOperator cannot stand at an even index")}},
		{name: "criterion at odd index", docs: g(vm, vm, vm), want: []wantErr{e("expression[1]", "expected a ConjunctionOperator between criteria, got Condition")}},
		{name: "unknown conjunction", docs: g(vm, conj("XOR"), vm), want: []wantErr{e("expression[1].conjunction_operator", `must be AND or OR, got "XOR"`)}},
		{name: "six criteria", docs: g(joinWith(or, repeat(vm, 6)...)...), want: []wantErr{e("expression", "6 criteria (Condition or NestedExpression); a group may hold at most 5")}},
		{name: "more than 35 conditions", docs: g(joinWith(or, repeat(big(8), 5)...)...), want: forty},
		{name: "six of one type in a criterion", docs: g(big(6)), want: []wantErr{
			e("expression[0].expressions", "6 Conditions; an expression list holds at most 5"),
			e("expression[0]", "6 VirtualMachine conditions; a criterion holds at most 5 of one member type")}},
		{name: "sixteen conditions in a criterion", docs: g(big(16)), want: []wantErr{
			e("expression[0].expressions", "16 Conditions; an expression list holds at most 5"),
			e("expression[0]", "16 conditions; a criterion holds at most 15"),
			e("expression[0]", "16 VirtualMachine conditions")}},
		{name: "six namespaces in a criterion", docs: g(nested(joinWith(and, append(repeat(ns, 6), svc)...)...)), want: []wantErr{
			e("expression[0].expressions", "7 Conditions; an expression list holds at most 5"),
			e("expression[0]", "6 KubernetesNamespace conditions; a criterion holds at most 5 of one member type")}},

		// Combination rules inside a criterion (§1.4 V-a..V-c, §1.5).
		{name: "k8s mixed with vm", docs: g(nested(vm, and, svc)), want: []wantErr{e("expression[0]", "a criterion cannot mix Kubernetes member types with NSX member types")}},
		{name: "cluster alone", docs: g(cl), want: []wantErr{e("expression[0]", "selects nothing; add a resource condition")}},
		{name: "namespace alone", docs: g(ns), want: []wantErr{e("expression[0]", "selects nothing")}},
		{name: "cluster and namespace only", docs: g(nested(cl, and, ns)), want: []wantErr{e("expression[0]", "selects nothing")}},
		{name: "two resource types", docs: g(nested(svc, and, ing)), want: []wantErr{e("expression[0]", "only one resource member type (found KubernetesService and KubernetesIngress)")}},
		{name: "egress with node", docs: g(nested(egr, and, node)), want: []wantErr{e("expression[0]", "found AntreaEgress and KubernetesNode")}},
		{name: "node with service", docs: g(nested(node, and, svc)), want: []wantErr{e("expression[0]", "found KubernetesNode and KubernetesService")}},
		{name: "two clusters", docs: g(nested(cl, and, cl2, and, svc)), want: []wantErr{e("expression[0]", "at most one KubernetesCluster condition per criterion")}},
		{name: "two nodes", docs: g(nested(node, and, nodePC)), want: []wantErr{e("expression[0]", "exactly one KubernetesNode condition per criterion")}},
		{name: "node with namespace", docs: g(nested(ns, and, node)), want: []wantErr{
			e("expression[0]", "a KubernetesNode condition can only be combined with a KubernetesCluster condition"),
			e("expression[0]", "KubernetesNamespace conditions apply only to namespace-scoped resources (KubernetesService, KubernetesIngress, KubernetesGateway), not to KubernetesNode")}},
		{name: "namespace with egress", docs: g(nested(ns, and, egr)), want: []wantErr{e("expression[0]", "not to AntreaEgress")}},
		{name: "namespace with ip pool", docs: g(nested(cl, and, ns, and, pool)), want: []wantErr{e("expression[0]", "not to AntreaIPPool")}},
		{name: "node operator", docs: g(cond("KubernetesNode", "IPAddress", "EQUALS", "*")), want: []wantErr{e("expression[0]", `a KubernetesNode condition must be operator MATCHES with value "*"`)}},
		{name: "node value", docs: g(nested(cl, and, cond("KubernetesNode", "PodCidr", "MATCHES", "10.*"))), want: []wantErr{e("expression[0].expressions[2]", `must be operator MATCHES with value "*"`)}},
		{name: "node key", docs: g(cond("KubernetesNode", "Name", "MATCHES", "*")), want: []wantErr{e("expression[0].key", `KubernetesNode conditions use key IPAddress or PodCidr, not "Name"`)}},
		{name: "node tag", docs: g(cond("KubernetesNode", "Tag", "EQUALS", "a|b")), want: []wantErr{e("expression[0].key", `not "Tag"`)}},

		// KubernetesCluster conditions.
		{name: "cluster key", docs: g(nested(cond("KubernetesCluster", "Tag", "EQUALS", "a|b"), and, svc)), want: []wantErr{e("expression[0].expressions[0].key", `KubernetesCluster conditions use key Name, not "Tag"`)}},
		{name: "cluster operator", docs: g(nested(cond("KubernetesCluster", "Name", "CONTAINS", "prod"), and, svc)), want: []wantErr{e("expression[0].expressions[0].operator", "a KubernetesCluster condition uses EQUALS, IN, STARTSWITH or ENDSWITH, not CONTAINS")}},
		{name: "cluster MATCHES", docs: g(nested(cond("KubernetesCluster", "Name", "MATCHES", "prod.*"), and, svc)), want: []wantErr{e("expression[0].expressions[0].operator", "not MATCHES")}},
		{name: "cluster IN with spaces", docs: g(nested(cond("KubernetesCluster", "Name", "IN", "a, b"), and, svc)), want: []wantErr{e("expression[0].expressions[0].value", "IN takes comma-separated cluster names without spaces")}},
		{name: "cluster IN six", docs: g(nested(cond("KubernetesCluster", "Name", "IN", "a,b,c,d,e,f"), and, svc)), want: []wantErr{e("expression[0].expressions[0].value", "6 clusters; IN takes at most 5")}},
		{name: "cluster IN empty name", docs: g(nested(cond("KubernetesCluster", "Name", "IN", "a,,b"), and, svc)), want: []wantErr{e("expression[0].expressions[0].value", `empty cluster name in "a,,b"`)}},
		{name: "cluster EQUALS empty", docs: g(nested(cond("KubernetesCluster", "Name", "EQUALS", ""), and, svc)), want: []wantErr{e("expression[0].expressions[0].value", "missing cluster name")}},

		// Tag conditions.
		{name: "tag without bar", docs: g(cond("KubernetesService", "Tag", "EQUALS", "app")), want: []wantErr{e("expression[0].value", `a Tag value is "scope|tag" (or "|tag" for any scope), got "app"`)}},
		{name: "tag only bar", docs: g(cond("VirtualMachine", "Tag", "EQUALS", "|")), want: []wantErr{e("expression[0].value", "a Tag value needs a scope, a tag or both")}},
		{name: "k8s tag operator", docs: g(cond("AntreaEgress", "Tag", "CONTAINS", "a|b")), want: []wantErr{e("expression[0].operator", "Kubernetes tag conditions support only EQUALS, got CONTAINS")}},
		{name: "k8s tag scope operator", docs: g(condWith("KubernetesService", "Tag", "EQUALS", "a|b", `"scope_operator":"NOTEQUALS"`)), want: []wantErr{e("expression[0].scope_operator", "Kubernetes tag conditions support only EQUALS")}},
		{name: "namespace tag operator", docs: g(nested(cond("KubernetesNamespace", "Tag", "STARTSWITH", "a|b"), and, svc)), want: []wantErr{e("expression[0].expressions[0].operator", "support only EQUALS, got STARTSWITH")}},
		{name: "vm tag IN", docs: g(cond("VirtualMachine", "Tag", "IN", "a|b")), want: []wantErr{e("expression[0].operator", "IN is not supported for tags")}},
		{name: "vm tag NOTIN", docs: g(cond("VirtualMachine", "Tag", "NOTIN", "a|b")), want: []wantErr{e("expression[0].operator", "NOTIN is not supported for tags")}},
		{name: "vm tag bad regex", docs: g(cond("VirtualMachine", "Tag", "MATCHES", "app|(")), want: []wantErr{e("expression[0].value", `invalid regular expression "("`)}},

		// Operators, values, keys, member types.
		{name: "vm name bad regex", docs: g(cond("VirtualMachine", "Name", "MATCHES", "web[")), want: []wantErr{e("expression[0].value", `invalid regular expression "web["`)}},
		{name: "MATCHES escaping the anchors", docs: g(cond("VirtualMachine", "Name", "MATCHES", "web)|(.*")), want: []wantErr{e("expression[0].value", `invalid regular expression "web)|(.*"`)}},
		{name: "MATCHES empty", docs: g(cond("VirtualMachine", "Name", "MATCHES", "")), want: []wantErr{e("expression[0].value", "MATCHES needs a regular expression")}},
		{name: "scope operator on Name", docs: g(condWith("VirtualMachine", "Name", "EQUALS", "a", `"scope_operator":"EQUALS"`)), want: []wantErr{e("expression[0].scope_operator", "only Tag conditions have a scope operator")}},
		{name: "unknown scope operator", docs: g(condWith("VirtualMachine", "Tag", "EQUALS", "a|b", `"scope_operator":"LIKE"`)), want: []wantErr{e("expression[0].scope_operator", `must be EQUALS or NOTEQUALS, got "LIKE"`)}},
		{name: "unknown operator", docs: g(cond("VirtualMachine", "Name", "EQUAL", "a")), want: []wantErr{e("expression[0].operator", `unknown operator "EQUAL"`)}},
		{name: "missing operator", docs: g(cond("KubernetesService", "Name", "", "web")), want: []wantErr{e("expression[0].operator", `unknown operator ""`)}},
		{name: "missing value", docs: g(cond("AntreaEgress", "Name", "EQUALS", "")), want: []wantErr{e("expression[0].value", "missing")}},
		{name: "IN empty value", docs: g(cond("VirtualMachine", "Name", "IN", "a,,b")), want: []wantErr{e("expression[0].value", `IN takes comma-separated values; "a,,b" has an empty one`)}},
		{name: "missing member type", docs: g(cond("", "Name", "EQUALS", "a")), want: []wantErr{e("expression[0].member_type", "missing")}},
		{name: "member type typo", docs: g(cond("KubernetesServce", "Name", "EQUALS", "a")), want: []wantErr{e("expression[0].member_type", `unknown member type "KubernetesServce" (did you mean "KubernetesService"?)`)}},
		{name: "member type case", docs: g(cond("antreaegress", "Name", "EQUALS", "a")), want: []wantErr{e("expression[0].member_type", `did you mean "AntreaEgress"?`)}},
		{name: "member type unknown", docs: g(cond("Widget", "Name", "EQUALS", "a")), want: []wantErr{e("expression[0].member_type", `unknown member type "Widget" (kordon evaluates AntreaEgress, AntreaIPPool,`)}},
		{name: "nsx-only Segment", docs: g(cond("Segment", "Tag", "EQUALS", "a|b")), want: []wantErr{e("expression[0].member_type", "Segment is an NSX member type kordon has no inventory for")}},
		{name: "antrea-group Pod", docs: g(cond("Pod", "Name", "EQUALS", "a")), want: []wantErr{e("expression[0].member_type", "Pod is an NSX member type kordon has no inventory for")}},
		{name: "nsx-only IPSet in a criterion", docs: g(nested(vm, and, cond("IPSet", "Name", "EQUALS", "a"))), want: []wantErr{e("expression[0].expressions[2].member_type", "IPSet is an NSX member type")}},
		{name: "key not allowed for type", docs: g(cond("AntreaEgress", "IPAddress", "EQUALS", "10.0.0.1")), want: []wantErr{e("expression[0].key", `AntreaEgress conditions use key Name or Tag, not "IPAddress"`)}},
		{name: "exclude", docs: g(condWith("VirtualMachine", "Name", "EQUALS", "a", `"exclude":{"member_paths":[]}`)), want: []wantErr{e("expression[0].exclude", "excluded members are not supported")}},

		// Conjunctions between and inside criteria (§1.4 V-d).
		{name: "AND between different types", docs: g(svc, and, ing), want: []wantErr{e("expression[1]", "AND between criteria of different member types (KubernetesService, KubernetesIngress) is not allowed")}},
		{name: "AND between k8s and vm", docs: g(vm, and, egr), want: []wantErr{e("expression[1]", "(VirtualMachine, AntreaEgress)")}},
		{name: "AND with a nested criterion", docs: g(nested(cl, and, svc), and, svc), want: []wantErr{e("expression[1]", "AND between criteria is allowed only when both are single Conditions of the same member type")}},
		{name: "AND with an IP expression", docs: g(ipExpr("10.0.0.1"), and, vm), want: []wantErr{e("expression[1]", "allowed only when both are single Conditions")}},
		{name: "AND between node keys", docs: g(node, and, nodePC), want: []wantErr{e("expression[1]", "(KubernetesNode, KubernetesNode)")}},
		{name: "OR inside a criterion", docs: g(nested(cl, or, svc)), want: []wantErr{e("expression[0].expressions[1].conjunction_operator", `conditions inside a criterion are joined by AND (got "OR")`)}},
		{name: "nested inside nested", docs: g(nested(nested(svc))), want: []wantErr{e("expression[0].expressions[0]", "a NestedExpression holds Conditions only, got NestedExpression")}},
		{name: "address inside nested", docs: g(nested(svc, and, ipExpr("10.0.0.1"))), want: []wantErr{e("expression[0].expressions[2]", "holds Conditions only, got IPAddressExpression")}},
		{name: "empty nested", docs: g(nested()), want: []wantErr{e("expression[0].expressions", "a NestedExpression needs at least one condition")}},
		{name: "nested even length", docs: g(nested(svc, and)), want: []wantErr{e("expression[0].expressions", "2 elements; an expression list has odd length")}},
		{name: "nested condition at odd index", docs: g(nested(svc, svc, svc)), want: []wantErr{e("expression[0].expressions[1]", "expected a ConjunctionOperator between conditions, got Condition")}},

		// IPAddressExpression and PathExpression.
		{name: "bad address", docs: g(ipExpr("10.0.0.1", "10.0.0.300")), want: []wantErr{e("expression[0].ip_addresses[1]", `"10.0.0.300": not an IP address, CIDR or range`)}},
		{name: "reversed range", docs: g(ipExpr("10.0.0.9-10.0.0.1")), want: []wantErr{e("expression[0].ip_addresses[0]", "range ends before it starts")}},
		{name: "mixed family range", docs: g(ipExpr("10.0.0.1-::1")), want: []wantErr{e("expression[0].ip_addresses[0]", "range mixes IPv4 and IPv6")}},
		{name: "bad CIDR", docs: g(ipExpr("10.0.0.0/33")), want: []wantErr{e("expression[0].ip_addresses[0]", "invalid CIDR")}},
		{name: "zone", docs: g(ipExpr("fe80::1%eth0")), want: []wantErr{e("expression[0].ip_addresses[0]", "zone")}},
		{name: "no addresses", docs: g(ipExpr()), want: []wantErr{e("expression[0].ip_addresses", "an IPAddressExpression needs at least one address")}},
		{name: "too many addresses", docs: g(ipExpr(repeat("10.0.0.1", 2001)...), or, ipExpr(repeat("10.0.0.2", 2000)...)), want: []wantErr{e("expression", "4001 addresses in IPAddressExpressions; kordon allows at most 4000 per group")}},
		{name: "no paths", docs: g(pathExpr()), want: []wantErr{e("expression[0].paths", "a PathExpression needs at least one path")}},
		{name: "path to missing group", docs: g(pathExpr(vmsPath, "/infra/domains/default/groups/nope")), want: []wantErr{e("expression[0].paths[1]", "group /infra/domains/default/groups/nope does not exist")}},
		{name: "path to itself", docs: g(pathExpr(gPath)), want: []wantErr{
			e("expression[0].paths[0]", "a group cannot include itself"),
			e("expression", "groups include each other in a cycle: "+gPath+" -> "+gPath)}},
		{name: "path to another space", docs: g(pathExpr(projGrp)), project: g(vm), want: []wantErr{e("expression[0].paths[0]", projGrp+" is in another space; a group can include only groups of its own space")}},
		{name: "path from a project to the default space", project: g(pathExpr(vmsPath)), want: []wantErr{{projGrp, "expression[0].paths[0]", "is in another space"}}},
		{name: "path to a service", docs: g(pathExpr("/infra/services/web")), want: []wantErr{e("expression[0].paths[0]", "/infra/services/web is a Service; a PathExpression includes groups only")}},
		{name: "malformed path", docs: g(pathExpr("groups/vms")), want: []wantErr{e("expression[0].paths[0]", "must start with /infra/")}},
		{name: "cycle of three", docs: []string{
			groupDoc("c", pathExpr("/infra/domains/default/groups/a")),
			groupDoc("b", pathExpr("/infra/domains/default/groups/c")),
			groupDoc("a", pathExpr("/infra/domains/default/groups/b"), or, vm),
			groupDoc("d", pathExpr("/infra/domains/default/groups/a")), // reaches the cycle, is not in it
		}, want: []wantErr{{"/infra/domains/default/groups/a", "expression",
			"groups include each other in a cycle: /infra/domains/default/groups/a -> /infra/domains/default/groups/b -> /infra/domains/default/groups/c -> /infra/domains/default/groups/a"}}},

		// Where Kubernetes member types may be used.
		{name: "k8s group in a project", project: g(svc), want: []wantErr{{projGrp, "expression",
			`cannot be created inside project "dev"; create it in the default space (/infra/domains/default/groups/...)`}}},
		{name: "k8s scoping type in a project", project: g(nested(cl, and, node)), want: []wantErr{{projGrp, "expression", "create it in the default space"}}},
		{name: "k8s group in another domain", docs: []string{`{"resource_type":"Group","path":"` + otherGrp + `","expression":[` + vm + `,` + or + `,` + egr + `]}`},
			want: []wantErr{{otherGrp, "expression", `groups with Kubernetes member types must be in domain "default", not "other"`}}},

		// Group types and unsupported features.
		{name: "ANTREA group", docs: []string{`{"resource_type":"Group","id":"g","group_type":["ANTREA"]}`}, want: []wantErr{e("group_type[0]", "ANTREA groups (pods selected and enforced inside Antrea) are not supported")}},
		{name: "bare metal group", docs: []string{`{"resource_type":"Group","id":"g","group_type":["IPAddress","BareMetalServer"]}`}, want: []wantErr{e("group_type[1]", "BareMetalServer groups are not supported")}},
		{name: "unknown group type", docs: []string{`{"resource_type":"Group","id":"g","group_type":["Generic"]}`}, want: []wantErr{e("group_type[0]", `unknown group type "Generic"`)}},
		{name: "IPAddress group with condition", docs: []string{`{"resource_type":"Group","id":"g","group_type":["IPAddress"],"expression":[` + ipExpr("10.0.0.1") + `,` + or + `,` + vm + `]}`},
			want: []wantErr{e("expression[2]", "a group of group_type IPAddress may only hold IPAddressExpressions")}},
		{name: "extended expression", docs: []string{`{"resource_type":"Group","id":"g","extended_expression":[{"resource_type":"IdentityGroupExpression"}]}`}, want: []wantErr{e("extended_expression", "identity (Active Directory) groups are not supported")}},
		{name: "reference group", docs: []string{`{"resource_type":"Group","id":"g","reference":true}`}, want: []wantErr{e("reference", "federation reference groups are not supported")}},
		{name: "MAC expression", docs: g(vm, or, `{"resource_type":"MACAddressExpression","mac_addresses":["aa:bb:cc:dd:ee:ff"]}`), want: []wantErr{e("expression[2]", "MACAddressExpression is not supported: kordon evaluates Conditions, NestedExpressions, IPAddressExpressions and PathExpressions")}},
	})
}

func TestIsKubernetesMemberType(t *testing.T) {
	for _, tt := range []struct {
		t    string
		want bool
	}{
		{MemberKubernetesCluster, true}, {MemberKubernetesNamespace, true}, {MemberKubernetesService, true},
		{MemberKubernetesIngress, true}, {MemberKubernetesGateway, true}, {MemberKubernetesNode, true},
		{MemberAntreaEgress, true}, {MemberAntreaIPPool, true},
		{MemberVirtualMachine, false}, {"Segment", false}, {"Service", false}, {"", false}, {"kubernetesservice", false},
	} {
		t.Run(tt.t, func(t *testing.T) {
			if got := IsKubernetesMemberType(tt.t); got != tt.want {
				t.Errorf("IsKubernetesMemberType(%q) = %v, want %v", tt.t, got, tt.want)
			}
		})
	}
}

func TestCompilePattern(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		noMatch []string
		err     string
	}{
		{pattern: "*", match: []string{"", "anything", "a\nb"}},
		{pattern: "web-[0-9]+", match: []string{"web-1", "WEB-42"}, noMatch: []string{"web-", "xweb-1", "web-1x"}},
		{pattern: ".*-gw", match: []string{"pay-gw", "-GW"}, noMatch: []string{"gw-pay"}},
		{pattern: "a|b", match: []string{"a", "B"}, noMatch: []string{"ab"}},
		{pattern: "", err: "MATCHES needs a regular expression"},
		{pattern: "(", err: `invalid regular expression "(": missing closing )`},
		{pattern: "a**", err: `invalid regular expression "a**"`},
		// A pattern cannot close the anchoring group and match part of a value.
		{pattern: "a)|(b", err: `invalid regular expression "a)|(b"`},
		{pattern: "a)|(?:b", err: `invalid regular expression "a)|(?:b"`},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			re, err := CompilePattern(tt.pattern)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.match {
				if !re.MatchString(s) {
					t.Errorf("%q does not match %q", tt.pattern, s)
				}
			}
			for _, s := range tt.noMatch {
				if re.MatchString(s) {
					t.Errorf("%q matches %q", tt.pattern, s)
				}
			}
		})
	}
}

package console

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kordon-dev/kordon/internal/model"
)

func TestDescribe(t *testing.T) {
	for _, tt := range []struct {
		name, expr string
		want       []criterion
	}{
		{"nothing", `[]`, nil},
		{"one condition", `[{"resource_type": "Condition", "member_type": "KubernetesService", "key": "Name", "operator": "STARTSWITH", "value": "web"}]`,
			[]criterion{{Conditions: []condition{{MemberType: "KubernetesService", Key: "Name", Operator: "starts with", Value: "web"}}}}},
		{"scoped criterion OR addresses", `[
			{"resource_type": "NestedExpression", "expressions": [
				{"resource_type": "Condition", "member_type": "KubernetesCluster", "key": "Name", "operator": "IN", "value": "a,b"},
				{"resource_type": "ConjunctionOperator", "conjunction_operator": "AND"},
				{"resource_type": "Condition", "member_type": "KubernetesService", "key": "Tag", "operator": "EQUALS", "scope_operator": "EQUALS", "value": "app|web"}]},
			{"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"},
			{"resource_type": "IPAddressExpression", "ip_addresses": ["10.0.0.0/8", "192.0.2.1-192.0.2.9"]}]`,
			[]criterion{
				{Conditions: []condition{{MemberType: "KubernetesCluster", Key: "Name", Operator: "in", Value: "a,b", Scope: true},
					{MemberType: "KubernetesService", Key: "Tag", Operator: "equals (scope equals)", Value: "app|web"}}},
				{Join: "OR", Addresses: []string{"10.0.0.0/8", "192.0.2.1-192.0.2.9"}}}},
		{"included groups AND a condition", `[
			{"resource_type": "PathExpression", "paths": ["/infra/domains/default/groups/x"]},
			{"resource_type": "ConjunctionOperator", "conjunction_operator": "AND"},
			{"resource_type": "Condition", "member_type": "VirtualMachine", "key": "OSName", "operator": "CONTAINS", "value": "Linux"}]`,
			[]criterion{{Paths: []string{"/infra/domains/default/groups/x"}},
				{Join: "AND", Conditions: []condition{{MemberType: "VirtualMachine", Key: "OSName", Operator: "contains", Value: "Linux"}}}}},
		{"an expression kordon does not evaluate", `[{"resource_type": "MACAddressExpression", "mac_addresses": ["00:11:22:33:44:55"]}]`,
			[]criterion{{Other: "MACAddressExpression"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var l model.ExpressionList
			if err := json.Unmarshal([]byte(tt.expr), &l); err != nil {
				t.Fatal(err)
			}
			if got := describe(l); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("describe:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "/",
		"/":                          "/",
		"/ui/dfw?page=2":             "/ui/dfw?page=2",
		"//evil.example/ui/":         "/",
		"/\\evil.example":            "/",
		"https://evil.example/ui/":   "/",
		"javascript:alert(1)":        "/",
		"/policy/api/v1/infra":       "/",
		"/ui/group?id=a%0d%0aX: y":   "/ui/group?id=a%0d%0aX: y",
		"/ui/x\r\nSet-Cookie: a=b":   "/",
		"/ui/../policy/api/v1/infra": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLink(t *testing.T) {
	for in, want := range map[string]string{
		"/infra/domains/default/groups/web":                           "/ui/group?domain=default&id=web",
		"/orgs/default/projects/dev/infra/domains/default/groups/web": "/ui/group?domain=default&id=web&project=dev",
		"/infra/domains/default/security-policies/p/rules/r":          "/ui/dfw?rule=%2Finfra%2Fdomains%2Fdefault%2Fsecurity-policies%2Fp%2Frules%2Fr#p_2finfra_2fdomains_2fdefault_2fsecurity-policies_2fp_2frules_2fr",
		"/infra/domains/default/gateway-policies/g":                   "/ui/gfw?rule=%2Finfra%2Fdomains%2Fdefault%2Fgateway-policies%2Fg#p_2finfra_2fdomains_2fdefault_2fgateway-policies_2fg",
		"prod-east/Service/shop/web":                                  "/ui/inventory/object?cluster=prod-east&kind=Service&name=web&namespace=shop",
		"prod-east/Node/n1":                                           "/ui/inventory/object?cluster=prod-east&kind=Node&name=n1",
		"10.0.0.1":                                                    "",
		"default":                                                     "",
		"/infra/services/HTTPS":                                       "",
		"a/NotAKind/b":                                                "",
	} {
		if got := link(in); got != want {
			t.Errorf("link(%q) = %q, want %q", in, got, want)
		}
	}
}

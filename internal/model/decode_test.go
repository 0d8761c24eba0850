package model

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// basePolicyDoc holds what the placement tests put objects into.
const basePolicyDoc = `
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: prod
    children:
    - resource_type: ChildSecurityPolicy
      SecurityPolicy: {id: app, category: Application}
    - resource_type: ChildGatewayPolicy
      GatewayPolicy: {id: edge, category: LocalGatewayRules}
- resource_type: ChildResourceReference
  id: default
  target_type: Domain
  children:
  - resource_type: ChildSecurityPolicy
    SecurityPolicy: {id: app, category: Application}
`

// TestParseDocumentPlacement decodes every document shape and checks where
// Apply puts the objects.
func TestParseDocumentPlacement(t *testing.T) {
	tests := []struct {
		name  string
		input string
		docs  int
		paths []string // objects the documents add to the base configuration
	}{
		{"json group without path", `{"resource_type":"Group","id":"g"}`, 1,
			[]string{"/infra/domains/default/groups/g"}},
		{"yaml group without path", "resource_type: Group\nid: g\n", 1,
			[]string{"/infra/domains/default/groups/g"}},
		{"group by path", `{"resource_type":"Group","id":"g","path":"/infra/domains/prod/groups/g"}`, 1,
			[]string{"/infra/domains/prod/groups/g"}},
		{"group by path without id", `{"resource_type":"Group","path":"/infra/domains/prod/groups/g"}`, 1,
			[]string{"/infra/domains/prod/groups/g"}},
		{"group by parent_path", `{"resource_type":"Group","id":"g","parent_path":"/infra/domains/prod"}`, 1,
			[]string{"/infra/domains/prod/groups/g"}},
		{"dfw rule by path", `{"resource_type":"Rule","path":"/infra/domains/prod/security-policies/app/rules/r"}`, 1,
			[]string{"/infra/domains/prod/security-policies/app/rules/r"}},
		{"gfw rule by parent_path", `{"resource_type":"Rule","id":"r","parent_path":"/infra/domains/prod/gateway-policies/edge"}`, 1,
			[]string{"/infra/domains/prod/gateway-policies/edge/rules/r"}},
		{"security policy default domain", "resource_type: SecurityPolicy\nid: p2\nrules:\n- {id: r1}\n- {id: r2}\n", 1,
			[]string{"/infra/domains/default/security-policies/p2", "/infra/domains/default/security-policies/p2/rules/r1", "/infra/domains/default/security-policies/p2/rules/r2"}},
		{"gateway policy by path", `{"resource_type":"GatewayPolicy","path":"/infra/domains/prod/gateway-policies/gp"}`, 1,
			[]string{"/infra/domains/prod/gateway-policies/gp"}},
		{"service", `{"resource_type":"Service","id":"s","service_entries":[{"resource_type":"L4PortSetServiceEntry","id":"e","l4_protocol":"TCP"}]}`, 1,
			[]string{"/infra/services/s"}},
		{"service by path", `{"resource_type":"Service","path":"/infra/services/s"}`, 1,
			[]string{"/infra/services/s"}},
		{"service by parent_path", `{"resource_type":"Service","id":"s","parent_path":"/infra"}`, 1,
			[]string{"/infra/services/s"}},
		{"tier-1 by parent_path", `{"resource_type":"Tier1","id":"t1","parent_path":"/infra"}`, 1,
			[]string{"/infra/tier-1s/t1"}},
		{"path wins over parent_path", `{"resource_type":"Group","path":"/infra/domains/prod/groups/g","parent_path":"/infra/domains/default"}`, 1,
			[]string{"/infra/domains/prod/groups/g"}},
		{"tier-0 and tier-1", `[{"resource_type":"Tier0","id":"t0"},{"resource_type":"Tier1","path":"/infra/tier-1s/t1"}]`, 1,
			[]string{"/infra/tier-0s/t0", "/infra/tier-1s/t1"}},
		{"domain", `{"resource_type":"Domain","id":"d2"}`, 1, []string{"/infra/domains/d2"}},
		{"domain by path", `{"resource_type":"Domain","path":"/infra/domains/d3"}`, 1, []string{"/infra/domains/d3"}},
		{"json array", `[{"resource_type":"Group","id":"a"},{"resource_type":"Group","id":"b","parent_path":"/infra/domains/prod"},
			{"resource_type":"Rule","id":"r","parent_path":"/infra/domains/default/security-policies/app"}]`, 1,
			[]string{"/infra/domains/default/groups/a", "/infra/domains/default/security-policies/app/rules/r", "/infra/domains/prod/groups/b"}},
		{"yaml list", "- resource_type: Group\n  id: a\n- resource_type: Service\n  id: s\n", 1,
			[]string{"/infra/domains/default/groups/a", "/infra/services/s"}},
		{"nsx list response", `{"results":[{"resource_type":"Group","id":"a","path":"/infra/domains/default/groups/a","_create_user":"admin"},
			{"resource_type":"Group","id":"b","path":"/infra/domains/prod/groups/b"}],"result_count":2,"sort_by":"display_name","cursor":"00012"}`, 1,
			[]string{"/infra/domains/default/groups/a", "/infra/domains/prod/groups/b"}},
		{"empty list response", `{"results":[],"result_count":0}`, 1, nil},
		{"multi-document yaml", "resource_type: Group\nid: a\n---\n# only a comment\n---\nresource_type: Group\nid: b\n---\n- resource_type: Tier0\n  id: t0\n", 3,
			[]string{"/infra/domains/default/groups/a", "/infra/domains/default/groups/b", "/infra/tier-0s/t0"}},
		{"infra", "resource_type: Infra\nchildren:\n- resource_type: ChildTier0\n  Tier0: {id: t0}\n", 1,
			[]string{"/infra/tier-0s/t0"}},
		{"null document", "null", 0, nil},
	}
	base := configOf(t, basePolicyDoc)
	before := allPaths(base)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := ParseDocument("test", []byte(tt.input))
			if err != nil {
				t.Fatalf("ParseDocument: %v", err)
			}
			if len(docs) != tt.docs {
				t.Fatalf("%d documents, want %d", len(docs), tt.docs)
			}
			c := base
			for _, d := range docs {
				if d.ResourceType != "" && d.ResourceType != "Infra" {
					t.Errorf("document resource_type %q", d.ResourceType)
				}
				next, _, err := c.Apply("", d)
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				c = next
			}
			got := map[string]bool{}
			for _, p := range allPaths(c) {
				got[p] = true
			}
			for _, p := range before {
				delete(got, p)
			}
			var added []string
			for _, p := range allPaths(c) {
				if got[p] {
					added = append(added, p)
				}
			}
			if !equalStrings(added, tt.paths) {
				t.Errorf("added objects %q, want %q", added, tt.paths)
			}
		})
	}
}

// TestParseDocumentErrors checks every decoding problem names the document,
// the field path and the reason.
func TestParseDocumentErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []wantErr
	}{
		{"unknown field deep in hierarchy with suggestion", `{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","Domain":{"id":"default","children":[
			{"resource_type":"ChildGroup","Group":{"id":"g"}},
			{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"p","rules":[{"id":"r","source_grups":["ANY"]}]}}]}}]}`,
			[]wantErr{{"f", "children[0].Domain.children[1].SecurityPolicy.rules[0].source_grups", `unknown field (did you mean "source_groups"?)`}}},
		{"unknown field in ChildRule", `{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"default","target_type":"Domain","children":[
			{"resource_type":"ChildGatewayPolicy","GatewayPolicy":{"id":"p","children":[{"resource_type":"ChildRule","Rule":{"id":"r","acton":"DROP"}}]}}]}]}`,
			[]wantErr{{"f", "children[0].children[0].GatewayPolicy.children[0].Rule.acton", `did you mean "action"?`}}},
		{"unknown field without suggestion", `{"resource_type":"Group","id":"g","colour":"blue"}`,
			[]wantErr{{"f", "colour", "unknown field"}}},
		{"unknown condition field", `{"resource_type":"Group","id":"g","expression":[` + nested(cond("KubernetesCluster", "Name", "EQUALS", "c"), and,
			`{"resource_type":"Condition","member_type":"KubernetesService","key":"Name","operator":"EQUALS","valeu":"x"}`) + `]}`,
			[]wantErr{{"f", "expression[0].expressions[2].valeu", `did you mean "value"?`}}},
		{"unknown tag field", `{"resource_type":"Group","id":"g","tags":[{"scope":"a","tag":"b"},{"scop":"a"}]}`,
			[]wantErr{{"f", "tags[1].scop", `did you mean "scope"?`}}},
		{"unknown service entry field", `{"resource_type":"Service","id":"s","service_entries":[{"resource_type":"L4PortSetServiceEntry","l4_protocol":"TCP","destination_port":["80"]}]}`,
			[]wantErr{{"f", "service_entries[0].destination_port", `did you mean "destination_ports"?`}}},
		{"unknown infra field", `{"resource_type":"Infra","chidlren":[]}`,
			[]wantErr{{"f", "chidlren", `did you mean "children"?`}}},
		{"unknown infra field too far for a suggestion", `{"resource_type":"Infra","childs":[]}`,
			[]wantErr{{"f", "childs", "unknown field"}}},
		{"several problems at once", `{"resource_type":"Group","id":5,"display_name":true,"expresion":[]}`,
			[]wantErr{{"f", "id", "expected a string, got number"}, {"f", "display_name", "expected a string, got bool"}, {"f", "expresion", `did you mean "expression"?`}}},
		{"string expected", `{"resource_type":"Group","id":"g","expression":[{"resource_type":"Condition","member_type":"KubernetesService","key":"Name","operator":"EQUALS","value":7}]}`,
			[]wantErr{{"f", "expression[0].value", "expected a string, got number"}}},
		{"integer expected", `{"resource_type":"SecurityPolicy","id":"p","sequence_number":"10","rules":[{"id":"r","sequence_number":1.5}]}`,
			[]wantErr{{"f", "sequence_number", "expected an integer, got string"}, {"f", "rules[0].sequence_number", "expected an integer, got number"}}},
		{"bool expected", `{"resource_type":"SecurityPolicy","id":"p","stateful":"yes"}`,
			[]wantErr{{"f", "stateful", "expected true or false, got string"}}},
		{"list expected", `{"resource_type":"Rule","id":"r","parent_path":"/infra/domains/default/security-policies/p","source_groups":"ANY"}`,
			[]wantErr{{"f", "source_groups", "expected a list, got string"}}},
		{"list element type", `{"resource_type":"Rule","id":"r","parent_path":"/infra/domains/default/security-policies/p","scope":["/infra/tier-1s/t1",3]}`,
			[]wantErr{{"f", "scope[1]", "expected a string, got number"}}},
		{"expression list not a list", `{"resource_type":"Group","id":"g","expression":{"resource_type":"Condition"}}`,
			[]wantErr{{"f", "expression", "expected a list, got object"}}},
		{"expression not an object", `{"resource_type":"Group","id":"g","expression":["x"]}`,
			[]wantErr{{"f", "expression[0]", "expected an object, got string"}}},
		{"unknown expression type", `{"resource_type":"Group","id":"g","expression":[{"resource_type":"Condition","member_type":"VirtualMachine","key":"Name","operator":"EQUALS","value":"a"},{"resource_type":"ConjunctionOperator","conjunction_operator":"OR"},{"resource_type":"RegexExpression"}]}`,
			[]wantErr{{"f", "expression[2].resource_type", `unknown expression type "RegexExpression"`}}},
		{"missing expression type", `{"resource_type":"Group","id":"g","expression":[` + nested(`{"member_type":"KubernetesService"}`) + `]}`,
			[]wantErr{{"f", "expression[0].expressions[0].resource_type", "an expression needs resource_type"}}},
		{"expression type not a string", `{"resource_type":"Group","id":"g","expression":[{"resource_type":1}]}`,
			[]wantErr{{"f", "expression[0].resource_type", "expected a string"}}},
		{"unknown service entry type", `{"resource_type":"Service","id":"s","service_entries":[{"resource_type":"SCTPServiceEntry"}]}`,
			[]wantErr{{"f", "service_entries[0].resource_type", `unknown service entry type "SCTPServiceEntry"`}}},
		{"missing service entry type", `{"resource_type":"Service","id":"s","service_entries":[{"l4_protocol":"TCP"}]}`,
			[]wantErr{{"f", "service_entries[0].resource_type", "a service entry needs resource_type"}}},
		{"unknown child type", `{"resource_type":"Infra","children":[{"resource_type":"ChildSegment","Segment":{"id":"s"}}]}`,
			[]wantErr{{"f", "children[0].resource_type", "kordon does not manage ChildSegment objects"}}},
		{"missing child type", `{"resource_type":"Infra","children":[{"Group":{"id":"g"}}]}`,
			[]wantErr{{"f", "children[0].resource_type", "a child needs resource_type"}}},
		{"child not an object", `{"resource_type":"Infra","children":[5]}`,
			[]wantErr{{"f", "children[0]", "expected an object, got number"}}},
		{"child without wrapped object", `{"resource_type":"Infra","children":[{"resource_type":"ChildService","Group":{"id":"g"}}]}`,
			[]wantErr{{"f", "children[0].Service", `ChildService wraps its object under "Service"`}}},
		{"child unknown wrapper field", `{"resource_type":"Infra","children":[{"resource_type":"ChildTier0","Tier0":{"id":"t"},"Tier1":{"id":"t"}}]}`,
			[]wantErr{{"f", "children[0].Tier1", "unknown field in ChildTier0"}}},
		{"child marked_for_delete type", `{"resource_type":"Infra","children":[{"resource_type":"ChildTier0","marked_for_delete":"true","Tier0":{"id":"t"}}]}`,
			[]wantErr{{"f", "children[0].marked_for_delete", "expected true or false, got string"}}},
		{"child service entry without entry", `{"resource_type":"Infra","children":[{"resource_type":"ChildService","Service":{"id":"s","children":[{"resource_type":"ChildServiceEntry"}]}}]}`,
			[]wantErr{{"f", "children[0].Service.children[0].ServiceEntry", `ChildServiceEntry wraps its entry under "ServiceEntry"`}}},
		{"child service entry bad entry", `{"resource_type":"Infra","children":[{"resource_type":"ChildService","Service":{"id":"s","children":[{"resource_type":"ChildServiceEntry","ServiceEntry":{"resource_type":"ICMPTypeServiceEntry","icmp_typ":8}}]}}]}`,
			[]wantErr{{"f", "children[0].Service.children[0].ServiceEntry.icmp_typ", `did you mean "icmp_type"?`}}},
		{"child resource reference unknown field", `{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"default","target_type":"Domain","Domain":{}}]}`,
			[]wantErr{{"f", "children[0].Domain", "unknown field in ChildResourceReference"}}},
		{"child resource reference bad children", `{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"default","target_type":"Domain","children":[{"resource_type":"ChildGroup","Group":{"id":"g","expression":5}}]}]}`,
			[]wantErr{{"f", "children[0].children[0].Group.expression", "expected a list, got number"}}},
		{"child resource reference children not a list", `{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"default","target_type":"Domain","children":{}}]}`,
			[]wantErr{{"f", "children[0].children", "expected a list, got object"}}},
		{"standalone unknown type", `{"resource_type":"LBService","id":"lb"}`,
			[]wantErr{{"f", "resource_type", `"LBService" is not an object kordon manages`}}},
		{"standalone missing type", `{"id":"g","expression":[]}`,
			[]wantErr{{"f", "resource_type", "missing: a document is an Infra"}}},
		{"list element unknown type", `[{"resource_type":"Group","id":"a"},{"resource_type":"Segment","id":"s"}]`,
			[]wantErr{{"f", "[1].resource_type", `"Segment" is not an object kordon manages`}}},
		{"list element not an object", `[{"resource_type":"Group","id":"a"},"b"]`,
			[]wantErr{{"f", "[1]", "expected an object, got string"}}},
		{"list response element problem", `{"results":[{"resource_type":"Group","id":"a","expresion":[]}]}`,
			[]wantErr{{"f", "results[0].expresion", `did you mean "expression"?`}}},
		{"list response not a list", `{"results":{"resource_type":"Group"}}`,
			[]wantErr{{"f", "results", "expected a list, got object"}}},
		{"standalone rule without policy", `{"resource_type":"Rule","id":"r"}`,
			[]wantErr{{"f", "path", "a standalone rule needs its path or parent_path"}}},
		{"rule parent is not a policy", `{"resource_type":"Rule","id":"r","parent_path":"/infra/domains/default"}`,
			[]wantErr{{"f", "path", "must be a security or gateway policy"}}},
		{"path of another kind", `{"resource_type":"Group","path":"/infra/services/s"}`,
			[]wantErr{{"f", "path", `"/infra/services/s" is the path of a Service, not of a Group`}}},
		{"project path", `{"resource_type":"Group","path":"/orgs/default/projects/dev/infra/domains/default/groups/g"}`,
			[]wantErr{{"f", "path", "is inside a project"}}},
		{"malformed path", `{"resource_type":"Group","path":"/infra/domains/default/groups/"}`,
			[]wantErr{{"f", "path", "empty path segment"}}},
		{"malformed parent_path", `{"resource_type":"Group","id":"g","parent_path":"/domains/default"}`,
			[]wantErr{{"f", "path", "must start with /infra/"}}},
		{"id does not match path", `{"resource_type":"Group","id":"b","path":"/infra/domains/default/groups/a"}`,
			[]wantErr{{"f", "path", `id "b" does not match path "/infra/domains/default/groups/a"`}}},
		{"domain id does not match path", `{"resource_type":"Domain","id":"a","path":"/infra/domains/b"}`,
			[]wantErr{{"f", "path", `id "a" does not match path "/infra/domains/b"`}}},
		{"service parent_path not /infra", `{"resource_type":"Service","id":"s","parent_path":"/infra/domains/default"}`,
			[]wantErr{{"f", "path", `parent_path "/infra/domains/default" of a Service must be /infra`}}},
		{"group parent_path not a domain", `{"resource_type":"Group","id":"g","parent_path":"/infra/domains/prod/security-policies/app"}`,
			[]wantErr{{"f", "path", "of a Group must be a domain"}}},
		{"group parent_path in a project", `{"resource_type":"Group","id":"g","parent_path":"/orgs/default/projects/dev/infra/domains/default"}`,
			[]wantErr{{"f", "path", "is inside a project"}}},
		{"port list not numbers", `{"resource_type":"Service","id":"s","service_entries":[{"resource_type":"L4PortSetServiceEntry","l4_protocol":"TCP","destination_ports":[80,true,1.5,{"a":1}]}]}`,
			[]wantErr{
				{"f", "service_entries[0].destination_ports[1]", `expected a port or port range such as "443" or "8000-8080", got true`},
				{"f", "service_entries[0].destination_ports[2]", "got 1.5"},
				{"f", "service_entries[0].destination_ports[3]", `got {"a":1}`},
			}},
		{"port list not a list", `{"resource_type":"Service","id":"s","service_entries":[{"resource_type":"L4PortSetServiceEntry","l4_protocol":"TCP","destination_ports":"80"}]}`,
			[]wantErr{{"f", "service_entries[0].destination_ports", "expected a list, got string"}}},
		{"tier-0 bad modelled field", `{"resource_type":"Tier0","id":"t0","display_name":["x"],"ha_mode":"ACTIVE_STANDBY"}`,
			[]wantErr{{"f", "display_name", "expected a string, got array"}}},
		{"top-level number", `7`, []wantErr{{"f", "", "expected an object, got number"}}},
		{"top-level string", `"x"`, []wantErr{{"f", "", "expected an object, got string"}}},
		{"invalid json", `{"resource_type":"Group",}`, []wantErr{{"f", "", "invalid JSON at line 1"}}},
		{"empty file", ``, []wantErr{{"f", "", "the file holds no document"}}},
		{"only comments", "# nothing\n---\n# here\n", []wantErr{{"f", "", "the file holds no document"}}},
		{"invalid yaml", "resource_type: Group\nid: [a\n", []wantErr{{"f", "", "invalid YAML"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := ParseDocument("f", []byte(tt.input))
			if err == nil {
				t.Fatalf("ParseDocument succeeded with %d documents, want errors", len(docs))
			}
			if docs != nil {
				t.Errorf("ParseDocument returned documents along with errors")
			}
			if _, ok := err.(Errors); !ok {
				t.Errorf("error is %T, want Errors", err)
			}
			checkErrors(t, err, tt.want, false)
		})
	}
}

// TestParseDocumentMultiDocumentErrors checks that problems in a YAML
// stream name the document number and its first line, and that every
// broken document is reported.
func TestParseDocumentMultiDocumentErrors(t *testing.T) {
	input := strings.Join([]string{
		"resource_type: Group", // line 1
		"id: a",
		"---", // line 3
		"resource_type: Group",
		"id: b",
		"expresion: []", // document 2 starts at line 4
		"---",           // line 7
		"# a comment",
		"resource_type: Service",
		"id: s",
		"service_entries:",
		"- {resource_type: L4PortSetServiceEntry, l4_protocol: TCP, ports: [80]}",
		"---", // line 13
		"resource_type: Tier0",
		"id: t0",
	}, "\n")
	_, err := ParseDocument("multi.yaml", []byte(input))
	checkErrors(t, err, []wantErr{
		{"multi.yaml (document 2, line 4)", "expresion", `did you mean "expression"?`},
		{"multi.yaml (document 3, line 8)", "service_entries[0].ports", "unknown field"},
	}, false)
	want := "multi.yaml (document 2, line 4): expresion: unknown field (did you mean \"expression\"?)"
	if got := AsErrors(err)[0].Error(); got != want {
		t.Errorf("first error %q, want %q", got, want)
	}
}

func TestParseDocumentYAMLSyntaxLine(t *testing.T) {
	input := "resource_type: Group\nid: a\n---\n# c\n\nresource_type: Group\nid: b\n  bad: : x\n"
	_, err := ParseDocument("f.yaml", []byte(input))
	checkErrors(t, err, []wantErr{{"f.yaml", "", "line 8"}}, false)
}

func TestParseDocumentJSONSyntaxLine(t *testing.T) {
	input := "{\n  \"resource_type\": \"Group\",\n  \"id\": \"g\"\n  \"x\": 1\n}"
	_, err := ParseDocument("f.json", []byte(input))
	checkErrors(t, err, []wantErr{{"f.json", "", "invalid JSON at line 4"}}, false)
}

// TestParseDocumentYAMLTypes checks YAML scalars reach the same type checks.
func TestParseDocumentYAMLTypes(t *testing.T) {
	input := "resource_type: SecurityPolicy\nid: p\ndisplay_name: 5\nsequence_number: ten\nrules:\n- id: r\n  logged: maybe\n"
	_, err := ParseDocument("p.yaml", []byte(input))
	checkErrors(t, err, []wantErr{
		{"p.yaml", "display_name", "expected a string, got number"},
		{"p.yaml", "sequence_number", "expected an integer, got string"},
		{"p.yaml", "rules[0].logged", "expected true or false, got string"},
	}, false)
}

// readOnlyEverywhere carries NSX's read-only fields on every level.
const readOnlyEverywhere = `{
 "resource_type": "Infra", "_create_user": "admin", "_links": [{"rel":"self","href":"/policy/api/v1/infra"}],
 "_schema": "Infra", "_self": {"rel": "self"}, "_revision": 7, "_protection": "NOT_PROTECTED", "_permission": "read",
 "unique_id": "u0", "realization_id": "r0", "owner_id": "o", "origin_site_id": "s", "overridden": false,
 "remote_path": "", "mark_for_override": false, "request_parameter": {},
 "children": [
  {"resource_type": "ChildTier0", "_create_user": "admin", "id": "t0", "marked_for_delete": false, "_links": [],
   "Tier0": {"resource_type": "Tier0", "id": "t0", "_links": [], "realization_id": "x", "unique_id": "u", "ha_mode": "ACTIVE_STANDBY", "_create_time": 1, "overridden": false}},
  {"resource_type": "ChildTier1", "unique_id": "u", "Tier1": {"id": "t1", "tier0_path": "/infra/tier-0s/t0", "_system_owned": false, "_protection": "NOT_PROTECTED", "owner_id": "o"}},
  {"resource_type": "ChildService", "_links": [], "Service": {"id": "svc", "_create_user": "admin", "unique_id": "u", "realization_id": "r", "overridden": false,
    "service_entries": [{"resource_type": "L4PortSetServiceEntry", "id": "e", "l4_protocol": "TCP", "destination_ports": ["80"], "_links": [], "unique_id": "u", "overridden": false, "_create_user": "admin", "realization_id": "r", "path": "/infra/services/svc/service-entries/e", "parent_path": "/infra/services/svc", "relative_path": "e"}],
    "children": [{"resource_type": "ChildServiceEntry", "_create_user": "x", "ServiceEntry": {"resource_type": "ICMPTypeServiceEntry", "id": "i", "protocol": "ICMPv4", "_links": [], "unique_id": "u", "overridden": true}}]}},
  {"resource_type": "ChildDomain", "_links": [], "realization_id": "r", "Domain": {"id": "default", "_create_user": "system", "_links": [], "unique_id": "u", "realization_id": "r", "overridden": false, "_system_owned": true,
   "children": [
    {"resource_type": "ChildGroup", "overridden": false, "Group": {"id": "g", "_create_user": "admin", "_links": [], "unique_id": "u", "realization_id": "r", "overridden": false, "state": "SUCCESS",
      "tags": [{"scope": "dis:k8s:app", "tag": "web", "_links": [], "unique_id": "t"}],
      "expression": [
       {"resource_type": "NestedExpression", "id": "n", "_links": [], "unique_id": "u", "realization_id": "r", "overridden": false, "path": "/p", "parent_path": "/pp", "relative_path": "n", "marked_for_delete": false, "_create_user": "a", "_revision": 0,
        "expressions": [
         {"resource_type": "Condition", "id": "c1", "member_type": "KubernetesCluster", "key": "Name", "operator": "EQUALS", "value": "prod", "_links": [], "unique_id": "u", "realization_id": "r", "overridden": false, "_create_user": "a", "_protection": "NOT_PROTECTED", "display_name": "c1"},
         {"resource_type": "ConjunctionOperator", "id": "j", "conjunction_operator": "AND", "_links": [], "unique_id": "u", "overridden": false},
         {"resource_type": "Condition", "member_type": "KubernetesService", "key": "Name", "operator": "EQUALS", "value": "web", "_create_time": 1, "realization_id": "r"}]},
       {"resource_type": "ConjunctionOperator", "conjunction_operator": "OR", "_create_user": "a"},
       {"resource_type": "IPAddressExpression", "ip_addresses": ["10.0.0.1"], "_links": [], "unique_id": "u", "overridden": false, "realization_id": "r"},
       {"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"},
       {"resource_type": "PathExpression", "paths": ["/infra/domains/default/groups/h"], "_links": [], "unique_id": "u", "overridden": false}]}},
    {"resource_type": "ChildGroup", "Group": {"id": "h", "expression": [{"resource_type": "IPAddressExpression", "ip_addresses": ["10.0.0.2"]}]}},
    {"resource_type": "ChildSecurityPolicy", "_create_user": "admin", "SecurityPolicy": {"id": "p", "category": "Application", "_links": [], "unique_id": "u", "realization_id": "r", "overridden": false, "rule_count": 1, "is_default": false, "internal_sequence_number": 5, "lock_modified_by": "x", "lock_modified_time": 1, "default_rule_id": 3,
      "rules": [{"id": "r1", "action": "ALLOW", "_links": [], "unique_id": "u", "realization_id": "r", "overridden": false, "rule_id": 1001, "is_default": false, "_create_user": "admin", "_last_modified_user": "admin", "_last_modified_time": 2}],
      "children": [{"resource_type": "ChildRule", "_links": [], "unique_id": "u", "Rule": {"id": "r2", "_links": [], "unique_id": "u", "realization_id": "r", "overridden": false}}]}},
    {"resource_type": "ChildGatewayPolicy", "GatewayPolicy": {"id": "gp", "category": "Default", "scope": ["/infra/tier-1s/t1"], "_links": [], "unique_id": "u", "realization_id": "r", "overridden": false,
      "rules": [{"id": "gr", "_links": [], "unique_id": "u", "overridden": false}]}}
   ]}},
  {"resource_type": "ChildResourceReference", "id": "default", "target_type": "Domain", "_links": [], "unique_id": "u", "realization_id": "r", "overridden": false, "_create_user": "x",
   "children": [{"resource_type": "ChildResourceReference", "id": "p", "target_type": "SecurityPolicy", "_links": [], "unique_id": "u",
     "children": [{"resource_type": "ChildRule", "Rule": {"id": "r3", "_links": [], "unique_id": "u"}}]}]}
 ]}`

func TestParseDocumentReadOnlyFields(t *testing.T) {
	doc := parseOne(t, readOnlyEverywhere)
	c, _, err := NewConfig().Apply("", doc)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want := []string{
		"/infra/domains/default",
		"/infra/domains/default/gateway-policies/gp",
		"/infra/domains/default/gateway-policies/gp/rules/gr",
		"/infra/domains/default/groups/g",
		"/infra/domains/default/groups/h",
		"/infra/domains/default/security-policies/p",
		"/infra/domains/default/security-policies/p/rules/r1",
		"/infra/domains/default/security-policies/p/rules/r2",
		"/infra/domains/default/security-policies/p/rules/r3",
		"/infra/services/svc",
		"/infra/tier-0s/t0",
		"/infra/tier-1s/t1",
	}
	if got := allPaths(c); !equalStrings(got, want) {
		t.Errorf("paths %q\nwant %q", got, want)
	}
	if errs := c.Validate(); len(errs) != 0 {
		t.Errorf("Validate: %v", errs)
	}
	// Read-only fields are dropped, not kept as Extra.
	if x := c.Tier0s["/infra/tier-0s/t0"].Extra; len(x) != 1 || string(x["ha_mode"]) != `"ACTIVE_STANDBY"` {
		t.Errorf("Tier0 Extra = %v, want only ha_mode", x)
	}
	if x := c.Tier1s["/infra/tier-1s/t1"].Extra; len(x) != 0 {
		t.Errorf("Tier1 Extra = %v, want none", x)
	}
	// Modelled read-only fields are decoded.
	sp := c.SecurityPolicies["/infra/domains/default/security-policies/p"]
	if sp.RuleCount != 1 || sp.InternalSequenceNumber != 5 || sp.DefaultRuleID != 3 {
		t.Errorf("security policy read-only fields not decoded: %+v", sp)
	}
	if r := c.Rules["/infra/domains/default/security-policies/p/rules/r1"]; r.RuleID != 1001 || r.LastModifiedTime != 2 || r.CreateUser != "admin" {
		t.Errorf("rule read-only fields not decoded: %+v", r.Meta)
	}
	if g := c.Groups["/infra/domains/default/groups/g"]; g.State != "SUCCESS" || len(g.Tags) != 1 || g.Tags[0] != (Tag{Scope: "dis:k8s:app", Tag: "web"}) {
		t.Errorf("group fields: state %q tags %v", g.State, g.Tags)
	}
	if s := c.Services["/infra/services/svc"]; len(s.ServiceEntries) != 2 {
		t.Errorf("service has %d entries, want 2 (one inline, one ChildServiceEntry)", len(s.ServiceEntries))
	}
}

// TestDecodeHierarchy decodes a hierarchical document with every child
// type and checks the decoded tree.
func TestDecodeHierarchy(t *testing.T) {
	const input = `
resource_type: Infra
children:
- resource_type: ChildTier0
  Tier0: {id: t0, ha_mode: ACTIVE_STANDBY}
- resource_type: ChildTier1
  Tier1: {id: t1, tier0_path: /infra/tier-0s/t0, failover_mode: NON_PREEMPTIVE}
- resource_type: ChildService
  Service:
    id: web
    service_entries:
    - {resource_type: L4PortSetServiceEntry, id: tcp, l4_protocol: TCP, destination_ports: [80, "443", "8000-8080"]}
    children:
    - resource_type: ChildServiceEntry
      ServiceEntry: {resource_type: ICMPTypeServiceEntry, id: ping, protocol: ICMPv4, icmp_type: 8, icmp_code: 0}
- resource_type: ChildResourceReference
  id: web
  target_type: Service
  children:
  - resource_type: ChildServiceEntry
    marked_for_delete: true
    ServiceEntry: {resource_type: IPProtocolServiceEntry, id: gre, protocol_number: 47}
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - resource_type: ChildGroup
      Group:
        id: g
        expression:
        - {resource_type: Condition, member_type: KubernetesService, key: Tag, operator: EQUALS, scope_operator: EQUALS, value: "dis:k8s:app|web"}
        - {resource_type: ConjunctionOperator, conjunction_operator: OR}
        - {resource_type: MACAddressExpression, mac_addresses: ["aa:bb:cc:dd:ee:ff"]}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: sp
        category: Application
        rules:
        - {id: inline, action: DROP}
        children:
        - resource_type: ChildRule
          Rule: {id: child, action: ALLOW}
    - resource_type: ChildGatewayPolicy
      marked_for_delete: true
      GatewayPolicy: {id: gp}
- resource_type: ChildResourceReference
  id: default
  target_type: Domain
  children:
  - resource_type: ChildResourceReference
    id: sp
    target_type: SecurityPolicy
    children:
    - resource_type: ChildRule
      Rule: {id: later}
`
	doc := parseOne(t, input)
	if len(doc.Children) != 6 {
		t.Fatalf("%d children, want 6", len(doc.Children))
	}
	types := make([]string, len(doc.Children))
	for i, c := range doc.Children {
		types[i] = c.Type
	}
	wantTypes := []string{"ChildTier0", "ChildTier1", "ChildService", "ChildResourceReference", "ChildDomain", "ChildResourceReference"}
	if !equalStrings(types, wantTypes) {
		t.Errorf("child types %q, want %q", types, wantTypes)
	}
	t0 := doc.Children[0].Object.(*Tier0)
	if t0.ID != "t0" || string(t0.Extra["ha_mode"]) != `"ACTIVE_STANDBY"` {
		t.Errorf("tier-0 %+v", t0)
	}
	t1 := doc.Children[1].Object.(*Tier1)
	if t1.Tier0Path != "/infra/tier-0s/t0" || string(t1.Extra["failover_mode"]) != `"NON_PREEMPTIVE"` {
		t.Errorf("tier-1 %+v", t1)
	}
	svc := doc.Children[2].Object.(*Service)
	l4 := svc.ServiceEntries[0].(*L4PortSetServiceEntry)
	if l4.ResourceType != "L4PortSetServiceEntry" || !equalStrings(l4.DestinationPorts, []string{"80", "443", "8000-8080"}) {
		t.Errorf("L4 entry %+v", l4)
	}
	icmp := svc.Children[0].Entry.(*ICMPTypeServiceEntry)
	if icmp.ID != "ping" || icmp.ICMPType == nil || *icmp.ICMPType != 8 || icmp.ICMPCode == nil || *icmp.ICMPCode != 0 {
		t.Errorf("ICMP entry %+v", icmp)
	}
	ref := doc.Children[3]
	if ref.RefID != "web" || ref.TargetType != "Service" || len(ref.Children) != 1 || !ref.Children[0].MarkedForDelete {
		t.Errorf("service reference %+v", ref)
	}
	if e, ok := ref.Children[0].Entry.(*IPProtocolServiceEntry); !ok || *e.ProtocolNumber != 47 {
		t.Errorf("IP protocol entry %+v", ref.Children[0].Entry)
	}
	dom := doc.Children[4].Object.(*Domain)
	g := dom.Children[0].Object.(*Group)
	c := g.Expression[0].(*Condition)
	if !reflect.DeepEqual(*c, Condition{MemberType: MemberKubernetesService, Key: KeyTag, Operator: OpEquals, ScopeOperator: OpEquals, Value: "dis:k8s:app|web"}) {
		t.Errorf("condition %+v", c)
	}
	if u, ok := g.Expression[2].(*UnsupportedExpression); !ok || u.Type != "MACAddressExpression" || !strings.Contains(string(u.Raw), "aa:bb:cc:dd:ee:ff") {
		t.Errorf("MAC expression decoded as %#v", g.Expression[2])
	}
	sp := dom.Children[1].Object.(*SecurityPolicy)
	if len(sp.Rules) != 1 || sp.Rules[0].ID != "inline" || sp.Rules[0].Action != ActionDrop {
		t.Errorf("inline rules %+v", sp.Rules)
	}
	if r := sp.Children[0].Object.(*Rule); r.ID != "child" || sp.Children[0].Type != "ChildRule" {
		t.Errorf("child rule %+v", r)
	}
	if !dom.Children[2].MarkedForDelete {
		t.Errorf("ChildGatewayPolicy marked_for_delete lost")
	}
	inner := doc.Children[5].Children[0]
	if inner.TargetType != "SecurityPolicy" || inner.RefID != "sp" || inner.Children[0].Object.(*Rule).ID != "later" {
		t.Errorf("policy reference %+v", inner)
	}

	cfg, _, err := NewConfig().Apply("", doc)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	wantPaths := []string{
		"/infra/domains/default",
		"/infra/domains/default/groups/g",
		"/infra/domains/default/security-policies/sp",
		"/infra/domains/default/security-policies/sp/rules/child",
		"/infra/domains/default/security-policies/sp/rules/inline",
		"/infra/domains/default/security-policies/sp/rules/later",
		"/infra/services/web",
		"/infra/tier-0s/t0",
		"/infra/tier-1s/t1",
	}
	if got := allPaths(cfg); !equalStrings(got, wantPaths) {
		t.Errorf("paths %q\nwant %q", got, wantPaths)
	}
	var ids []string
	for _, e := range cfg.Services["/infra/services/web"].ServiceEntries {
		ids = append(ids, e.EntryMeta().ID)
	}
	if !equalStrings(ids, []string{"tcp", "ping"}) {
		t.Errorf("service entries %q, want [tcp ping]", ids)
	}
	// The MAC expression decodes, but validation refuses it.
	checkErrors(t, cfg.Validate(), []wantErr{
		{"/infra/domains/default/groups/g", "expression[2]", "MACAddressExpression is not supported"},
	}, false)
}

func TestUnsupportedTypes(t *testing.T) {
	exprs := []string{"MACAddressExpression", "ExternalIDExpression", "IdentityGroupExpression", "GeoLocationExpression"}
	for _, typ := range exprs {
		t.Run(typ, func(t *testing.T) {
			raw := `{"resource_type":"` + typ + `","id":"x","some_field":[1,2]}`
			cfg := configOf(t, `{"resource_type":"Group","id":"g","expression":[`+raw+`]}`)
			g := cfg.Groups["/infra/domains/default/groups/g"]
			u, ok := g.Expression[0].(*UnsupportedExpression)
			if !ok {
				t.Fatalf("decoded as %T", g.Expression[0])
			}
			if u.ExpressionType() != typ || string(u.Raw) != raw {
				t.Errorf("got type %q raw %s", u.ExpressionType(), u.Raw)
			}
			checkErrors(t, cfg.Validate(), []wantErr{{"/infra/domains/default/groups/g", "expression[0]", typ + " is not supported"}}, false)
			b, err := json.Marshal(g.Expression)
			if err != nil || !sameJSON(string(b), "["+raw+"]") {
				t.Errorf("marshal = %s, %v; want the raw expression back", b, err)
			}
		})
	}
	for _, typ := range []string{"EtherTypeServiceEntry", "ALGTypeServiceEntry"} {
		t.Run(typ, func(t *testing.T) {
			raw := `{"resource_type":"` + typ + `","id":"x","ether_type":2048,"alg":"FTP"}`
			cfg := configOf(t, `{"resource_type":"Service","id":"s","service_entries":[`+raw+`]}`)
			s := cfg.Services["/infra/services/s"]
			u, ok := s.ServiceEntries[0].(*UnsupportedServiceEntry)
			if !ok {
				t.Fatalf("decoded as %T", s.ServiceEntries[0])
			}
			if u.EntryType() != typ || string(u.Raw) != raw || u.EntryMeta().ID != "x" {
				t.Errorf("got type %q id %q raw %s", u.EntryType(), u.EntryMeta().ID, u.Raw)
			}
			checkErrors(t, cfg.Validate(), []wantErr{{"/infra/services/s", "service_entries[0]", typ + " is not supported"}}, false)
			b, err := json.Marshal(s.ServiceEntries)
			if err != nil || !sameJSON(string(b), "["+raw+"]") {
				t.Errorf("marshal = %s, %v; want the raw entry back", b, err)
			}
		})
	}
	t.Run("ChildServiceEntry of an unsupported type", func(t *testing.T) {
		cfg := configOf(t, `{"resource_type":"Service","id":"s","service_entries":[{"resource_type":"IGMPTypeServiceEntry","id":"igmp"}]}`,
			`{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"s","target_type":"Service","children":[
				{"resource_type":"ChildServiceEntry","ServiceEntry":{"resource_type":"EtherTypeServiceEntry","id":"arp","ether_type":2054}}]}]}`)
		checkErrors(t, cfg.Validate(), []wantErr{{"/infra/services/s", "service_entries[1]", "EtherTypeServiceEntry is not supported"}}, false)
	})
}

func TestPortListDecode(t *testing.T) {
	tests := []struct {
		in   string
		want PortList
	}{
		{`[]`, PortList{}},
		{`[80]`, PortList{"80"}},
		{`["80"]`, PortList{"80"}},
		{`[80, "443", "8000-8080", 65535]`, PortList{"80", "443", "8000-8080", "65535"}},
		{`[-1]`, PortList{"-1"}}, // a number is kept; validation refuses the value
		{`["not-a-port"]`, PortList{"not-a-port"}},
		{`[null]`, PortList{""}}, // null reads as an empty string; validation refuses it
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var p PortList
			if err := json.Unmarshal([]byte(tt.in), &p); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(p, tt.want) {
				t.Errorf("got %q, want %q", p, tt.want)
			}
		})
	}
}

// TestTierExtraRoundTrip checks tier-0/tier-1 keep routing fields kordon
// does not model and write them back.
func TestTierExtraRoundTrip(t *testing.T) {
	const in = `[
 {"resource_type":"Tier0","id":"t0","ha_mode":"ACTIVE_ACTIVE","transit_subnets":["100.64.0.0/16"],"bgp":{"enabled":true,"local_as_num":"65000"},"_links":[]},
 {"resource_type":"Tier1","id":"t1","tier0_path":"/infra/tier-0s/t0","route_advertisement_types":["TIER1_CONNECTED","TIER1_NAT"],"pool_allocation":"ROUTING","dhcp_config_paths":[]}
]`
	cfg := configOf(t, in)
	t0 := cfg.Tier0s["/infra/tier-0s/t0"]
	if len(t0.Extra) != 3 || string(t0.Extra["bgp"]) != `{"enabled":true,"local_as_num":"65000"}` {
		t.Errorf("tier-0 Extra = %s", fmtExtra(t0.Extra))
	}
	t1 := cfg.Tier1s["/infra/tier-1s/t1"]
	if len(t1.Extra) != 3 || string(t1.Extra["route_advertisement_types"]) != `["TIER1_CONNECTED","TIER1_NAT"]` {
		t.Errorf("tier-1 Extra = %s", fmtExtra(t1.Extra))
	}
	b, err := json.Marshal(t1)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"resource_type": "Tier1", "id": "t1", "path": "/infra/tier-1s/t1", "parent_path": "/infra",
		"tier0_path": "/infra/tier-0s/t0", "pool_allocation": "ROUTING",
	} {
		if got[k] != want {
			t.Errorf("marshalled %s = %v, want %v", k, got[k], want)
		}
	}
	if _, ok := got["dhcp_config_paths"]; !ok {
		t.Errorf("marshalled tier-1 lost dhcp_config_paths: %s", b)
	}
	// Decoding the output again keeps the same Extra.
	var again Tier1
	if err := json.Unmarshal(b, &again); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.Extra, t1.Extra) || again.Tier0Path != t1.Tier0Path {
		t.Errorf("re-decoded Extra %s, want %s", fmtExtra(again.Extra), fmtExtra(t1.Extra))
	}
	// A modelled field wins over an Extra field of the same name.
	t2 := &Tier0{Extra: map[string]json.RawMessage{"id": json.RawMessage(`"shadow"`), "x": json.RawMessage(`1`)}}
	t2.ID = "real"
	b, _ = json.Marshal(t2)
	if !strings.Contains(string(b), `"id":"real"`) || strings.Contains(string(b), "shadow") || !strings.Contains(string(b), `"x":1`) {
		t.Errorf("marshal with shadowing Extra = %s", b)
	}
}

func fmtExtra(m map[string]json.RawMessage) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// sameJSON reports whether two JSON texts mean the same.
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

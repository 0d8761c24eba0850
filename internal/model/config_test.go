package model

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestNewConfig(t *testing.T) {
	c := NewConfig()
	if got := allPaths(c); !equalStrings(got, []string{"/infra/domains/default"}) {
		t.Fatalf("paths %q, want only the default domain", got)
	}
	d := c.Domains["/infra/domains/default"]
	want := Meta{ResourceType: "Domain", ID: "default", DisplayName: "default", Path: "/infra/domains/default", ParentPath: "/infra", RelativePath: "default"}
	if !reflect.DeepEqual(d.Meta, want) {
		t.Errorf("default domain %+v, want %+v", d.Meta, want)
	}
}

// TestApplyStamps checks that Apply derives path, parent_path,
// relative_path, resource_type and display_name from where an object sits.
func TestApplyStamps(t *testing.T) {
	const doc = `
resource_type: Infra
children:
- resource_type: ChildTier0
  Tier0: {id: t0, path: /wrong, parent_path: /wrong, relative_path: wrong, marked_for_delete: false}
- resource_type: ChildTier1
  Tier1: {id: t1, display_name: Edge}
- resource_type: ChildService
  Service: {id: s, service_entries: [{resource_type: IGMPTypeServiceEntry, id: e}]}
- resource_type: ChildDomain
  Domain:
    id: d
    children:
    - resource_type: ChildGroup
      Group: {id: g, resource_type: Group, path: /infra/domains/x/groups/y}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: sp
        rules: [{id: r1}]
    - resource_type: ChildGatewayPolicy
      GatewayPolicy:
        id: gp
        children:
        - {resource_type: ChildRule, Rule: {id: r2}}
`
	for _, project := range []string{"", "dev"} {
		sp := Space(project)
		c := applyDocs(t, NewConfig(), project, doc)
		tests := []struct {
			path, kind, parent, relative, display string
		}{
			{sp + "/infra/tier-0s/t0", "Tier0", sp + "/infra", "t0", "t0"},
			{sp + "/infra/tier-1s/t1", "Tier1", sp + "/infra", "t1", "Edge"},
			{sp + "/infra/services/s", "Service", sp + "/infra", "s", "s"},
			{sp + "/infra/domains/d", "Domain", sp + "/infra", "d", "d"},
			{sp + "/infra/domains/default", "Domain", sp + "/infra", "default", "default"},
			{sp + "/infra/domains/d/groups/g", "Group", sp + "/infra/domains/d", "g", "g"},
			{sp + "/infra/domains/d/security-policies/sp", "SecurityPolicy", sp + "/infra/domains/d", "sp", "sp"},
			{sp + "/infra/domains/d/security-policies/sp/rules/r1", "Rule", sp + "/infra/domains/d/security-policies/sp", "r1", "r1"},
			{sp + "/infra/domains/d/gateway-policies/gp", "GatewayPolicy", sp + "/infra/domains/d", "gp", "gp"},
			{sp + "/infra/domains/d/gateway-policies/gp/rules/r2", "Rule", sp + "/infra/domains/d/gateway-policies/gp", "r2", "r2"},
		}
		for _, tt := range tests {
			t.Run("project="+project+"/"+tt.path, func(t *testing.T) {
				o, ok := c.Object(tt.path)
				if !ok {
					t.Fatalf("no object at %s; have %q", tt.path, allPaths(c))
				}
				m := o.GetMeta()
				if string(o.Kind()) != tt.kind || m.ResourceType != tt.kind || m.Path != tt.path || m.ParentPath != tt.parent ||
					m.RelativePath != tt.relative || m.DisplayName != tt.display || m.MarkedForDelete {
					t.Errorf("got kind %s resource_type %q path %q parent %q relative %q display %q deleted %v",
						o.Kind(), m.ResourceType, m.Path, m.ParentPath, m.RelativePath, m.DisplayName, m.MarkedForDelete)
				}
			})
		}
		// Policies and domains in a Config hold no children or rules.
		if p := c.SecurityPolicies[sp+"/infra/domains/d/security-policies/sp"]; len(p.Rules) != 0 || len(p.Children) != 0 {
			t.Errorf("stored security policy keeps rules/children")
		}
		if p := c.GatewayPolicies[sp+"/infra/domains/d/gateway-policies/gp"]; len(p.Rules) != 0 || len(p.Children) != 0 {
			t.Errorf("stored gateway policy keeps rules/children")
		}
		if d := c.Domains[sp+"/infra/domains/d"]; len(d.Children) != 0 {
			t.Errorf("stored domain keeps children")
		}
	}
}

func TestApplyProjectSpace(t *testing.T) {
	c := configOf(t, `{"resource_type":"Group","id":"g"}`)
	c = applyDocs(t, c, "dev", `{"resource_type":"Group","id":"g"}`, `{"resource_type":"Infra","children":[
		{"resource_type":"ChildResourceReference","id":"default","target_type":"Domain","children":[
			{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"p","rules":[{"id":"r","source_groups":["/orgs/default/projects/dev/infra/domains/default/groups/g"]}]}}]}]}`)
	want := []string{
		"/infra/domains/default",
		"/infra/domains/default/groups/g",
		"/orgs/default/projects/dev/infra/domains/default",
		"/orgs/default/projects/dev/infra/domains/default/groups/g",
		"/orgs/default/projects/dev/infra/domains/default/security-policies/p",
		"/orgs/default/projects/dev/infra/domains/default/security-policies/p/rules/r",
	}
	if got := allPaths(c); !equalStrings(got, want) {
		t.Errorf("paths %q\nwant %q", got, want)
	}
	if errs := c.Validate(); len(errs) != 0 {
		t.Errorf("Validate: %v", errs)
	}
	// Deleting in a project leaves the default space alone.
	c = applyDocs(t, c, "dev", `{"resource_type":"Group","id":"g","marked_for_delete":true}`)
	if _, ok := c.Groups["/infra/domains/default/groups/g"]; !ok {
		t.Errorf("project delete removed the default-space group")
	}
	if _, ok := c.Groups["/orgs/default/projects/dev/infra/domains/default/groups/g"]; ok {
		t.Errorf("project group not deleted")
	}
}

func TestApplyChanges(t *testing.T) {
	c := configOf(t, `{"resource_type":"Group","id":"old"}`)
	_, changes, err := c.Apply("", parseOne(t, `
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: new}}
    - {resource_type: ChildGroup, marked_for_delete: true, Group: {id: old}}
    - {resource_type: ChildGroup, marked_for_delete: true, Group: {id: never-existed}}
`))
	if err != nil {
		t.Fatal(err)
	}
	// The default domain, written as it is, is no change; deleting what
	// does not exist is none either.
	want := []Change{
		{Op: OpUpsert, Kind: KindGroup, Path: "/infra/domains/default/groups/new"},
		{Op: OpDelete, Kind: KindGroup, Path: "/infra/domains/default/groups/old"},
	}
	if !reflect.DeepEqual(changes, want) {
		t.Errorf("changes %v\nwant %v", changes, want)
	}
}

// TestApplyPatchSemantics checks objects not mentioned are kept and a
// policy PATCH upserts its inline rules and keeps the others.
func TestApplyPatchSemantics(t *testing.T) {
	c1 := configOf(t, `
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: a, description: first}}
    - {resource_type: ChildGroup, Group: {id: b}}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: p
        category: Application
        sequence_number: 1
        rules:
        - {id: r1, action: ALLOW}
        - {id: r2, action: ALLOW}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: p2
        rules: [{id: r1}]
`)
	before := canonical(t, c1)
	c2 := applyDocs(t, c1, "", `
resource_type: Infra
children:
- resource_type: ChildResourceReference
  id: default
  target_type: Domain
  children:
  - {resource_type: ChildGroup, Group: {id: a, description: second}}
  - resource_type: ChildSecurityPolicy
    SecurityPolicy:
      id: p
      category: Environment
      rules:
      - {id: r2, action: DROP}
      - {id: r3, action: REJECT}
`)
	if got := c2.Groups["/infra/domains/default/groups/a"].Description; got != "second" {
		t.Errorf("group a description %q, want second", got)
	}
	if _, ok := c2.Groups["/infra/domains/default/groups/b"]; !ok {
		t.Errorf("group b not mentioned but removed")
	}
	p := c2.SecurityPolicies["/infra/domains/default/security-policies/p"]
	if p.Category != CategoryEnvironment || p.SequenceNumber != 0 {
		t.Errorf("policy not replaced: category %q sequence %d", p.Category, p.SequenceNumber)
	}
	var got []string
	for _, r := range c2.PolicyRules("/infra/domains/default/security-policies/p") {
		got = append(got, r.ID+"="+r.Action)
	}
	if want := []string{"r1=ALLOW", "r2=DROP", "r3=REJECT"}; !equalStrings(got, want) {
		t.Errorf("rules %q, want %q", got, want)
	}
	if n := len(c2.PolicyRules("/infra/domains/default/security-policies/p2")); n != 1 {
		t.Errorf("other policy has %d rules, want 1", n)
	}
	// c1 is untouched.
	if after := canonical(t, c1); !reflect.DeepEqual(before, after) {
		t.Errorf("Apply changed the Config it was called on")
	}
}

func TestApplyDelete(t *testing.T) {
	const base = `
resource_type: Infra
children:
- {resource_type: ChildTier0, Tier0: {id: t0}}
- {resource_type: ChildTier1, Tier1: {id: t1}}
- {resource_type: ChildService, Service: {id: s, service_entries: [{resource_type: IGMPTypeServiceEntry, id: e}]}}
- resource_type: ChildDomain
  Domain:
    id: d
    children:
    - {resource_type: ChildGroup, Group: {id: g}}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy: {id: p, rules: [{id: r1}, {id: r2}]}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy: {id: p2, rules: [{id: r1}]}
    - resource_type: ChildGatewayPolicy
      GatewayPolicy: {id: gp, rules: [{id: r1}]}
- resource_type: ChildDomain
  Domain:
    id: d2
    children:
    - {resource_type: ChildGroup, Group: {id: g}}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy: {id: p, rules: [{id: r1}]}
- resource_type: ChildResourceReference
  id: default
  target_type: Domain
  children:
  - {resource_type: ChildGroup, Group: {id: g}}
`
	ref := func(domain, children string) string {
		return `{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"` + domain + `","target_type":"Domain","children":[` + children + `]}]}`
	}
	tests := []struct {
		name    string
		doc     string
		removed []string
	}{
		{"group by wrapper", ref("d", `{"resource_type":"ChildGroup","marked_for_delete":true,"Group":{"id":"g"}}`),
			[]string{"/infra/domains/d/groups/g"}},
		{"group by object", ref("d", `{"resource_type":"ChildGroup","Group":{"id":"g","marked_for_delete":true}}`),
			[]string{"/infra/domains/d/groups/g"}},
		{"standalone group", `{"resource_type":"Group","path":"/infra/domains/d2/groups/g","marked_for_delete":true}`,
			[]string{"/infra/domains/d2/groups/g"}},
		{"rule", ref("d", `{"resource_type":"ChildResourceReference","id":"p","target_type":"SecurityPolicy","children":[{"resource_type":"ChildRule","marked_for_delete":true,"Rule":{"id":"r1"}}]}`),
			[]string{"/infra/domains/d/security-policies/p/rules/r1"}},
		{"rule inline", ref("d", `{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"p","rules":[{"id":"r2","marked_for_delete":true}]}}`),
			[]string{"/infra/domains/d/security-policies/p/rules/r2"}},
		{"security policy with its rules", ref("d", `{"resource_type":"ChildSecurityPolicy","marked_for_delete":true,"SecurityPolicy":{"id":"p"}}`),
			[]string{"/infra/domains/d/security-policies/p", "/infra/domains/d/security-policies/p/rules/r1", "/infra/domains/d/security-policies/p/rules/r2"}},
		{"gateway policy with its rules", ref("d", `{"resource_type":"ChildGatewayPolicy","GatewayPolicy":{"id":"gp","marked_for_delete":true}}`),
			[]string{"/infra/domains/d/gateway-policies/gp", "/infra/domains/d/gateway-policies/gp/rules/r1"}},
		{"domain with everything below", `{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","marked_for_delete":true,"Domain":{"id":"d"}}]}`,
			[]string{"/infra/domains/d", "/infra/domains/d/gateway-policies/gp", "/infra/domains/d/gateway-policies/gp/rules/r1",
				"/infra/domains/d/groups/g", "/infra/domains/d/security-policies/p", "/infra/domains/d/security-policies/p/rules/r1",
				"/infra/domains/d/security-policies/p/rules/r2", "/infra/domains/d/security-policies/p2", "/infra/domains/d/security-policies/p2/rules/r1"}},
		{"domain by object flag", `{"resource_type":"Domain","id":"d2","marked_for_delete":true}`,
			[]string{"/infra/domains/d2", "/infra/domains/d2/groups/g", "/infra/domains/d2/security-policies/p", "/infra/domains/d2/security-policies/p/rules/r1"}},
		{"service", `{"resource_type":"Service","id":"s","marked_for_delete":true}`, []string{"/infra/services/s"}},
		{"tier-0", `{"resource_type":"Infra","children":[{"resource_type":"ChildTier0","marked_for_delete":true,"Tier0":{"id":"t0"}}]}`, []string{"/infra/tier-0s/t0"}},
		{"tier-1", `{"resource_type":"Tier1","id":"t1","marked_for_delete":true}`, []string{"/infra/tier-1s/t1"}},
		{"missing object", ref("d", `{"resource_type":"ChildGroup","marked_for_delete":true,"Group":{"id":"nope"}}`), nil},
		{"delete then recreate in one document", ref("d", `{"resource_type":"ChildSecurityPolicy","marked_for_delete":true,"SecurityPolicy":{"id":"p2"}}`), // p2 rules go too
			[]string{"/infra/domains/d/security-policies/p2", "/infra/domains/d/security-policies/p2/rules/r1"}},
	}
	c := configOf(t, base)
	before := allPaths(c)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, changes, err := c.Apply("", parseOne(t, tt.doc))
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			after := map[string]bool{}
			for _, p := range allPaths(next) {
				after[p] = true
			}
			var removed []string
			for _, p := range before {
				if !after[p] {
					removed = append(removed, p)
				}
			}
			if !equalStrings(removed, tt.removed) {
				t.Errorf("removed %q\nwant %q", removed, tt.removed)
			}
			var deleted []string
			for _, ch := range changes {
				if ch.Op == OpDelete {
					deleted = append(deleted, ch.Path)
				}
			}
			sort.Strings(deleted)
			if !equalStrings(deleted, tt.removed) {
				t.Errorf("delete changes %q\nwant %q", deleted, tt.removed)
			}
			if len(allPaths(next)) != len(before)-len(tt.removed) {
				t.Errorf("objects were added: %q", allPaths(next))
			}
		})
	}
	if got := allPaths(c); !equalStrings(got, before) {
		t.Errorf("deletes changed the original Config")
	}
}

func TestApplyServiceEntries(t *testing.T) {
	c := configOf(t, `{"resource_type":"Service","id":"s","service_entries":[
		{"resource_type":"L4PortSetServiceEntry","id":"a","l4_protocol":"TCP","destination_ports":["80"]},
		{"resource_type":"L4PortSetServiceEntry","id":"b","l4_protocol":"UDP"}]}`)
	orig := c.Services["/infra/services/s"]
	c2 := applyDocs(t, c, "", `{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"s","target_type":"Service","children":[
		{"resource_type":"ChildServiceEntry","ServiceEntry":{"resource_type":"L4PortSetServiceEntry","id":"a","l4_protocol":"TCP","destination_ports":["8080"]}},
		{"resource_type":"ChildServiceEntry","marked_for_delete":true,"ServiceEntry":{"resource_type":"L4PortSetServiceEntry","id":"b"}},
		{"resource_type":"ChildServiceEntry","ServiceEntry":{"resource_type":"ICMPTypeServiceEntry","id":"c","protocol":"ICMPv6","marked_for_delete":true}},
		{"resource_type":"ChildServiceEntry","ServiceEntry":{"resource_type":"IPProtocolServiceEntry","id":"d","protocol_number":47}}]}]}`)
	var got []string
	for _, e := range c2.Services["/infra/services/s"].ServiceEntries {
		s := e.EntryMeta().ID + ":" + e.EntryType()
		if l4, ok := e.(*L4PortSetServiceEntry); ok {
			s += ":" + strings.Join(l4.DestinationPorts, ",")
		}
		got = append(got, s)
	}
	if want := []string{"a:L4PortSetServiceEntry:8080", "d:IPProtocolServiceEntry"}; !equalStrings(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
	if c.Services["/infra/services/s"] != orig || len(orig.ServiceEntries) != 2 {
		t.Errorf("ChildServiceEntry changed the original Config's service")
	}
}

// TestApplyErrors checks each document Apply refuses, with the document
// location, the field and the reason, and that the Config is unchanged.
func TestApplyErrors(t *testing.T) {
	const base = `
resource_type: Infra
children:
- {resource_type: ChildService, Service: {id: s, service_entries: [{resource_type: IGMPTypeServiceEntry, id: e}]}}
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: g}}
    - {resource_type: ChildSecurityPolicy, SecurityPolicy: {id: p}}
`
	inDefault := func(children string) string {
		return `{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"default","target_type":"Domain","children":[` + children + `]}]}`
	}
	infra := func(children string) string {
		return `{"resource_type":"Infra","children":[` + children + `]}`
	}
	tests := []struct {
		name    string
		project string
		doc     string
		want    []wantErr
	}{
		{"duplicate group", "", inDefault(`{"resource_type":"ChildGroup","Group":{"id":"x"}},{"resource_type":"ChildGroup","Group":{"id":"x"}}`),
			[]wantErr{{"children[0].children[1].Group", "id", "/infra/domains/default/groups/x is defined twice in the document (first at children[0].children[0].Group)"}}},
		{"duplicate domain", "", infra(`{"resource_type":"ChildDomain","Domain":{"id":"d"}},{"resource_type":"ChildDomain","Domain":{"id":"d"}}`),
			[]wantErr{{"children[1].Domain", "id", "/infra/domains/d is defined twice"}}},
		{"duplicate rule inline and child", "", inDefault(`{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"q","rules":[{"id":"r"}],"children":[{"resource_type":"ChildRule","Rule":{"id":"r"}}]}}`),
			[]wantErr{{"children[0].children[0].SecurityPolicy.children[0].Rule", "id", "rules/r is defined twice in the document (first at children[0].children[0].SecurityPolicy.rules[0].Rule)"}}},
		{"duplicate across list documents", "", `[{"resource_type":"Group","id":"x"},{"resource_type":"Group","id":"x","parent_path":"/infra/domains/default"}]`,
			[]wantErr{{"children[1].children[0].Group", "id", "defined twice"}}},
		{"group under infra", "", infra(`{"resource_type":"ChildGroup","Group":{"id":"x"}}`),
			[]wantErr{{"children[0]", "resource_type", "ChildGroup must be a child of a Domain, not of the Infra root"}}},
		{"security policy under infra", "", infra(`{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"x"}}`),
			[]wantErr{{"children[0]", "resource_type", "ChildSecurityPolicy must be a child of a Domain, not of the Infra root"}}},
		{"rule under domain", "", inDefault(`{"resource_type":"ChildRule","Rule":{"id":"x"}}`),
			[]wantErr{{"children[0].children[0]", "resource_type", "ChildRule must be a child of a SecurityPolicy or GatewayPolicy, not of a Domain"}}},
		{"domain under domain", "", inDefault(`{"resource_type":"ChildDomain","Domain":{"id":"x"}}`),
			[]wantErr{{"children[0].children[0]", "resource_type", "ChildDomain must be a child of the Infra root, not of a Domain"}}},
		{"tier-0 under domain", "", infra(`{"resource_type":"ChildDomain","Domain":{"id":"d","children":[{"resource_type":"ChildTier0","Tier0":{"id":"t"}}]}}`),
			[]wantErr{{"children[0].Domain.children[0]", "resource_type", "ChildTier0 must be a child of the Infra root, not of a Domain"}}},
		{"service entry under infra", "", infra(`{"resource_type":"ChildServiceEntry","ServiceEntry":{"resource_type":"IGMPTypeServiceEntry","id":"e"}}`),
			[]wantErr{{"children[0]", "resource_type", "ChildServiceEntry must be a child of a Service, not of the Infra root"}}},
		{"service under policy", "", inDefault(`{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"q","children":[{"resource_type":"ChildService","Service":{"id":"x"}}]}}`),
			[]wantErr{{"children[0].children[0].SecurityPolicy.children[0]", "resource_type", "ChildService must be a child of the Infra root, not of a SecurityPolicy or GatewayPolicy"}}},
		{"missing id", "", inDefault(`{"resource_type":"ChildGroup","Group":{"display_name":"x"}}`),
			[]wantErr{{"children[0].children[0].Group", "id", `missing or invalid id ""`}}},
		{"id with slash", "", infra(`{"resource_type":"ChildService","Service":{"id":"a/b"}}`),
			[]wantErr{{"children[0].Service", "id", `missing or invalid id "a/b"`}}},
		{"id with space", "", inDefault(`{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"my policy"}}`),
			[]wantErr{{"children[0].children[0].SecurityPolicy", "id", `missing or invalid id "my policy"`}}},
		{"rule id invalid", "", inDefault(`{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"q","rules":[{"id":"r#1"}]}}`),
			[]wantErr{{"children[0].children[0].SecurityPolicy.rules[0].Rule", "id", `missing or invalid id "r#1"`}}},
		{"null rule", "", inDefault(`{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"q","rules":[null]}}`),
			[]wantErr{{"children[0].children[0].SecurityPolicy.rules[0]", "", "a rule cannot be null"}}},
		{"service entry without id", "", infra(`{"resource_type":"ChildService","Service":{"id":"x","children":[{"resource_type":"ChildServiceEntry","ServiceEntry":{"resource_type":"IGMPTypeServiceEntry"}}]}}`),
			[]wantErr{{"children[0].Service.children[0].ServiceEntry", "id", `missing or invalid id ""`}}},
		{"resource_type mismatch", "", inDefault(`{"resource_type":"ChildGroup","Group":{"id":"x","resource_type":"Service"}}`),
			[]wantErr{{"children[0].children[0].Group", "resource_type", `is "Service" inside ChildGroup; expected "Group"`}}},
		{"reference to missing domain", "", `{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"nope","target_type":"Domain","children":[]}]}`,
			[]wantErr{{"children[0]", "id", `domain "nope" does not exist (create it with a ChildDomain)`}}},
		{"standalone group in missing domain", "", `{"resource_type":"Group","path":"/infra/domains/nope/groups/g"}`,
			[]wantErr{{"children[0]", "id", `domain "nope" does not exist`}}},
		{"reference to missing policy", "", inDefault(`{"resource_type":"ChildResourceReference","id":"nope","target_type":"GatewayPolicy","children":[]}`),
			[]wantErr{{"children[0].children[0]", "id", "/infra/domains/default/gateway-policies/nope does not exist"}}},
		{"rule of missing policy", "", `{"resource_type":"Rule","path":"/infra/domains/default/security-policies/nope/rules/r"}`,
			[]wantErr{{"children[0].children[0]", "id", "/infra/domains/default/security-policies/nope does not exist"}}},
		{"reference to missing service", "", infra(`{"resource_type":"ChildResourceReference","id":"nope","target_type":"Service"}`),
			[]wantErr{{"children[0]", "id", "/infra/services/nope does not exist"}}},
		{"predefined service is no reference target", "", infra(`{"resource_type":"ChildResourceReference","id":"HTTP","target_type":"Service"}`),
			[]wantErr{{"children[0]", "id", "/infra/services/HTTP does not exist"}}},
		{"reference to a group", "", inDefault(`{"resource_type":"ChildResourceReference","id":"g","target_type":"Group"}`),
			[]wantErr{{"children[0].children[0]", "target_type", `a ChildResourceReference to "Group" is not supported under a Domain`}}},
		{"reference to a domain under a domain", "", inDefault(`{"resource_type":"ChildResourceReference","id":"default","target_type":"Domain"}`),
			[]wantErr{{"children[0].children[0]", "target_type", `a ChildResourceReference to "Domain" is not supported under a Domain`}}},
		{"reference to a policy under infra", "", infra(`{"resource_type":"ChildResourceReference","id":"p","target_type":"SecurityPolicy"}`),
			[]wantErr{{"children[0]", "target_type", "not supported under the Infra root"}}},
		{"project reference to default-space domain", "dev", `{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"d","target_type":"Domain"}]}`,
			[]wantErr{{"children[0]", "id", `domain "d" does not exist`}}},
		{"project reference to default-space policy", "dev", inDefault(`{"resource_type":"ChildResourceReference","id":"p","target_type":"SecurityPolicy"}`),
			[]wantErr{{"children[0].children[0]", "id", "/orgs/default/projects/dev/infra/domains/default/security-policies/p does not exist"}}},
		{"delete the default domain", "", infra(`{"resource_type":"ChildDomain","marked_for_delete":true,"Domain":{"id":"default"}}`),
			[]wantErr{{"children[0].Domain", "marked_for_delete", "the default domain cannot be deleted"}}},
		{"delete a project's default domain", "dev", `{"resource_type":"Domain","id":"default","marked_for_delete":true}`,
			[]wantErr{{"children[0].Domain", "marked_for_delete", "the default domain cannot be deleted"}}},
		{"several problems sorted", "", infra(`{"resource_type":"ChildTier1","Tier1":{"id":""}},{"resource_type":"ChildGroup","Group":{"id":"g"}},{"resource_type":"ChildService","Service":{"id":"a b"}}`),
			[]wantErr{{"children[0].Tier1", "id", "missing or invalid id"}, {"children[1]", "resource_type", "must be a child of a Domain"}, {"children[2].Service", "id", "missing or invalid id"}}},
		{"good changes are dropped with the bad", "", infra(`{"resource_type":"ChildTier0","Tier0":{"id":"t0"}},{"resource_type":"ChildDomain","Domain":{"id":"default","children":[
			{"resource_type":"ChildGroup","marked_for_delete":true,"Group":{"id":"g"}},{"resource_type":"ChildGroup","Group":{"id":"x y"}}]}}`),
			[]wantErr{{"children[1].Domain.children[1].Group", "id", "missing or invalid id"}}},
	}
	c := configOf(t, base)
	before := canonical(t, c)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := applyErr(t, c, tt.project, tt.doc)
			checkErrors(t, es, tt.want, false)
			sorted := append(Errors(nil), es...)
			sorted.Sort()
			if !reflect.DeepEqual(sorted, es) {
				t.Errorf("errors not sorted: %v", es)
			}
			if after := canonical(t, c); !reflect.DeepEqual(before, after) {
				t.Errorf("failed Apply changed the Config")
			}
		})
	}
}

func TestConfigLookups(t *testing.T) {
	c := configOf(t, readOnlyEverywhere)
	tests := []struct {
		path string
		kind Kind
		ok   bool
	}{
		{"/infra/domains/default", KindDomain, true},
		{"/infra/domains/default/groups/g", KindGroup, true},
		{"/infra/services/svc", KindService, true},
		{"/infra/services/HTTPS", KindService, true},
		{"/infra/domains/default/security-policies/p", KindSecurityPolicy, true},
		{"/infra/domains/default/gateway-policies/gp", KindGatewayPolicy, true},
		{"/infra/domains/default/security-policies/p/rules/r1", KindRule, true},
		{"/infra/tier-0s/t0", KindTier0, true},
		{"/infra/tier-1s/t1", KindTier1, true},
		{"/infra/tier-1s/t2", "", false},
		{"/infra/services/http", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			o, ok := c.Object(tt.path)
			if ok != tt.ok {
				t.Fatalf("Object(%q) found=%v, want %v", tt.path, ok, tt.ok)
			}
			if ok && (o.Kind() != tt.kind || o.GetMeta().Path != tt.path) {
				t.Errorf("Object(%q) = %s at %q", tt.path, o.Kind(), o.GetMeta().Path)
			}
		})
	}
	var ids []string
	for _, r := range c.PolicyRules("/infra/domains/default/security-policies/p") {
		ids = append(ids, r.ID)
	}
	if !equalStrings(ids, []string{"r1", "r2", "r3"}) {
		t.Errorf("PolicyRules = %q", ids)
	}
	if got := c.PolicyRules("/infra/domains/default/security-policies/none"); got != nil {
		t.Errorf("PolicyRules of a missing policy = %v", got)
	}
	if got := Paths(map[string]int{"b": 1, "a": 2, "c": 3}); !equalStrings(got, []string{"a", "b", "c"}) {
		t.Errorf("Paths = %q", got)
	}
	cl := c.Clone()
	delete(cl.Groups, "/infra/domains/default/groups/g")
	if _, ok := c.Groups["/infra/domains/default/groups/g"]; !ok {
		t.Errorf("Clone shares maps with the original")
	}
}

const noOpDoc = `
resource_type: Infra
children:
- resource_type: ChildTier0
  Tier0: {id: t0, ha_mode: ACTIVE_STANDBY}
- resource_type: ChildService
  Service:
    id: web
    service_entries:
    - {resource_type: L4PortSetServiceEntry, id: http, l4_protocol: TCP, destination_ports: ["80"]}
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - resource_type: ChildGroup
      Group: {id: g, display_name: a, expression: [{resource_type: IPAddressExpression, ip_addresses: [10.0.0.1]}]}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: p
        category: Application
        rules:
        - {id: r1, source_groups: [/infra/domains/default/groups/g], action: ALLOW}
`

// noOpExport is noOpDoc as a manager prints it back: stamps, places,
// rule_id, rule_count, a group's state and the values NSX returns by
// default.
const noOpExport = `
resource_type: Infra
children:
- resource_type: ChildTier0
  Tier0: {id: t0, ha_mode: ACTIVE_STANDBY, resource_type: Tier0, path: /infra/tier-0s/t0, parent_path: /infra, relative_path: t0,
    display_name: t0, _revision: 4, _create_time: 1, _create_user: alice, _last_modified_time: 2, _last_modified_user: bob, marked_for_delete: false}
- resource_type: ChildService
  Service:
    id: web
    display_name: web
    path: /infra/services/web
    _revision: 2
    _create_time: 1
    service_entries:
    - {resource_type: L4PortSetServiceEntry, id: http, l4_protocol: TCP, destination_ports: ["80"]}
- resource_type: ChildDomain
  Domain:
    id: default
    display_name: default
    path: /infra/domains/default
    _revision: 0
    children:
    - resource_type: ChildGroup
      Group: {id: g, display_name: a, state: SUCCESS, _revision: 7, _create_time: 1, _last_modified_time: 5, path: /infra/domains/default/groups/g,
        parent_path: /infra/domains/default, relative_path: g, expression: [{resource_type: IPAddressExpression, ip_addresses: [10.0.0.1]}]}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: p
        display_name: p
        category: Application
        stateful: true
        tcp_strict: true
        is_default: false
        locked: false
        rule_count: 1
        _revision: 1
        _create_time: 1
        sequence_number: 0
        rules:
        - {id: r1, display_name: r1, rule_id: 1000, is_default: false, sources_excluded: false, destinations_excluded: false, logged: false, disabled: false,
           sequence_number: 0, _revision: 3, _create_time: 1, _create_user: alice, path: /infra/domains/default/security-policies/p/rules/r1,
           source_groups: [/infra/domains/default/groups/g], action: ALLOW}
`

// TestApplyNoOp: a document that leaves every object as it is makes no
// change, whether it carries the fields the manager maintains (an export,
// or kordon get -o yaml, applied back) or not; the new Config keeps the
// objects it had.
func TestApplyNoOp(t *testing.T) {
	for _, tt := range []struct{ name, first, again string }{
		{"the same document", noOpDoc, noOpDoc},
		{"an export applied back", noOpDoc, noOpExport},
		{"the plain document over stamped objects", noOpExport, noOpDoc},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := configOf(t, tt.first)
			next, changes, err := c.Apply("", parseOne(t, tt.again))
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) != 0 {
				t.Errorf("%d changes, want none: %v", len(changes), changes)
			}
			for p, g := range c.Groups {
				if next.Groups[p] != g {
					t.Errorf("%s was replaced by an equal copy", p)
				}
			}
			if next.Rules["/infra/domains/default/security-policies/p/rules/r1"] != c.Rules["/infra/domains/default/security-policies/p/rules/r1"] {
				t.Errorf("the rule was replaced by an equal copy")
			}
		})
	}
}

// TestApplyFieldChanges: an upsert of an object that existed lists the
// fields it changes, and only those; a creation lists none; a service
// whose entries change is one change however many entries change.
func TestApplyFieldChanges(t *testing.T) {
	c := configOf(t, noOpDoc)
	_, changes, err := c.Apply("", parseOne(t, `
resource_type: Infra
children:
- resource_type: ChildService
  Service:
    id: web
    service_entries:
    - {resource_type: L4PortSetServiceEntry, id: http, l4_protocol: TCP, destination_ports: ["8080"]}
    - {resource_type: L4PortSetServiceEntry, id: https, l4_protocol: TCP, destination_ports: ["443"]}
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - resource_type: ChildGroup
      Group: {id: g, display_name: b, description: web servers, expression: [{resource_type: IPAddressExpression, ip_addresses: [10.0.0.2]}]}
    - resource_type: ChildGroup
      Group: {id: h}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: p
        category: Application
        stateful: false
        rules:
        - {id: r1, source_groups: [/infra/domains/default/groups/g], action: ALLOW}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, ch := range changes {
		if _, dup := got[ch.Path]; dup {
			t.Errorf("%s is listed twice", ch.Path)
		}
		got[ch.Path] = []string{}
		for _, f := range ch.Fields {
			got[ch.Path] = append(got[ch.Path], f.String())
		}
	}
	want := map[string][]string{
		"/infra/services/web": {
			`~ service_entries[0].destination_ports[0]: "80" -> "8080"`,
			`+ service_entries[1]: {"destination_ports":["443"],"id":"https","l4_protocol":"TCP","resource_type":"L4PortSetServiceEntry"}`,
		},
		"/infra/domains/default/groups/g": {
			`+ description: "web servers"`,
			`~ display_name: "a" -> "b"`,
			`~ expression[0].ip_addresses[0]: "10.0.0.1" -> "10.0.0.2"`,
		},
		"/infra/domains/default/groups/h":            {},
		"/infra/domains/default/security-policies/p": {`~ stateful: true -> false`, `~ tcp_strict: true -> false`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes:\n%v\nwant\n%v", got, want)
	}
}

// TestApplyPredefinedServiceAsShipped: a predefined service written back
// as NSX ships it (a list of services read back) is no change and is not
// stored; changed, it is a change (which validation refuses).
func TestApplyPredefinedServiceAsShipped(t *testing.T) {
	svc, ok := predefinedServices["/infra/services/HTTPS"]
	if !ok {
		t.Fatal("no predefined HTTPS")
	}
	b, err := json.Marshal(svc)
	if err != nil {
		t.Fatal(err)
	}
	doc := func(s []byte) string {
		return `{"resource_type":"Infra","children":[{"resource_type":"ChildService","Service":` + string(s) + `}]}`
	}
	c := NewConfig()
	next, changes, err := c.Apply("", parseOne(t, doc(b)))
	if err != nil || len(changes) != 0 {
		t.Fatalf("HTTPS as shipped: %v %v", changes, err)
	}
	if _, stored := next.Services["/infra/services/HTTPS"]; stored {
		t.Error("HTTPS as shipped was stored")
	}
	changed := strings.Replace(string(b), `"443"`, `"8443"`, 1)
	if changed == string(b) {
		t.Fatalf("no port 443 in %s", b)
	}
	_, changes, err = c.Apply("", parseOne(t, doc([]byte(changed))))
	if err != nil || len(changes) != 1 || len(changes[0].Fields) != 1 {
		t.Errorf("HTTPS changed: %v %v", changes, err)
	}
}

// TestApplyPolicyWithChangedRules: a policy written with inline rules is
// a change when one of its rules changes, though its own fields do not
// (a PUT replacing its rules is checked against its _revision); with
// none changed it is none.
func TestApplyPolicyWithChangedRules(t *testing.T) {
	c := configOf(t, noOpDoc)
	_, changes, err := c.Apply("", parseOne(t, strings.Replace(noOpDoc, "action: ALLOW", "action: DROP", 1)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ch := range changes {
		got = append(got, fmt.Sprintf("%s %s %v", ch.Op, ch.Path, ch.Fields))
	}
	want := []string{
		"upsert /infra/domains/default/security-policies/p []",
		`upsert /infra/domains/default/security-policies/p/rules/r1 [~ action: "ALLOW" -> "DROP"]`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes %q\nwant %q", got, want)
	}
}

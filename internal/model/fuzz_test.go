package model

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// fuzzDocSeeds are small realistic documents, in every shape
// ParseDocument reads. Seeds stay small (a few KB at most) so the fuzzer
// can minimise what it finds quickly; big documents are cut into seeds by
// derivedSeeds.
var fuzzDocSeeds = []string{
	basePolicyDoc,
	validationBase,
	`{"resource_type":"Group","id":"g","expression":[` + nested(cl, and, ns, and, svc) + `,` + or + `,` + egr + `]}`,
	`[{"resource_type":"Group","id":"a"},{"resource_type":"Rule","id":"r","parent_path":"/infra/domains/default/security-policies/app"}]`,
	`{"results":[{"resource_type":"Tier0","id":"t0","ha_mode":"ACTIVE_STANDBY","_links":[]},{"resource_type":"Tier1","path":"/infra/tier-1s/t1","tier0_path":"/infra/tier-0s/t0"}],"result_count":2}`,
	"resource_type: Group\nid: a\n---\n# comment\n---\nresource_type: Service\nid: s\nservice_entries:\n- {resource_type: L4PortSetServiceEntry, id: e, l4_protocol: TCP, destination_ports: [80, \"8000-8080\"]}\n",
	"- resource_type: SecurityPolicy\n  id: p\n  category: Environment\n  rules:\n  - {id: r, action: JUMP_TO_APPLICATION, source_groups: [10.0.0.1]}\n",
	`{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","marked_for_delete":true,"Domain":{"id":"default"}}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"web","target_type":"Service","children":[{"resource_type":"ChildServiceEntry","ServiceEntry":{"resource_type":"EtherTypeServiceEntry","id":"x"}}]}]}`,
	`{"resource_type":"Infra","_links":[],"children":[{"resource_type":"ChildService","_create_user":"admin","Service":{"id":"s","unique_id":"u","service_entries":[{"resource_type":"ICMPTypeServiceEntry","id":"i","protocol":"ICMPv4","icmp_type":8,"overridden":false}]}},
		{"resource_type":"ChildResourceReference","id":"default","target_type":"Domain","children":[{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"p","realization_id":"r","rules":[{"id":"r","services":["/infra/services/s"]}],
		"children":[{"resource_type":"ChildRule","Rule":{"id":"r2","marked_for_delete":true}}]}}]}]}`,
	`{"resource_type":"Infra","children":[{"resource_type":"ChildGroup","Group":{"id":"g"}},{"resource_type":"ChildFoo"},5,null]}`,
	`{"resource_type":"Group","path":"/orgs/default/projects/dev/infra/domains/default/groups/g"}`,
	`{"resource_type":"Group","id":"g","expression":[{"resource_type":"Condition","member_type":"VirtualMachine","key":"Name","operator":"MATCHES","value":"a)|(b"}]}`,
	`{"resource_type":"SecurityPolicy","id":"p","rules":[null,{"id":"r","service_entries":[{"resource_type":"ICMPTypeServiceEntry","icmp_code":1}]}]}`,
	`{"resource_type":"Group","id":"a","expression":[` + pathExpr("/infra/domains/default/groups/b") + `]}` + "\n---\n" + `{"resource_type":"Group","id":"b","expression":[` + pathExpr("/infra/domains/default/groups/a") + `]}`,
	`null`,
	`[]`,
	`{}`,
	`7`,
	"",
	"a: [",
	"---\n---\n",
	"%YAML 1.2\n---\nresource_type: Tier0\nid: t\n",
}

// derivedSeeds cuts big realistic documents (the shipped example and
// richDoc) into one small document per object, both standalone (as NSX
// lists objects) and wrapped in a hierarchical Infra document.
func derivedSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	example, err := os.ReadFile("../../examples/policy.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, text := range []string{string(example), richDoc} {
		c := configOf(tb, text)
		for _, p := range allPaths(c) {
			o, _ := c.Object(p)
			b, err := json.Marshal(o)
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, b)
			infra := &Infra{}
			switch o.Kind() {
			case KindDomain, KindService, KindTier0, KindTier1:
				infra.Children = ChildList{Wrap(o)}
			case KindRule:
				r, _ := ParsePath(p)
				infra.Children = ChildList{domainRef(r.Domain, Child{Type: "ChildResourceReference", RefID: r.Policy, TargetType: string(r.PolicyKind), Children: ChildList{Wrap(o)}})}
			default:
				d := &Domain{}
				d.ID = o.GetMeta().ParentPath[len("/infra/domains/"):]
				d.Children = ChildList{Wrap(o)}
				infra.Children = ChildList{Wrap(d)}
			}
			if b, err = json.Marshal(infra); err != nil {
				tb.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

func FuzzParseDocument(f *testing.F) {
	for _, s := range fuzzDocSeeds {
		f.Add([]byte(s))
	}
	for _, b := range derivedSeeds(f) {
		f.Add(b)
	}
	for _, s := range layeredDocs {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLayered(t, data, NewDecodeCache(8))
		docs, err := ParseDocument("fuzz", data)
		if err != nil {
			es, ok := err.(Errors)
			if !ok || len(es) == 0 {
				t.Fatalf("error %T %v, want non-empty Errors", err, err)
			}
			if docs != nil {
				t.Fatalf("documents returned with an error")
			}
			return
		}
		cfg := NewConfig()
		for _, d := range docs {
			if d == nil {
				t.Fatal("nil document")
			}
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			again, err := ParseDocument("again", b)
			if err != nil {
				t.Fatalf("re-parsing the marshalled document: %v\n%s", err, b)
			}
			if len(again) != 1 {
				t.Fatalf("re-parsing gave %d documents", len(again))
			}
			b2, err := json.Marshal(again[0])
			if err != nil {
				t.Fatalf("marshal again: %v", err)
			}
			if string(b2) != string(b) {
				t.Fatalf("marshal is not stable:\n%s\n%s", b, b2)
			}
			for _, project := range []string{"dev", ""} {
				doc := d
				if project != "" {
					doc = again[0] // Apply takes ownership; give each call its own copy
				}
				next, _, err := cfg.Apply(project, doc)
				if err != nil {
					if next != cfg {
						t.Fatalf("failed Apply returned a new Config")
					}
					if _, ok := err.(Errors); !ok {
						t.Fatalf("Apply error %T", err)
					}
					continue
				}
				cfg = next
			}
			for _, e := range cfg.Validate() {
				if e.Path == "" || e.Reason == "" {
					t.Fatalf("validation error without path or reason: %#v", e)
				}
			}
			canonical(t, cfg) // every object marshals
		}
	})
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"/infra/domains/default",
		"/infra/domains/default/groups/web",
		"/infra/services/HTTP",
		"/infra/domains/default/security-policies/app",
		"/infra/domains/default/gateway-policies/edge",
		"/infra/domains/default/security-policies/app/rules/r1",
		"/infra/domains/default/gateway-policies/edge/rules/r2",
		"/infra/tier-0s/t0",
		"/infra/tier-1s/t1",
		"/orgs/default/projects/dev/infra/domains/default/groups/g",
		"/orgs/default/projects/dev/infra/domains/default/gateway-policies/p/rules/r",
		"/orgs/default/projects/dev/infra/tier-1s/t1",
		"/orgs/default/projects/dev",
		"/orgs/default/projects//infra/services/x",
		"/infra//services/x",
		"/infra/services/x/",
		"/infra",
		"",
		"infra/services/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r, err := ParsePath(p)
		if err != nil {
			if !strings.Contains(err.Error(), "path ") {
				t.Fatalf("error %q does not name the path", err)
			}
			return
		}
		if got := r.Path(); got != p {
			t.Fatalf("ParsePath(%q).Path() = %q", p, got)
		}
		again, err := ParsePath(r.Path())
		if err != nil || again != r {
			t.Fatalf("ParsePath(Path()) = %+v, %v; want %+v", again, err, r)
		}
		if r.ID == "" && r.Kind != KindDomain {
			t.Fatalf("ParsePath(%q) has no id: %+v", p, r)
		}
		if r.Kind == KindRule && (r.Policy == "" || (r.PolicyKind != KindSecurityPolicy && r.PolicyKind != KindGatewayPolicy)) {
			t.Fatalf("rule without policy: %+v", r)
		}
		parent := r.Parent()
		if parent == Space(r.Project)+"/infra" {
			return
		}
		pr, err := ParsePath(parent)
		if err != nil {
			t.Fatalf("Parent() %q does not parse: %v", parent, err)
		}
		if !strings.HasPrefix(p, parent+"/") || pr.Project != r.Project || pr.Domain != r.Domain {
			t.Fatalf("Parent() %q of %q is not its parent", parent, p)
		}
	})
}

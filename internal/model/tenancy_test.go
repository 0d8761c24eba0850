package model

import (
	"strings"
	"testing"
)

// TestProjectsUseOnlyTheirOwn: a project's policies may scope its own
// tier-1s only and use its own services or predefined ones; the provider's
// may scope any gateway.
func TestProjectsUseOnlyTheirOwn(t *testing.T) {
	base := NewConfig()
	apply := func(cfg *Config, project, doc string) (*Config, Errors) {
		t.Helper()
		docs, err := ParseDocument("t.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		next, _, err := cfg.Apply(project, docs[0])
		if err != nil {
			return cfg, AsErrors(err)
		}
		return next, next.Validate()
	}
	cfg, errs := apply(base, "", `{"resource_type":"Infra","children":[{"resource_type":"ChildTier1","Tier1":{"id":"t1"}},
		{"resource_type":"ChildService","Service":{"id":"corp-db","service_entries":[{"resource_type":"L4PortSetServiceEntry","id":"e","l4_protocol":"TCP","destination_ports":["5432"]}]}}]}`)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, p := range []string{"a", "b"} {
		if cfg, errs = apply(cfg, p, `{"resource_type":"Infra","children":[{"resource_type":"ChildTier1","Tier1":{"id":"t1"}},
			{"resource_type":"ChildService","Service":{"id":"own","service_entries":[{"resource_type":"L4PortSetServiceEntry","id":"e","l4_protocol":"TCP","destination_ports":["80"]}]}}]}`); len(errs) > 0 {
			t.Fatal(errs)
		}
	}
	gw := func(scope, service string) string {
		return `{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","Domain":{"id":"default","children":[
			{"resource_type":"ChildGatewayPolicy","GatewayPolicy":{"id":"p","scope":["` + scope + `"],"rules":[{"id":"r","action":"DROP","services":["` + service + `"]}]}}]}}]}`
	}
	for _, tt := range []struct {
		name, project, doc, bad string
	}{
		{"a project scopes its own tier-1 with its own service", "a", gw("/orgs/default/projects/a/infra/tier-1s/t1", "/orgs/default/projects/a/infra/services/own"), ""},
		{"a project uses a predefined service", "a", gw("/orgs/default/projects/a/infra/tier-1s/t1", "/infra/services/HTTPS"), ""},
		{"a project scopes the provider's tier-1", "a", gw("/infra/tier-1s/t1", "/infra/services/HTTPS"), "not in project \"a\""},
		{"a project scopes another project's tier-1", "a", gw("/orgs/default/projects/b/infra/tier-1s/t1", "/infra/services/HTTPS"), "not in project \"a\""},
		{"a project uses another project's service", "a", gw("/orgs/default/projects/a/infra/tier-1s/t1", "/orgs/default/projects/b/infra/services/own"), "another space"},
		{"a project uses the provider's own service", "a", gw("/orgs/default/projects/a/infra/tier-1s/t1", "/infra/services/corp-db"), "another space"},
		{"the provider scopes a project's tier-1", "", gw("/orgs/default/projects/a/infra/tier-1s/t1", "/infra/services/corp-db"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := apply(cfg, tt.project, tt.doc)
			switch {
			case tt.bad == "" && len(errs) > 0:
				t.Fatalf("refused: %v", errs)
			case tt.bad != "" && !strings.Contains(errs.Error(), tt.bad):
				t.Fatalf("errors %v, want %q", errs, tt.bad)
			}
		})
	}
}

// TestTextLimits: free text is bounded and printable; ids are NSX-style.
func TestTextLimits(t *testing.T) {
	grp := func(fields string) string {
		return `{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","Domain":{"id":"default","children":[{"resource_type":"ChildGroup","Group":{` + fields + `}}]}}]}`
	}
	for _, tt := range []struct{ name, doc, bad string }{
		{"plain", grp(`"id":"web","display_name":"Web servers","description":"two\nlines"`), ""},
		{"long display name", grp(`"id":"web","display_name":"` + strings.Repeat("x", 256) + `"`), "display_name"},
		{"2 MB display name", grp(`"id":"web","display_name":"` + strings.Repeat("x", 2<<20) + `"`), "at most 255"},
		{"escape in display name", grp(`"id":"web","display_name":"\u001b[2J"`), "control character"},
		{"right-to-left override", grp(`"id":"web","description":"gpj.\u202eexe"`), "bidirectional"},
		{"long tag", grp(`"id":"web","tags":[{"scope":"s","tag":"` + strings.Repeat("t", 257) + `"}]`), "tags[0].tag"},
		{"many tags", grp(`"id":"web","tags":[` + strings.TrimSuffix(strings.Repeat(`{"tag":"t"},`, 31), ",") + `]`), "31 tags"},
		{"quote in id", grp(`"id":"we\"b"`), "invalid id"},
		{"dot-dot id", grp(`"id":".."`), "invalid id"},
		{"nul in id", grp(`"id":"a\u0000b"`), "invalid id"},
		{"condition value with escape", grp(`"id":"web","expression":[{"resource_type":"Condition","member_type":"KubernetesService","key":"Name","operator":"EQUALS","value":"\u001b]0;x\u0007"}]`), "control character"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := ParseDocument("t.json", []byte(tt.doc))
			var errs Errors
			if err != nil {
				errs = AsErrors(err)
			} else if next, _, err := NewConfig().Apply("", docs[0]); err != nil {
				errs = AsErrors(err)
			} else {
				errs = next.Validate()
			}
			switch {
			case tt.bad == "" && len(errs) > 0:
				t.Fatalf("refused: %v", errs)
			case tt.bad != "" && !strings.Contains(errs.Error(), tt.bad):
				t.Fatalf("errors %v, want %q", errs, tt.bad)
			}
		})
	}
}

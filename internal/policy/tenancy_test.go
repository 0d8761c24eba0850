package policy

import (
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/model"
)

// tenancyDoc: the provider's DFW and GFW policies, and project a's and b's,
// each with an Emergency DROP that applies everywhere it is visible, plus
// tier-1s of the provider and of project a.
const tenancyDoc = `
resource_type: Infra
children:
- {resource_type: ChildTier1, Tier1: {id: t1}}
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: provider
        category: Emergency
        sequence_number: 50
        rules: [{id: allow-dns, action: ALLOW, destination_groups: ["10.0.0.53"]}]
    - resource_type: ChildGatewayPolicy
      GatewayPolicy:
        id: provider-gw
        category: Emergency
        sequence_number: 50
        scope: [/infra/tier-1s/t1]
        rules: [{id: provider-gw-rule, action: ALLOW}]
`

const projectDoc = `
resource_type: Infra
children:
- {resource_type: ChildTier1, Tier1: {id: t1}}
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: lockdown
        category: Emergency
        sequence_number: 0
        rules: [{id: drop-all, action: DROP}]
    - resource_type: ChildGatewayPolicy
      GatewayPolicy:
        id: gw
        category: Emergency
        sequence_number: 0
        scope: [/orgs/default/projects/PROJECT/infra/tier-1s/t1]
        rules: [{id: gw-drop, action: DROP}]
`

func tenancyConfig(t *testing.T) *model.Config {
	t.Helper()
	cfg := model.NewConfig()
	for _, step := range []struct{ project, doc string }{{"", tenancyDoc}, {"a", projectDoc}, {"b", projectDoc}} {
		docs, err := model.ParseDocument("test.yaml", []byte(strings.ReplaceAll(step.doc, "PROJECT", step.project)))
		if err != nil {
			t.Fatal(err)
		}
		next, _, err := cfg.Apply(step.project, docs[0])
		if err != nil {
			t.Fatal(err)
		}
		if errs := next.Validate(); len(errs) > 0 {
			t.Fatal(errs)
		}
		cfg = next
	}
	return cfg
}

func paths(rs *Ruleset) []string {
	var out []string
	for _, r := range rs.Rules {
		out = append(out, r.Path)
	}
	return out
}

// TestProjectsReachOnlyTheirOwnPoints: a project's policies reach its own
// VMs and tier-1s only; the provider's reach everything they are scoped
// to and come first in each category, so a project's Emergency DROP at
// sequence 0 follows the provider's Emergency rules even on its own VMs.
func TestProjectsReachOnlyTheirOwnPoints(t *testing.T) {
	cfg := tenancyConfig(t)
	m := fakeMembers{}
	for _, tt := range []struct {
		name string
		pt   Point
		want []string
	}{
		{"a default-space VM sees the provider only", Point{AppliedTo: func([]string) bool { return true }},
			[]string{"/infra/domains/default/security-policies/provider/rules/allow-dns"}},
		{"a VM of project a sees the provider first, then a", Point{AppliedTo: func([]string) bool { return true }, Project: "a"},
			[]string{"/infra/domains/default/security-policies/provider/rules/allow-dns", "/orgs/default/projects/a/infra/domains/default/security-policies/lockdown/rules/drop-all"}},
		{"a VM of project b never sees a", Point{AppliedTo: func([]string) bool { return true }, Project: "b"},
			[]string{"/infra/domains/default/security-policies/provider/rules/allow-dns", "/orgs/default/projects/b/infra/domains/default/security-policies/lockdown/rules/drop-all"}},
		{"the provider's tier-1 sees the provider's gateway policy only", Point{Gateway: "/infra/tier-1s/t1"},
			[]string{"/infra/domains/default/gateway-policies/provider-gw/rules/provider-gw-rule"}},
		{"project a's tier-1 sees a's gateway policy", Point{Gateway: "/orgs/default/projects/a/infra/tier-1s/t1"},
			[]string{"/orgs/default/projects/a/infra/domains/default/gateway-policies/gw/rules/gw-drop"}},
		{"offline explain is the default space's", Point{},
			[]string{"/infra/domains/default/security-policies/provider/rules/allow-dns"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := paths(Compile(cfg, m, tt.pt))
			if len(got) != len(tt.want) {
				t.Fatalf("rules %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("rules %v, want %v", got, tt.want)
				}
			}
		})
	}
}

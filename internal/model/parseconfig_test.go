package model

import (
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name, doc, err string
		groups         int
	}{
		{"two documents applied in order", `
resource_type: Infra
children: [{resource_type: ChildDomain, Domain: {id: default, children: [{resource_type: ChildGroup, Group: {id: a, expression: [{resource_type: IPAddressExpression, ip_addresses: [10.0.0.1]}]}}]}}]
---
resource_type: Infra
children: [{resource_type: ChildDomain, Domain: {id: default, children: [{resource_type: ChildGroup, Group: {id: b, expression: [{resource_type: PathExpression, paths: [/infra/domains/default/groups/a]}]}}]}}]
`, "", 2},
		{"a decoding error names the file", "resource_type: Infra\nchildren: [{resource_type: ChildDomain, Domain: {id: default, colour: red}}]\n", "p.yaml", 0},
		{"a validation error names the path", `
resource_type: Infra
children: [{resource_type: ChildDomain, Domain: {id: default, children: [{resource_type: ChildGroup, Group: {id: b, expression: [{resource_type: PathExpression, paths: [/infra/domains/default/groups/none]}]}}]}}]
`, "/infra/domains/default/groups/b", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig("p.yaml", []byte(tc.doc))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one naming %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Groups) != tc.groups {
				t.Errorf("%d groups, want %d", len(cfg.Groups), tc.groups)
			}
		})
	}
}

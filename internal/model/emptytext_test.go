package model

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestReadBackFidelity: what a client sends as "" or false comes back as
// NSX returns it. An empty text field it was given is written as "", one it
// was not given is left out; a rule's and a policy's flags are always
// written; a tag always has both its scope and its tag.
func TestReadBackFidelity(t *testing.T) {
	for _, tt := range []struct {
		name   string
		obj    func() Object
		in     string
		want   []string // fragments of the encoding
		absent []string // fields it must not hold
	}{
		{"group given an empty description", func() Object { return &Group{} },
			`{"id":"g","description":"","tags":[{"scope":"","tag":"web"}]}`,
			[]string{`"description":""`, `"tags":[{"scope":"","tag":"web"}]`}, nil},
		{"group given no description", func() Object { return &Group{} },
			`{"id":"g","tags":[{"tag":"web"}]}`,
			[]string{`"tags":[{"scope":"","tag":"web"}]`}, []string{`"description"`}},
		{"group given a description", func() Object { return &Group{} },
			`{"id":"g","description":"web servers"}`,
			[]string{`"description":"web servers"`}, nil},
		{"security policy as the Terraform provider sends it", func() Object { return &SecurityPolicy{} },
			`{"id":"p","display_name":"p","description":"","comments":"","locked":false,"stateful":true,"tcp_strict":false,"category":"Application","sequence_number":0}`,
			[]string{`"description":""`, `"comments":""`, `"locked":false`, `"tcp_strict":false`, `"stateful":true`}, nil},
		{"security policy given nothing", func() Object { return &SecurityPolicy{} },
			`{"id":"p","category":"Application"}`,
			[]string{`"locked":false`}, []string{`"description"`, `"comments"`, `"tcp_strict"`}},
		{"gateway policy", func() Object { return &GatewayPolicy{} },
			`{"id":"p","comments":"","category":"LocalGatewayRules"}`,
			[]string{`"comments":""`, `"locked":false`}, []string{`"description"`}},
		{"rule as the Terraform provider sends it", func() Object { return &Rule{} },
			`{"id":"r","description":"","notes":"","tag":"","logged":false,"disabled":false,"sources_excluded":false,"destinations_excluded":false,"tags":[{"scope":"","tag":"t"}]}`,
			[]string{`"description":""`, `"notes":""`, `"tag":""`, `"logged":false`, `"disabled":false`, `"sources_excluded":false`, `"destinations_excluded":false`, `"tags":[{"scope":"","tag":"t"}]`}, nil},
		{"rule given no text", func() Object { return &Rule{} },
			`{"id":"r","action":"DROP"}`,
			[]string{`"logged":false`, `"disabled":false`}, []string{`"notes"`, `"tag"`, `"description"`}},
		{"rule given a value over an empty one", func() Object { return &Rule{} },
			`{"id":"r","notes":"why"}`,
			[]string{`"notes":"why"`}, []string{`"tag"`}},
		{"service", func() Object { return &Service{} },
			`{"id":"s","description":""}`,
			[]string{`"description":""`}, nil},
		{"domain", func() Object { return &Domain{} },
			`{"id":"d","description":""}`,
			[]string{`"description":""`}, nil},
		{"tier-0 keeps its extra fields too", func() Object { return &Tier0{} },
			`{"id":"t0","description":"","ha_mode":"ACTIVE_STANDBY"}`,
			[]string{`"description":""`, `"ha_mode":"ACTIVE_STANDBY"`}, nil},
		{"tier-1", func() Object { return &Tier1{} },
			`{"id":"t1","description":"","tier0_path":"/infra/tier-0s/t0"}`,
			[]string{`"description":""`, `"tier0_path":"/infra/tier-0s/t0"`}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.obj()
			if err := json.Unmarshal([]byte(tt.in), o); err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("%s not in %s", w, b)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(string(b), a) {
					t.Errorf("%s in %s", a, b)
				}
			}
			// Decoding the encoding gives the same encoding: what the
			// store holds reads back as it was written.
			again := tt.obj()
			if err := json.Unmarshal(b, again); err != nil {
				t.Fatal(err)
			}
			if b2, _ := json.Marshal(again); string(b2) != string(b) {
				t.Errorf("not stable:\n%s\n%s", b, b2)
			}
		})
	}
}

// TestEmptyTextInDocuments: a rule inside a policy inside a hierarchical
// document keeps its empty fields through Apply and export.
func TestEmptyTextInDocuments(t *testing.T) {
	c := applyDocs(t, NewConfig(), "", `
resource_type: Infra
children:
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: p
        category: Application
        description: ""
        comments: ""
        rules:
        - {id: r, notes: "", tag: "", description: ""}
`)
	b, err := json.Marshal(exportInfra(c, ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"comments":""`, `"notes":""`, `"tag":""`} {
		if !strings.Contains(string(b), w) {
			t.Errorf("%s not in the export %s", w, b)
		}
	}
	if n := strings.Count(string(b), `"description":""`); n != 2 {
		t.Errorf("%d empty descriptions in the export, want 2 (the policy's and the rule's): %s", n, b)
	}
}

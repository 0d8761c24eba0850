package model

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

// parseOne parses a file that must hold exactly one document.
func parseOne(t testing.TB, text string) *Infra {
	t.Helper()
	docs, err := ParseDocument("test.yaml", []byte(text))
	if err != nil {
		t.Fatalf("ParseDocument: %v\ninput:\n%s", err, text)
	}
	if len(docs) != 1 {
		t.Fatalf("ParseDocument: %d documents, want 1", len(docs))
	}
	return docs[0]
}

// applyDocs parses each text and applies its documents, in order, to c in
// the given space.
func applyDocs(t testing.TB, c *Config, project string, texts ...string) *Config {
	t.Helper()
	for _, text := range texts {
		docs, err := ParseDocument("test.yaml", []byte(text))
		if err != nil {
			t.Fatalf("ParseDocument: %v\ninput:\n%s", err, text)
		}
		for _, d := range docs {
			next, _, err := c.Apply(project, d)
			if err != nil {
				t.Fatalf("Apply(%q): %v\ninput:\n%s", project, err, text)
			}
			c = next
		}
	}
	return c
}

// configOf builds a configuration of the default space from documents.
func configOf(t testing.TB, texts ...string) *Config {
	t.Helper()
	return applyDocs(t, NewConfig(), "", texts...)
}

// applyErr parses text and applies it to c, expecting Apply to fail.
func applyErr(t testing.TB, c *Config, project, text string) Errors {
	t.Helper()
	doc := parseOne(t, text)
	next, changes, err := c.Apply(project, doc)
	if err == nil {
		t.Fatalf("Apply succeeded, want an error\ninput:\n%s", text)
	}
	if next != c {
		t.Errorf("Apply failed but returned a different Config")
	}
	if changes != nil {
		t.Errorf("Apply failed but reported changes %v", changes)
	}
	es, ok := err.(Errors)
	if !ok {
		t.Fatalf("Apply error is %T, want Errors", err)
	}
	return es
}

func readExample(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("../../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// wantErr describes one expected problem: the exact object path and field
// and a substring of the reason.
type wantErr struct {
	path, field, reason string
}

func (w wantErr) String() string { return fmt.Sprintf("%s | %s | ...%s...", w.path, w.field, w.reason) }

// checkErrors asserts that got holds exactly the wanted problems (in any
// order), or, when partial is set, at least them.
func checkErrors(t testing.TB, got error, want []wantErr, partial bool) {
	t.Helper()
	es := AsErrors(got)
	used := make([]bool, len(es))
	var missing []wantErr
	for _, w := range want {
		found := false
		for i, e := range es {
			if !used[i] && e.Path == w.path && e.Field == w.field && strings.Contains(e.Reason, w.reason) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			missing = append(missing, w)
		}
	}
	var extra []Error
	for i, e := range es {
		if !used[i] {
			extra = append(extra, e)
		}
	}
	if len(missing) > 0 || (!partial && len(extra) > 0) {
		var b strings.Builder
		for _, m := range missing {
			fmt.Fprintf(&b, "\n  missing: %s", m)
		}
		if !partial {
			for _, e := range extra {
				fmt.Fprintf(&b, "\n  unexpected: %q | %q | %q", e.Path, e.Field, e.Reason)
			}
		}
		fmt.Fprintf(&b, "\n  all errors:")
		for _, e := range es {
			fmt.Fprintf(&b, "\n    %q | %q | %q", e.Path, e.Field, e.Reason)
		}
		t.Errorf("errors do not match:%s", b.String())
	}
}

// Expression builders (JSON, which is also YAML flow style).

func cond(member, key, op, value string) string {
	return fmt.Sprintf(`{"resource_type":"Condition","member_type":%q,"key":%q,"operator":%q,"value":%q}`, member, key, op, value)
}

func condWith(member, key, op, value, extra string) string {
	return fmt.Sprintf(`{"resource_type":"Condition","member_type":%q,"key":%q,"operator":%q,"value":%q,%s}`, member, key, op, value, extra)
}

func conj(op string) string {
	return fmt.Sprintf(`{"resource_type":"ConjunctionOperator","conjunction_operator":%q}`, op)
}

var (
	and = conj("AND")
	or  = conj("OR")
)

func nested(items ...string) string {
	return `{"resource_type":"NestedExpression","expressions":[` + strings.Join(items, ",") + `]}`
}

func ipExpr(addrs ...string) string {
	b, _ := json.Marshal(addrs)
	return `{"resource_type":"IPAddressExpression","ip_addresses":` + string(b) + `}`
}

func pathExpr(paths ...string) string {
	b, _ := json.Marshal(paths)
	return `{"resource_type":"PathExpression","paths":` + string(b) + `}`
}

// joinWith puts sep between the items: joinWith(or, a, b, c) = a, or, b, or, c.
func joinWith(sep string, items ...string) []string {
	var out []string
	for i, it := range items {
		if i > 0 {
			out = append(out, sep)
		}
		out = append(out, it)
	}
	return out
}

// groupDoc is a standalone group document with the given expression.
func groupDoc(id string, items ...string) string {
	return fmt.Sprintf(`{"resource_type":"Group","id":%q,"expression":[%s]}`, id, strings.Join(items, ","))
}

// repeat returns n copies of s.
func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// jsonList renders strings as a JSON list.
func jsonList(xs ...string) string {
	b, _ := json.Marshal(xs)
	return string(b)
}

// canonical renders every object of a configuration as JSON, keyed by path,
// so two configurations can be compared by meaning.
func canonical(t testing.TB, c *Config) map[string]string {
	t.Helper()
	out := map[string]string{}
	add := func(p string, o any) {
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatalf("marshal %s: %v", p, err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("unmarshal %s: %v", p, err)
		}
		b, _ = json.Marshal(v)
		out[p] = string(b)
	}
	for p, o := range c.Domains {
		add(p, o)
	}
	for p, o := range c.Groups {
		add(p, o)
	}
	for p, o := range c.Services {
		add(p, o)
	}
	for p, o := range c.SecurityPolicies {
		add(p, o)
	}
	for p, o := range c.GatewayPolicies {
		add(p, o)
	}
	for p, o := range c.Rules {
		add(p, o)
	}
	for p, o := range c.Tier0s {
		add(p, o)
	}
	for p, o := range c.Tier1s {
		add(p, o)
	}
	return out
}

// allPaths lists every object path of a configuration, sorted.
func allPaths(c *Config) []string {
	var out []string
	out = append(out, Paths(c.Domains)...)
	out = append(out, Paths(c.Groups)...)
	out = append(out, Paths(c.Services)...)
	out = append(out, Paths(c.SecurityPolicies)...)
	out = append(out, Paths(c.GatewayPolicies)...)
	out = append(out, Paths(c.Rules)...)
	out = append(out, Paths(c.Tier0s)...)
	out = append(out, Paths(c.Tier1s)...)
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// exportInfra writes a configuration back as one hierarchical document:
// security policies carry their rules inline, gateway policies as ChildRule
// children, so both forms are exercised. Only the domains of the given
// space are written.
func exportInfra(c *Config, project string) *Infra {
	infra := &Infra{}
	for _, p := range Paths(c.Tier0s) {
		infra.Children = append(infra.Children, Wrap(c.Tier0s[p]))
	}
	for _, p := range Paths(c.Tier1s) {
		infra.Children = append(infra.Children, Wrap(c.Tier1s[p]))
	}
	for _, p := range Paths(c.Services) {
		infra.Children = append(infra.Children, Wrap(c.Services[p]))
	}
	for _, dp := range Paths(c.Domains) {
		if !strings.HasPrefix(dp, Space(project)+"/infra/") {
			continue // another space's domain (NewConfig always holds the default space's)
		}
		d := *c.Domains[dp]
		for _, p := range Paths(c.Groups) {
			if c.Groups[p].ParentPath == dp {
				d.Children = append(d.Children, Wrap(c.Groups[p]))
			}
		}
		for _, p := range Paths(c.SecurityPolicies) {
			if c.SecurityPolicies[p].ParentPath == dp {
				sp := *c.SecurityPolicies[p]
				sp.Rules = c.PolicyRules(p)
				d.Children = append(d.Children, Wrap(&sp))
			}
		}
		for _, p := range Paths(c.GatewayPolicies) {
			if c.GatewayPolicies[p].ParentPath == dp {
				gp := *c.GatewayPolicies[p]
				for _, r := range c.PolicyRules(p) {
					gp.Children = append(gp.Children, Wrap(r))
				}
				d.Children = append(d.Children, Wrap(&gp))
			}
		}
		infra.Children = append(infra.Children, Wrap(&d))
	}
	return infra
}

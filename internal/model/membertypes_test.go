package model

import (
	"slices"
	"strings"
	"testing"
)

// TestMemberTypeTable checks the tables are coherent on their own, so that
// a row added to them cannot contradict what validation, membership and
// the API assume of it.
func TestMemberTypeTable(t *testing.T) {
	seen := map[string]bool{}
	endpoints := map[string]string{}
	for i := range MemberTypes {
		mt := &MemberTypes[i]
		fail := func(format string, args ...any) {
			t.Helper()
			t.Errorf("member type %s: "+format, append([]any{mt.Name}, args...)...)
		}
		if seen[mt.Name] {
			fail("listed twice")
		}
		seen[mt.Name] = true
		if unsupportedMemberTypes[mt.Name] {
			fail("also listed in unsupportedMemberTypes; remove it there")
		}
		if len(mt.Keys) == 0 {
			fail("no keys")
		}
		if mt.Scoping && (mt.Inventory != "" || mt.Endpoint != "" || mt.Namespaced) {
			fail("a scoping type has no inventory kind, endpoint or namespace")
		}
		if !mt.Scoping && mt.Inventory == "" {
			fail("a resource type needs the inventory kind of its objects")
		}
		keys := map[string]bool{}
		for _, k := range mt.Keys {
			if keys[k.Key] {
				fail("key %s listed twice", k.Key)
			}
			keys[k.Key] = true
			if len(k.Operators) == 0 {
				fail("key %s takes no operator", k.Key)
			}
			if k.Value == ValueAll && !slices.Equal(k.Operators, []Operator{OperatorMatches}) {
				fail("key %s is ValueAll, which takes MATCHES \"*\" only", k.Key)
			}
			if (k.Value == ValueTag) != (len(k.ScopeOperators) > 0) {
				fail("key %s: scope operators go with ValueTag keys, and those need some", k.Key)
			}
			for _, o := range k.ScopeOperators {
				if !Operators[o].Scope {
					fail("key %s: %s is not a scope operator", k.Key, o)
				}
			}
			if (k.Endpoint != "") != mt.byKey() {
				fail("key %s: either every key names an endpoint or none does", k.Key)
			}
			if k.Endpoint != "" && mt.Scoping {
				fail("key %s: a scoping type has no members to list", k.Key)
			}
		}
		if mt.byKey() && mt.Endpoint != "" {
			fail("the type names an endpoint and so do its keys")
		}
		for _, k := range MemberKinds() {
			if k.Type == mt && k.Endpoint != "" {
				if other, dup := endpoints[k.Endpoint]; dup {
					fail("endpoint %s also lists %s", k.Endpoint, other)
				}
				endpoints[k.Endpoint] = mt.Name
			}
		}
	}
	if len(endpoints) != len(MemberEndpoints) {
		t.Errorf("MemberEndpoints %v, want the %d endpoints of the table", MemberEndpoints, len(endpoints))
	}
	names := map[string]bool{}
	for o, info := range Operators {
		if info.Name == "" || names[info.Name] {
			t.Errorf("operator %d: empty or repeated name %q", o, info.Name)
		}
		names[info.Name] = true
		if got, ok := LookupOperator(info.Name); !ok || got != Operator(o) {
			t.Errorf("LookupOperator(%q) = %d, %v", info.Name, got, ok)
		}
		if info.Negative && Operators[info.Positive].Negative {
			t.Errorf("operator %s: its positive %s is negative", info.Name, info.Positive)
		}
	}
}

// probeValue is a valid value for a condition of form f with operator op.
func probeValue(f ValueForm, op Operator) string {
	v := "a"
	switch {
	case f == ValueAll:
		return "*"
	case Operators[op].List:
		v = "a,b"
	case Operators[op].Pattern:
		v = "a.*"
	}
	if f == ValueTag {
		return "s|" + v
	}
	return v
}

// probeGroup returns a group document using member type mt with key and
// op (a scoping type narrowing the first resource type that takes it),
// and the field of that condition.
func probeGroup(t *testing.T, mt *MemberType, key string, op Operator, extra string) (string, string) {
	t.Helper()
	rule, ok := mt.Rule(key)
	form := ValueText
	if ok {
		form = rule.Value
	}
	c := cond(mt.Name, key, op.String(), probeValue(form, op))
	if extra != "" {
		c = condWith(mt.Name, key, op.String(), probeValue(form, op), extra)
	}
	if !mt.Scoping {
		return groupDoc("g", c), "expression[0]"
	}
	for i := range MemberTypes {
		p := &MemberTypes[i]
		if p.Kubernetes && !p.Scoping && (p.Namespaced || mt.Name != MemberKubernetesNamespace) {
			k := p.Keys[0]
			return groupDoc("g", nested(c, and, cond(p.Name, k.Key, k.Operators[0].String(), probeValue(k.Value, k.Operators[0])))), "expression[0].expressions[0]"
		}
	}
	t.Fatalf("member type %s: no resource type to narrow", mt.Name)
	return "", ""
}

// TestEveryMemberTypeValidates builds, for each member type of the table,
// a group with each of its keys and each operator, and checks validation
// accepts exactly what the table lists: keys, operators, scope operators,
// and use in projects.
func TestEveryMemberTypeValidates(t *testing.T) {
	base := configOf(t, validationBase)
	allKeys := []string{"Bogus"}
	for _, mt := range MemberTypes {
		for _, k := range mt.Keys {
			if !slices.Contains(allKeys, k.Key) {
				allKeys = append(allKeys, k.Key)
			}
		}
	}
	// problems returns the problems validation reports about the
	// condition at field (or under it) when doc is the group.
	problems := func(project, doc, field string) []string {
		c := applyDocs(t, base, project, doc)
		var out []string
		for _, e := range c.Validate() {
			if strings.HasPrefix(e.Field, field) || e.Field == "expression" {
				out = append(out, e.Field+": "+e.Reason)
			}
		}
		return out
	}
	for i := range MemberTypes {
		mt := &MemberTypes[i]
		for _, k := range mt.Keys {
			for o := range Operators {
				op := Operator(o)
				doc, field := probeGroup(t, mt, k.Key, op, "")
				got := problems("", doc, field)
				if slices.Contains(k.Operators, op) {
					if len(got) > 0 {
						t.Errorf("member type %s, key %s, operator %s: the table lists it but validation refuses it: %v", mt.Name, k.Key, op, got)
					}
				} else if len(got) == 0 {
					t.Errorf("member type %s, key %s, operator %s: the table does not list it but validation accepts it", mt.Name, k.Key, op)
				}
			}
			for o := range Operators {
				sop := Operator(o)
				if !Operators[sop].Scope {
					continue
				}
				doc, field := probeGroup(t, mt, k.Key, k.Operators[0], `"scope_operator":"`+sop.String()+`"`)
				got := problems("", doc, field+".scope_operator")
				if slices.Contains(k.ScopeOperators, sop) && len(got) > 0 {
					t.Errorf("member type %s, key %s, scope operator %s: the table lists it but validation refuses it: %v", mt.Name, k.Key, sop, got)
				} else if !slices.Contains(k.ScopeOperators, sop) && len(got) == 0 {
					t.Errorf("member type %s, key %s, scope operator %s: the table does not list it but validation accepts it", mt.Name, k.Key, sop)
				}
			}
		}
		for _, key := range allKeys {
			if _, ok := mt.Rule(key); ok {
				continue
			}
			doc, field := probeGroup(t, mt, key, OperatorEquals, "")
			if got := problems("", doc, field+".key"); len(got) == 0 {
				t.Errorf("member type %s, key %s: the table does not list the key but validation accepts it", mt.Name, key)
			}
		}
		first := mt.Keys[0]
		doc, _ := probeGroup(t, mt, first.Key, first.Operators[0], "")
		got := problems("dev", doc, "expression")
		switch {
		case mt.InProjects && len(got) > 0:
			t.Errorf("member type %s: the table allows it in projects but validation refuses it there: %v", mt.Name, got)
		case !mt.InProjects && len(got) == 0:
			t.Errorf("member type %s: the table keeps it out of projects but validation accepts it in one", mt.Name)
		}
		if IsKubernetesMemberType(mt.Name) != mt.Kubernetes {
			t.Errorf("member type %s: IsKubernetesMemberType disagrees with the table", mt.Name)
		}
	}
}

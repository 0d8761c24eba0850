package membership

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
)

// TestEveryOperatorMatches checks that every operator of model.Operators
// has a matcher: a value naming "abc" matches it (or, for a negative
// operator, does not), one naming only "zzz" does not.
func TestEveryOperatorMatches(t *testing.T) {
	for _, info := range model.Operators {
		yes, no := "abc", "zzz"
		switch {
		case info.List:
			yes, no = "abc,x", "zzz,x"
		case info.Pattern:
			yes, no = "a.c", "z+"
		}
		for _, tt := range []struct {
			value string
			want  bool
		}{{yes, !info.Negative}, {no, info.Negative}} {
			m, err := newMatcher(info.Name, tt.value)
			if err != nil {
				t.Errorf("operator %s: no matcher: %v", info.Name, err)
				continue
			}
			if got := m.match("abc"); got != tt.want {
				t.Errorf("operator %s with %q: match(\"abc\") = %v, want %v: does matcher.match handle the operator?", info.Name, tt.value, got, tt.want)
			}
			p, negative := m.positive()
			if negative != info.Negative || p.match("abc") != (tt.want != negative) {
				t.Errorf("operator %s with %q: its positive form does not match the opposite", info.Name, tt.value)
			}
		}
	}
}

// probeValue is a valid value for a condition of form f with operator op.
func probeValue(f model.ValueForm, op model.Operator) string {
	v := "probe"
	switch {
	case f == model.ValueAll:
		return "*"
	case model.Operators[op].List:
		v = "probe,other"
	case model.Operators[op].Pattern:
		v = "pro.*"
	}
	if f == model.ValueTag {
		return "s|" + v
	}
	return v
}

// probeGroup is a group using member type mt with key k and operator op;
// a scoping type narrows the first resource type that takes it.
func probeGroup(t *testing.T, mt *model.MemberType, k model.KeyRule, op model.Operator) *model.Group {
	t.Helper()
	c := condition(mt.Name, k.Key, op.String(), probeValue(k.Value, op))
	g := &model.Group{Expression: model.ExpressionList{c}}
	g.ID, g.Path = "probe", "/infra/domains/default/groups/probe"
	if !mt.Scoping {
		return g
	}
	for i := range model.MemberTypes {
		p := &model.MemberTypes[i]
		if p.Kubernetes && !p.Scoping && (p.Namespaced || mt.Name != model.MemberKubernetesNamespace) {
			pk := p.Keys[0]
			g.Expression = model.ExpressionList{nested(c, condition(p.Name, pk.Key, pk.Operators[0].String(), probeValue(pk.Value, pk.Operators[0])))}
			return g
		}
	}
	t.Fatalf("member type %s: no resource type to narrow", mt.Name)
	return nil
}

// newObject makes an empty inventory object of kind k, or nil. VMs come
// from enforcement agents, not from clusters, so inventory.New does not
// make them.
func newObject(k inventory.Kind) inventory.Object {
	if k == inventory.KindVirtualMachine {
		return &inventory.VirtualMachine{}
	}
	return inventory.New(k)
}

// TestEveryMemberTypeIsHandled fails when a member type of model's table
// is not handled here: for each key and operator the table lists, the
// group validation accepts must compile to a criterion of the right kind;
// and for each member kind, an object of its inventory kind must become a
// member and, where the table names an endpoint, be listed there.
func TestEveryMemberTypeIsHandled(t *testing.T) {
	for i := range model.MemberTypes {
		mt := &model.MemberTypes[i]
		for _, k := range mt.Keys {
			if k.Value == model.ValueText {
				if _, ok := attrOf(k.Key); !ok {
					t.Errorf("member type %s, key %s: membership has no attribute for the key (attrOf, entity.attr)", mt.Name, k.Key)
				}
			}
			for _, op := range k.Operators {
				g := probeGroup(t, mt, k, op)
				c := model.NewConfig()
				c.Set(g.Path, g)
				if errs := c.Validate(); len(errs) > 0 {
					t.Errorf("member type %s, key %s, operator %s: validation refuses the probe: %v", mt.Name, k.Key, op, errs)
					continue
				}
				def, err := compile(g)
				if err != nil || len(def.crit) != 1 {
					t.Errorf("member type %s, key %s, operator %s: membership does not compile it to a criterion (error %v)", mt.Name, k.Key, op, err)
					continue
				}
				cr := def.crit[0]
				if mt.Scoping {
					if cr.cluster == nil && len(cr.namespace) == 0 {
						t.Errorf("member type %s, key %s, operator %s: membership ignores the scoping condition (compileCriterion)", mt.Name, k.Key, op)
					}
					continue
				}
				if kind := kinds[cr.mt]; kind.Type != mt || (kind.Key != "" && kind.Key != k.Key) {
					t.Errorf("member type %s, key %s, operator %s: compiles to member kind %s %s", mt.Name, k.Key, op, kind.Type.Name, kind.Key)
				}
			}
		}
	}
	for i, k := range kinds {
		mt := memberType(i)
		name := strings.TrimSpace(k.Type.Name + " " + k.Key)
		if !slices.Contains(typesOf(invKinds[mt]), mt) {
			t.Errorf("member kind %s: objects of inventory kind %q are not members as it", name, invKinds[mt])
		}
		o := newObject(invKinds[mt])
		if o == nil {
			t.Errorf("member kind %s: inventory has no kind %q (inventory.New)", name, invKinds[mt])
			continue
		}
		m := o.GetMeta()
		m.Cluster, m.Name = "east", "probe"
		if !k.Type.Kubernetes {
			m.Cluster = inventory.VMClusterFor("")
		}
		if k.Type.Namespaced {
			m.Namespace = "shop"
		}
		key := k.Key
		if key == "" {
			key = model.KeyName
		}
		rule, ok := k.Type.Rule(key)
		if !ok {
			t.Errorf("member kind %s: this test selects objects by name, and the type has no Name key", name)
			continue
		}
		x := New()
		x.Upsert(o)
		op := model.OperatorEquals
		if rule.Value == model.ValueAll {
			op = model.OperatorMatches
		}
		setGroup(t, x, "/infra/domains/default/groups/probe", newGroupDef(condition(k.Type.Name, key, op.String(), probeValue(rule.Value, op))))
		want := []Member{{Type: k.Type.Name, ConditionKey: k.Key, Key: inventory.KeyOf(o)}}
		if got := x.Members("/infra/domains/default/groups/probe"); !slices.Equal(got, want) {
			t.Errorf("member kind %s: members %v, want %v", name, got, want)
		}
		if k.Endpoint == "" {
			continue
		}
		b, _ := json.Marshal(x.NSXMembers("/infra/domains/default/groups/probe", k.Endpoint, "", nil))
		if !strings.Contains(string(b), `"display_name":"probe"`) {
			t.Errorf("member kind %s: endpoint %s does not list its member (NSXMembers, addNSXMember): %s", name, k.Endpoint, b)
		}
	}
}

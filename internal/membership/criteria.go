package membership

import (
	"fmt"
	"regexp"
	"strings"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/model"
)

// memberType is a member kind (model.MemberKinds): a resource member type
// and, for a type whose keys say what its objects are members for, the
// key; a node is a member for its IPs and, separately, for its pod CIDRs.
// It indexes kinds and names a bit of memberBits.
type memberType uint8

// kinds lists the member kinds. What membership knows of a member type
// besides how to match and resolve its objects comes from model's table.
var kinds = model.MemberKinds()

// memberBits holds one bit per member kind: the kinds an entity is in a
// group as.
type memberBits uint32

func init() {
	if len(kinds) > 32 {
		panic("membership: more member kinds than memberBits has bits")
	}
}

// The kinds membership has code of its own for: a Service's NodePort and
// NodePortLocal members, and which of a node's addresses it contributes.
var (
	mtService = kindOf(model.MemberKubernetesService, "")
	mtNodeIP  = kindOf(model.MemberKubernetesNode, model.KeyIPAddress)
)

func kindOf(name, key string) memberType {
	mt, ok := memberTypeOf(&model.Condition{MemberType: name, Key: key})
	if !ok {
		panic("membership: no member kind for " + name)
	}
	return mt
}

// memberTypeOf returns the kind a condition selects. A type whose keys
// each name a kind gives its first for a key it does not know (validation
// refuses those).
func memberTypeOf(c *model.Condition) (memberType, bool) {
	first, found := memberType(0), false
	for i, k := range kinds {
		if k.Type.Name != c.MemberType {
			continue
		}
		if k.Key == "" || k.Key == c.Key {
			return memberType(i), true
		}
		if !found {
			first, found = memberType(i), true
		}
	}
	return first, found
}

// invKinds[mt] is the inventory kind whose objects are members as kind
// mt; typesByKind is the reverse, the kinds an object of an inventory kind
// is a member as.
var invKinds, typesByKind = func() ([]inventory.Kind, map[inventory.Kind][]memberType) {
	inv := make([]inventory.Kind, len(kinds))
	by := map[inventory.Kind][]memberType{}
	for i, k := range kinds {
		inv[i] = inventory.Kind(k.Type.Inventory)
		by[inv[i]] = append(by[inv[i]], memberType(i))
	}
	return inv, by
}()

// matcher is a compiled string test; values are lower-cased so that
// matching is case-insensitive, as NSX's is.
type matcher struct {
	op     model.Operator
	value  string
	values []string
	re     *regexp.Regexp
}

func newMatcher(op, value string) (matcher, error) {
	code, ok := model.LookupOperator(op)
	if !ok {
		return matcher{}, fmt.Errorf("unknown operator %q", op)
	}
	m := matcher{op: code, value: strings.ToLower(value)}
	switch info := model.Operators[code]; {
	case info.List:
		for _, v := range strings.Split(value, ",") {
			m.values = append(m.values, strings.ToLower(strings.TrimSpace(v)))
		}
	case info.Pattern:
		re, err := model.CompilePattern(value)
		if err != nil {
			return matcher{}, err
		}
		m.re = re
	}
	return m, nil
}

// positive returns the matcher with a negative operator (NOTEQUALS,
// NOTIN) turned into its positive one, and whether it was negative.
// Negative tag conditions mean "no tag matches", not "some tag does not
// match".
func (m matcher) positive() (matcher, bool) {
	if info := model.Operators[m.op]; info.Negative {
		m.op = info.Positive
		return m, true
	}
	return m, false
}

// match tests a lower-cased string. An operator without a case here
// matches nothing: TestEveryOperatorMatches fails for one added to
// model.Operators and not here.
func (m *matcher) match(s string) bool {
	switch m.op {
	case model.OperatorEquals:
		return s == m.value
	case model.OperatorNotEquals:
		return s != m.value
	case model.OperatorContains:
		return strings.Contains(s, m.value)
	case model.OperatorStartsWith:
		return strings.HasPrefix(s, m.value)
	case model.OperatorEndsWith:
		return strings.HasSuffix(s, m.value)
	case model.OperatorIn:
		for _, v := range m.values {
			if s == v {
				return true
			}
		}
		return false
	case model.OperatorNotIn:
		for _, v := range m.values {
			if s == v {
				return false
			}
		}
		return true
	case model.OperatorMatches:
		return m.re.MatchString(s)
	}
	return false
}

// tag is a lower-cased tag.
type tag struct{ scope, value string }

// tagMatcher tests an object's tags. A condition value "scope|tag" names
// both; "|tag" matches the tag under any scope; "scope|" any tag value
// under the scope.
type tagMatcher struct {
	anyScope   bool
	scope      string
	scopeNeq   bool
	anyValue   bool
	value      matcher
	negative   bool
	anchorable bool // EQUALS on a concrete tag: usable as an index key
}

func newTagMatcher(c *model.Condition) (tagMatcher, error) {
	scope, value, _ := strings.Cut(c.Value, "|")
	m, err := newMatcher(c.Operator, value)
	if err != nil {
		return tagMatcher{}, err
	}
	t := tagMatcher{anyScope: scope == "", scope: strings.ToLower(scope), scopeNeq: c.ScopeOperator == model.OpNotEquals, anyValue: value == ""}
	t.value, t.negative = m.positive()
	t.anchorable = !t.negative && !t.scopeNeq && !t.anyValue && t.value.op == model.OperatorEquals
	return t, nil
}

func (t *tagMatcher) match(tags []tag) bool {
	found := false
	for i := range tags {
		tg := &tags[i]
		if !t.anyScope && (tg.scope == t.scope) == t.scopeNeq {
			continue
		}
		if t.anyValue || t.value.match(tg.value) {
			found = true
			break
		}
	}
	return found != t.negative
}

// cond is one compiled condition on a name (or, for VMs, another
// attribute: attr) or on tags.
type cond struct {
	isTag bool
	attr  attr
	name  matcher
	tag   tagMatcher
}

// attr is the string attribute a non-tag condition tests.
type attr uint8

const (
	attrName attr = iota
	attrOSName
	attrComputerName
)

func (c *cond) match(name string, tags []tag) bool {
	if c.isTag {
		return c.tag.match(tags)
	}
	return c.name.match(name)
}

func compileCond(c *model.Condition) (cond, error) {
	if c.Key == model.KeyTag {
		t, err := newTagMatcher(c)
		return cond{isTag: true, tag: t}, err
	}
	m, err := newMatcher(c.Operator, c.Value)
	a, _ := attrOf(c.Key)
	return cond{name: m, attr: a}, err
}

// attrOf returns the attribute a non-tag key tests; the name for a key it
// does not know (validation refuses those, and TestEveryMemberTypeIsHandled
// fails for a table key with no attribute here).
func attrOf(key string) (attr, bool) {
	switch key {
	case model.KeyName:
		return attrName, true
	case model.KeyOSName:
		return attrOSName, true
	case model.KeyComputerName:
		return attrComputerName, true
	}
	return attrName, false
}

// criterion is one compiled criterion: resource conditions on objects of
// one member type, optionally scoped by cluster and namespace conditions.
type criterion struct {
	mt        memberType
	res       []cond
	cluster   *matcher
	namespace []cond
	anchors   []anchorKey
}

func (c *criterion) match(e *entity) bool {
	if c.cluster != nil && !c.cluster.match(e.cl.lname) {
		return false
	}
	for i := range c.res {
		if !c.res[i].match(e.attr(c.res[i].attr), e.tags) {
			return false
		}
	}
	if len(c.namespace) > 0 {
		nsName, nsTags := e.key.Namespace, []tag(nil)
		if e.ns != nil {
			nsName, nsTags = e.ns.lname, e.ns.tags
		} else {
			nsName = strings.ToLower(nsName)
		}
		for i := range c.namespace {
			if !c.namespace[i].match(nsName, nsTags) {
				return false
			}
		}
	}
	return true
}

// definition is a compiled group: object criteria joined by AND/OR (left
// to right), literal addresses and included groups.
type definition struct {
	crit   []criterion
	and    []bool // and[i] joins crit[i] and crit[i+1]
	static []netipx.IPRange
	nested []string
}

// matches evaluates the group's criteria for an entity in one member
// type, left to right as NSX does. Criteria of other member types are
// false for it.
func (d *definition) matches(e *entity, mt memberType) bool {
	v := false
	for i := range d.crit {
		if i > 0 {
			if d.and[i-1] && !v || !d.and[i-1] && v {
				continue
			}
		}
		c := &d.crit[i]
		v = c.mt == mt && c.match(e)
	}
	return v
}

// compile turns a validated group into a definition. Criteria that are
// not object conditions (addresses, paths) only ever join by OR (NSX
// allows AND only between single conditions of one type), so dropping
// them from the AND/OR chain does not change its value for objects.
func compile(g *model.Group) (*definition, error) {
	d := &definition{}
	// A group selects VMs of its own space only.
	project := ""
	if g.Path != "" {
		if ref, err := model.ParsePath(g.Path); err == nil {
			project = ref.Project
		}
	}
	pendingAnd := false
	for i, e := range g.Expression {
		var cr *criterion
		var err error
		switch x := e.(type) {
		case *model.ConjunctionOperator:
			pendingAnd = x.ConjunctionOperator == model.ConjAnd
			continue
		case *model.Condition:
			cr, err = compileCriterion([]*model.Condition{x}, project)
		case *model.NestedExpression:
			var conds []*model.Condition
			for _, n := range x.Expressions {
				if c, ok := n.(*model.Condition); ok {
					conds = append(conds, c)
				}
			}
			cr, err = compileCriterion(conds, project)
		case *model.IPAddressExpression:
			for _, a := range x.IPAddresses {
				r, err := address.ParseRange(a)
				if err != nil {
					return nil, fmt.Errorf("expression[%d]: %v", i, err)
				}
				d.static = append(d.static, r)
			}
		case *model.PathExpression:
			d.nested = append(d.nested, x.Paths...)
		}
		if err != nil {
			return nil, fmt.Errorf("expression[%d]: %v", i, err)
		}
		if cr != nil {
			if len(d.crit) > 0 {
				d.and = append(d.and, pendingAnd)
			}
			d.crit = append(d.crit, *cr)
		}
		pendingAnd = false
	}
	return d, nil
}

// compileCriterion returns nil for criteria of member types kordon has no
// objects for (validation refuses those; a nil criterion selects nothing).
func compileCriterion(conds []*model.Condition, project string) (*criterion, error) {
	cr := &criterion{}
	found := false
	for _, c := range conds {
		switch c.MemberType {
		case model.MemberKubernetesCluster:
			m, err := newMatcher(c.Operator, c.Value)
			if err != nil {
				return nil, err
			}
			cr.cluster = &m
		case model.MemberKubernetesNamespace:
			cc, err := compileCond(c)
			if err != nil {
				return nil, err
			}
			cr.namespace = append(cr.namespace, cc)
		default:
			mt, ok := memberTypeOf(c)
			if !ok {
				return nil, nil
			}
			cr.mt, found = mt, true
			if kinds[mt].Type.SelectsAll() {
				continue // MATCHES "*": every object of the kind
			}
			cc, err := compileCond(c)
			if err != nil {
				return nil, err
			}
			cr.res = append(cr.res, cc)
		}
	}
	if !found {
		return nil, nil
	}
	if !kinds[cr.mt].Type.Kubernetes {
		// Objects of the other types (VMs) belong to a space, kept in the
		// index as a pseudo-cluster.
		vms := matcher{op: model.OperatorEquals, value: strings.ToLower(inventory.VMClusterFor(project))}
		cr.cluster = &vms
	}
	cr.anchors = chooseAnchors(cr)
	return cr, nil
}

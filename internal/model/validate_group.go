package model

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/kordon-dev/kordon/internal/address"
)

// Limits from NSX's group documentation (nsx-api.md §1.4, §5).
const (
	maxCriteria           = 5    // Condition + NestedExpression per expression list
	maxSameTypePerCrit    = 5    // conditions of one member type in a criterion
	maxMixedPerCriterion  = 15   // conditions in a criterion
	maxConditionsInGroup  = 35   // conditions in a group
	maxClusterInValues    = 5    // values of a KubernetesCluster IN condition
	maxGroupAddresses     = 4000 // addresses in a group's IPAddressExpressions
	maxPathsPerExpression = 500  // groups a PathExpression includes
)

type groupValidator struct {
	path  string
	errs  Errors
	conds int // conditions in the whole group
	use   groupUse
}

// groupUse is what a group's member types say about where it may be.
type groupUse struct {
	kubernetes    bool        // some criterion uses a Kubernetes member type
	notInProjects *MemberType // a member type that projects may not use, if any
}

func (v *groupValidator) fail(field, format string, args ...any) {
	v.errs = append(v.errs, Error{Path: v.path, Field: field, Reason: fmt.Sprintf(format, args...)})
}

// validateGroupShape checks a group on its own (references and where it
// is are checked by the caller, which knows the configuration). It returns
// the problems and what its member types say about where it may be.
func validateGroupShape(path string, g *Group) (Errors, groupUse) {
	v := &groupValidator{path: path}
	for i, t := range g.GroupType {
		switch t {
		case "IPAddress":
			for j, e := range g.Expression {
				if _, ok := e.(*IPAddressExpression); !ok {
					if _, conj := e.(*ConjunctionOperator); !conj {
						v.fail(fmt.Sprintf("expression[%d]", j), "a group of group_type IPAddress may only hold IPAddressExpressions")
					}
				}
			}
		case "ANTREA":
			v.fail(fmt.Sprintf("group_type[%d]", i), "ANTREA groups (pods selected and enforced inside Antrea) are not supported; kordon implements generic groups, so leave group_type empty")
		case "BareMetalServer":
			v.fail(fmt.Sprintf("group_type[%d]", i), "BareMetalServer groups are not supported")
		default:
			v.fail(fmt.Sprintf("group_type[%d]", i), "unknown group type %q (NSX knows IPAddress, ANTREA and BareMetalServer; empty means a generic group)", t)
		}
	}
	if len(g.ExtendedExpression) > 0 {
		v.fail("extended_expression", "identity (Active Directory) groups are not supported")
	}
	if g.Reference {
		v.fail("reference", "federation reference groups are not supported")
	}
	v.list("expression", g.Expression)
	if v.conds > maxConditionsInGroup {
		v.fail("expression", "%d conditions; a group may hold at most %d", v.conds, maxConditionsInGroup)
	}
	return v.errs, v.use
}

// list checks a top-level expression list: criteria at even indexes,
// conjunctions at odd ones.
func (v *groupValidator) list(field string, list ExpressionList) {
	if len(list) == 0 {
		return
	}
	if len(list)%2 == 0 {
		v.fail(field, "%d elements; a non-empty expression list has odd length: criteria at even indexes, ConjunctionOperator at odd indexes", len(list))
	}
	criteria, addresses := 0, 0
	for i, e := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		if i%2 == 1 {
			c, ok := e.(*ConjunctionOperator)
			if !ok {
				v.fail(f, "expected a ConjunctionOperator between criteria, got %s", e.ExpressionType())
				continue
			}
			if c.ConjunctionOperator != ConjOr && c.ConjunctionOperator != ConjAnd {
				v.fail(f+".conjunction_operator", "must be AND or OR, got %q", c.ConjunctionOperator)
				continue
			}
			if c.ConjunctionOperator == ConjAnd && i+1 < len(list) {
				v.andBetween(f, list[i-1], list[i+1])
			}
			continue
		}
		switch x := e.(type) {
		case *ConjunctionOperator:
			v.fail(f, "a ConjunctionOperator cannot stand at an even index: criteria go at even indexes")
		case *Condition:
			criteria++
			v.criterion(f, []*Condition{x}, []string{f})
		case *NestedExpression:
			criteria++
			v.nested(f, x)
		case *IPAddressExpression:
			addresses += len(x.IPAddresses)
			for j, a := range x.IPAddresses {
				if _, err := address.ParseRange(a); err != nil {
					v.fail(fmt.Sprintf("%s.ip_addresses[%d]", f, j), "%v", err)
				}
			}
			if len(x.IPAddresses) == 0 {
				v.fail(f+".ip_addresses", "an IPAddressExpression needs at least one address")
			}
		case *PathExpression:
			if len(x.Paths) > maxPathsPerExpression {
				v.fail(f+".paths", "%d paths; a PathExpression holds at most %d", len(x.Paths), maxPathsPerExpression)
			}
			if len(x.Paths) == 0 {
				v.fail(f+".paths", "a PathExpression needs at least one path")
			}
		case *UnsupportedExpression:
			v.fail(f, "%s is not supported: kordon evaluates Conditions, NestedExpressions, IPAddressExpressions and PathExpressions", x.Type)
		}
	}
	if criteria > maxCriteria {
		v.fail(field, "%d criteria (Condition or NestedExpression); a group may hold at most %d", criteria, maxCriteria)
	}
	if addresses > maxGroupAddresses {
		v.fail(field, "%d addresses in IPAddressExpressions; kordon allows at most %d per group", addresses, maxGroupAddresses)
	}
}

// andBetween checks NSX's rule for AND between criteria: both must be
// single conditions of the same member type (and, for a type whose keys
// say what its objects are members for, such as nodes, of the same key).
func (v *groupValidator) andBetween(field string, left, right Expression) {
	l, ok1 := left.(*Condition)
	r, ok2 := right.(*Condition)
	if !ok1 || !ok2 {
		v.fail(field, "AND between criteria is allowed only when both are single Conditions of the same member type; use OR, or put the conditions into one NestedExpression")
		return
	}
	t, known := LookupMemberType(l.MemberType)
	if l.MemberType != r.MemberType || (known && t.byKey() && l.Key != r.Key) {
		v.fail(field, "AND between criteria of different member types (%s, %s) is not allowed; use OR, or one NestedExpression", l.MemberType, r.MemberType)
	}
}

func (v *groupValidator) nested(field string, n *NestedExpression) {
	if len(n.Expressions) == 0 {
		v.fail(field+".expressions", "a NestedExpression needs at least one condition")
		return
	}
	if len(n.Expressions)%2 == 0 {
		v.fail(field+".expressions", "%d elements; an expression list has odd length: conditions at even indexes, AND at odd indexes", len(n.Expressions))
	}
	var conds []*Condition
	var fields []string
	for i, e := range n.Expressions {
		f := fmt.Sprintf("%s.expressions[%d]", field, i)
		if i%2 == 1 {
			c, ok := e.(*ConjunctionOperator)
			if !ok {
				v.fail(f, "expected a ConjunctionOperator between conditions, got %s", e.ExpressionType())
			} else if c.ConjunctionOperator != ConjAnd {
				v.fail(f+".conjunction_operator", "conditions inside a criterion are joined by AND (got %q); to combine with OR, use separate criteria", c.ConjunctionOperator)
			}
			continue
		}
		c, ok := e.(*Condition)
		if !ok {
			v.fail(f, "a NestedExpression holds Conditions only, got %s", e.ExpressionType())
			continue
		}
		conds, fields = append(conds, c), append(fields, f)
	}
	if len(conds) > maxSameTypePerCrit {
		v.fail(field+".expressions", "%d Conditions; an expression list holds at most %d", len(conds), maxSameTypePerCrit)
	}
	v.criterion(field, conds, fields)
}

// criterion checks one criterion: its conditions one by one, then how they
// combine (nsx-api.md §1.4, V-a to V-c).
func (v *groupValidator) criterion(field string, conds []*Condition, fields []string) {
	v.conds += len(conds)
	counts := map[string]int{}
	var k8s, nsx int
	var resources []string
	for i, c := range conds {
		if !v.condition(fields[i], c) {
			continue
		}
		counts[c.MemberType]++
		t, _ := LookupMemberType(c.MemberType) // condition refused unknown types
		if t.Kubernetes {
			k8s++
		} else {
			nsx++
		}
		if !t.InProjects && v.use.notInProjects == nil {
			v.use.notInProjects = t
		}
		if !t.Scoping {
			resources = append(resources, c.MemberType)
		}
	}
	if k8s > 0 {
		v.use.kubernetes = true
	}
	if k8s > 0 && nsx > 0 {
		v.fail(field, "a criterion cannot mix Kubernetes member types with NSX member types; put them in separate criteria joined by OR")
		return
	}
	if len(conds) > maxMixedPerCriterion {
		v.fail(field, "%d conditions; a criterion holds at most %d", len(conds), maxMixedPerCriterion)
	}
	for t, n := range counts {
		if n > maxSameTypePerCrit {
			v.fail(field, "%d %s conditions; a criterion holds at most %d of one member type", n, t, maxSameTypePerCrit)
		}
	}
	if k8s == 0 || len(counts) == 0 {
		return
	}
	v.kubernetesCriterion(field, counts, resources)
}

func (v *groupValidator) kubernetesCriterion(field string, counts map[string]int, resources []string) {
	if len(resources) == 0 {
		v.fail(field, "a criterion with only KubernetesCluster/KubernetesNamespace conditions selects nothing; add a resource condition (%s)",
			orList(typeNames(func(t *MemberType) bool { return t.Kubernetes && !t.Scoping })))
		return
	}
	res := resources[0]
	for _, r := range resources[1:] {
		if r != res {
			v.fail(field, "a criterion may use only one resource member type (found %s and %s); split it into criteria joined by OR", res, r)
			return
		}
	}
	if counts[MemberKubernetesCluster] > 1 {
		v.fail(field, "at most one KubernetesCluster condition per criterion (use IN to match several clusters)")
	}
	t, _ := LookupMemberType(res)
	if t.SelectsAll() {
		if counts[res] > 1 {
			v.fail(field, "exactly one %s condition per criterion", res)
		}
		if counts[MemberKubernetesNamespace] > 0 {
			v.fail(field, "a %s condition can only be combined with a KubernetesCluster condition, not with KubernetesNamespace", res)
		}
	}
	if counts[MemberKubernetesNamespace] > 0 && !t.Namespaced {
		v.fail(field, "KubernetesNamespace conditions apply only to namespace-scoped resources (%s), not to %s",
			strings.Join(typeNames(func(t *MemberType) bool { return t.Namespaced }), ", "), res)
	}
}

// condition checks one Condition on its own against the member-type table
// and reports whether its member type is one kordon evaluates.
func (v *groupValidator) condition(field string, c *Condition) bool {
	t, ok := LookupMemberType(c.MemberType)
	switch {
	case c.MemberType == "":
		v.fail(field+".member_type", "missing")
		return false
	case !ok && unsupportedMemberTypes[c.MemberType]:
		v.fail(field+".member_type", "%s is an NSX member type kordon has no inventory for; kordon evaluates %s", c.MemberType, knownMemberTypes())
		return false
	case !ok:
		v.fail(field+".member_type", "unknown member type %q%s", c.MemberType, closest(c.MemberType, memberTypeNames()))
		return false
	}
	if err := CheckText(c.Value, MaxConditionValue, false); err != nil {
		v.fail(field+".value", "%v", err)
		return false
	}
	if len(c.Exclude) > 0 && string(c.Exclude) != "null" {
		v.fail(field+".exclude", "excluded members are not supported")
	}
	rule, ok := t.Rule(c.Key)
	if !ok {
		v.fail(field+".key", "%s conditions use key %s, not %q", c.MemberType, strings.Join(t.keyNames(), " or "), c.Key)
		return true
	}
	if c.ScopeOperator != "" && rule.Value != ValueTag {
		v.fail(field+".scope_operator", "only Tag conditions have a scope operator")
	}
	if sop, ok := LookupOperator(c.ScopeOperator); c.ScopeOperator != "" && (!ok || !Operators[sop].Scope) {
		v.fail(field+".scope_operator", "must be %s, got %q", orList(scopeOperatorNames()), c.ScopeOperator)
	}
	op, ok := LookupOperator(c.Operator)
	if !ok {
		v.fail(field+".operator", "unknown operator %q (use %s)", c.Operator, strings.Join(operatorNames(allOperators), ", "))
		return true
	}
	allowed := slices.Contains(rule.Operators, op)
	switch rule.Value {
	case ValueAll:
		if !allowed || c.Value != "*" {
			v.fail(field, "a %s condition must be operator MATCHES with value \"*\" (it selects every %s; scope it with a KubernetesCluster condition)", c.MemberType, strings.ToLower(t.Inventory))
		}
	case ValueClusters:
		v.clusterCondition(field, c, rule, op, allowed)
	case ValueTag:
		v.tagCondition(field, c, t, rule, op, allowed)
	default:
		if !allowed {
			v.refuseOperator(field, c, rule)
			return true
		}
		v.value(field, c, op)
	}
	return true
}

// refuseOperator reports an operator the key does not take.
func (v *groupValidator) refuseOperator(field string, c *Condition, rule *KeyRule) {
	v.fail(field+".operator", "a %s condition uses %s, not %s", c.MemberType, orList(operatorNames(rule.Operators)), c.Operator)
}

func (v *groupValidator) clusterCondition(field string, c *Condition, rule *KeyRule, op Operator, allowed bool) {
	switch {
	case !allowed:
		v.refuseOperator(field, c, rule)
	case Operators[op].List:
		if strings.ContainsAny(c.Value, " \t") {
			v.fail(field+".value", "%s takes comma-separated cluster names without spaces", c.Operator)
		}
		vals := strings.Split(c.Value, ",")
		if len(vals) > maxClusterInValues {
			v.fail(field+".value", "%d clusters; %s takes at most %d", len(vals), c.Operator, maxClusterInValues)
		}
		for _, s := range vals {
			if s == "" {
				v.fail(field+".value", "empty cluster name in %q", c.Value)
				break
			}
		}
	case c.Value == "":
		v.fail(field+".value", "missing cluster name")
	}
}

func (v *groupValidator) tagCondition(field string, c *Condition, t *MemberType, rule *KeyRule, op Operator, allowed bool) {
	scope, tag, ok := strings.Cut(c.Value, "|")
	if !ok {
		v.fail(field+".value", "a Tag value is \"scope|tag\" (or \"|tag\" for any scope), got %q", c.Value)
		return
	}
	if scope == "" && tag == "" {
		v.fail(field+".value", "a Tag value needs a scope, a tag or both")
	}
	switch {
	case allowed:
	case t.Kubernetes:
		v.fail(field+".operator", "Kubernetes tag conditions support only %s, got %s", orList(operatorNames(rule.Operators)), c.Operator)
	default:
		v.fail(field+".operator", "%s is not supported for tags", c.Operator)
	}
	// A scope operator unknown as one is reported by condition.
	if sop, known := LookupOperator(c.ScopeOperator); c.ScopeOperator != "" && !(known && slices.Contains(rule.ScopeOperators, sop)) {
		switch {
		case t.Kubernetes:
			v.fail(field+".scope_operator", "Kubernetes tag conditions support only %s", orList(operatorNames(rule.ScopeOperators)))
		case known && Operators[sop].Scope:
			v.fail(field+".scope_operator", "%s tag conditions support only %s", c.MemberType, orList(operatorNames(rule.ScopeOperators)))
		}
	}
	if allowed && Operators[op].Pattern {
		if _, err := compilePattern(tag); err != nil {
			v.fail(field+".value", "%v", err)
		}
	}
}

// value checks the value of a ValueText condition (Name, OSName,
// ComputerName).
func (v *groupValidator) value(field string, c *Condition, op Operator) {
	switch {
	case Operators[op].List:
		for _, s := range strings.Split(c.Value, ",") {
			if strings.TrimSpace(s) == "" {
				v.fail(field+".value", "%s takes comma-separated values; %q has an empty one", c.Operator, c.Value)
				return
			}
		}
	case Operators[op].Pattern:
		if _, err := compilePattern(c.Value); err != nil {
			v.fail(field+".value", "%v", err)
		}
	default:
		if c.Value == "" {
			v.fail(field+".value", "missing")
		}
	}
}

// compilePattern compiles the value of a MATCHES condition: "*" matches
// everything, anything else is a regular expression (RE2 syntax) that must
// match the whole value, case-insensitively.
func compilePattern(s string) (*regexp.Regexp, error) {
	if s == "*" {
		return regexp.MustCompile(`(?s).*`), nil
	}
	if s == "" {
		return nil, fmt.Errorf("MATCHES needs a regular expression")
	}
	re, err := regexp.Compile(s) // on its own first: s must not close the anchoring group
	if err == nil {
		re, err = regexp.Compile(`(?is)^(?:` + s + `)$`)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %v", s, cause(err))
	}
	return re, nil
}

// CompilePattern is compilePattern for the membership engine.
func CompilePattern(s string) (*regexp.Regexp, error) { return compilePattern(s) }

func cause(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

func memberTypeNames() []string { return sortedKeys(memberTypeByName) }

func scopeOperatorNames() []string {
	var out []string
	for _, o := range Operators {
		if o.Scope {
			out = append(out, o.Name)
		}
	}
	return out
}

func knownMemberTypes() string { return strings.Join(memberTypeNames(), ", ") }

func closest(s string, options []string) string {
	best, bestD := "", 4
	for _, o := range options {
		if d := editDistance(strings.ToLower(s), strings.ToLower(o)); d < bestD {
			best, bestD = o, d
		}
	}
	if best == "" {
		return " (kordon evaluates " + strings.Join(options, ", ") + ")"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

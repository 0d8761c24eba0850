package model

import (
	"fmt"
	"regexp"
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

// memberScope says how a member type takes part in a criterion.
type memberScope int

const (
	scopeCluster   memberScope = iota // cluster-scoped resource (Egress, IPPool, Node)
	scopeNamespace                    // namespace-scoped resource (Service, Ingress, Gateway)
	scopeScoping                      // KubernetesCluster / KubernetesNamespace: AND conditions only
	scopeNSX                          // an NSX (non-Kubernetes) member type
)

type memberInfo struct {
	scope memberScope
	keys  []string
}

var memberTypes = map[string]memberInfo{
	MemberKubernetesCluster:   {scopeScoping, []string{KeyName}},
	MemberKubernetesNamespace: {scopeScoping, []string{KeyName, KeyTag}},
	MemberKubernetesService:   {scopeNamespace, []string{KeyName, KeyTag}},
	MemberKubernetesIngress:   {scopeNamespace, []string{KeyName, KeyTag}},
	MemberKubernetesGateway:   {scopeNamespace, []string{KeyName, KeyTag}},
	MemberKubernetesNode:      {scopeCluster, []string{KeyIPAddress, KeyPodCidr}},
	MemberAntreaEgress:        {scopeCluster, []string{KeyName, KeyTag}},
	MemberAntreaIPPool:        {scopeCluster, []string{KeyName, KeyTag}},
	MemberVirtualMachine:      {scopeNSX, []string{KeyName, KeyTag, KeyOSName, KeyComputerName}},
}

// nsxOnlyMemberTypes are member types NSX defines that kordon has no
// inventory for.
var nsxOnlyMemberTypes = map[string]bool{
	"IPSet": true, "LogicalPort": true, "LogicalSwitch": true, "Segment": true,
	"SegmentPort": true, "Pod": true, "Service": true, "Namespace": true,
	"TransportNode": true, "Group": true, "DVPG": true, "DVPort": true,
	"IPAddress": true, "VpcSubnet": true, "VpcSubnetPort": true,
	"BareMetalServer": true, "BareMetalServerInterface": true, "Tier0": true, "Tier1": true,
}

var allOperators = []string{OpEquals, OpNotEquals, OpContains, OpStartsWith, OpEndsWith, OpIn, OpNotIn, OpMatches}

// IsKubernetesMemberType reports whether t is one of the Kubernetes member
// types (including the Cluster and Namespace scoping types).
func IsKubernetesMemberType(t string) bool {
	i, ok := memberTypes[t]
	return ok && i.scope != scopeNSX
}

type groupValidator struct {
	path   string
	errs   Errors
	conds  int  // conditions in the whole group
	hasK8s bool // some criterion uses a Kubernetes member type
}

func (v *groupValidator) fail(field, format string, args ...any) {
	v.errs = append(v.errs, Error{Path: v.path, Field: field, Reason: fmt.Sprintf(format, args...)})
}

// validateGroupShape checks a group on its own (references are checked by
// the caller, which knows the configuration). It returns the problems and
// whether the group uses Kubernetes member types.
func validateGroupShape(path string, g *Group) (Errors, bool) {
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
	return v.errs, v.hasK8s
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
// single conditions of the same member type (and, for nodes, key).
func (v *groupValidator) andBetween(field string, left, right Expression) {
	l, ok1 := left.(*Condition)
	r, ok2 := right.(*Condition)
	if !ok1 || !ok2 {
		v.fail(field, "AND between criteria is allowed only when both are single Conditions of the same member type; use OR, or put the conditions into one NestedExpression")
		return
	}
	if l.MemberType != r.MemberType || (l.MemberType == MemberKubernetesNode && l.Key != r.Key) {
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
		info := memberTypes[c.MemberType]
		if info.scope == scopeNSX {
			nsx++
		} else {
			k8s++
		}
		if info.scope == scopeCluster || info.scope == scopeNamespace || info.scope == scopeNSX {
			resources = append(resources, c.MemberType)
		}
	}
	if k8s > 0 {
		v.hasK8s = true
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
		v.fail(field, "a criterion with only KubernetesCluster/KubernetesNamespace conditions selects nothing; add a resource condition (KubernetesService, KubernetesIngress, KubernetesGateway, KubernetesNode, AntreaEgress or AntreaIPPool)")
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
	if res == MemberKubernetesNode {
		if counts[MemberKubernetesNode] > 1 {
			v.fail(field, "exactly one KubernetesNode condition per criterion")
		}
		if counts[MemberKubernetesNamespace] > 0 {
			v.fail(field, "a KubernetesNode condition can only be combined with a KubernetesCluster condition, not with KubernetesNamespace")
		}
	}
	if counts[MemberKubernetesNamespace] > 0 && memberTypes[res].scope != scopeNamespace {
		v.fail(field, "KubernetesNamespace conditions apply only to namespace-scoped resources (KubernetesService, KubernetesIngress, KubernetesGateway), not to %s", res)
	}
}

// condition checks one Condition on its own and reports whether its member
// type is one kordon evaluates.
func (v *groupValidator) condition(field string, c *Condition) bool {
	info, ok := memberTypes[c.MemberType]
	switch {
	case c.MemberType == "":
		v.fail(field+".member_type", "missing")
		return false
	case !ok && nsxOnlyMemberTypes[c.MemberType]:
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
	if !contains(info.keys, c.Key) {
		v.fail(field+".key", "%s conditions use key %s, not %q", c.MemberType, strings.Join(info.keys, " or "), c.Key)
		return true
	}
	if c.ScopeOperator != "" && c.Key != KeyTag {
		v.fail(field+".scope_operator", "only Tag conditions have a scope operator")
	}
	if c.ScopeOperator != "" && c.ScopeOperator != OpEquals && c.ScopeOperator != OpNotEquals {
		v.fail(field+".scope_operator", "must be EQUALS or NOTEQUALS, got %q", c.ScopeOperator)
	}
	if !contains(allOperators, c.Operator) {
		v.fail(field+".operator", "unknown operator %q (use %s)", c.Operator, strings.Join(allOperators, ", "))
		return true
	}
	switch {
	case c.MemberType == MemberKubernetesNode:
		if c.Operator != OpMatches || c.Value != "*" {
			v.fail(field, "a KubernetesNode condition must be operator MATCHES with value \"*\" (it selects every node; scope it with a KubernetesCluster condition)")
		}
		return true
	case c.MemberType == MemberKubernetesCluster:
		v.clusterCondition(field, c)
		return true
	case c.Key == KeyTag:
		v.tagCondition(field, c, info.scope != scopeNSX)
		return true
	}
	v.value(field, c)
	return true
}

func (v *groupValidator) clusterCondition(field string, c *Condition) {
	switch c.Operator {
	case OpEquals, OpStartsWith, OpEndsWith:
		if c.Value == "" {
			v.fail(field+".value", "missing cluster name")
		}
	case OpIn:
		if strings.ContainsAny(c.Value, " \t") {
			v.fail(field+".value", "IN takes comma-separated cluster names without spaces")
		}
		vals := strings.Split(c.Value, ",")
		if len(vals) > maxClusterInValues {
			v.fail(field+".value", "%d clusters; IN takes at most %d", len(vals), maxClusterInValues)
		}
		for _, s := range vals {
			if s == "" {
				v.fail(field+".value", "empty cluster name in %q", c.Value)
				break
			}
		}
	default:
		v.fail(field+".operator", "a KubernetesCluster condition uses EQUALS, IN, STARTSWITH or ENDSWITH, not %s", c.Operator)
	}
}

func (v *groupValidator) tagCondition(field string, c *Condition, k8s bool) {
	scope, tag, ok := strings.Cut(c.Value, "|")
	if !ok {
		v.fail(field+".value", "a Tag value is \"scope|tag\" (or \"|tag\" for any scope), got %q", c.Value)
		return
	}
	if scope == "" && tag == "" {
		v.fail(field+".value", "a Tag value needs a scope, a tag or both")
	}
	if k8s {
		if c.Operator != OpEquals {
			v.fail(field+".operator", "Kubernetes tag conditions support only EQUALS, got %s", c.Operator)
		}
		if c.ScopeOperator != "" && c.ScopeOperator != OpEquals {
			v.fail(field+".scope_operator", "Kubernetes tag conditions support only EQUALS")
		}
		return
	}
	if c.Operator == OpIn || c.Operator == OpNotIn {
		v.fail(field+".operator", "%s is not supported for tags", c.Operator)
	}
	if c.Operator == OpMatches {
		if _, err := compilePattern(tag); err != nil {
			v.fail(field+".value", "%v", err)
		}
	}
}

// value checks the value of a Name/OSName/ComputerName condition.
func (v *groupValidator) value(field string, c *Condition) {
	switch c.Operator {
	case OpIn, OpNotIn:
		for _, s := range strings.Split(c.Value, ",") {
			if strings.TrimSpace(s) == "" {
				v.fail(field+".value", "%s takes comma-separated values; %q has an empty one", c.Operator, c.Value)
				return
			}
		}
	case OpMatches:
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func memberTypeNames() []string { return sortedKeys(memberTypes) }

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

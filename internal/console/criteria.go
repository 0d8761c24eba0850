package console

import (
	"strings"

	"github.com/kordon-dev/kordon/internal/model"
)

// criterion is one top-level element of a group's expression as the
// console shows it: a set of conditions (AND), literal addresses, included
// groups, or an expression kordon cannot evaluate. Join is the conjunction
// that ties it to the criterion before it ("" for the first).
type criterion struct {
	Join       string
	Conditions []condition
	Addresses  []string
	Paths      []string
	Other      string
}

// condition is one condition in words. Scope marks the scoping types
// (cluster, namespace), which narrow a criterion and select nothing alone.
type condition struct {
	MemberType string
	Key        string
	Operator   string
	Value      string
	Scope      bool
}

// operatorWords spells NSX's operators as NSX's console does.
var operatorWords = map[string]string{
	model.OpEquals: "equals", model.OpNotEquals: "not equals", model.OpContains: "contains",
	model.OpStartsWith: "starts with", model.OpEndsWith: "ends with", model.OpIn: "in", model.OpNotIn: "not in",
	model.OpMatches: "matches",
}

// describe turns an expression list into criteria, in order.
func describe(list model.ExpressionList) []criterion {
	var out []criterion
	join := ""
	for _, e := range list {
		switch x := e.(type) {
		case *model.ConjunctionOperator:
			join = x.ConjunctionOperator
			continue
		case *model.Condition:
			out = append(out, criterion{Join: join, Conditions: []condition{conditionOf(x)}})
		case *model.NestedExpression:
			c := criterion{Join: join}
			for _, n := range x.Expressions {
				if cond, ok := n.(*model.Condition); ok {
					c.Conditions = append(c.Conditions, conditionOf(cond))
				}
			}
			out = append(out, c)
		case *model.IPAddressExpression:
			out = append(out, criterion{Join: join, Addresses: x.IPAddresses})
		case *model.PathExpression:
			out = append(out, criterion{Join: join, Paths: x.Paths})
		case *model.UnsupportedExpression:
			out = append(out, criterion{Join: join, Other: x.Type})
		default:
			out = append(out, criterion{Join: join, Other: e.ExpressionType()})
		}
		join = ""
	}
	return out
}

func conditionOf(c *model.Condition) condition {
	op := operatorWords[c.Operator]
	if op == "" {
		op = strings.ToLower(c.Operator)
	}
	if c.ScopeOperator != "" && c.Key == model.KeyTag {
		op += " (scope " + operatorWords[c.ScopeOperator] + ")"
	}
	scoping := false
	for _, t := range model.MemberTypes {
		if t.Name == c.MemberType {
			scoping = t.Scoping
		}
	}
	return condition{MemberType: c.MemberType, Key: c.Key, Operator: op, Value: c.Value, Scope: scoping}
}

package model

import (
	"encoding/json"
	"fmt"
)

// Group is an NSX generic group. Its members are whatever its expression
// selects; Kubernetes member types resolve to addresses through the
// membership engine.
type Group struct {
	Meta
	Expression         ExpressionList `json:"expression,omitempty"`
	ExtendedExpression ExpressionList `json:"extended_expression,omitempty"`
	GroupType          []string       `json:"group_type,omitempty"`
	Reference          bool           `json:"reference,omitempty"`
	State              string         `json:"state,omitempty"`
}

// Kind implements Object.
func (*Group) Kind() Kind { return KindGroup }

// UnmarshalJSON decodes strictly.
func (g *Group) UnmarshalJSON(b []byte) error {
	type plain Group
	_, empty, err := unmarshalObject(b, (*plain)(g), false, metaText)
	g.EmptyText = empty
	return err
}

// MarshalJSON writes the empty text fields the group was given.
func (g Group) MarshalJSON() ([]byte, error) {
	type plain Group
	return marshalObject(plain(g), g.EmptyText, nil)
}

// Conjunctions.
const (
	ConjAnd = "AND"
	ConjOr  = "OR"
)

// Expression is one element of a group's expression list.
type Expression interface {
	ExpressionType() string
}

// Condition selects objects of one member type by a key.
type Condition struct {
	ID            string          `json:"id,omitempty"`
	MemberType    string          `json:"member_type,omitempty"`
	Key           string          `json:"key,omitempty"`
	Operator      string          `json:"operator,omitempty"`
	ScopeOperator string          `json:"scope_operator,omitempty"`
	Value         string          `json:"value,omitempty"`
	Exclude       json.RawMessage `json:"exclude,omitempty"`
}

// ConjunctionOperator joins two criteria (or two conditions inside a
// NestedExpression).
type ConjunctionOperator struct {
	ID                  string `json:"id,omitempty"`
	ConjunctionOperator string `json:"conjunction_operator,omitempty"`
}

// NestedExpression is a criterion made of several conditions.
type NestedExpression struct {
	ID          string         `json:"id,omitempty"`
	Expressions ExpressionList `json:"expressions,omitempty"`
}

// IPAddressExpression lists literal addresses: IPs, CIDRs or a-b ranges.
type IPAddressExpression struct {
	ID          string   `json:"id,omitempty"`
	IPAddresses []string `json:"ip_addresses,omitempty"`
}

// PathExpression includes other groups by path.
type PathExpression struct {
	ID    string   `json:"id,omitempty"`
	Paths []string `json:"paths,omitempty"`
}

// UnsupportedExpression keeps an expression type NSX defines but kordon
// cannot evaluate (MAC addresses, external ids, identity groups, geo
// locations), so validation can name it instead of decoding failing.
type UnsupportedExpression struct {
	Type string
	Raw  json.RawMessage
}

// ExpressionType implements Expression.
func (*Condition) ExpressionType() string { return "Condition" }

// ExpressionType implements Expression.
func (*ConjunctionOperator) ExpressionType() string { return "ConjunctionOperator" }

// ExpressionType implements Expression.
func (*NestedExpression) ExpressionType() string { return "NestedExpression" }

// ExpressionType implements Expression.
func (*IPAddressExpression) ExpressionType() string { return "IPAddressExpression" }

// ExpressionType implements Expression.
func (*PathExpression) ExpressionType() string { return "PathExpression" }

// ExpressionType implements Expression.
func (u *UnsupportedExpression) ExpressionType() string { return u.Type }

// MarshalJSON writes the expression as it was given.
func (u *UnsupportedExpression) MarshalJSON() ([]byte, error) { return u.Raw, nil }

var unsupportedExpressionTypes = map[string]bool{
	"MACAddressExpression":    true,
	"ExternalIDExpression":    true,
	"IdentityGroupExpression": true,
	"GeoLocationExpression":   true,
}

// ExpressionList is a polymorphic list discriminated by resource_type.
type ExpressionList []Expression

// UnmarshalJSON decodes each element by its resource_type, strictly.
func (l *ExpressionList) UnmarshalJSON(b []byte) error {
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return humanize(err)
	}
	out := make(ExpressionList, 0, len(raws))
	var errs Errors
	for i, raw := range raws {
		e, err := decodeExpression(raw)
		if err != nil {
			errs = append(errs, prefixErrors(fmt.Sprintf("[%d]", i), err)...)
			continue
		}
		out = append(out, e)
	}
	*l = out
	return errs.orNil()
}

func decodeExpression(raw json.RawMessage) (Expression, error) {
	rt, err := resourceType(raw)
	if err != nil {
		return nil, err
	}
	var e Expression
	switch rt {
	case "Condition":
		e = &Condition{}
	case "ConjunctionOperator":
		e = &ConjunctionOperator{}
	case "NestedExpression":
		e = &NestedExpression{}
	case "IPAddressExpression":
		e = &IPAddressExpression{}
	case "PathExpression":
		e = &PathExpression{}
	case "":
		return nil, Errors{{Field: "resource_type", Reason: "missing: an expression needs resource_type (Condition, ConjunctionOperator, NestedExpression, IPAddressExpression or PathExpression)"}}
	default:
		if unsupportedExpressionTypes[rt] {
			return &UnsupportedExpression{Type: rt, Raw: append(json.RawMessage(nil), raw...)}, nil
		}
		return nil, Errors{{Field: "resource_type", Reason: fmt.Sprintf("unknown expression type %q", rt)}}
	}
	return e, unmarshalStrict(raw, e)
}

// MarshalJSON writes each element with its resource_type.
func (l ExpressionList) MarshalJSON() ([]byte, error) {
	out := make([]json.RawMessage, 0, len(l))
	for _, e := range l {
		b, err := marshalTyped(e.ExpressionType(), e)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return json.Marshal(out)
}

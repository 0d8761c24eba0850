package model

import "strconv"

// Names calls fn with each path o names, in field order: the groups,
// services, policies and gateways a validation finds must exist, and a
// deletion must not leave named (ValidateChange, the API's refusal to
// delete what is in use). It stops, and reports true, when fn does.
func Names(o Object, fn func(path string) bool) bool {
	return eachName(o, false, func(_, p string) bool { return fn(p) })
}

// NamesAt is Names with the field that names each path, as a document
// writes it ("source_groups[2]", "expression[0].paths[1]").
func NamesAt(o Object, fn func(field, path string)) {
	eachName(o, true, func(f, p string) bool { fn(f, p); return false })
}

// eachName is Names and NamesAt: with fields false, no field text is
// made (ValidateChange asks of every object on every apply).
func eachName(o Object, fields bool, fn func(field, path string) bool) bool {
	at := func(prefix, name string, i int) string {
		if !fields {
			return ""
		}
		return prefix + name + "[" + strconv.Itoa(i) + "]"
	}
	list := func(name string, l []string) bool {
		for i, p := range l {
			if fn(at("", name, i), p) {
				return true
			}
		}
		return false
	}
	entries := func(name string, l ServiceEntryList) bool {
		for i, e := range l {
			if n, ok := e.(*NestedServiceServiceEntry); ok && fn(at("", name, i)+".nested_service_path", n.NestedServicePath) {
				return true
			}
		}
		return false
	}
	var exprs func(prefix, name string, l ExpressionList) bool
	exprs = func(prefix, name string, l ExpressionList) bool {
		for i, e := range l {
			switch x := e.(type) {
			case *PathExpression:
				for j, p := range x.Paths {
					if fn(at(at(prefix, name, i)+".", "paths", j), p) {
						return true
					}
				}
			case *NestedExpression:
				if exprs(at(prefix, name, i)+".", "expressions", x.Expressions) {
					return true
				}
			}
		}
		return false
	}
	switch x := o.(type) {
	case *Group:
		return exprs("", "expression", x.Expression) || exprs("", "extended_expression", x.ExtendedExpression)
	case *Service:
		return entries("service_entries", x.ServiceEntries)
	case *SecurityPolicy:
		return list("scope", x.Scope)
	case *GatewayPolicy:
		return list("scope", x.Scope)
	case *Rule:
		return x.ParentPath != "" && fn(field(fields, "parent_path"), x.ParentPath) ||
			list("source_groups", x.SourceGroups) || list("destination_groups", x.DestinationGroups) ||
			list("services", x.Services) || list("scope", x.Scope) || entries("service_entries", x.ServiceEntries)
	case *Tier1:
		return x.Tier0Path != "" && fn(field(fields, "tier0_path"), x.Tier0Path)
	}
	return false
}

func field(fields bool, name string) string {
	if fields {
		return name
	}
	return ""
}

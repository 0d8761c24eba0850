package model

import (
	"slices"
	"testing"
)

// Names and NamesAt give every path an object names, with its field as a
// document writes it, and Names stops when asked.
func TestNames(t *testing.T) {
	g := &Group{
		Expression: ExpressionList{&IPAddressExpression{IPAddresses: []string{"10.0.0.1"}}, &PathExpression{Paths: []string{"/g/a", "/g/b"}},
			&NestedExpression{Expressions: ExpressionList{&PathExpression{Paths: []string{"/g/c"}}}}},
		ExtendedExpression: ExpressionList{&PathExpression{Paths: []string{"/g/d"}}},
	}
	r := &Rule{SourceGroups: []string{"/g/a"}, DestinationGroups: []string{"ANY"}, Services: []string{"/s/http"},
		Scope: []string{"/t1"}, ServiceEntries: ServiceEntryList{&NestedServiceServiceEntry{NestedServicePath: "/s/ssh"}}}
	r.ParentPath = "/p"
	for _, tc := range []struct {
		o    Object
		want []string
	}{
		{g, []string{"expression[1].paths[0] /g/a", "expression[1].paths[1] /g/b", "expression[2].expressions[0].paths[0] /g/c", "extended_expression[0].paths[0] /g/d"}},
		{r, []string{"parent_path /p", "source_groups[0] /g/a", "destination_groups[0] ANY", "services[0] /s/http", "scope[0] /t1", "service_entries[0].nested_service_path /s/ssh"}},
		{&Tier1{Tier0Path: "/t0"}, []string{"tier0_path /t0"}},
		{&Tier1{}, nil},
		{&SecurityPolicy{Policy: Policy{Scope: []string{"/g/a"}}}, []string{"scope[0] /g/a"}},
		{&Service{ServiceEntries: ServiceEntryList{&NestedServiceServiceEntry{NestedServicePath: "/s/x"}}}, []string{"service_entries[0].nested_service_path /s/x"}},
	} {
		var got, paths []string
		NamesAt(tc.o, func(f, p string) { got = append(got, f+" "+p) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%T: %q, want %q", tc.o, got, tc.want)
		}
		if stopped := Names(tc.o, func(p string) bool { paths = append(paths, p); return false }); stopped || len(paths) != len(tc.want) {
			t.Errorf("%T: Names gave %q (stopped %v)", tc.o, paths, stopped)
		}
	}
	var seen []string
	if !Names(r, func(p string) bool { seen = append(seen, p); return p == "/g/a" }) || !slices.Equal(seen, []string{"/p", "/g/a"}) {
		t.Errorf("Names did not stop at /g/a: %q", seen)
	}
}

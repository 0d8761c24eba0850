package model

import (
	"errors"
	"reflect"
	"testing"
)

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{Path: "/infra/services/s", Field: "service_entries[0]", Reason: "bad"}, "/infra/services/s: service_entries[0]: bad"},
		{Error{Path: "f.yaml", Reason: "bad"}, "f.yaml: bad"},
		{Error{Field: "id", Reason: "bad"}, "id: bad"},
		{Error{Reason: "bad"}, "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.e.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	es := Errors{{Path: "a", Reason: "x"}, {Field: "f", Reason: "y"}}
	if got := es.Error(); got != "a: x\nf: y" {
		t.Errorf("Errors.Error() = %q", got)
	}
	if Errors(nil).orNil() != nil || (Errors{}).orNil() != nil {
		t.Errorf("orNil of an empty list is not nil")
	}
}

func TestErrorsSort(t *testing.T) {
	es := Errors{
		{Path: "b", Field: "a", Reason: "1"},
		{Path: "a", Field: "z", Reason: "2"},
		{Path: "a", Field: "b", Reason: "3"},
		{Path: "a", Field: "b", Reason: "4"}, // stable: stays after 3
		{Path: "", Field: "x", Reason: "5"},
	}
	es.Sort()
	var got []string
	for _, e := range es {
		got = append(got, e.Reason)
	}
	if want := []string{"5", "3", "4", "2", "1"}; !equalStrings(got, want) {
		t.Errorf("sorted reasons %q, want %q", got, want)
	}
}

func TestAsErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Errors
	}{
		{"nil", nil, nil},
		{"Errors", Errors{{Field: "a", Reason: "x"}}, Errors{{Field: "a", Reason: "x"}}},
		{"Error", Error{Path: "p", Reason: "x"}, Errors{{Path: "p", Reason: "x"}}},
		{"other", errors.New("boom"), Errors{{Reason: "boom"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AsErrors(tt.err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("AsErrors = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestJoinField(t *testing.T) {
	tests := []struct{ prefix, field, want string }{
		{"", "id", "id"},
		{"expression", "", "expression"},
		{"expression", "[2]", "expression[2]"},
		{"expression[2]", "value", "expression[2].value"},
		{"children[0]", "Domain", "children[0].Domain"},
		{"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.prefix+"+"+tt.field, func(t *testing.T) {
			if got := joinField(tt.prefix, tt.field); got != tt.want {
				t.Errorf("joinField(%q, %q) = %q, want %q", tt.prefix, tt.field, got, tt.want)
			}
		})
	}
	got := prefixErrors("rules", Errors{{Field: "[0].id", Reason: "x"}, {Field: "", Reason: "y"}})
	want := Errors{{Field: "rules[0].id", Reason: "x"}, {Field: "rules", Reason: "y"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("prefixErrors = %#v", got)
	}
	got = withPath("doc", Errors{{Path: "keep", Reason: "x"}, {Reason: "y"}})
	want = Errors{{Path: "keep", Reason: "x"}, {Path: "doc", Reason: "y"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("withPath = %#v", got)
	}
}

func TestSuggest(t *testing.T) {
	fields := jsonFields(reflect.TypeFor[Rule]())
	tests := []struct{ name, want string }{
		{"source_grups", ` (did you mean "source_groups"?)`},
		{"Source_Groups", ` (did you mean "source_groups"?)`},
		{"acton", ` (did you mean "action"?)`},
		{"servics", ` (did you mean "services"?)`},
		{"sequence_numbr", ` (did you mean "sequence_number"?)`},
		{"completely_different", ""},
		{"xyz", ""},
		{"x", ` (did you mean "id"?)`}, // short names are near everything short
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := suggest(tt.name, fields); got != tt.want {
				t.Errorf("suggest(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"", "ab", 2}, {"kitten", "sitting", 3}, {"flaw", "lawn", 2}, {"same", "same", 0}} {
		if got := editDistance(tt.a, tt.b); got != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
	}
}

func TestJSONFieldsFlattenEmbedded(t *testing.T) {
	f := jsonFields(reflect.TypeFor[SecurityPolicy]())
	for _, name := range []string{"id", "resource_type", "_revision", "category", "rules", "children", "connectivity_preference", "default_rule_id"} {
		if _, ok := f[name]; !ok {
			t.Errorf("SecurityPolicy field %q not found", name)
		}
	}
	for _, name := range []string{"Meta", "Policy", "Extra"} {
		if _, ok := f[name]; ok {
			t.Errorf("embedded or hidden field %q listed", name)
		}
	}
	if _, ok := jsonFields(reflect.TypeFor[Tier0]())["Extra"]; ok {
		t.Errorf("Tier0.Extra listed as a JSON field")
	}
}

func TestRuleDefaults(t *testing.T) {
	tests := []struct {
		name                    string
		r                       Rule
		action, dir, ipProtocol string
	}{
		{"defaults", Rule{}, ActionAllow, DirectionInOut, IPProtocolBoth},
		{"set", Rule{Action: ActionDrop, Direction: DirectionIn, IPProtocol: IPProtocolV6}, ActionDrop, DirectionIn, IPProtocolV6},
		{"unknown kept", Rule{Action: "X", Direction: "Y", IPProtocol: "Z"}, "X", "Y", "Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a, d, p := tt.r.EffectiveAction(), tt.r.EffectiveDirection(), tt.r.EffectiveIPProtocol(); a != tt.action || d != tt.dir || p != tt.ipProtocol {
				t.Errorf("got %s %s %s", a, d, p)
			}
		})
	}
}

func TestIsAny(t *testing.T) {
	tests := []struct {
		list []string
		want bool
	}{
		{nil, true},
		{[]string{}, true},
		{[]string{"ANY"}, true},
		{[]string{"any"}, true},
		{[]string{"Any"}, true},
		{[]string{"ANY", "ANY"}, false},
		{[]string{"ANYTHING"}, false},
		{[]string{"AN"}, false},
		{[]string{"/infra/domains/default/groups/any"}, false},
		{[]string{""}, false},
	}
	for _, tt := range tests {
		if got := IsAny(tt.list); got != tt.want {
			t.Errorf("IsAny(%q) = %v, want %v", tt.list, got, tt.want)
		}
	}
}

func TestEffectiveConnectivity(t *testing.T) {
	tests := []struct{ pref, strat, want string }{
		{"", "", ""},
		{"ALLOWLIST", "", "ALLOWLIST"},
		{"DENYLIST", "WHITELIST", "DENYLIST"},
		{"", "WHITELIST", "ALLOWLIST"},
		{"", "BLACKLIST", "DENYLIST"},
		{"", "WHITELIST_ENABLE_LOGGING", "ALLOWLIST_ENABLE_LOGGING"},
		{"", "BLACKLIST_ENABLE_LOGGING", "DENYLIST_ENABLE_LOGGING"},
		{"", "NONE", "NONE"},
	}
	for _, tt := range tests {
		t.Run(tt.pref+"/"+tt.strat, func(t *testing.T) {
			sp := &SecurityPolicy{ConnectivityPreference: tt.pref, ConnectivityStrategy: tt.strat}
			if got := EffectiveConnectivity(sp); got != tt.want {
				t.Errorf("EffectiveConnectivity = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCategoryOrder(t *testing.T) {
	if want := []string{"Ethernet", "Emergency", "Infrastructure", "Environment", "Application"}; !equalStrings(DFWCategories, want) {
		t.Errorf("DFWCategories = %q", DFWCategories)
	}
	if want := []string{"Emergency", "SystemRules", "SharedPreRules", "LocalGatewayRules", "AutoServiceRules", "Default"}; !equalStrings(GFWCategories, want) {
		t.Errorf("GFWCategories = %q", GFWCategories)
	}
}

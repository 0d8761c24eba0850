package model

import "testing"

func TestPlace(t *testing.T) {
	cfg := NewConfig()
	for _, tt := range []struct {
		path string
		obj  Object
	}{
		{"/infra/tier-1s/t1", &Tier1{}},
		{"/infra/services/s", &Service{ServiceEntries: ServiceEntryList{&IPProtocolServiceEntry{ProtocolNumber: new(int)}}}},
		{"/infra/domains/default/groups/g", &Group{}},
		{"/infra/domains/default/security-policies/p", &SecurityPolicy{}},
		{"/infra/domains/default/security-policies/p/rules/r", &Rule{}},
		{"/infra/domains/default/gateway-policies/gp", &GatewayPolicy{}},
		{"/infra/domains/default/gateway-policies/gp/rules/r", &Rule{}},
	} {
		ref, err := ParsePath(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		tt.obj.GetMeta().ID = ref.ID
		next, changes, err := cfg.Apply("", Place(ref, tt.obj, false))
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		if o, ok := next.Object(tt.path); !ok || o.Kind() != ref.Kind || len(changes) != 1 || changes[0].Path != tt.path {
			t.Fatalf("%s: placed at %v", tt.path, changes)
		}
		cfg = next
		del, _, err := cfg.Apply("", Place(ref, Stub(ref.Kind, ref.ID), true))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := del.Object(tt.path); ok {
			t.Fatalf("%s: not deleted", tt.path)
		}
	}
}

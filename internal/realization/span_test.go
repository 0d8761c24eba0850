package realization

import (
	"net/netip"
	"testing"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/policy"
)

// members serves fixed group contents.
type members map[string][]string

func (m members) IPSet(g string) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, a := range m[g] {
		if r, err := address.ParseRange(a); err == nil {
			b.AddRange(r)
		}
	}
	s, _ := b.IPSet()
	return s
}

func (m members) IPPorts(g string) []address.IPPort {
	var out []address.IPPort
	for _, a := range m[g] {
		if ap, err := netip.ParseAddrPort(a); err == nil {
			out = append(out, address.IPPort{Addr: ap.Addr(), Proto: address.TCP, Port: ap.Port()})
		}
	}
	return out
}

const doc = `
resource_type: Infra
children:
- {resource_type: ChildTier1, Tier1: {id: t1}}
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: vms, expression: [{resource_type: IPAddressExpression, ip_addresses: [172.16.0.0/24]}]}}
    - {resource_type: ChildGroup, Group: {id: k8s, expression: [{resource_type: IPAddressExpression, ip_addresses: [10.0.0.1]}]}}
    - resource_type: ChildGatewayPolicy
      GatewayPolicy:
        id: gw
        scope: [/infra/tier-1s/t1]
        rules:
        - {id: a, sequence_number: 1, source_groups: [/infra/domains/default/groups/k8s], destination_groups: [/infra/domains/default/groups/vms], action: ALLOW}
        - {id: b, sequence_number: 2, source_groups: [/infra/domains/default/groups/k8s, 192.0.2.1], destination_groups: [/infra/domains/default/groups/vms], action: DROP}
        - {id: c, sequence_number: 3, source_groups: [/infra/domains/default/groups/k8s], destination_groups: [/infra/domains/default/groups/vms], sources_excluded: true, action: REJECT}
    - resource_type: ChildSecurityPolicy
      SecurityPolicy:
        id: dfw
        scope: [/infra/domains/default/groups/vms]
        rules:
        - {id: out, source_groups: [/infra/domains/default/groups/vms], destination_groups: [/infra/domains/default/groups/k8s], direction: OUT, action: DROP}
        - {id: in, source_groups: [/infra/domains/default/groups/k8s], direction: IN, action: ALLOW}
`

func config(t *testing.T) *model.Config {
	t.Helper()
	docs, err := model.ParseDocument("doc.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	cfg := model.NewConfig()
	for _, d := range docs {
		if cfg, _, err = cfg.Apply("", d); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

const (
	vmsG = "/infra/domains/default/groups/vms"
	k8sG = "/infra/domains/default/groups/k8s"
)

func TestForGatewaySetsAreSharedAndNamedByWhatTheyHold(t *testing.T) {
	cfg := config(t)
	s := ForGateway(cfg, members{vmsG: {"172.16.0.0/24"}, k8sG: {"10.0.0.1", "10.0.0.9:30080", "10.0.0.1:30080"}}, 5, "/infra/tier-1s/t1")
	if len(s.Hooks) != 1 || len(s.Hooks[0].Rules) != 3 {
		t.Fatalf("hooks = %+v", s.Hooks)
	}
	r := s.Hooks[0].Rules
	// a and c name the same source: one set; b adds a literal: another.
	if r[0].Src.Set != r[2].Src.Set || r[0].Src.Set == r[1].Src.Set || !r[2].Src.Negate || r[0].Dst.Set != r[1].Dst.Set {
		t.Fatalf("endpoints: %+v", r)
	}
	if len(s.Sets) != 3 {
		t.Fatalf("%d sets, want 3", len(s.Sets))
	}
	k := s.Set(r[0].Src.Set)
	// 10.0.0.1:30080 is covered by 10.0.0.1 and left out.
	if len(k.Ranges) != 1 || len(k.IPPorts) != 1 || k.IPPorts[0].Addr != netip.MustParseAddr("10.0.0.9") {
		t.Fatalf("k8s set = %+v", k)
	}
	if k.Name != SetName([]string{k8sG}) || s.Set(r[1].Src.Set).Name != SetName([]string{k8sG, "192.0.2.1"}) {
		t.Fatal("set names do not follow what the sets name")
	}
	if r[2].Action != policy.ActionReject {
		t.Fatalf("action %v", r[2].Action)
	}
}

func TestForVMFollowsAppliedToAndDirection(t *testing.T) {
	cfg := config(t)
	m := members{vmsG: {"172.16.0.0/24"}, k8sG: {"10.0.0.1"}}
	in := ForVM(cfg, m, 1, "web-1", "", []netip.Addr{netip.MustParseAddr("172.16.0.5")})
	if len(in.Hooks) != 2 || len(in.Hooks[0].Rules) != 1 || in.Hooks[0].Rules[0].Path != "/infra/domains/default/security-policies/dfw/rules/in" ||
		len(in.Hooks[1].Rules) != 1 || in.Hooks[1].Rules[0].Path != "/infra/domains/default/security-policies/dfw/rules/out" {
		t.Fatalf("VM in scope: %+v", in.Hooks)
	}
	out := ForVM(cfg, m, 1, "other", "", []netip.Addr{netip.MustParseAddr("192.0.2.7")})
	if n, _ := out.Count(); n != 0 {
		t.Fatalf("a VM outside the scope got %d rules", n)
	}
}

func TestDiffAndApply(t *testing.T) {
	cfg := config(t)
	gw := "/infra/tier-1s/t1"
	a := ForGateway(cfg, members{vmsG: {"172.16.0.0/24"}, k8sG: {"10.0.0.1"}}, 1, gw)
	for _, tc := range []struct {
		name     string
		m        members
		elements int
		ok       bool
	}{
		{"same members", members{vmsG: {"172.16.0.0/24"}, k8sG: {"10.0.0.1"}}, 0, true},
		{"an address moves", members{vmsG: {"172.16.0.0/24"}, k8sG: {"10.0.0.2"}}, 4, true}, // two sets hold k8s (with and without the literal)
		{"a node port member appears", members{vmsG: {"172.16.0.0/24"}, k8sG: {"10.0.0.1", "10.0.0.7:30080"}}, 2, true},
		{"a range grows", members{vmsG: {"172.16.0.0/23"}, k8sG: {"10.0.0.1"}}, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := ForGateway(cfg, tc.m, 2, gw)
			d, ok := Diff(a, b)
			if ok != tc.ok {
				t.Fatalf("diff ok = %v", ok)
			}
			if d.Elements() != tc.elements {
				t.Errorf("%d element changes, want %d: %+v", d.Elements(), tc.elements, d.Changes)
			}
			got, err := a.Apply(d)
			if err != nil {
				t.Fatal(err)
			}
			if got.Digest != b.Digest || got.Revision != 2 {
				t.Errorf("applying the delta gave %s at %d, want %s", got.Digest, got.Revision, b.Digest)
			}
			if _, err := b.Apply(d); d.Elements() > 0 && err == nil {
				t.Error("a delta applied to a span it was not computed from")
			}
		})
	}
	// Rules change: no delta.
	cfg2 := config(t)
	delete(cfg2.Rules, "/infra/domains/default/gateway-policies/gw/rules/b")
	if _, ok := Diff(a, ForGateway(cfg2, members{vmsG: {"172.16.0.0/24"}, k8sG: {"10.0.0.1"}}, 3, gw)); ok {
		t.Error("a rule change was turned into element changes")
	}
}

// TestWithSetsEqualsRecompute: recomputing only the sets of a span from
// the new members (SetFor, WithSets) gives the span a whole recompute
// gives, with a delta that applies, and DiffElements agrees with Diff.
func TestWithSetsEqualsRecompute(t *testing.T) {
	cfg := config(t)
	gw := "/infra/tier-1s/t1"
	a := ForGateway(cfg, members{vmsG: {"172.16.0.0/24"}, k8sG: {"10.0.0.1"}}, 1, gw)
	for name, m := range map[string]members{
		"same members":       {vmsG: {"172.16.0.0/24"}, k8sG: {"10.0.0.1"}},
		"an address moves":   {vmsG: {"172.16.0.0/24"}, k8sG: {"10.0.0.2"}},
		"a node port member": {vmsG: {"172.16.0.0/24"}, k8sG: {"10.0.0.1", "10.0.0.7:30080"}},
		"a range grows":      {vmsG: {"172.16.0.0/23"}, k8sG: {"10.0.0.1"}},
		"a group empties":    {vmsG: {"172.16.0.0/24"}},
		"everything empties": {},
		"node port covered":  {vmsG: {"172.16.0.0/24"}, k8sG: {"10.0.0.1", "10.0.0.1:30080"}},
		"several at once":    {vmsG: {"172.16.1.0/24", "172.16.3.0/24"}, k8sG: {"10.0.0.3", "fd00::1"}},
	} {
		t.Run(name, func(t *testing.T) {
			want := ForGateway(cfg, m, 2, gw)
			var sets []Set
			for _, st := range a.Sets {
				sets = append(sets, SetFor(st.Names, m))
			}
			got, d := a.WithSets(sets, 2)
			if got.Digest != want.Digest {
				t.Fatalf("WithSets gave %s, a recompute %s", got.Digest, want.Digest)
			}
			if d == nil {
				if a.Digest != want.Digest {
					t.Fatal("no delta for a change")
				}
				return
			}
			applied, err := a.Apply(d)
			if err != nil || applied.Digest != want.Digest {
				t.Fatalf("the delta applied: %v, %v", applied, err)
			}
			full, _ := Diff(a, want)
			cheap, ok := DiffElements(a, got)
			if !ok || full.Elements() != d.Elements() || cheap.Elements() != d.Elements() {
				t.Fatalf("element changes: WithSets %d, Diff %d, DiffElements %d (%v)", d.Elements(), full.Elements(), cheap.Elements(), ok)
			}
		})
	}
}

package nft

import (
	"context"
	"net/netip"
	"testing"

	"go4.org/netipx"
	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/policy"
	"github.com/kordon-dev/kordon/internal/realization"
)

// moved serves the example memberships with one group's addresses
// replaced, as when an Egress IP is reassigned.
type moved struct {
	policy.Members
	group string
	to    []string
}

func (m moved) IPSet(g string) *netipx.IPSet {
	if g != m.group {
		return m.Members.IPSet(g)
	}
	var b netipx.IPSetBuilder
	for _, a := range m.to {
		r, _ := address.ParseRange(a)
		b.AddRange(r)
	}
	s, _ := b.IPSet()
	return s
}

const payments = "/infra/domains/default/groups/payments-egress"

func TestApplierMembershipChangeIsElements(t *testing.T) {
	cfg, idx := exampleConfig(t)
	ctx := context.Background()
	gw := "/infra/tier-1s/t1-edge"
	s1 := realization.ForGateway(cfg, idx, 1, gw)
	s2 := realization.ForGateway(cfg, moved{idx, payments, []string{"10.10.1.105"}}, 2, gw)
	s3 := realization.ForGateway(cfg, moved{idx, payments, []string{"10.10.1.105", "10.10.1.106-10.10.1.110"}}, 3, gw)
	// The group's first IPv6 address: its IPv6 set and the IPv6 lines of
	// its rules come into being, which element changes cannot do.
	s4 := realization.ForGateway(cfg, moved{idx, payments, []string{"10.10.1.105", "10.10.1.106-10.10.1.110", "fd00:10:10:1::100"}}, 4, gw)

	fake := knftables.NewFake(knftables.InetFamily, DefaultTable)
	a := NewApplier(fake)
	if res, err := a.Apply(ctx, s1); err != nil || !res.Full {
		t.Fatalf("first apply: %+v, %v; want a full replacement", res, err)
	}
	for _, tc := range []struct {
		span *realization.Span
		ops  int
		full bool
	}{{s2, 2, false}, {s3, 2, false}, {s4, 0, true}, {s3, 0, true}, {s1, 2, false}} { // adjacent addresses merge into one range element
		res, err := a.Apply(ctx, tc.span)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case tc.full && !res.Full:
			t.Errorf("revision %d: %+v, want a replacement (an IPv6 set appears or goes)", tc.span.Revision, res)
		case !tc.full && (res.Full || res.Ops != tc.ops):
			t.Errorf("revision %d: %+v, want %d element operations and no replacement", tc.span.Revision, res, tc.ops)
		}
		want := fakeApply(t, knftables.NewFake(knftables.InetFamily, DefaultTable), func(tx *knftables.Transaction) { Render(tx, Compile(tc.span)) })
		if got := fake.Dump(); got != want {
			t.Errorf("revision %d: the table after element changes differs from a fresh one:\n%s\nwant:\n%s", tc.span.Revision, got, want)
		}
	}
	if res, err := a.Apply(ctx, s1); err != nil || res.Ops != 0 {
		t.Errorf("applying the same span again: %+v, %v; want nothing done", res, err)
	}
	// Rules change: the table is replaced.
	vm := realization.ForVM(cfg, idx, 4, "app-1", "", []netip.Addr{addr("172.16.20.10")})
	if res, err := a.Apply(ctx, vm); err != nil || !res.Full {
		t.Errorf("new rules: %+v, %v; want a full replacement", res, err)
	}
}

func TestApplierFailedTransactionResyncs(t *testing.T) {
	cfg, idx := exampleConfig(t)
	ctx := context.Background()
	gw := "/infra/tier-1s/t1-edge"
	s1 := realization.ForGateway(cfg, idx, 1, gw)
	s2 := realization.ForGateway(cfg, moved{idx, payments, []string{"10.10.1.105"}}, 2, gw)
	fake := knftables.NewFake(knftables.InetFamily, DefaultTable)
	a := NewApplier(fake)
	if _, err := a.Apply(ctx, s1); err != nil {
		t.Fatal(err)
	}
	// Someone removed an element behind the agent's back: the delta's
	// removal fails, and nothing of the transaction is applied.
	tx := fake.NewTransaction()
	tx.Delete(&knftables.Element{Set: "e9e870e7eb945_4", Key: []string{"10.10.1.100", "0-255", "0-65535"}})
	if err := fake.Run(ctx, tx); err != nil {
		t.Fatal(err)
	}
	before := fake.Dump()
	if _, err := a.Apply(ctx, s2); err == nil {
		t.Fatal("the delta applied to a table that did not hold its elements")
	}
	if fake.Dump() != before {
		t.Error("a failed transaction changed the table")
	}
	if a.Current() != nil {
		t.Error("after a failure the applier still trusts the table")
	}
	res, err := a.Apply(ctx, s2)
	if err != nil || !res.Full {
		t.Fatalf("after a failure: %+v, %v; want a full replacement", res, err)
	}
	want := fakeApply(t, knftables.NewFake(knftables.InetFamily, DefaultTable), func(tx *knftables.Transaction) { Render(tx, Compile(s2)) })
	if fake.Dump() != want {
		t.Error("the resynchronised table differs from a fresh one")
	}
}

func TestUninstall(t *testing.T) {
	cfg, idx := exampleConfig(t)
	ctx := context.Background()
	fake := knftables.NewFake(knftables.InetFamily, DefaultTable)
	if err := Uninstall(ctx, fake); err != nil {
		t.Fatalf("uninstalling nothing: %v", err)
	}
	if _, err := NewApplier(fake).Apply(ctx, realization.ForGateway(cfg, idx, 1, "/infra/tier-1s/t1-edge")); err != nil {
		t.Fatal(err)
	}
	if err := Uninstall(ctx, fake); err != nil {
		t.Fatal(err)
	}
	if d := fake.Dump(); d != "" {
		t.Errorf("after uninstall the table holds:\n%s", d)
	}
}

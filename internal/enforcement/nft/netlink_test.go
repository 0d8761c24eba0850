package nft

import (
	"bytes"
	"net/netip"
	"testing"

	"go4.org/netipx"
	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/realization"
)

func TestNetlinkElements(t *testing.T) {
	d := &realization.Delta{Changes: []realization.SetChange{{
		Set:           "s1",
		RemovedRanges: []netipx.IPRange{netipx.MustParseIPRange("10.0.0.0-10.0.0.255")},
		AddedRanges:   []netipx.IPRange{netipx.MustParseIPRange("fd00::1-fd00::5")},
		AddedIPPorts:  []address.IPPort{{Addr: netip.MustParseAddr("10.1.2.3"), Proto: address.UDP, Port: 0x1234}},
	}}}
	ops, n := deltaOps(d)
	if n != 3 || len(ops) != 2 {
		t.Fatalf("%d changes in %+v", n, ops)
	}
	v4, v6 := ops[0], ops[1]
	if v4.Set != "s1_4" || v6.Set != "s1_6" {
		t.Fatalf("sets %q %q", v4.Set, v6.Set)
	}
	want := []binElement{{Key: []byte{10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, KeyEnd: []byte{10, 0, 0, 255, 255, 0, 0, 0, 0xff, 0xff, 0, 0}}}
	check := func(what string, got, want []binElement) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
		for i := range got {
			if !bytes.Equal(got[i].Key, want[i].Key) || !bytes.Equal(got[i].KeyEnd, want[i].KeyEnd) {
				t.Errorf("%s %d: %v, want %v", what, i, got[i], want[i])
			}
		}
	}
	check("removed IPv4", v4.Removed, want)
	k := []byte{10, 1, 2, 3, 17, 0, 0, 0, 0x12, 0x34, 0, 0}
	check("added IPv4", v4.Added, []binElement{{Key: k, KeyEnd: k}})
	from := append(netip.MustParseAddr("fd00::1").AsSlice(), 0, 0, 0, 0, 0, 0, 0, 0)
	to := append(netip.MustParseAddr("fd00::5").AsSlice(), 255, 0, 0, 0, 0xff, 0xff, 0, 0)
	check("added IPv6", v6.Added, []binElement{{Key: from, KeyEnd: to}})
}

// The Fake keeps element changes on knftables: unit tests read them
// there.
func TestFakeNotNetlink(t *testing.T) {
	if a := NewApplier(knftables.NewFake(knftables.InetFamily, DefaultTable)); a.netlink != "" {
		t.Fatalf("netlink on a Fake: %q", a.netlink)
	}
}

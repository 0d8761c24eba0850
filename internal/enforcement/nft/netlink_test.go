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
	ops, n := deltaOps(d, map[string]bool{"s1_4": true, "s1_6": true}, nil)
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

// A class map's single address is one element of its exact-match map; a
// range is the interval map's start, with the verdict, and the end after
// it, but for a range that reaches the family's last address.
func TestNetlinkClassElements(t *testing.T) {
	m := &ClassMap{Name: "c"}
	for _, tc := range []struct {
		r    string
		set  string
		want []binElement
	}{
		{"10.0.0.1-10.0.0.1", "c_a", []binElement{{Key: []byte{10, 0, 0, 1}, Goto: "x"}}},
		{"10.0.0.1-10.0.0.7", "c", []binElement{{Key: []byte{10, 0, 0, 1}, Goto: "x"}, {Key: []byte{10, 0, 0, 8}, End: true}}},
		{"255.255.255.0-255.255.255.255", "c", []binElement{{Key: []byte{255, 255, 255, 0}, Goto: "x"}}},
		{"fd00::1-fd00::2", "c", []binElement{{Key: netip.MustParseAddr("fd00::1").AsSlice(), Goto: "x"}, {Key: netip.MustParseAddr("fd00::3").AsSlice(), End: true}}},
	} {
		e := ClassElement{Range: netipx.MustParseIPRange(tc.r), Chain: "x"}
		ops, n := deltaOps(&realization.Delta{}, nil, []classChange{{Map: m, Added: []ClassElement{e}}})
		if n != 1 || len(ops) != 1 || ops[0].Set != tc.set {
			t.Fatalf("%s: %d changes in %+v, want one in %s", tc.r, n, ops, tc.set)
		}
		got := ops[0].Added
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %+v, want %+v", tc.r, got, tc.want)
		}
		for i := range got {
			if !bytes.Equal(got[i].Key, tc.want[i].Key) || got[i].End != tc.want[i].End || got[i].Goto != tc.want[i].Goto || got[i].KeyEnd != nil {
				t.Errorf("%s: element %d: %+v, want %+v", tc.r, i, got[i], tc.want[i])
			}
		}
	}
}

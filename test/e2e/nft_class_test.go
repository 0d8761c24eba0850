package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/enforcement/nft"
	"github.com/kordon-dev/kordon/internal/policy"
	"github.com/kordon-dev/kordon/internal/realization"
)

// classSpan is a gateway span of rules that differ by source group,
// long enough to be classed: 36 rules for networks no probe comes from,
// then the rules the probes meet (sets a, b, c, d), then a catch-all.
func classSpan(members map[string][]string) *realization.Span {
	const pol = "/infra/domains/default/gateway-policies/p"
	s := &realization.Span{Point: "/infra/tier-1s/t", Role: realization.RoleGateway, Revision: 1}
	set := func(name string, ms ...string) {
		var b netipx.IPSetBuilder
		for _, m := range ms {
			r, err := address.ParseRange(m)
			if err != nil {
				panic(err)
			}
			b.AddRange(r)
		}
		ips, _ := b.IPSet()
		s.Sets = append(s.Sets, realization.Set{Name: name, Names: []string{"/infra/domains/default/groups/" + name}, Ranges: ips.Ranges()})
	}
	h := realization.Hook{Name: realization.HookForward}
	rule := func(name string, a policy.Action, src realization.Endpoint, svc []realization.Service) {
		h.Rules = append(h.Rules, realization.Rule{Path: pol + "/rules/" + name, Policy: pol, Action: a, V4: true, V6: true,
			Src: src, Dst: realization.Endpoint{Any: true}, Services: svc})
	}
	tcp := func(port uint16) []realization.Service {
		return []realization.Service{{Proto: address.TCP, DstPorts: []address.PortRange{{From: port, To: port}}}}
	}
	for i := range 36 {
		name := fmt.Sprintf("n%02d", i)
		set(name, fmt.Sprintf("10.9.%d.0/24", i))
		rule(name, policy.ActionAllow, realization.Endpoint{Set: name}, tcp(80))
	}
	for _, name := range []string{"a", "b", "c", "d"} {
		set(name, members[name]...)
	}
	rule("a", policy.ActionAllow, realization.Endpoint{Set: "a"}, tcp(80))
	rule("b", policy.ActionDrop, realization.Endpoint{Set: "b"}, tcp(80))
	rule("c", policy.ActionReject, realization.Endpoint{Set: "c"}, nil)
	rule("not-d", policy.ActionAllow, realization.Endpoint{Set: "d", Negate: true}, tcp(81))
	rule("rest", policy.ActionDrop, realization.Endpoint{Any: true}, nil)
	slices.SortFunc(s.Sets, func(x, y realization.Set) int { return strings.Compare(x.Name, y.Name) })
	s.Hooks = []realization.Hook{h}
	s.Rehash()
	return s
}

// TestClassMapRealPackets installs a ruleset whose rules are classed by
// source address on a real kernel, in a gateway namespace, and sends TCP
// through it from addresses of each class and of none; then a membership
// change moves an address to another class through netlink, as element
// operations, and its packets follow.
func TestClassMapRealPackets(t *testing.T) {
	needNFTables(t)
	members := map[string][]string{"a": {"10.1.0.2", "10.1.0.12"}, "b": {"10.1.0.3", "10.1.0.13", "10.1.0.23"}, "c": {"10.1.0.4"}, "d": {"10.1.0.3", "10.1.0.5", "10.1.0.23"}}
	span := classSpan(members)
	if p := nft.Compile(span); len(p.ClassMaps) != 1 || !p.ClassMaps[0].Src {
		t.Fatalf("the span is not classed by source (%d class maps); the test would prove nothing", len(p.ClassMaps))
	}
	p := fmt.Sprintf("kc%d", os.Getpid()%100000)
	cl, gw, sv := newNetNS(t, p+"-c"), newNetNS(t, p+"-g"), newNetNS(t, p+"-s")
	for _, c := range [][]string{
		{"-n", gw.name, "link", "add", "c0", "type", "veth", "peer", "name", "e0", "netns", cl.name},
		{"-n", gw.name, "link", "add", "s0", "type", "veth", "peer", "name", "e0", "netns", sv.name},
		{"-n", gw.name, "addr", "add", "10.1.0.1/24", "dev", "c0"}, {"-n", gw.name, "addr", "add", "10.2.0.1/24", "dev", "s0"},
		{"-n", gw.name, "link", "set", "c0", "up"}, {"-n", gw.name, "link", "set", "s0", "up"},
		{"-n", cl.name, "addr", "add", "10.1.0.2/24", "dev", "e0"}, {"-n", cl.name, "link", "set", "e0", "up"},
		{"-n", cl.name, "addr", "add", "10.1.0.3/24", "dev", "e0"}, {"-n", cl.name, "addr", "add", "10.1.0.4/24", "dev", "e0"},
		{"-n", cl.name, "addr", "add", "10.1.0.5/24", "dev", "e0"}, {"-n", cl.name, "addr", "add", "10.1.0.6/24", "dev", "e0"},
		{"-n", cl.name, "route", "add", "default", "via", "10.1.0.1"},
		{"-n", sv.name, "addr", "add", "10.2.0.2/24", "dev", "e0"}, {"-n", sv.name, "link", "set", "e0", "up"},
		{"-n", sv.name, "route", "add", "default", "via", "10.2.0.1"},
	} {
		ipCmd(t, c...)
	}
	if out, err := exec.Command("ip", "netns", "exec", gw.name, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		t.Fatalf("enabling forwarding: %v\n%s", err, out)
	}
	sv.serveTCP(t, 80, 81)
	ctx := context.Background()
	a, listing := gw.install(t, span)
	if !strings.Contains(listing, "ip saddr vmap @forward_rules_cs4") || !strings.Contains(listing, "10.1.0.2 : goto forward_rules_cs4_") {
		t.Fatalf("the kernel's ruleset has no class map:\n%s", listing)
	}
	const src, dst = "10.1.0.2", "10.2.0.2"
	expect(t, 10*time.Second, []probeCase{
		{"a allows TCP 80", cl, "10.1.0.2", dst, "tcp", 80, allowed},
		{"b drops TCP 80", cl, "10.1.0.3", dst, "tcp", 80, dropped},
		{"c rejects anything", cl, "10.1.0.4", dst, "tcp", 80, rejected},
		{"outside d: allowed on TCP 81", cl, "10.1.0.2", dst, "tcp", 81, allowed},
		{"in d: the catch-all drops TCP 81", cl, "10.1.0.5", dst, "tcp", 81, dropped},
		{"in no set (its own class): not-d allows TCP 81", cl, "10.1.0.6", dst, "tcp", 81, allowed},
		{"in no set: the catch-all drops TCP 80", cl, "10.1.0.6", dst, "tcp", 80, dropped},
	})

	// 10.1.0.3 moves from b and d to a: to the class of 10.1.0.2, next
	// to it; its old class keeps 10.1.0.23. So the classes stay and the
	// change is element operations only.
	members["a"] = []string{"10.1.0.2", "10.1.0.3", "10.1.0.12"}
	members["b"] = []string{"10.1.0.13", "10.1.0.23"}
	members["d"] = []string{"10.1.0.5", "10.1.0.23"}
	next := classSpan(members)
	if err := gw.in(func() error {
		res, err := a.Apply(ctx, next)
		if err != nil {
			return err
		}
		if res.Full || !res.Netlink || res.Fallback != nil {
			return fmt.Errorf("the membership change gave %+v, want element operations through netlink", res)
		}
		out, err := exec.Command("nft", "list", "map", "inet", nft.DefaultTable, "forward_rules_cs4").CombinedOutput()
		listing = string(out)
		return err
	}); err != nil {
		t.Fatalf("%v\n%s", err, listing)
	}
	if !strings.Contains(listing, "10.1.0.2/31 : goto") {
		t.Errorf("the class map does not hold 10.1.0.2-10.1.0.3 (10.1.0.2/31) as one element:\n%s", listing)
	}
	expect(t, 10*time.Second, []probeCase{
		{"10.1.0.3, now in a, is allowed on TCP 80", cl, "10.1.0.3", dst, "tcp", 80, allowed},
		{"a still allows 10.1.0.2", cl, src, dst, "tcp", 80, allowed},
		{"10.1.0.3 left d: not-d allows TCP 81", cl, "10.1.0.3", dst, "tcp", 81, allowed},
		{"10.1.0.5 is still in d: dropped on TCP 81", cl, "10.1.0.5", dst, "tcp", 81, dropped},
	})
}

// TestEnforceClassDeltas applies random membership changes on the real
// kernel to a table whose rules are classed, on both families and both
// sides, and checks after each that the kernel's table is what a fresh
// install of the span gives: class map elements go through netlink (a
// range as the start and end elements of the kernel's interval tree, a
// single address in the exact-match map), one change in three through
// nft.
func TestEnforceClassDeltas(t *testing.T) {
	needNFTables(t)
	rnd := seeded(t)
	var pool []netipx.IPRange
	for _, m := range []string{"10.0.0.0/24", "10.0.0.0/28", "10.0.0.16/28", "10.0.0.5", "10.0.0.6", "10.0.0.7-10.0.0.40", "10.0.1.0/30",
		"10.0.1.4", "10.0.2.0/23", "10.0.3.255", "255.255.255.0/24", "fd00::/120", "fd00::5", "fd00::6-fd00::20", "fd00:1::/64", "ffff::/16"} {
		r, err := address.ParseRange(m)
		if err != nil {
			t.Fatal(err)
		}
		pool = append(pool, r)
	}
	// Each set keeps an IPv4 and an IPv6 address of its own, so that
	// no change gives a set its first or takes its last address of a
	// family (that replaces the table, tested elsewhere).
	draw := func(i int, ranges []netipx.IPRange, toggle bool) []netipx.IPRange {
		var b netipx.IPSetBuilder
		b.Add(netip.AddrFrom4([4]byte{10, 8, 0, byte(i)}))
		b.Add(netip.AddrFrom16([16]byte{0: 0xfd, 1: 0x08, 15: byte(i)}))
		if toggle {
			for _, r := range ranges {
				b.AddRange(r)
			}
			// Mostly addresses of the set's own, so that its class
			// stays; else a shared member (classes come and go).
			r := pool[rnd.IntN(len(pool))]
			switch rnd.IntN(4) {
			case 0:
			case 1:
				a := netip.AddrFrom16([16]byte{0: 0xfd, 1: 0x07, 13: byte(i), 15: byte(rnd.IntN(16) * 4)})
				r = netipx.IPRangeFrom(a, a.Next())
			default:
				r = netipx.IPRangeFrom(netip.AddrFrom4([4]byte{10, 7, byte(i), byte(rnd.IntN(32) * 4)}), netip.AddrFrom4([4]byte{10, 7, byte(i), byte(rnd.IntN(32)*4 + 2)}))
			}
			if rnd.IntN(2) == 0 {
				b.AddRange(r)
			} else {
				b.RemoveRange(r)
				b.Add(netip.AddrFrom4([4]byte{10, 8, 0, byte(i)}))
				b.Add(netip.AddrFrom16([16]byte{0: 0xfd, 1: 0x08, 15: byte(i)}))
			}
		} else {
			for _, r := range pool {
				if rnd.IntN(4) == 0 {
					b.AddRange(r)
				}
			}
		}
		ips, _ := b.IPSet()
		return ips.Ranges()
	}
	const pol = "/infra/domains/default/gateway-policies/p"
	s1 := &realization.Span{Point: "/infra/tier-1s/t", Role: realization.RoleGateway, Revision: 1}
	for i := range 10 {
		name := fmt.Sprintf("s%02d", i)
		s1.Sets = append(s1.Sets, realization.Set{Name: name, Names: []string{"/infra/domains/default/groups/" + name}, Ranges: draw(i, nil, false)})
	}
	// The head's rules differ by source, the rest's by destination; an
	// assignment of sets to rules whose classes do not pay on both sides
	// is drawn again.
	sides := map[bool]bool{}
	for tries := 0; len(sides) != 2 && tries < 50; tries++ {
		var rules []realization.Rule
		for i := range 48 {
			ru := realization.Rule{Path: fmt.Sprintf("%s/rules/r%d", pol, i), Policy: pol, Action: []policy.Action{policy.ActionAllow, policy.ActionDrop}[i%2], V4: true, V6: true,
				Src: realization.Endpoint{Any: true}, Dst: realization.Endpoint{Any: true},
				Services: []realization.Service{{Proto: address.TCP, DstPorts: []address.PortRange{{From: uint16(80 + i%3), To: uint16(80 + i%3)}}}}}
			e := realization.Endpoint{Set: fmt.Sprintf("s%02d", rnd.IntN(10)), Negate: i%11 == 5}
			if i < 24 {
				ru.Src = e
			} else {
				ru.Dst = e
			}
			rules = append(rules, ru)
		}
		s1.Hooks = []realization.Hook{{Name: realization.HookForward, AppStart: 24, Rules: rules}}
		s1.Rehash()
		clear(sides)
		for _, m := range nft.Compile(s1).ClassMaps {
			sides[m.Src] = true
		}
	}
	if len(sides) != 2 {
		t.Fatal("the table has no class map on each side; the test would prove little")
	}

	ns := newNetNS(t, fmt.Sprintf("kd%d", os.Getpid()%100000))
	err := ns.in(func() error {
		ctx := context.Background()
		a, check, err := installChecked(ctx, t, s1)
		if err != nil {
			return err
		}
		cur := s1
		elements, throughNFT, replaced := 0, 0, 0
		for step := range 60 {
			var sets []realization.Set
			toggle := rnd.IntN(len(cur.Sets))
			for i, st := range cur.Sets {
				switch {
				case step%4 != 3 && i == toggle:
					st.Ranges = draw(i, st.Ranges, true)
				case step%4 == 3 && rnd.IntN(4) == 0:
					st.Ranges = draw(i, nil, false)
				default:
					continue
				}
				sets = append(sets, st)
			}
			next, d := cur.WithSets(sets, cur.Revision+1)
			if d == nil {
				continue
			}
			// One change in three goes through nft, which must leave
			// the same table.
			viaNetlink := step%3 != 2
			if viaNetlink {
				a.UseNetlink(nft.DefaultTable)
			} else {
				a.UseNetlink("")
			}
			res, err := a.ApplyDelta(ctx, d, nil)
			if err != nil {
				return fmt.Errorf("step %d: %w", step, err)
			}
			switch {
			case res.Full:
				replaced++
			case res.Netlink != viaNetlink || res.Fallback != nil:
				t.Fatalf("step %d: %+v, want element changes through netlink %v", step, res, viaNetlink)
			case viaNetlink:
				elements++
			default:
				throughNFT++
			}
			check(fmt.Sprintf("step %d (%+v)", step, res), next)
			cur = next
		}
		t.Logf("%d changes as netlink element operations, %d through nft, %d replaced the table (a class appeared or went)", elements, throughNFT, replaced)
		if elements == 0 || throughNFT == 0 {
			t.Error("no change was element operations: the test proves nothing of them")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

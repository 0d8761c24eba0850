package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/enforcement/nft"
	"github.com/kordon-dev/kordon/internal/policy"
	"github.com/kordon-dev/kordon/internal/realization"
)

// dispatchSpan is a gateway span whose forward rules dispatch on
// protocol and port: 40 rules for TCP (or UDP, every fifth) port 1000+i,
// every seventh rejecting, then a catch-all that drops.
func dispatchSpan() *realization.Span {
	const pol = "/infra/domains/default/gateway-policies/p"
	s := &realization.Span{Point: "/infra/tier-1s/t", Role: realization.RoleGateway, Revision: 1}
	h := realization.Hook{Name: realization.HookForward}
	for i := range 40 {
		p := address.TCP
		if i%5 == 4 {
			p = address.UDP
		}
		a := policy.ActionAllow
		if i%7 == 6 {
			a = policy.ActionReject
		}
		port := uint16(1000 + i)
		h.Rules = append(h.Rules, realization.Rule{Path: fmt.Sprintf("%s/rules/r%d", pol, i), Policy: pol, Action: a, V4: true, V6: true,
			Src: realization.Endpoint{Any: true}, Dst: realization.Endpoint{Any: true},
			Services: []realization.Service{{Proto: p, DstPorts: []address.PortRange{{From: port, To: port}}}}})
	}
	h.Rules = append(h.Rules, realization.Rule{Path: pol + "/rules/rest", Policy: pol, Action: policy.ActionDrop, V4: true, V6: true,
		Src: realization.Endpoint{Any: true}, Dst: realization.Endpoint{Any: true}})
	s.Hooks = []realization.Hook{h}
	s.Rehash()
	return s
}

// TestDispatchRealPackets installs a ruleset whose rules are dispatched
// through a verdict map on a real kernel, in a gateway namespace, and
// sends TCP and UDP through it: each port gets its rule's verdict, and
// ports no rule names reach the catch-all after the map.
func TestDispatchRealPackets(t *testing.T) {
	needNFTables(t)
	span := dispatchSpan()
	if p := nft.Compile(span); len(p.Maps) == 0 {
		t.Fatal("the span is not dispatched; the test would prove nothing")
	}
	p := fmt.Sprintf("kx%d", os.Getpid()%100000)
	cl, gw, sv := newNetNS(t, p+"-c"), newNetNS(t, p+"-g"), newNetNS(t, p+"-s")
	for _, c := range [][]string{
		{"-n", gw.name, "link", "add", "c0", "type", "veth", "peer", "name", "e0", "netns", cl.name},
		{"-n", gw.name, "link", "add", "s0", "type", "veth", "peer", "name", "e0", "netns", sv.name},
		{"-n", gw.name, "addr", "add", "10.1.0.1/24", "dev", "c0"}, {"-n", gw.name, "addr", "add", "10.2.0.1/24", "dev", "s0"},
		{"-n", gw.name, "link", "set", "c0", "up"}, {"-n", gw.name, "link", "set", "s0", "up"},
		{"-n", cl.name, "addr", "add", "10.1.0.2/24", "dev", "e0"}, {"-n", cl.name, "link", "set", "e0", "up"},
		{"-n", cl.name, "route", "add", "default", "via", "10.1.0.1"},
		{"-n", sv.name, "addr", "add", "10.2.0.2/24", "dev", "e0"}, {"-n", sv.name, "link", "set", "e0", "up"},
		{"-n", sv.name, "route", "add", "default", "via", "10.2.0.1"},
	} {
		ipCmd(t, c...)
	}
	if out, err := exec.Command("ip", "netns", "exec", gw.name, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		t.Fatalf("enabling forwarding: %v\n%s", err, out)
	}
	sv.serveTCP(t, 1003, 1004, 1006, 1009)
	sv.serveUDP(t, 1004, 1005)
	_, listing := gw.install(t, span)
	if !strings.Contains(listing, "vmap @forward_rules_d0") || !strings.Contains(listing, "tcp . 1003 : jump forward_rules_d0_b") {
		t.Fatalf("the kernel's ruleset has no dispatch map:\n%s", listing)
	}
	expect(t, 10*time.Second, []probeCase{
		{"rule r3 allows TCP 1003", cl, "10.1.0.2", "10.2.0.2", "tcp", 1003, allowed},
		{"no rule of the map names TCP 1004: the catch-all drops", cl, "10.1.0.2", "10.2.0.2", "tcp", 1004, dropped},
		{"rule r6 rejects TCP 1006", cl, "10.1.0.2", "10.2.0.2", "tcp", 1006, rejected},
		{"rule r9 (UDP) does not match TCP 1009: dropped", cl, "10.1.0.2", "10.2.0.2", "tcp", 1009, dropped},
		{"rule r4 allows UDP 1004", cl, "10.1.0.2", "10.2.0.2", "udp", 1004, allowed},
		{"UDP 1005 is TCP's rule: dropped", cl, "10.1.0.2", "10.2.0.2", "udp", 1005, dropped},
	})
}

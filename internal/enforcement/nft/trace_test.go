package nft

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/classbench"
	"github.com/kordon-dev/kordon/internal/policy"
	"github.com/kordon-dev/kordon/internal/realization"
)

const (
	gfw = "/infra/domains/default/gateway-policies/"
	dfw = "/infra/domains/default/security-policies/"
)

func flow(src, dst string, p address.Proto, dport uint16) policy.Flow {
	return policy.Flow{Src: addr(src), Dst: addr(dst), Proto: p, SrcPort: 40000, DstPort: dport}
}

// TestPacketTable: the seed's scenarios on the examples, decided by the
// generated ruleset as the table says and as the evaluator does.
func TestPacketTable(t *testing.T) {
	cfg, idx := exampleConfig(t)
	gw := realization.ForGateway(cfg, idx, 1, "/infra/tier-1s/t1-edge")
	vmAddrs := []netip.Addr{addr("172.16.20.10"), addr("fd00:172:16:20::10")}
	vm := realization.ForVM(cfg, idx, 1, "app-1", "", vmAddrs)
	for _, tc := range []struct {
		name    string
		span    *realization.Span
		hook    string
		f       policy.Flow
		verdict policy.Verdict
		rule    string
	}{
		{"egress IP to db on postgres", gw, realization.HookForward, flow("10.10.1.100", "172.16.10.5", address.TCP, 5432), policy.Allow, gfw + "k8s-to-vms/rules/payments-to-db"},
		{"egress IP to db on ssh", gw, realization.HookForward, flow("10.10.1.100", "172.16.10.5", address.TCP, 22), policy.Drop, gfw + "edge-default/rules/deny-k8s-to-vms"},
		{"routable pool address to db", gw, realization.HookForward, flow("10.20.0.7", "172.16.10.5", address.TCP, 5432), policy.Allow, gfw + "k8s-to-vms/rules/pools-to-db"},
		{"node IP to db (SNAT to the node)", gw, realization.HookForward, flow("10.10.1.11", "172.16.10.5", address.TCP, 5432), policy.Drop, gfw + "k8s-to-vms/rules/nodes-to-db"},
		{"IPv6 node IP to an app VM", gw, realization.HookForward, flow("fd00:10:10:1::11", "fd00:172:16:20::10", address.TCP, 22), policy.Drop, gfw + "edge-default/rules/deny-k8s-to-vms"},
		{"west node metrics to app VMs", gw, realization.HookForward, flow("10.30.1.11", "172.16.20.15", address.UDP, 9125), policy.Allow, gfw + "k8s-to-vms/rules/west-metrics"},
		{"k8s to admin ssh is rejected", gw, realization.HookForward, flow("10.10.1.12", "172.16.30.5", address.TCP, 22), policy.Reject, gfw + "k8s-to-vms/rules/k8s-to-admin"},
		{"unrelated traffic passes the gateway", gw, realization.HookForward, flow("192.0.2.1", "198.51.100.1", address.TCP, 80), policy.Allow, ""},
		{"app VM to LoadBalancer VIP on https", vm, realization.HookOut, flow("172.16.20.10", "192.168.50.10", address.TCP, 443), policy.Allow, dfw + "vms-to-k8s/rules/app-to-frontend"},
		{"app VM to NodePort", vm, realization.HookOut, flow("172.16.20.10", "10.10.1.12", address.TCP, 30080), policy.Allow, dfw + "vms-to-k8s/rules/app-to-catalog"},
		{"app VM to node on another port", vm, realization.HookOut, flow("172.16.20.10", "10.10.1.12", address.TCP, 30081), policy.Allow, ""},
		{"app VM to NodePortLocal", vm, realization.HookOut, flow("172.16.20.10", "10.10.1.11", address.TCP, 61001), policy.Allow, dfw + "vms-to-k8s/rules/app-to-cart"},
		{"compromised host is dropped first", vm, realization.HookIn, flow("203.0.113.66", "172.16.20.10", address.TCP, 22), policy.Drop, dfw + "emergency/rules/block-compromised"},
		{"IPv6 app VM to VIP on ssh", vm, realization.HookOut, flow("fd00:172:16:20::10", "fd00:10:10:1::11", address.TCP, 22), policy.Allow, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, rule := NewTracer(Compile(tc.span)).Trace(tc.hook, tc.f)
			if v != tc.verdict || rule != tc.rule {
				t.Errorf("nftables: %s by %q, want %s by %q", v, rule, tc.verdict, tc.rule)
			}
			ev, erule := evaluate(t, tc.span, tc.hook, cfgRuleset(t, tc.span, tc.hook), tc.f)
			if ev != v || erule != rule {
				t.Errorf("evaluator: %s by %q, nftables %s by %q", ev, erule, v, rule)
			}
		})
	}
}

func cfgRuleset(t *testing.T, s *realization.Span, hook string) *policy.Ruleset {
	t.Helper()
	cfg, idx := exampleConfig(t)
	if s.Role == realization.RoleGateway {
		return policy.Compile(cfg, idx, policy.Point{Gateway: s.Point})
	}
	covers := func(scope []string) bool { return true }
	d := policy.In
	if hook == realization.HookOut {
		d = policy.Out
	}
	return policy.Compile(cfg, idx, policy.Point{AppliedTo: covers, Direction: d})
}

func evaluate(t *testing.T, _ *realization.Span, _ string, rs *policy.Ruleset, f policy.Flow) (policy.Verdict, string) {
	t.Helper()
	d := rs.Evaluate(f)
	if d.Rule == nil {
		return d.Verdict, ""
	}
	return d.Verdict, d.Rule.Path
}

// TestEquivalenceExamples decides every combination of the examples'
// addresses, services and ports with the generated ruleset and with the
// evaluator.
func TestEquivalenceExamples(t *testing.T) {
	cfg, idx := exampleConfig(t)
	var addrs []netip.Addr
	gw := realization.ForGateway(cfg, idx, 1, "/infra/tier-1s/t1-edge")
	vm := realization.ForVM(cfg, idx, 1, "app-1", "", []netip.Addr{addr("172.16.20.10")})
	for _, s := range []*realization.Span{gw, vm} {
		for _, st := range s.Sets {
			for _, r := range st.Ranges {
				addrs = append(addrs, r.From(), r.To(), r.From().Prev(), r.To().Next())
			}
			for _, m := range st.IPPorts {
				addrs = append(addrs, m.Addr)
			}
		}
	}
	addrs = append(addrs, addr("203.0.113.66"), addr("192.0.2.1"), addr("2001:db8::1"))
	type svc struct {
		p    address.Proto
		port uint16
	}
	svcs := []svc{{address.TCP, 5432}, {address.TCP, 22}, {address.TCP, 443}, {address.TCP, 80}, {address.TCP, 30080}, {address.TCP, 61001},
		{address.TCP, 61002}, {address.UDP, 9125}, {address.UDP, 30125}, {address.UDP, 53}, {address.ICMP, 8}, {address.ICMPv6, 128}, {47, 0}}
	n := 0
	for _, c := range []struct {
		span *realization.Span
		hook string
	}{{gw, realization.HookForward}, {vm, realization.HookIn}, {vm, realization.HookOut}} {
		tr := NewTracer(Compile(c.span))
		rs := cfgRuleset(t, c.span, c.hook)
		for _, s := range addrs {
			for _, d := range addrs {
				if s.Is4() != d.Is4() {
					continue
				}
				for _, sv := range svcs {
					if sv.p == address.ICMP && !s.Is4() || sv.p == address.ICMPv6 && s.Is4() {
						continue
					}
					f := policy.Flow{Src: s, Dst: d, Proto: sv.p, SrcPort: 40000, DstPort: sv.port}
					v, rule := tr.Trace(c.hook, f)
					ev, erule := evaluate(t, c.span, c.hook, rs, f)
					n++
					if v != ev || rule != erule {
						t.Fatalf("%s at %s: nftables %s by %q, evaluator %s by %q", f, c.hook, v, rule, ev, erule)
					}
				}
			}
		}
	}
	t.Logf("%d flows agree", n)
}

// TestEquivalenceClassBench holds the generated ruleset to the evaluator
// on flows generated from the ClassBench filter sets.
func TestEquivalenceClassBench(t *testing.T) {
	for _, name := range []string{"ipc1_1k", "acl1_10k", "fw1_10k"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("..", "..", "classbench", "testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rules, err := classbench.Parse(f)
			if err != nil {
				t.Fatal(err)
			}
			c, err := classbench.Compile(rules)
			if err != nil {
				t.Fatal(err)
			}
			s := realization.Build("classbench", realization.RoleVM, 1, []string{realization.HookIn}, []*policy.Ruleset{c.Ruleset})
			p := Compile(s)
			// ipc1 and fw1 have long runs of rules on distinct ports:
			// their rulesets are dispatched, and held to the evaluator
			// through the maps.
			if name != "acl1_10k" && len(p.Maps) == 0 {
				t.Fatalf("%s is not dispatched", name)
			}
			tr := NewTracer(p)
			// The tracer, like the evaluator, scans every line: enough
			// flows to reach deep rules, few enough to stay quick.
			flows := classbench.Flows(rules, 3000, 7)
			for i := range flows {
				v, rule := tr.Trace(realization.HookIn, flows[i])
				d := c.Ruleset.Evaluate(flows[i])
				want := ""
				if d.Rule != nil {
					want = d.Rule.Path
				}
				if v != d.Verdict || rule != want {
					t.Fatalf("%s: nftables %s by %q, evaluator %s by %q", flows[i], v, rule, d.Verdict, want)
				}
			}
			r, e := s.Count()
			t.Logf("%d rules, %d set elements, %d flows agree", r, e, len(flows))
		})
	}
}

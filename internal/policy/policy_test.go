package policy

import (
	"net/netip"
	"strings"
	"testing"

	"go4.org/netipx"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/model"
)

// Test address plan: VMs in 172.16.0.0/16, cluster VIPs in
// 192.168.0.0/16, node IPs in 10.0.0.0/24, IPv6 in fd00::/8.

// fakeMembers serves group contents without an inventory.
type fakeMembers map[string]fakeGroup

type fakeGroup struct {
	ranges  []string
	ipPorts []address.IPPort
}

func (f fakeMembers) IPSet(g string) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, r := range f[g].ranges {
		rr, err := address.ParseRange(r)
		if err != nil {
			panic(err)
		}
		b.AddRange(rr)
	}
	s, _ := b.IPSet()
	return s
}

func (f fakeMembers) IPPorts(g string) []address.IPPort { return f[g].ipPorts }

func gp(id string) string { return model.GroupPath("default", id) }

var members = fakeMembers{
	gp("vms"):      {ranges: []string{"172.16.0.0/24", "fd00:172::/64"}},
	gp("admins"):   {ranges: []string{"172.16.1.5"}},
	gp("vips"):     {ranges: []string{"192.168.0.0/24"}},
	gp("nodes"):    {ranges: []string{"10.0.0.1-10.0.0.3"}},
	gp("np"):       {ipPorts: []address.IPPort{{Addr: netip.MustParseAddr("10.0.0.1"), Proto: address.TCP, Port: 30080}, {Addr: netip.MustParseAddr("10.0.0.2"), Proto: address.TCP, Port: 30080}}},
	gp("np-mixed"): {ranges: []string{"192.168.0.9"}, ipPorts: []address.IPPort{{Addr: netip.MustParseAddr("10.0.0.1"), Proto: address.UDP, Port: 30053}}},
}

// header declares the groups and gateways every test policy may use.
const header = `
resource_type: Infra
children:
- resource_type: ChildTier1
  Tier1: {id: t1}
- resource_type: ChildTier1
  Tier1: {id: t1-other}
- resource_type: ChildService
  Service:
    id: web
    service_entries:
    - {resource_type: L4PortSetServiceEntry, id: http, l4_protocol: TCP, destination_ports: ["80", "8080-8090"]}
    - {resource_type: L4PortSetServiceEntry, id: dns, l4_protocol: UDP, destination_ports: ["53"], source_ports: ["1024-65535"]}
- resource_type: ChildService
  Service:
    id: web-and-ping
    service_entries:
    - {resource_type: NestedServiceServiceEntry, id: nested, nested_service_path: /infra/services/web}
    - {resource_type: ICMPTypeServiceEntry, id: ping, protocol: ICMPv4, icmp_type: 8}
    - {resource_type: IPProtocolServiceEntry, id: gre, protocol_number: 47}
- resource_type: ChildDomain
  Domain:
    id: default
    children:
    - {resource_type: ChildGroup, Group: {id: vms, expression: [{resource_type: IPAddressExpression, ip_addresses: [172.16.0.0/24]}]}}
    - {resource_type: ChildGroup, Group: {id: admins, expression: [{resource_type: IPAddressExpression, ip_addresses: [172.16.1.5]}]}}
    - {resource_type: ChildGroup, Group: {id: vips, expression: [{resource_type: IPAddressExpression, ip_addresses: [192.168.0.0/24]}]}}
    - {resource_type: ChildGroup, Group: {id: nodes, expression: [{resource_type: IPAddressExpression, ip_addresses: [10.0.0.1-10.0.0.3]}]}}
    - {resource_type: ChildGroup, Group: {id: np, expression: [{resource_type: IPAddressExpression, ip_addresses: [10.0.0.250]}]}}
    - {resource_type: ChildGroup, Group: {id: np-mixed, expression: [{resource_type: IPAddressExpression, ip_addresses: [10.0.0.251]}]}}
`

// policyDoc indents policy children under the default domain.
func policyDoc(t *testing.T, policies string) *model.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString(header)
	for _, l := range strings.Split(strings.Trim(policies, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	docs, err := model.ParseDocument("test.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, b.String())
	}
	cfg, _, err := model.NewConfig().Apply("", docs[0])
	if err != nil {
		t.Fatal(err)
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatalf("invalid test policy: %v", errs)
	}
	return cfg
}

func tcp(src, dst string, port uint16) Flow {
	return Flow{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: address.TCP, SrcPort: 40000, DstPort: port}
}

func udp(src, dst string, sport, port uint16) Flow {
	return Flow{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: address.UDP, SrcPort: sport, DstPort: port}
}

func icmp(src, dst string, typ uint16) Flow {
	return Flow{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: address.ICMP, DstPort: typ}
}

type flowCase struct {
	flow    Flow
	verdict Verdict
	rule    string // rule id, "default", or a path suffix
}

func ruleID(d Decision) string {
	if d.Rule == nil {
		return "default"
	}
	return d.Rule.Path[strings.LastIndex(d.Rule.Path, "/")+1:]
}

func check(t *testing.T, rs *Ruleset, cases []flowCase) {
	t.Helper()
	cl := NewClassifier(rs)
	for _, c := range cases {
		d := rs.Evaluate(c.flow)
		if d.Verdict != c.verdict || ruleID(d) != c.rule {
			t.Errorf("%s: got %s by %s, want %s by %s", c.flow, d.Verdict, ruleID(d), c.verdict, c.rule)
		}
		f := c.flow
		v, i := cl.Decide(&f)
		if v != d.Verdict || i != d.Index {
			t.Errorf("%s: classifier says %s by rule %d, evaluator %s by rule %d", c.flow, v, i, d.Verdict, d.Index)
		}
	}
}

func TestDFWOrdering(t *testing.T) {
	cfg := policyDoc(t, `
- resource_type: ChildSecurityPolicy
  SecurityPolicy:
    id: app
    category: Application
    sequence_number: 1
    rules:
    - {id: app-allow-vips, sequence_number: 1, source_groups: [/infra/domains/default/groups/vms], destination_groups: [/infra/domains/default/groups/vips], action: ALLOW}
- resource_type: ChildSecurityPolicy
  SecurityPolicy:
    id: emergency
    category: Emergency
    sequence_number: 999
    rules:
    - {id: block-admin, source_groups: [/infra/domains/default/groups/admins], action: DROP}
    - {id: block-vm-9, sequence_number: 5, source_groups: [172.16.0.9], action: REJECT}
- resource_type: ChildSecurityPolicy
  SecurityPolicy:
    id: infra-b
    category: Infrastructure
    sequence_number: 5
    rules:
    - {id: b-first, source_groups: [172.16.0.7], action: DROP}
- resource_type: ChildSecurityPolicy
  SecurityPolicy:
    id: infra-a
    category: Infrastructure
    sequence_number: 5
    rules:
    - {id: a-tie-zzz, sequence_number: 3, source_groups: [172.16.0.7], action: REJECT}
    - {id: a-tie-aaa, sequence_number: 3, source_groups: [172.16.0.7], action: ALLOW}
`)
	rs := Compile(cfg, members, Point{})
	check(t, rs, []flowCase{
		// Emergency comes before Application whatever the sequence numbers.
		{tcp("172.16.1.5", "192.168.0.1", 443), Drop, "block-admin"},
		// Rule order: block-admin has sequence 0, block-vm-9 5.
		{tcp("172.16.0.9", "192.168.0.1", 443), Reject, "block-vm-9"},
		// Policies tied on sequence sort by path (infra-a before infra-b);
		// rules tied on sequence sort by path (a-tie-aaa before a-tie-zzz).
		{tcp("172.16.0.7", "192.168.0.1", 443), Allow, "a-tie-aaa"},
		{tcp("172.16.0.8", "192.168.0.1", 443), Allow, "app-allow-vips"},
		// Nothing matches: the default rule allows.
		{tcp("172.16.9.9", "192.168.0.1", 443), Allow, "default"},
	})
}

func TestDFWRuleFields(t *testing.T) {
	cfg := policyDoc(t, `
- resource_type: ChildSecurityPolicy
  SecurityPolicy:
    id: p
    category: Application
    rules:
    - {id: disabled, sequence_number: 1, source_groups: [172.16.0.1], action: DROP, disabled: true}
    - {id: v6-only, sequence_number: 2, source_groups: [ANY], destination_groups: ["fd00:172::/64"], action: REJECT, ip_protocol: IPV6}
    - {id: not-from-vms, sequence_number: 3, source_groups: [/infra/domains/default/groups/vms], sources_excluded: true, destination_groups: [/infra/domains/default/groups/nodes], action: DROP}
    - {id: vms-not-to-vips, sequence_number: 4, source_groups: [/infra/domains/default/groups/vms], destination_groups: [/infra/domains/default/groups/vips], destinations_excluded: true, services: [/infra/services/SSH], action: REJECT}
    - {id: web-svc, sequence_number: 5, source_groups: [/infra/domains/default/groups/vms], destination_groups: [/infra/domains/default/groups/vips], services: [/infra/services/web], action: ALLOW}
    - {id: inline, sequence_number: 6, source_groups: [/infra/domains/default/groups/vms], destination_groups: [/infra/domains/default/groups/vips], service_entries: [{resource_type: L4PortSetServiceEntry, l4_protocol: TCP, destination_ports: ["9000"]}], services: [/infra/services/HTTPS], action: DROP}
    - {id: nested-and-ping, sequence_number: 7, source_groups: [/infra/domains/default/groups/admins], destination_groups: [/infra/domains/default/groups/vips], services: [/infra/services/web-and-ping], action: REJECT}
    - {id: nodeport, sequence_number: 8, source_groups: [/infra/domains/default/groups/vms], destination_groups: [/infra/domains/default/groups/np], action: ALLOW}
    - {id: mixed, sequence_number: 9, destination_groups: [/infra/domains/default/groups/np-mixed], action: REJECT}
    - {id: catch-vms, sequence_number: 10, source_groups: [/infra/domains/default/groups/vms], action: DROP}
`)
	rs := Compile(cfg, members, Point{})
	check(t, rs, []flowCase{
		{tcp("172.16.0.1", "192.168.0.1", 80), Allow, "web-svc"}, // "disabled" is skipped
		{tcp("fd00:172::9", "fd00:172::5", 80), Reject, "v6-only"},
		{tcp("fd00:1::1", "fd00:172::5", 80), Reject, "v6-only"},
		{tcp("172.16.5.1", "10.0.0.2", 80), Drop, "not-from-vms"},
		{tcp("172.16.0.2", "10.0.0.2", 22), Reject, "vms-not-to-vips"},
		{tcp("172.16.0.2", "192.168.0.2", 22), Drop, "catch-vms"},
		{tcp("172.16.0.2", "192.168.0.2", 8085), Allow, "web-svc"},
		{udp("172.16.0.2", "192.168.0.2", 5353, 53), Allow, "web-svc"},
		{udp("172.16.0.2", "192.168.0.2", 53, 53), Drop, "catch-vms"},   // source port outside 1024-65535
		{udp("172.16.0.2", "192.168.0.2", 5353, 80), Drop, "catch-vms"}, // UDP 80 is not in the service
		{tcp("172.16.0.2", "192.168.0.2", 9000), Drop, "inline"},
		{tcp("172.16.0.2", "192.168.0.2", 443), Drop, "inline"},
		{icmp("172.16.1.5", "192.168.0.2", 8), Reject, "nested-and-ping"},
		{icmp("172.16.1.5", "192.168.0.2", 0), Allow, "default"},
		{tcp("172.16.1.5", "192.168.0.2", 8080), Reject, "nested-and-ping"},
		{Flow{Src: netip.MustParseAddr("172.16.1.5"), Dst: netip.MustParseAddr("192.168.0.2"), Proto: 47}, Reject, "nested-and-ping"},
		// An ip+port member matches only its protocol and port.
		{tcp("172.16.0.3", "10.0.0.1", 30080), Allow, "nodeport"},
		{tcp("172.16.0.3", "10.0.0.3", 30080), Drop, "catch-vms"},
		{tcp("172.16.0.3", "10.0.0.1", 30081), Drop, "catch-vms"},
		{udp("172.16.0.3", "10.0.0.1", 40000, 30080), Drop, "catch-vms"},
		{udp("172.16.0.3", "10.0.0.1", 40000, 30053), Reject, "mixed"},
		{tcp("172.16.9.3", "192.168.0.9", 1), Reject, "mixed"},
	})
}

func TestJumpToApplication(t *testing.T) {
	cfg := policyDoc(t, `
- resource_type: ChildSecurityPolicy
  SecurityPolicy:
    id: env
    category: Environment
    rules:
    - {id: jump-vms, sequence_number: 1, source_groups: [/infra/domains/default/groups/vms], action: JUMP_TO_APPLICATION}
    - {id: env-drop-all, sequence_number: 2, action: DROP}
- resource_type: ChildSecurityPolicy
  SecurityPolicy:
    id: app
    category: Application
    rules:
    - {id: app-allow-web, source_groups: [/infra/domains/default/groups/vms], services: [/infra/services/HTTP], action: ALLOW}
- resource_type: ChildSecurityPolicy
  SecurityPolicy:
    id: emergency
    category: Emergency
    rules:
    - {id: emergency-ssh, services: [/infra/services/SSH], action: REJECT}
`)
	rs := Compile(cfg, members, Point{})
	check(t, rs, []flowCase{
		{tcp("172.16.0.1", "192.168.0.1", 80), Allow, "app-allow-web"}, // jumped past env-drop-all
		{tcp("172.16.0.1", "192.168.0.1", 443), Allow, "default"},      // jumped, nothing in Application: default
		{tcp("172.16.9.1", "192.168.0.1", 80), Drop, "env-drop-all"},   // not jumped
		{tcp("172.16.0.1", "192.168.0.1", 22), Reject, "emergency-ssh"},
	})
	d := rs.Evaluate(tcp("172.16.0.1", "192.168.0.1", 80))
	if len(d.Jumped) != 1 || !strings.HasSuffix(d.Jumped[0].Path, "/jump-vms") {
		t.Errorf("Jumped = %v", d.Jumped)
	}
}

func TestDefaultSectionsAndConnectivity(t *testing.T) {
	cfg := policyDoc(t, `
- resource_type: ChildSecurityPolicy
  SecurityPolicy:
    id: default-layer3-section
    category: Application
    rules:
    - {id: default-layer3-rule, action: DROP, logged: true}
- resource_type: ChildSecurityPolicy
  SecurityPolicy:
    id: zzz-app
    category: Application
    sequence_number: 100
    rules:
    - {id: late-app-rule, source_groups: [172.16.0.99], action: ALLOW}
- resource_type: ChildSecurityPolicy
  SecurityPolicy:
    id: allowlist
    category: Application
    scope: [/infra/domains/default/groups/vms]
    connectivity_preference: ALLOWLIST
    rules:
    - {id: only-web, services: [/infra/services/HTTP], action: ALLOW}
- resource_type: ChildSecurityPolicy
  SecurityPolicy:
    id: denylist
    category: Infrastructure
    scope: [/infra/domains/default/groups/admins]
    connectivity_strategy: BLACKLIST
    rules:
    - {id: no-ssh, services: [/infra/services/SSH], action: REJECT}
`)
	rs := Compile(cfg, members, Point{})
	check(t, rs, []flowCase{
		// The default layer-3 section comes after every other policy,
		// whatever its sequence number.
		{tcp("172.16.9.99", "192.168.0.1", 443), Drop, "default-layer3-rule"},
		{tcp("172.16.0.99", "192.168.0.1", 80), Allow, "only-web"},
		// Offline, a policy applies to flows from or to its scope: the
		// ALLOWLIST policy (scope vms) drops what it did not allow.
		{tcp("172.16.0.99", "192.168.0.1", 443), Drop, "default-rule"},
		{tcp("10.9.9.9", "172.16.0.5", 443), Drop, "default-rule"},
		// The DENYLIST policy (scope admins) allows what it did not reject.
		{tcp("172.16.1.5", "192.168.0.1", 22), Reject, "no-ssh"},
		{tcp("172.16.1.5", "192.168.0.1", 443), Allow, "default-rule"},
	})
	d := rs.Evaluate(tcp("172.16.1.5", "192.168.0.1", 443))
	if !d.Rule.PolicyDefault || d.Rule.PolicyPath != "/infra/domains/default/security-policies/denylist" {
		t.Errorf("DENYLIST policy should end with an allow-all default rule, got %+v", d.Rule)
	}
	if d := rs.Evaluate(tcp("172.16.9.99", "192.168.0.1", 443)); !d.Rule.Default {
		t.Errorf("the default layer-3 rule is not marked Default: %+v", d.Rule)
	}
	// Offline every policy applies; with Applied To known, only the
	// policies whose scope covers the VM do.
	onlyVMs := Point{AppliedTo: func(scope []string) bool { return len(scope) == 1 && scope[0] == gp("vms") }}
	rs = Compile(cfg, members, onlyVMs)
	check(t, rs, []flowCase{
		{tcp("172.16.5.5", "192.168.0.1", 22), Drop, "default-rule"},
		{tcp("172.16.5.5", "192.168.0.1", 80), Allow, "only-web"},
		{tcp("10.1.1.1", "10.2.2.2", 22), Drop, "default-rule"},
	})
	d = rs.Evaluate(tcp("172.16.0.99", "192.168.0.1", 443))
	if !d.Rule.PolicyDefault || d.Verdict != Drop {
		t.Errorf("ALLOWLIST policy should end with a drop-all rule, got %+v", d)
	}
	for _, r := range rs.Rules {
		if strings.Contains(r.Path, "denylist") {
			t.Errorf("policy scoped to admins applied to a VM outside it: %s", r.Path)
		}
	}
	rs = Compile(cfg, members, Point{AppliedTo: func([]string) bool { return false }})
	if d := rs.Evaluate(tcp("1.1.1.1", "2.2.2.2", 9)); !d.Rule.Default || d.Verdict != Drop {
		t.Errorf("the default layer-3 rule (scope ANY) applies everywhere: %+v", d)
	}
}

func TestDirection(t *testing.T) {
	cfg := policyDoc(t, `
- resource_type: ChildSecurityPolicy
  SecurityPolicy:
    id: p
    category: Application
    rules:
    - {id: in-only, sequence_number: 1, direction: IN, action: DROP}
    - {id: out-only, sequence_number: 2, direction: OUT, action: REJECT}
- resource_type: ChildSecurityPolicy
  SecurityPolicy:
    id: scoped
    category: Emergency
    rules:
    - {id: into-admins, direction: IN, scope: [/infra/domains/default/groups/admins], action: DROP, sequence_number: 1}
    - {id: out-of-admins, direction: OUT, scope: [/infra/domains/default/groups/admins], action: REJECT, sequence_number: 2}
    - {id: around-vips, scope: [/infra/domains/default/groups/vips], action: ALLOW, sequence_number: 3}
`)
	// At a known VM, direction selects rules.
	vm := Point{AppliedTo: func([]string) bool { return false }}
	f := tcp("172.16.0.1", "172.16.0.2", 80)
	for _, tt := range []struct {
		d    Direction
		rule string
	}{{InOut, "in-only"}, {In, "in-only"}, {Out, "out-only"}} {
		vm.Direction = tt.d
		rs := Compile(cfg, members, vm)
		if got := ruleID(rs.Evaluate(f)); got != tt.rule {
			t.Errorf("direction %s: %s, want %s", tt.d, got, tt.rule)
		}
	}
	// Offline, a scoped rule's direction says which end must be in scope.
	check(t, Compile(cfg, members, Point{}), []flowCase{
		{tcp("172.16.0.1", "172.16.1.5", 22), Drop, "into-admins"},
		{tcp("172.16.1.5", "172.16.0.1", 22), Reject, "out-of-admins"},
		{tcp("192.168.0.4", "172.16.0.1", 22), Allow, "around-vips"},
		{tcp("172.16.0.1", "192.168.0.4", 22), Allow, "around-vips"},
		{tcp("172.16.0.1", "172.16.0.9", 22), Drop, "in-only"},
	})
}

func TestGatewayFirewall(t *testing.T) {
	cfg := policyDoc(t, `
- resource_type: ChildGatewayPolicy
  GatewayPolicy:
    id: default-cat
    category: Default
    scope: [/infra/tier-1s/t1]
    rules:
    - {id: deny-nodes, source_groups: [/infra/domains/default/groups/nodes], action: DROP}
- resource_type: ChildGatewayPolicy
  GatewayPolicy:
    id: local
    category: LocalGatewayRules
    rules:
    - {id: t1-allow-db, sequence_number: 1, source_groups: [10.0.0.1], services: [/infra/services/MySQL], action: ALLOW, scope: [/infra/tier-1s/t1]}
    - {id: other-gw, sequence_number: 2, source_groups: [10.0.0.1], action: REJECT, scope: [/infra/tier-1s/t1-other]}
- resource_type: ChildGatewayPolicy
  GatewayPolicy:
    id: pre
    category: SharedPreRules
    scope: [/infra/tier-1s/t1, /infra/tier-1s/t1-other]
    rules:
    - {id: pre-block, source_groups: [10.0.0.3], action: REJECT, scope: [/infra/tier-1s/t1-other]}
`)
	rs := Compile(cfg, members, Point{Gateway: "/infra/tier-1s/t1"})
	check(t, rs, []flowCase{
		// pre-block's own scope says t1-other, but its policy's scope
		// (t1 and t1-other) replaces it.
		{tcp("10.0.0.3", "172.16.0.1", 3306), Reject, "pre-block"},
		{tcp("10.0.0.1", "172.16.0.1", 3306), Allow, "t1-allow-db"},
		{tcp("10.0.0.1", "172.16.0.1", 22), Drop, "deny-nodes"}, // other-gw is not in t1's ruleset
		{tcp("10.1.1.1", "172.16.0.1", 22), Allow, "default"},
	})
	rs = Compile(cfg, members, Point{Gateway: "/infra/tier-1s/t1-other"})
	check(t, rs, []flowCase{{tcp("10.0.0.1", "172.16.0.1", 3306), Reject, "other-gw"}})
	if rs := Compile(cfg, members, Point{Gateway: "/infra/tier-0s/none"}); len(rs.Rules) != 0 {
		t.Errorf("a gateway no rule names has %d rules", len(rs.Rules))
	}
}

func TestWhy(t *testing.T) {
	cfg := policyDoc(t, `
- resource_type: ChildSecurityPolicy
  SecurityPolicy:
    id: p
    category: Application
    rules:
    - {id: r, source_groups: [/infra/domains/default/groups/vms, /infra/domains/default/groups/admins], destination_groups: [/infra/domains/default/groups/np, /infra/domains/default/groups/vips], action: ALLOW}
`)
	rs := Compile(cfg, members, Point{})
	f := tcp("172.16.0.4", "10.0.0.2", 30080)
	d := rs.Evaluate(f)
	src, dst := Why(d.Rule, f, members)
	if strings.Join(src, ",") != gp("vms") || strings.Join(dst, ",") != gp("np") {
		t.Errorf("Why = %v, %v", src, dst)
	}
}

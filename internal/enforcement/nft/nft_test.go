package nft

import (
	"net/netip"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/policy"
	"github.com/kordon-dev/kordon/internal/realization"
)

func TestGoldenGateway(t *testing.T) {
	cfg, idx := exampleConfig(t)
	s := realization.ForGateway(cfg, idx, 7, "/infra/tier-1s/t1-edge")
	fake := knftables.NewFake(knftables.InetFamily, DefaultTable)
	golden(t, "gateway-t1-edge.nft", fakeApply(t, fake, func(tx *knftables.Transaction) { Render(tx, Compile(s)) }))
}

func TestGoldenVM(t *testing.T) {
	cfg, idx := exampleConfig(t)
	s := realization.ForVM(cfg, idx, 7, "app-1", "", []netip.Addr{addr("172.16.20.10")})
	fake := knftables.NewFake(knftables.InetFamily, DefaultTable)
	golden(t, "vm-app-1.nft", fakeApply(t, fake, func(tx *knftables.Transaction) { Render(tx, Compile(s)) }))
}

// TestRenderReplacesEverything: a second full render leaves exactly what a
// render on an empty table does, nothing of the first.
func TestRenderReplacesEverything(t *testing.T) {
	cfg, idx := exampleConfig(t)
	gw := Compile(realization.ForGateway(cfg, idx, 1, "/infra/tier-1s/t1-edge"))
	vm := Compile(realization.ForVM(cfg, idx, 1, "app-1", "", []netip.Addr{addr("172.16.20.10")}))
	fresh := fakeApply(t, knftables.NewFake(knftables.InetFamily, DefaultTable), func(tx *knftables.Transaction) { Render(tx, vm) })
	fake := knftables.NewFake(knftables.InetFamily, DefaultTable)
	fakeApply(t, fake, func(tx *knftables.Transaction) { Render(tx, gw) })
	if got := fakeApply(t, fake, func(tx *knftables.Transaction) { Render(tx, vm) }); got != fresh {
		t.Errorf("re-rendering over another program left a different table:\n%s\nwant:\n%s", got, fresh)
	}
}

func TestLineText(t *testing.T) {
	tcp := address.TCP
	for _, tc := range []struct {
		name string
		line Line
		want string
	}{
		{"any any v4 only", Line{Family: 4, Counter: "c", Verdict: VerdictDrop}, `meta nfproto ipv4 counter name "c" drop`},
		{"set to set", Line{Family: 6, Conds: []Cond{{Kind: CondAddr, Src: true, Set: "e1"}, {Kind: CondAddr, Set: "e2"}}, Verdict: VerdictAccept},
			`ip6 saddr . meta l4proto . th sport @e1_6 ip6 daddr . meta l4proto . th dport @e2_6 accept`},
		{"excluded source", Line{Family: 4, Conds: []Cond{{Kind: CondAddr, Src: true, Set: "e1", Negate: true}}, Verdict: VerdictAccept},
			`ip saddr . meta l4proto . th sport != @e1_4 accept`},
		{"ports", Line{Conds: []Cond{{Kind: CondProto, Proto: tcp}, {Kind: CondPorts, Proto: tcp, Ports: []address.PortRange{{From: 80, To: 80}, {From: 8000, To: 8080}}}}, Verdict: VerdictRejectTCP},
			`meta l4proto tcp tcp dport { 80, 8000-8080 } reject with tcp reset`},
		{"icmp", Line{Family: 4, Conds: []Cond{{Kind: CondProto, Proto: address.ICMP}, {Kind: CondPorts, Proto: address.ICMP, Ports: []address.PortRange{{From: 8, To: 8}}}}, Verdict: VerdictReject},
			`meta nfproto ipv4 meta l4proto icmp icmp type 8 reject with icmpx admin-prohibited`},
		{"logged", Line{Counter: "c_in_3", Log: "kordon DROP p/r: ", Verdict: VerdictDrop}, `counter name "c_in_3" log prefix "kordon DROP p/r: " drop`},
		{"jump to application", Line{Family: 4, Conds: []Cond{{Kind: CondAddr, Src: true, Set: "e1"}}, Verdict: VerdictReturn}, `ip saddr . meta l4proto . th sport @e1_4 return`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.line.Text(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRejectLines(t *testing.T) {
	r := realization.Rule{Path: "/p/r", Action: policy.ActionReject, V4: true, V6: true, Src: realization.Endpoint{Any: true}, Dst: realization.Endpoint{Any: true}}
	ls := lines(&r, "c", false, nil)
	var got []string
	for _, l := range ls {
		got = append(got, l.Text())
	}
	want := []string{`meta l4proto tcp counter name "c" reject with tcp reset`, `counter name "c" reject with icmpx admin-prohibited`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("REJECT of any service:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Elements many to a command are written as nft reads a set's or map's
// elements, and counted as the operations they replace.
func TestAddElements(t *testing.T) {
	keys := [][]string{{"10.0.0.1", "0-255", "0-65535"}, {"10.0.0.2", "6", "80"}, {"fd00::/64", "0-255", "0-65535"}}
	for _, tc := range []struct {
		name   string
		chunk  int
		set    string
		vmap   string
		values []string
		want   string
		merged int
	}{
		{"one each", 1, "s_4", "", nil, "add element inet kordon s_4 { 10.0.0.1 . 0-255 . 0-65535 }\nadd element inet kordon s_4 { 10.0.0.2 . 6 . 80 }\nadd element inet kordon s_4 { fd00::/64 . 0-255 . 0-65535 }\n", 0},
		{"two a command", 2, "s_4", "", nil, "add element inet kordon s_4 { 10.0.0.1 . 0-255 . 0-65535, 10.0.0.2 . 6 . 80 }\nadd element inet kordon s_4 { fd00::/64 . 0-255 . 0-65535 }\n", 1},
		{"all in one", 4096, "s_4", "", nil, "add element inet kordon s_4 { 10.0.0.1 . 0-255 . 0-65535, 10.0.0.2 . 6 . 80, fd00::/64 . 0-255 . 0-65535 }\n", 2},
		{"map", 3, "", "m", []string{"goto a", "goto b", "goto c"}, "add element inet kordon m { 10.0.0.1 . 0-255 . 0-65535 : goto a, 10.0.0.2 . 6 . 80 : goto b, fd00::/64 . 0-255 . 0-65535 : goto c }\n", 2},
		{"map one each", 0, "", "m", []string{"goto a", "goto b", "goto c"}, "add element inet kordon m { 10.0.0.1 . 0-255 . 0-65535 : goto a }\nadd element inet kordon m { 10.0.0.2 . 6 . 80 : goto b }\nadd element inet kordon m { fd00::/64 . 0-255 . 0-65535 : goto c }\n", 0},
	} {
		tx := knftables.NewFake(knftables.InetFamily, DefaultTable).NewTransaction()
		if merged := addElements(tx, tc.chunk, tc.set, tc.vmap, keys, tc.values); merged != tc.merged || tx.NumOperations()+merged != len(keys) {
			t.Errorf("%s: %d merged in %d commands, want %d", tc.name, merged, tx.NumOperations(), tc.merged)
		}
		if got := tx.String(); got != tc.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.name, got, tc.want)
		}
	}
}

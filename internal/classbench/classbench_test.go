package classbench

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/model"
)

func TestParse(t *testing.T) {
	good := "@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t80 : 80\t0x06/0xFF\t0x0000/0x0000\n\n@1.2.3.4/32 5.6.7.0/24 1024 : 65535 53 : 53 0x00/0x00 0x0000/0x0000\n"
	rules, err := Parse(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	want := []Rule{
		{Src: netip.MustParsePrefix("10.0.0.0/8"), Dst: netip.MustParsePrefix("0.0.0.0/0"), SrcPorts: address.AllPorts, DstPorts: address.PortRange{From: 80, To: 80}, Proto: address.TCP},
		{Src: netip.MustParsePrefix("1.2.3.4/32"), Dst: netip.MustParsePrefix("5.6.7.0/24"), SrcPorts: address.PortRange{From: 1024, To: 65535}, DstPorts: address.PortRange{From: 53, To: 53}, AnyProto: true},
	}
	if len(rules) != len(want) || rules[0] != want[0] || rules[1] != want[1] {
		t.Fatalf("Parse = %+v", rules)
	}
	for _, tt := range []struct{ in, want string }{
		{"", "no rules"},
		{"10.0.0.0/8 0.0.0.0/0 0 : 1 0 : 1 0x06/0xFF 0/0", "line 1: a rule starts with '@'"},
		{"@10.0.0.0/8 0.0.0.0/0 0 - 1 0 : 1 0x06/0xFF 0/0", "line 1: expected"},
		{"\n@10.0.0.0/33 0.0.0.0/0 0 : 1 0 : 1 0x06/0xFF 0/0", "line 2: source prefix"},
		{"@10.0.0.0/8 x 0 : 1 0 : 1 0x06/0xFF 0/0", "destination prefix"},
		{"@10.0.0.0/8 0.0.0.0/0 5 : 1 0 : 1 0x06/0xFF 0/0", "source ports"},
		{"@10.0.0.0/8 0.0.0.0/0 0 : 1 0 : 70000 0x06/0xFF 0/0", "destination ports"},
		{"@10.0.0.0/8 0.0.0.0/0 0 : 1 0 : 1 0x06/0x0F 0/0", "protocol"},
	} {
		if _, err := Parse(strings.NewReader(tt.in)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestPolicy(t *testing.T) {
	rules, err := Parse(strings.NewReader(`@10.0.0.0/8 0.0.0.0/0 0 : 65535 80 : 80 0x06/0xFF 0/0
@10.0.0.0/8 192.168.0.0/16 0 : 65535 0 : 65535 0x00/0x00 0/0
@1.2.3.4/32 10.0.0.0/8 1 : 65535 1000 : 2000 0x00/0x00 0/0
@1.2.3.4/32 10.0.0.0/8 0 : 65535 0 : 65535 0x2f/0xFF 0/0
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Policy(rules)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rules) != 4 || len(cfg.Groups) != 3 || len(cfg.Services) != 3 {
		t.Fatalf("%d rules, %d groups, %d services", len(cfg.Rules), len(cfg.Groups), len(cfg.Services))
	}
	r1 := cfg.Rules["/infra/domains/default/security-policies/classbench/rules/r00001"]
	if !model.IsAny(r1.DestinationGroups) || r1.Services[0] == model.Any || r1.Action != model.ActionAllow {
		t.Errorf("rule 1 = %+v", r1)
	}
	r2 := cfg.Rules["/infra/domains/default/security-policies/classbench/rules/r00002"]
	if !model.IsAny(r2.Services) || r2.Action != model.ActionDrop {
		t.Errorf("rule 2 (any protocol, any port) = %+v", r2)
	}
	if s := cfg.Services["/infra/services/svc-2"]; len(s.ServiceEntries) != 2 {
		t.Errorf("any protocol with ports becomes a TCP and a UDP entry: %+v", s.ServiceEntries)
	}
	flows := Flows(rules, 200, 1)
	if len(flows) != 200 {
		t.Fatal(len(flows))
	}
	c, err := Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	if res := c.Measure(flows, 0); res.Mismatches != 0 || res.Flows != 200 {
		t.Errorf("Measure = %+v", res)
	}
}

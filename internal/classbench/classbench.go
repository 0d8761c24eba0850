// Package classbench turns ClassBench packet-classification filter sets
// into kordon policies and flow traces, and measures the rule classifier
// against a linear scan on them. It backs `kordon bench classbench` and the
// classifier benchmarks; nothing in the manager or agents uses it.
package classbench

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/policy"
)

// Rule is one ClassBench filter.
type Rule struct {
	Src, Dst           netip.Prefix
	SrcPorts, DstPorts address.PortRange
	AnyProto           bool
	Proto              address.Proto
}

// Parse reads a filter set, one rule a line, highest priority first.
func Parse(r io.Reader) ([]Rule, error) {
	var out []Rule
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		rule, err := parseLine(s)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		out = append(out, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no rules")
	}
	return out, nil
}

func parseLine(s string) (Rule, error) {
	var r Rule
	if !strings.HasPrefix(s, "@") {
		return r, fmt.Errorf("a rule starts with '@'")
	}
	f := strings.Fields(s[1:])
	// src dst slo : shi dlo : dhi proto/mask [flags/mask]
	if len(f) < 9 || f[3] != ":" || f[6] != ":" {
		return r, fmt.Errorf("expected \"@SRC DST SLO : SHI DLO : DHI PROTO/MASK FLAGS/MASK\"")
	}
	var err error
	if r.Src, err = netip.ParsePrefix(f[0]); err != nil {
		return r, fmt.Errorf("source prefix: %v", err)
	}
	if r.Dst, err = netip.ParsePrefix(f[1]); err != nil {
		return r, fmt.Errorf("destination prefix: %v", err)
	}
	if r.SrcPorts, err = portRange(f[2], f[4]); err != nil {
		return r, fmt.Errorf("source ports: %v", err)
	}
	if r.DstPorts, err = portRange(f[5], f[7]); err != nil {
		return r, fmt.Errorf("destination ports: %v", err)
	}
	proto, mask, ok := strings.Cut(f[8], "/")
	if !ok {
		return r, fmt.Errorf("protocol %q is not PROTO/MASK", f[8])
	}
	p, err1 := strconv.ParseUint(proto, 0, 8)
	m, err2 := strconv.ParseUint(mask, 0, 8)
	if err1 != nil || err2 != nil || (m != 0 && m != 0xff) {
		return r, fmt.Errorf("protocol %q: expected 0xNN/0xFF or 0x00/0x00", f[8])
	}
	r.AnyProto, r.Proto = m == 0, address.Proto(p)
	r.Src, r.Dst = r.Src.Masked(), r.Dst.Masked()
	return r, nil
}

func portRange(lo, hi string) (address.PortRange, error) {
	a, err1 := strconv.ParseUint(lo, 10, 16)
	b, err2 := strconv.ParseUint(hi, 10, 16)
	if err1 != nil || err2 != nil || b < a {
		return address.PortRange{}, fmt.Errorf("%s : %s is not a port range", lo, hi)
	}
	return address.PortRange{From: uint16(a), To: uint16(b)}, nil
}

// Policy builds a configuration with one DFW policy holding one rule per
// filter, in order: a group per distinct prefix (an IPAddressExpression),
// a service per distinct protocol and port ranges. Actions cycle through
// ALLOW, DROP and REJECT so every verdict is exercised.
func Policy(rules []Rule) (*model.Config, error) {
	sp := &model.SecurityPolicy{}
	sp.ID, sp.Category = "classbench", model.CategoryApplication
	domain := &model.Domain{}
	domain.ID = model.DefaultDomain
	groups := map[netip.Prefix]string{}
	services := map[string]string{}
	var infra model.Infra
	groupRef := func(p netip.Prefix) []string {
		if p.Bits() == 0 {
			return []string{model.Any}
		}
		id, ok := groups[p]
		if !ok {
			id = "net-" + strings.NewReplacer("/", "_", ":", "-").Replace(p.String())
			groups[p] = id
			g := &model.Group{Expression: model.ExpressionList{&model.IPAddressExpression{IPAddresses: []string{p.String()}}}}
			g.ID = id
			domain.Children = append(domain.Children, model.Wrap(g))
		}
		return []string{model.GroupPath(model.DefaultDomain, id)}
	}
	serviceRef := func(r Rule) []string {
		entries := serviceEntries(r)
		if entries == nil {
			return []string{model.Any}
		}
		key := fmt.Sprint(r.AnyProto, r.Proto, r.SrcPorts, r.DstPorts)
		id, ok := services[key]
		if !ok {
			id = fmt.Sprintf("svc-%d", len(services)+1)
			services[key] = id
			s := &model.Service{ServiceEntries: entries}
			s.ID = id
			infra.Children = append(infra.Children, model.Wrap(s))
		}
		return []string{model.ServicePath(id)}
	}
	actions := []string{model.ActionAllow, model.ActionDrop, model.ActionReject}
	for i, r := range rules {
		rule := &model.Rule{
			SourceGroups: groupRef(r.Src), DestinationGroups: groupRef(r.Dst), Services: serviceRef(r),
			Action: actions[i%3], SequenceNumber: int64(i + 1),
		}
		rule.ID = fmt.Sprintf("r%05d", i+1)
		sp.Rules = append(sp.Rules, rule)
	}
	domain.Children = append(domain.Children, model.Wrap(sp))
	infra.Children = append(infra.Children, model.Wrap(domain))
	cfg, _, err := model.NewConfig().Apply("", &infra)
	if err != nil {
		return nil, err
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

func ports(r address.PortRange) model.PortList {
	if r == address.AllPorts || (r.From <= 1 && r.To == 65535) {
		return nil
	}
	return model.PortList{r.String()}
}

// serviceEntries returns nil for "any service".
func serviceEntries(r Rule) model.ServiceEntryList {
	sp, dp := ports(r.SrcPorts), ports(r.DstPorts)
	switch {
	case r.AnyProto && sp == nil && dp == nil:
		return nil
	case r.AnyProto:
		return model.ServiceEntryList{
			&model.L4PortSetServiceEntry{L4Protocol: "TCP", SourcePorts: sp, DestinationPorts: dp},
			&model.L4PortSetServiceEntry{L4Protocol: "UDP", SourcePorts: sp, DestinationPorts: dp},
		}
	case r.Proto == address.TCP || r.Proto == address.UDP:
		return model.ServiceEntryList{&model.L4PortSetServiceEntry{L4Protocol: r.Proto.String(), SourcePorts: sp, DestinationPorts: dp}}
	}
	n := int(r.Proto)
	return model.ServiceEntryList{&model.IPProtocolServiceEntry{ProtocolNumber: &n}}
}

// Flows generates a deterministic trace: about two thirds of the flows
// are drawn from a random rule (addresses and ports inside its ranges),
// the rest uniformly at random, so both early matches and long scans are
// exercised.
func Flows(rules []Rule, n int, seed uint64) []policy.Flow {
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	protos := []address.Proto{address.TCP, address.UDP, address.ICMP, 47}
	out := make([]policy.Flow, n)
	for i := range out {
		if rnd.IntN(3) < 2 {
			r := rules[rnd.IntN(len(rules))]
			f := policy.Flow{Src: randomIn(rnd, r.Src), Dst: randomIn(rnd, r.Dst), Proto: r.Proto,
				SrcPort: randomPort(rnd, r.SrcPorts), DstPort: randomPort(rnd, r.DstPorts)}
			if r.AnyProto {
				f.Proto = protos[rnd.IntN(len(protos))]
			}
			out[i] = f
			continue
		}
		out[i] = policy.Flow{Src: randomIn(rnd, netip.MustParsePrefix("0.0.0.0/0")), Dst: randomIn(rnd, netip.MustParsePrefix("0.0.0.0/0")),
			Proto: protos[rnd.IntN(len(protos))], SrcPort: uint16(rnd.IntN(65536)), DstPort: uint16(rnd.IntN(65536))}
	}
	return out
}

func randomIn(rnd *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if host := 32 - p.Bits(); host > 0 {
		v |= rnd.Uint32() & (1<<host - 1)
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func randomPort(rnd *rand.Rand, r address.PortRange) uint16 {
	return r.From + uint16(rnd.IntN(int(r.To-r.From)+1))
}

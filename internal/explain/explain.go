// Package explain owns the account of a firewall decision: which rule
// decided a flow, which of its groups held the flow's addresses, and
// what was assumed. The CLI prints it; the API returns it.
package explain

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/policy"
)

// OfflineDFWAssumption is what a decision assumes about the distributed
// firewall when it does not know which VM interface a flow crosses: on
// files, and on a manager too, as a flow names addresses, not a VM.
const OfflineDFWAssumption = "the VM interface the flow crosses is not known: a DFW rule applied to groups (scope) applies when the flow's destination (IN), source (OUT) or either (IN_OUT) is in them; a rule applied to ANY applies to every flow"

// Flow is a flow as the report prints it.
type Flow struct {
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	Protocol string `json:"protocol"`
	SrcPort  uint16 `json:"src_port,omitempty"`
	Port     uint16 `json:"port,omitempty"`
	ICMPType *int   `json:"icmp_type,omitempty"`
	ICMPCode *int   `json:"icmp_code,omitempty"`
}

// Report explains one decision.
type Report struct {
	Firewall            string   `json:"firewall"`
	Gateway             string   `json:"gateway,omitempty"`
	Flow                Flow     `json:"flow"`
	Verdict             string   `json:"verdict"`
	RulePath            string   `json:"rule_path"`
	PolicyPath          string   `json:"policy_path,omitempty"`
	Category            string   `json:"category,omitempty"`
	Action              string   `json:"action"`
	Logged              bool     `json:"logged"`
	Reason              string   `json:"reason"`
	MatchedSources      []string `json:"matched_source_groups"`
	MatchedDestinations []string `json:"matched_destination_groups"`
	Jumped              []string `json:"jumped_from,omitempty"`
	RulesEvaluated      int      `json:"rules_evaluated"`
	RulesInRuleset      int      `json:"rules_in_ruleset"`
	Assumption          string   `json:"assumption,omitempty"`
}

// FlowOf describes a flow for a report.
func FlowOf(f policy.Flow) Flow {
	j := Flow{Src: f.Src.String(), Dst: f.Dst.String(), Protocol: f.Proto.String()}
	if f.Proto.HasPorts() {
		j.SrcPort, j.Port = f.SrcPort, f.DstPort
	} else if f.Proto == address.ICMP || f.Proto == address.ICMPv6 {
		t, c := int(f.DstPort), int(f.SrcPort)
		j.ICMPType, j.ICMPCode = &t, &c
	}
	return j
}

// Decide evaluates a flow on the DFW (gateway "") or a gateway's firewall
// and explains the decision. Without an enforcement point, the DFW is
// evaluated with the offline assumption.
func Decide(cfg *model.Config, m policy.Members, f policy.Flow, gateway string) Report {
	return Explain(policy.Compile(cfg, m, policy.Point{Gateway: gateway}), m, f)
}

// Explain evaluates a flow against a compiled ruleset and explains the
// decision.
func Explain(rs *policy.Ruleset, m policy.Members, f policy.Flow) Report {
	gateway := rs.Point.Gateway
	d := rs.Evaluate(f)
	rep := Report{Firewall: "DFW", Gateway: gateway, Flow: FlowOf(f), Verdict: d.Verdict.String(),
		MatchedSources: []string{}, MatchedDestinations: []string{}, RulesEvaluated: d.Evaluated, RulesInRuleset: len(rs.Rules)}
	if gateway != "" {
		rep.Firewall = "GFW"
	} else {
		rep.Assumption = OfflineDFWAssumption
	}
	for _, j := range d.Jumped {
		rep.Jumped = append(rep.Jumped, j.Path)
	}
	if d.Rule == nil || d.Rule.Default {
		rep.RulePath, rep.Action = "default", d.Verdict.String()
		rep.Reason = "no rule matched; the default rule decides (ALLOW, as NSX ships)"
		if d.Rule != nil {
			rep.PolicyPath, rep.Category, rep.Logged = d.Rule.PolicyPath, d.Rule.Category, d.Rule.Logged
			rep.Reason = "no rule matched; the default rule " + d.Rule.Path + " decides"
		}
		return rep
	}
	r := d.Rule
	rep.RulePath, rep.PolicyPath, rep.Category, rep.Action, rep.Logged = r.Path, r.PolicyPath, r.Category, r.Action.String(), r.Logged
	if r.PolicyDefault {
		rep.Reason = "no rule of the policy matched; its connectivity preference adds this default rule"
		return rep
	}
	src, dst := policy.Why(r, f, m)
	rep.MatchedSources, rep.MatchedDestinations = nonNilList(src), nonNilList(dst)
	rep.Reason = describeMatch(r, f, src, dst)
	return rep
}

func nonNilList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func describeMatch(r *policy.Rule, f policy.Flow, src, dst []string) string {
	side := func(addr string, any, negate bool, groups []string) string {
		switch {
		case any && !negate:
			return addr + " matches ANY"
		case negate:
			return addr + " is outside the excluded " + listOr(groups, "addresses")
		case len(groups) > 0:
			return addr + " is in " + strings.Join(groups, ", ")
		}
		return addr + " is one of the rule's addresses"
	}
	svc := "any service"
	if r.Match != nil {
		svc = "service " + strings.Join(r.Services, ", ")
	}
	return fmt.Sprintf("first matching rule: source %s; destination %s; %s", side(f.Src.String(), r.Src.Any, r.Src.Negate, src),
		side(f.Dst.String(), r.Dst.Any, r.Dst.Negate, dst), svc)
}

func listOr(l []string, fallback string) string {
	if len(l) == 0 {
		return fallback
	}
	return strings.Join(l, ", ")
}

// Request is a flow to decide, as the CLI flags and the API body give it.
type Request struct {
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	Protocol string `json:"protocol,omitempty"`
	Port     uint16 `json:"port,omitempty"`
	SrcPort  uint16 `json:"src_port,omitempty"`
	ICMPType *int   `json:"icmp_type,omitempty"`
	ICMPCode *int   `json:"icmp_code,omitempty"`
	// Gateway selects a gateway's firewall; empty means the DFW.
	Gateway string `json:"gateway,omitempty"`
}

// DefaultSrcPort is the source port of a flow that names none: the start
// of the dynamic port range.
const DefaultSrcPort = 49152

// Flow validates the request and returns its flow; errors name the field.
func (q Request) Flow() (policy.Flow, error) {
	var fl policy.Flow
	src, err := netip.ParseAddr(q.Src)
	if err != nil {
		return fl, fmt.Errorf("src: %q is not an IP address", q.Src)
	}
	dst, err := netip.ParseAddr(q.Dst)
	if err != nil {
		return fl, fmt.Errorf("dst: %q is not an IP address", q.Dst)
	}
	src, dst = src.Unmap(), dst.Unmap()
	if src.Is4() != dst.Is4() {
		return fl, fmt.Errorf("src and dst must be of the same address family")
	}
	proto := q.Protocol
	if proto == "" {
		proto = "TCP"
	}
	p, err := address.ParseProto(proto)
	if err != nil {
		return fl, fmt.Errorf("protocol: %v", err)
	}
	fl = policy.Flow{Src: src, Dst: dst, Proto: p}
	switch {
	case p.HasPorts():
		if q.Port == 0 {
			return fl, fmt.Errorf("port is required for %s", p)
		}
		fl.SrcPort, fl.DstPort = q.SrcPort, q.Port
		if fl.SrcPort == 0 {
			fl.SrcPort = DefaultSrcPort
		}
	case p == address.ICMP || p == address.ICMPv6:
		t, c := 8, 0
		if p == address.ICMPv6 {
			t = 128
		}
		if q.ICMPType != nil {
			t = *q.ICMPType
		}
		if q.ICMPCode != nil {
			c = *q.ICMPCode
		}
		if t < 0 || t > 255 || c < 0 || c > 255 {
			return fl, fmt.Errorf("icmp_type and icmp_code must be 0-255")
		}
		fl.DstPort, fl.SrcPort = uint16(t), uint16(c)
	}
	return fl, nil
}

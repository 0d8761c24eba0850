package cli

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/policy"
)

// offlineDFWAssumption is what explain assumes about the distributed
// firewall when it does not know which VM interface a flow crosses.
const offlineDFWAssumption = "offline, the VM interface the flow crosses is not known: a DFW rule applied to groups (scope) applies when the flow's destination (IN), source (OUT) or either (IN_OUT) is in them; a rule applied to ANY applies to every flow"

type flowFlags struct {
	src, dst, proto    string
	port, srcPort      uint16
	icmpType, icmpCode int
}

func (f *flowFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.src, "src", "", "source IP address (required)")
	cmd.Flags().StringVar(&f.dst, "dst", "", "destination IP address (required)")
	cmd.Flags().StringVar(&f.proto, "protocol", "TCP", "TCP, UDP, SCTP, ICMPv4, ICMPv6 or an IP protocol number")
	cmd.Flags().Uint16Var(&f.port, "port", 0, "destination port (TCP, UDP, SCTP)")
	cmd.Flags().Uint16Var(&f.srcPort, "src-port", 49152, "source port (TCP, UDP, SCTP)")
	cmd.Flags().IntVar(&f.icmpType, "icmp-type", 8, "ICMP type (ICMPv4, ICMPv6)")
	cmd.Flags().IntVar(&f.icmpCode, "icmp-code", 0, "ICMP code (ICMPv4, ICMPv6)")
}

func (f *flowFlags) flow() (policy.Flow, error) {
	var fl policy.Flow
	src, err := netip.ParseAddr(f.src)
	if err != nil {
		return fl, failf(2, "--src: %q is not an IP address", f.src)
	}
	dst, err := netip.ParseAddr(f.dst)
	if err != nil {
		return fl, failf(2, "--dst: %q is not an IP address", f.dst)
	}
	src, dst = src.Unmap(), dst.Unmap()
	if src.Is4() != dst.Is4() {
		return fl, failf(2, "--src and --dst must be of the same address family")
	}
	p, err := address.ParseProto(f.proto)
	if err != nil {
		return fl, failf(2, "--protocol: %v", err)
	}
	fl = policy.Flow{Src: src, Dst: dst, Proto: p}
	switch {
	case p.HasPorts():
		if f.port == 0 {
			return fl, failf(2, "--port is required for %s", p)
		}
		fl.SrcPort, fl.DstPort = f.srcPort, f.port
	case p == address.ICMP || p == address.ICMPv6:
		if f.icmpType < 0 || f.icmpType > 255 || f.icmpCode < 0 || f.icmpCode > 255 {
			return fl, failf(2, "--icmp-type and --icmp-code must be 0-255")
		}
		fl.DstPort, fl.SrcPort = uint16(f.icmpType), uint16(f.icmpCode)
	}
	return fl, nil
}

func newExplainCmd() *cobra.Command {
	var policies []string
	var dir, gateway, format string
	var ff flowFlags
	cmd := &cobra.Command{
		Use:   "explain --policy FILE --inventory DIR --src IP --dst IP --protocol P --port N [--gateway PATH]",
		Short: "Decide a flow with the distributed or gateway firewall and say which rule decided it and why",
		Long: `explain evaluates one flow. Without --gateway it evaluates the distributed
firewall (DFW); with --gateway /infra/tier-1s/<id> (or a tier-0) it evaluates
that gateway's firewall (GFW). It prints the verdict, the deciding rule
("default" when no rule matches and the default rule decides) and the groups
that matched the source and destination.

` + offlineDFWAssumption + ".",
		Example: `  kordon explain --policy examples/policy.yaml --inventory examples/inventory \
      --src 172.16.20.11 --dst 192.168.50.10 --protocol TCP --port 443
  kordon explain --policy examples/policy.yaml --inventory examples/inventory \
      --src 10.10.1.100 --dst 172.16.10.5 --protocol TCP --port 5432 --gateway /infra/tier-1s/t1-edge -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl, err := ff.flow()
			if err != nil {
				return err
			}
			o, err := load(policies, dir, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if gateway != "" {
				if _, ok := o.cfg.Object(gateway); !ok {
					return failf(2, "--gateway: %s is not a tier-0 or tier-1 in the policy", gateway)
				}
				if r, err := model.ParsePath(gateway); err != nil || (r.Kind != model.KindTier0 && r.Kind != model.KindTier1) {
					return failf(2, "--gateway: %s is not a tier-0 or tier-1 path", gateway)
				}
			}
			rep := explainFlow(o.cfg, o.idx, fl, gateway)
			done, err := printStructured(cmd.OutOrStdout(), format, rep)
			if err != nil || done {
				return err
			}
			printExplain(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&policies, "policy", nil, "policy file (repeatable; applied in order)")
	cmd.Flags().StringVar(&dir, "inventory", "", "inventory directory: DIR/<cluster>/*.yaml|json as kubectl prints them")
	cmd.Flags().StringVar(&gateway, "gateway", "", "evaluate this gateway's firewall (tier-0 or tier-1 path) instead of the DFW")
	ff.add(cmd)
	outputFlag(cmd, &format)
	return cmd
}

type flowJSON struct {
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	Protocol string `json:"protocol"`
	SrcPort  uint16 `json:"src_port,omitempty"`
	Port     uint16 `json:"port,omitempty"`
	ICMPType *int   `json:"icmp_type,omitempty"`
	ICMPCode *int   `json:"icmp_code,omitempty"`
}

type explainReport struct {
	Firewall            string   `json:"firewall"`
	Gateway             string   `json:"gateway,omitempty"`
	Flow                flowJSON `json:"flow"`
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

func toFlowJSON(f policy.Flow) flowJSON {
	j := flowJSON{Src: f.Src.String(), Dst: f.Dst.String(), Protocol: f.Proto.String()}
	if f.Proto.HasPorts() {
		j.SrcPort, j.Port = f.SrcPort, f.DstPort
	} else if f.Proto == address.ICMP || f.Proto == address.ICMPv6 {
		t, c := int(f.DstPort), int(f.SrcPort)
		j.ICMPType, j.ICMPCode = &t, &c
	}
	return j
}

// explainFlow evaluates a flow on the DFW (gateway "") or a gateway's
// firewall and explains the decision.
func explainFlow(cfg *model.Config, idx *membership.Index, f policy.Flow, gateway string) explainReport {
	rs := policy.Compile(cfg, idx, policy.Point{Gateway: gateway})
	d := rs.Evaluate(f)
	rep := explainReport{Firewall: "DFW", Gateway: gateway, Flow: toFlowJSON(f), Verdict: d.Verdict.String(),
		MatchedSources: []string{}, MatchedDestinations: []string{}, RulesEvaluated: d.Evaluated, RulesInRuleset: len(rs.Rules)}
	if gateway != "" {
		rep.Firewall = "GFW"
	} else {
		rep.Assumption = offlineDFWAssumption
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
	src, dst := policy.Why(r, f, idx)
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

func printExplain(w io.Writer, rep explainReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fw := rep.Firewall
	if rep.Gateway != "" {
		fw += " " + rep.Gateway
	}
	fmt.Fprintf(tw, "firewall\t%s\n", fw)
	fl := rep.Flow
	switch {
	case fl.Port != 0:
		fmt.Fprintf(tw, "flow\t%s -> %s %s/%d\n", fl.Src, fl.Dst, fl.Protocol, fl.Port)
	case fl.ICMPType != nil:
		fmt.Fprintf(tw, "flow\t%s -> %s %s type %d code %d\n", fl.Src, fl.Dst, fl.Protocol, *fl.ICMPType, *fl.ICMPCode)
	default:
		fmt.Fprintf(tw, "flow\t%s -> %s %s\n", fl.Src, fl.Dst, fl.Protocol)
	}
	fmt.Fprintf(tw, "verdict\t%s\n", rep.Verdict)
	fmt.Fprintf(tw, "rule\t%s\n", rep.RulePath)
	if rep.PolicyPath != "" {
		fmt.Fprintf(tw, "policy\t%s (%s)\n", rep.PolicyPath, orNone(rep.Category))
	}
	for _, j := range rep.Jumped {
		fmt.Fprintf(tw, "jumped\t%s (JUMP_TO_APPLICATION)\n", j)
	}
	fmt.Fprintf(tw, "why\t%s\n", rep.Reason)
	fmt.Fprintf(tw, "evaluated\t%d of %d rules\n", rep.RulesEvaluated, rep.RulesInRuleset)
	if rep.Assumption != "" {
		fmt.Fprintf(tw, "note\t%s\n", rep.Assumption)
	}
	tw.Flush()
}

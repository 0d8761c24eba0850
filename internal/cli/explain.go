package cli

import (
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/explain"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/policy"
)

type flowFlags struct {
	req                explain.Request
	icmpType, icmpCode int
}

func (f *flowFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.req.Src, "src", "", "source IP address (required)")
	cmd.Flags().StringVar(&f.req.Dst, "dst", "", "destination IP address (required)")
	cmd.Flags().StringVar(&f.req.Protocol, "protocol", "TCP", "TCP, UDP, SCTP, ICMPv4, ICMPv6 or an IP protocol number")
	cmd.Flags().Uint16Var(&f.req.Port, "port", 0, "destination port (TCP, UDP, SCTP)")
	cmd.Flags().Uint16Var(&f.req.SrcPort, "src-port", explain.DefaultSrcPort, "source port (TCP, UDP, SCTP)")
	cmd.Flags().IntVar(&f.icmpType, "icmp-type", 8, "ICMP type (ICMPv4, ICMPv6)")
	cmd.Flags().IntVar(&f.icmpCode, "icmp-code", 0, "ICMP code (ICMPv4, ICMPv6)")
}

func (f *flowFlags) request(cmd *cobra.Command) explain.Request {
	q := f.req
	if cmd.Flags().Changed("icmp-type") {
		q.ICMPType = &f.icmpType
	}
	if cmd.Flags().Changed("icmp-code") {
		q.ICMPCode = &f.icmpCode
	}
	return q
}

func (f *flowFlags) flow(cmd *cobra.Command) (policy.Flow, error) {
	fl, err := f.request(cmd).Flow()
	if err != nil {
		return fl, failf(2, "--%s", err)
	}
	return fl, nil
}

func newExplainCmd(conn *connFlags) *cobra.Command {
	var policies []string
	var dir, gateway, format string
	var ff flowFlags
	cmd := &cobra.Command{
		Use:   "explain --policy FILE --inventory DIR --src IP --dst IP --protocol P --port N [--gateway PATH]",
		Short: "Decide a flow with the distributed or gateway firewall and say which rule decided it and why",
		Long: `explain evaluates one flow. Without --gateway it evaluates the distributed
firewall (DFW); with --gateway /infra/tier-1s/<id> (or a tier-0) it evaluates
that gateway's firewall (GFW). With --policy it works offline on files; without,
it asks the manager. It prints the verdict, the deciding rule
("default" when no rule matches and the default rule decides) and the groups
that matched the source and destination.

On the DFW, files and manager alike, ` + explain.OfflineDFWAssumption + ".",
		Example: `  kordon explain --policy examples/policy.yaml --inventory examples/inventory \
      --src 172.16.20.11 --dst 192.168.50.10 --protocol TCP --port 443
  kordon explain --policy examples/policy.yaml --inventory examples/inventory \
      --src 10.10.1.100 --dst 172.16.10.5 --protocol TCP --port 5432 --gateway /infra/tier-1s/t1-edge -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl, err := ff.flow(cmd)
			if err != nil {
				return err
			}
			if len(policies) == 0 && dir != "" {
				return failf(2, "--policy is required with --inventory (offline mode); without both, kordon asks the manager")
			}
			if len(policies) == 0 {
				return remoteExplain(cmd, conn, ff.request(cmd), gateway, format)
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
			rep := explain.Decide(o.cfg, o.idx, fl, gateway)
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

// printExplain prints a report, from a manager or computed here, each
// value on one line of its table.
func printExplain(w io.Writer, rep explain.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(label, format string, a ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", label, oneLine(fmt.Sprintf(format, a...)))
	}
	fw := rep.Firewall
	if rep.Gateway != "" {
		fw += " " + rep.Gateway
	}
	row("firewall", "%s", fw)
	fl := rep.Flow
	switch {
	case fl.Port != 0:
		row("flow", "%s -> %s %s/%d", fl.Src, fl.Dst, fl.Protocol, fl.Port)
	case fl.ICMPType != nil && fl.ICMPCode != nil:
		row("flow", "%s -> %s %s type %d code %d", fl.Src, fl.Dst, fl.Protocol, *fl.ICMPType, *fl.ICMPCode)
	default:
		row("flow", "%s -> %s %s", fl.Src, fl.Dst, fl.Protocol)
	}
	row("verdict", "%s", rep.Verdict)
	row("rule", "%s", rep.RulePath)
	if rep.PolicyPath != "" {
		row("policy", "%s (%s)", rep.PolicyPath, orNone(rep.Category))
	}
	for _, j := range rep.Jumped {
		row("jumped", "%s (JUMP_TO_APPLICATION)", j)
	}
	row("why", "%s", rep.Reason)
	row("evaluated", "%d of %d rules", rep.RulesEvaluated, rep.RulesInRuleset)
	if rep.Assumption != "" {
		row("note", "%s", rep.Assumption)
	}
	tw.Flush()
}

// explainFlags names the flags of explain's request fields.
var explainFlags = fieldsToFlags(map[string]string{"src": "--src", "dst": "--dst", "protocol": "--protocol", "port": "--port",
	"src_port": "--src-port", "icmp_type": "--icmp-type", "icmp_code": "--icmp-code", "gateway": "--gateway"})

func remoteExplain(cmd *cobra.Command, conn *connFlags, q explain.Request, gateway, format string) error {
	c, err := conn.connect()
	if err != nil {
		return err
	}
	q.Gateway = gateway
	var rep explain.Report
	if err := c.Do(cmd.Context(), http.MethodPost, "/policy/api/v1/kordon/explain", q, &rep); err != nil {
		return remoteFlagErr(err, explainFlags)
	}
	done, err := printStructured(cmd.OutOrStdout(), format, rep)
	if err != nil || done {
		return err
	}
	printExplain(cmd.OutOrStdout(), rep)
	return nil
}

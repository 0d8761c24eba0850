package cli

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/explain"
	"github.com/kordon-dev/kordon/internal/trace"
)

func newTraceCmd(conn *connFlags) *cobra.Command {
	var policies []string
	var dir, format string
	var out trace.OutboundRequest
	var in trace.InboundRequest
	cmd := &cobra.Command{
		Use:   "trace (--from-pod CLUSTER/NS/POD --to IP --protocol P --port N | --from IP --to-service|--to-ingress|--to-gateway CLUSTER/NS/NAME) [--gateway PATH]",
		Short: "Trace traffic across the cluster boundary: the address firewalls see, and which rules decide it",
		Long: `trace follows traffic between a pod and a VM across the cluster boundary, in
the ways VMware's NSX documentation on Antrea clusters describes (SNAT through
an Egress or a node, routable pods; VIPs, node ports, routable pod IPs), and
decides it with the firewalls on its path.

Outbound (--from-pod): which source address the firewall sees and why. A pod
whose address comes from an Antrea IPPool is bridged to the underlay and keeps
its routable address (Egress SNAT does not apply to it); else an Antrea Egress
whose appliedTo selects the pod SNATs it to its egress IP on the egress node;
else the pod's node masquerades it to the node's IP. When several
Egresses with different IPs select the pod, Antrea's choice is not defined and
every candidate is traced. Each source is then decided by the gateway firewall
(--gateway, else every tier-0 and tier-1) and by the DFW at the destination VM.

Inbound (--from): every address and port by which a Service, Ingress or Gateway
is reachable from outside its cluster (load-balancer VIPs, node IP + NodePort on
every node, node IP + NodePortLocal port per backend pod, routable pod IPs),
each decided by the DFW at the source VM and by the gateway firewall. A
ClusterIP Service without NodePortLocal is reported as not reachable, with the
reason.

With --policy it works offline on files; without, it asks the manager.`,
		Example: `  # Out 1: SNAT through an Egress (pods of namespaces labelled team=pay)
  kordon trace --policy examples/policy.yaml --inventory examples/inventory \
      --from-pod prod-east/payments/api-5f8b9 --to 172.16.10.5 --protocol TCP --port 5432
  # Out 2: SNAT to the node (the batch pod's Egress has no IP yet)
  kordon trace --policy examples/policy.yaml --inventory examples/inventory \
      --from-pod prod-east/batch/report-28f1 --to 172.16.10.5 --protocol TCP --port 5432
  # Out 3: a routable pod with an address from an IPPool
  kordon trace --policy examples/policy.yaml --inventory examples/inventory \
      --from-pod prod-east/payments/ledger-0 --to 172.16.10.5 --protocol TCP --port 5432
  # In 1: VIPs (a LoadBalancer Service, an Ingress, a Gateway)
  kordon trace --policy examples/policy.yaml --inventory examples/inventory \
      --from 172.16.20.11 --to-service prod-east/shop/frontend --gateway /infra/tier-1s/t1-edge
  kordon trace --policy examples/policy.yaml --inventory examples/inventory \
      --from 172.16.20.11 --to-ingress prod-east/shop/web
  # In 2: node IP + port (a NodePort Service; NodePortLocal)
  kordon trace --policy examples/policy.yaml --inventory examples/inventory \
      --from 172.16.20.11 --to-service prod-east/shop/catalog
  kordon trace --policy examples/policy.yaml --inventory examples/inventory \
      --from 172.16.20.11 --to-service prod-east/shop/cart
  # In 3: routable pod IPs
  kordon trace --policy examples/policy.yaml --inventory examples/inventory \
      --from 172.16.20.11 --to-service prod-east/payments/ledger
  # Against the manager, as JSON
  kordon trace --from 172.16.30.5 --to-gateway prod-east/payments/pay-gw -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			outbound := out.Pod != ""
			inbound := in.From != ""
			if outbound == inbound {
				return failf(2, "give either --from-pod (outbound) or --from (inbound)")
			}
			if outbound && (in.ToService != "" || in.ToIngress != "" || in.ToGateway != "") {
				return failf(2, "--to-service, --to-ingress and --to-gateway go with --from, not --from-pod")
			}
			if inbound && (out.To != "" || cmd.Flags().Changed("port")) {
				return failf(2, "--to and --port go with --from-pod; inbound traces take the ports from the object")
			}
			in.Gateway = out.Gateway
			if len(policies) == 0 && dir != "" {
				return failf(2, "--policy is required with --inventory (offline mode); without both, kordon asks the manager")
			}
			var rep any
			if len(policies) == 0 {
				c, err := conn.connect()
				if err != nil {
					return err
				}
				var body any = out
				if inbound {
					body = in
				}
				var res traceResult
				if err := c.Do(cmd.Context(), http.MethodPost, "/policy/api/v1/kordon/trace", body, &res); err != nil {
					return remoteFlagErr(err, flagName)
				}
				rep = res.value(inbound)
			} else {
				o, err := load(policies, dir, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				fw := trace.NewFirewalls(o.cfg, o.idx)
				if outbound {
					r, err := trace.TraceOutbound(o.idx, fw, out)
					if err != nil {
						return failf(2, "%v", flagName(err.Error()))
					}
					rep = r
				} else {
					r, err := trace.TraceInbound(o.idx, fw, in)
					if err != nil {
						return failf(2, "%v", flagName(err.Error()))
					}
					rep = r
				}
			}
			done, err := printStructured(cmd.OutOrStdout(), format, rep)
			if err != nil || done {
				return err
			}
			switch r := rep.(type) {
			case trace.Outbound:
				printOutbound(cmd.OutOrStdout(), r)
			case trace.Inbound:
				printInbound(cmd.OutOrStdout(), r)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&policies, "policy", nil, "policy file (repeatable; applied in order)")
	f.StringVar(&dir, "inventory", "", "inventory directory: DIR/<cluster>/*.yaml|json as kubectl prints them")
	f.StringVar(&out.Pod, "from-pod", "", "outbound: the pod, CLUSTER/NAMESPACE/NAME")
	f.StringVar(&out.To, "to", "", "outbound: the destination IP address")
	f.StringVar(&out.Protocol, "protocol", "TCP", "outbound: TCP, UDP, SCTP, ICMPv4, ICMPv6 or an IP protocol number")
	f.Uint16Var(&out.Port, "port", 0, "outbound: destination port (TCP, UDP, SCTP)")
	f.StringVar(&in.From, "from", "", "inbound: the source IP address (a VM)")
	f.StringVar(&in.ToService, "to-service", "", "inbound: a Service, CLUSTER/NAMESPACE/NAME")
	f.StringVar(&in.ToIngress, "to-ingress", "", "inbound: an Ingress, CLUSTER/NAMESPACE/NAME")
	f.StringVar(&in.ToGateway, "to-gateway", "", "inbound: a Gateway API Gateway, CLUSTER/NAMESPACE/NAME")
	f.StringVar(&out.Gateway, "gateway", "", "the tier-0 or tier-1 on the path (default: decide every gateway)")
	outputFlag(cmd, &format)
	return cmd
}

// traceResult decodes the API's answer, of either direction.
type traceResult struct {
	trace.Outbound
	Target      string        `json:"target"`
	Entries     []trace.Entry `json:"entries"`
	Unreachable string        `json:"unreachable"`
}

func (r traceResult) value(inbound bool) any {
	if !inbound {
		return r.Outbound
	}
	return trace.Inbound{Direction: r.Direction, Target: r.Target, Entries: r.Entries, Hops: r.Hops, Unreachable: r.Unreachable, Gateways: r.Gateways, Notes: r.Notes}
}

// flagName turns the trace package's field names, in an error's text,
// into the CLI's flags.
func flagName(s string) string {
	for field, flag := range map[string]string{"from_pod:": "--from-pod:", "to:": "--to:", "from:": "--from:", "gateway:": "--gateway:",
		"to_service:": "--to-service:", "to_ingress:": "--to-ingress:", "to_gateway:": "--to-gateway:", "port is required": "--port is required"} {
		if strings.HasPrefix(s, field) {
			return flag + strings.TrimPrefix(s, field)
		}
	}
	return strings.NewReplacer("to_service", "--to-service", "to_ingress", "--to-ingress", "to_gateway", "--to-gateway").Replace(s)
}

// printOutbound and printInbound print a trace, from a manager or
// computed here. Its names come from the inventory (a cluster's adapter
// names pods, Services and Egresses) and its reasons quote them: every
// value is one line (cells of a table too, so a tab cannot shift them).
func printOutbound(w io.Writer, r trace.Outbound) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	ex := r.Exit
	traceRow(tw, "pod", "%s on node %s, addresses %s", ex.Pod, orNone(ex.PodNode), joinAddrs(ex.PodIPs))
	for _, e := range ex.Egresses {
		traceRow(tw, "egress", "%s selects the pod (egress IPs %s, node %s)", e.Egress, joinAddrs(e.IPs), orNone(e.Node))
	}
	if ex.Unresolved != "" {
		traceRow(tw, "source", "unknown: %s", ex.Unresolved)
	}
	for _, n := range ex.Notes {
		traceRow(tw, "note", "%s", n)
	}
	tw.Flush()
	for i, h := range r.Hops {
		fmt.Fprintf(w, "\n[%d] %s\n", i+1, oneLine(fmt.Sprintf("the firewall sees source %s (%s)", h.Source.Address, h.Source.Via)))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		traceRow(tw, "  why", "%s", h.Source.Reason)
		printHop(tw, h, false)
		tw.Flush()
	}
	printNotes(w, r.Notes)
}

func printInbound(w io.Writer, r trace.Inbound) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	traceRow(tw, "target", "%s", r.Target)
	traceRow(tw, "ways in", "%d", len(r.Entries))
	if r.Unreachable != "" {
		label := "unreachable"
		if len(r.Entries) > 0 {
			label = "missing"
		}
		traceRow(tw, label, "%s", r.Unreachable)
	}
	tw.Flush()
	for i, h := range r.Hops {
		e := h.Entry
		fmt.Fprintf(w, "\n[%d] %s\n", i+1, oneLine(fmt.Sprintf("%s %s/%d via %s (%s)", e.Address, e.Protocol, e.Port, e.Via, e.Object)))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		traceRow(tw, "  why", "%s", e.Reason)
		printHop(tw, h, true)
		tw.Flush()
	}
	printNotes(w, r.Notes)
}

// traceRow writes a row of a trace's table: its label, and its value on
// one line.
func traceRow(tw io.Writer, label, format string, a ...any) {
	fmt.Fprintf(tw, "%s\t%s\n", label, oneLine(fmt.Sprintf(format, a...)))
}

func printHop(tw io.Writer, h trace.Hop, dfwFirst bool) {
	traceRow(tw, "  flow", "%s -> %s %s/%d", h.Flow.Src, h.Flow.Dst, h.Flow.Protocol, h.Flow.Port)
	line := func(label string, rep explain.Report) {
		traceRow(tw, "  "+oneLine(label), "%s by %s", rep.Verdict, rep.RulePath)
		if len(rep.MatchedSources) > 0 || len(rep.MatchedDestinations) > 0 {
			traceRow(tw, "  ", "source in %s; destination in %s", listOrAny(rep.MatchedSources), listOrAny(rep.MatchedDestinations))
		}
	}
	if dfwFirst {
		line("DFW (source VM)", h.DFW)
	}
	for _, g := range h.Gateways {
		line("GFW "+g.Gateway, g)
	}
	if !dfwFirst {
		line("DFW (destination VM)", h.DFW)
	}
	traceRow(tw, "  verdict", "%s", h.Verdict)
}

func listOrAny(l []string) string {
	if len(l) == 0 {
		return "ANY"
	}
	return strings.Join(l, ", ")
}

func printNotes(w io.Writer, notes []string) {
	if len(notes) == 0 {
		return
	}
	fmt.Fprintln(w)
	for _, n := range notes {
		fmt.Fprintf(w, "note: %s\n", oneLine(n))
	}
}

func joinAddrs[T fmt.Stringer](l []T) string {
	if len(l) == 0 {
		return "none"
	}
	s := make([]string, len(l))
	for i, a := range l {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

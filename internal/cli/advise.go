package cli

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/advise"
	"github.com/kordon-dev/kordon/internal/cmdutil"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/policy"
	"github.com/kordon-dev/kordon/internal/whatif"
)

func newAdviseCmd(conn *connFlags) *cobra.Command {
	var policies []string
	var dir, format string
	var failOn string
	cmd := &cobra.Command{
		Use:   "advise [--policy FILE --inventory DIR]",
		Short: "Report what to change: rule placement, groups that match nothing, shadowed and redundant rules",
		Long: `advise reads the configuration and the inventory and reports findings, each with
the objects involved and a suggested fix, warnings first:

  - VMware's recommendation for NSX with Antrea clusters: filter
    cluster-to-VM traffic on the gateway firewall and VM-to-cluster traffic
    on the DFW, when a rule does otherwise;
  - source-side member types (Egress, Node) used as destination, and
    destination-side ones (Service, Ingress, Gateway) used as source;
  - groups of ClusterIP Services (they never match), groups that resolve to
    nothing, Egresses without an IP, VIPs not assigned yet, pods whose
    Egress is ambiguous;
  - rules shadowed by earlier rules (never reachable) and redundant rules
    (removing them changes no verdict), found by an exact analysis of the
    DFW and of each gateway's firewall;
  - members of clusters that are not Up (against a manager).

With --policy it works offline on files; without, it asks the manager.
--fail-on warning makes the exit status 3 when a warning is found, for CI.`,
		Example: `  kordon advise --policy examples/policy.yaml --inventory examples/inventory
  kordon advise -o json
  kordon advise --policy policy.yaml --inventory dump/ --fail-on warning`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if failOn != "" && failOn != advise.Warning && failOn != advise.Info {
				return failf(2, "--fail-on: %q is not warning or info", failOn)
			}
			if len(policies) == 0 && dir != "" {
				return failf(2, "--policy is required with --inventory (offline mode); without both, kordon asks the manager")
			}
			var fs []advise.Finding
			if len(policies) == 0 {
				c, err := conn.connect()
				if err != nil {
					return err
				}
				var res struct {
					Results []advise.Finding `json:"results"`
				}
				if err := c.Do(cmd.Context(), http.MethodGet, "/policy/api/v1/kordon/advise", nil, &res); err != nil {
					return remoteErr(err)
				}
				fs = res.Results
			} else {
				o, err := load(policies, dir, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				fs = advise.Advise(advise.Input{Config: o.cfg, Index: o.idx})
			}
			done, err := printStructured(cmd.OutOrStdout(), format, map[string]any{"results": fs, "result_count": len(fs)})
			if err != nil {
				return err
			}
			if !done {
				printFindings(cmd.OutOrStdout(), fs)
			}
			warn, info := severities(fs)
			switch {
			case failOn == advise.Warning && warn > 0:
				return &cmdutil.ExitError{Code: 3, Err: fmt.Errorf("advise found %s (--fail-on warning)", plural(warn, "warning"))}
			case failOn == advise.Info && warn+info > 0:
				return &cmdutil.ExitError{Code: 3, Err: fmt.Errorf("advise found %s (--fail-on info)", countFindings(fs))}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&policies, "policy", nil, "policy file (repeatable; applied in order)")
	cmd.Flags().StringVar(&dir, "inventory", "", "inventory directory: DIR/<cluster>/*.yaml|json as kubectl prints them")
	cmd.Flags().StringVar(&failOn, "fail-on", "", "exit with status 3 when a finding of this severity or worse is found: warning or info")
	outputFlag(cmd, &format)
	return cmd
}

func printFindings(w io.Writer, fs []advise.Finding) {
	if len(fs) == 0 {
		fmt.Fprintln(w, "no findings")
		return
	}
	fmt.Fprintln(w, countFindings(fs))
	// A finding names inventory objects (a cluster's adapter names them)
	// and quotes configuration: each field is one line.
	for _, f := range fs {
		fmt.Fprintf(w, "\n%s  %s\n  %s\n", oneLine(strings.ToUpper(f.Severity)), oneLine(f.Code), oneLine(f.Message))
		fmt.Fprintf(w, "  objects: %s\n", oneLine(strings.Join(f.Objects, ", ")))
		if f.Count > 1 {
			fmt.Fprintf(w, "  instances: %d (first %d: %s)\n", f.Count, len(f.Sample), oneLine(strings.Join(f.Sample, ", ")))
		}
		fmt.Fprintf(w, "  fix: %s\n", oneLine(f.Fix))
	}
}

// severities counts findings by severity.
func severities(fs []advise.Finding) (warn, info int) {
	for _, f := range fs {
		switch f.Severity {
		case advise.Warning:
			warn++
		case advise.Info:
			info++
		}
	}
	return warn, info
}

// countFindings says how many findings there are of each severity:
// "3 findings: 2 warnings, 1 info".
func countFindings(fs []advise.Finding) string {
	warn, info := severities(fs)
	var parts []string
	if warn > 0 {
		parts = append(parts, plural(warn, "warning"))
	}
	if info > 0 {
		parts = append(parts, fmt.Sprintf("%d info", info))
	}
	if other := len(fs) - warn - info; other > 0 {
		parts = append(parts, fmt.Sprintf("%d of another severity", other))
	}
	return plural(len(fs), "finding") + ": " + strings.Join(parts, ", ")
}

func newDiffCmd() *cobra.Command {
	var policies []string
	var dir, flowsFile, format string
	cmd := &cobra.Command{
		Use:   "diff --policy OLD --policy NEW --inventory DIR [--flows FILE]",
		Short: "What if: which groups gain or lose members, and which flows change verdict, between two policies",
		Long: `diff compares two policy files over one inventory, offline. It lists the groups
that gain or lose members and addresses, and, with --flows, the flows whose
verdict or deciding rule changes on the DFW or on a gateway's firewall.

--flows reads a CSV file: src,dst,protocol,port a line (a header line is
allowed; for ICMP the port column is the ICMP type). Changing only the
inventory is the same comparison: diff the same policy over two dumps with
kordon members, or use kordon apply --dry-run against a manager.`,
		Example: `  kordon diff --policy old.yaml --policy new.yaml --inventory examples/inventory --flows flows.csv`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(policies) != 2 {
				return failf(2, "--policy must be given exactly twice: the old policy, then the new one")
			}
			var flows []policy.Flow
			if flowsFile != "" {
				f, err := os.Open(flowsFile)
				if err != nil {
					return failf(2, "--flows: %v", err)
				}
				flows, err = whatif.ParseFlows(flowsFile, f)
				f.Close()
				if err != nil {
					return failf(2, "--flows: %v", err)
				}
			}
			// Both sides' indexes share one reading of the inventory:
			// reading it once per side held two copies of every object.
			var cfgs [2]*model.Config
			for i, p := range policies {
				cfg, err := loadValidPolicy([]string{p}, cmd.ErrOrStderr())
				if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				cfgs[i] = cfg
			}
			objs, err := loadInventory(dir, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			var sides [2]whatif.Side
			for i, p := range policies {
				o, err := index(cfgs[i], objs)
				if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				sides[i] = whatif.Side{Config: o.cfg, Index: o.idx}
			}
			res := struct {
				Groups []whatif.GroupChange `json:"groups"`
				Flows  []whatif.FlowChange  `json:"flows"`
				Tested int                  `json:"flows_tested"`
			}{whatif.Groups(sides[0], sides[1]), whatif.Flows(sides[0], sides[1], flows), len(flows)}
			done, err := printStructured(cmd.OutOrStdout(), format, res)
			if err != nil || done {
				return err
			}
			w := cmd.OutOrStdout()
			if len(res.Groups) == 0 {
				fmt.Fprintln(w, "groups: no change")
			}
			for _, g := range res.Groups {
				fmt.Fprintf(w, "group %s (%s)\n", oneLine(g.Group), oneLine(g.Change))
				for _, l := range []struct {
					sign string
					list []string
				}{{"+ member ", g.MembersAdded}, {"- member ", g.MembersRemoved}, {"+ address ", g.AddressesAdded}, {"- address ", g.AddressesRemoved}} {
					for _, s := range l.list {
						fmt.Fprintf(w, "  %s%s\n", l.sign, oneLine(s))
					}
				}
			}
			if flowsFile == "" {
				return nil
			}
			fmt.Fprintf(w, "\nflows: %d tested, %s changed\n", res.Tested, plural(len(res.Flows), "decision"))
			for _, f := range res.Flows {
				mark := "rule"
				if f.VerdictChanged {
					mark = "VERDICT"
				}
				fmt.Fprintf(w, "  %-7s %s\n", mark, oneLine(fmt.Sprintf("%s -> %s %s/%d on %s: %s (%s) -> %s (%s)", f.Flow.Src, f.Flow.Dst, f.Flow.Protocol, f.Flow.Port,
					f.Firewall, f.Old.Verdict, f.Old.Rule, f.New.Verdict, f.New.Rule)))
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&policies, "policy", nil, "policy file: the old one, then the new one")
	cmd.Flags().StringVar(&dir, "inventory", "", "inventory directory: DIR/<cluster>/*.yaml|json as kubectl prints them")
	cmd.Flags().StringVar(&flowsFile, "flows", "", "CSV file of flows to decide on both sides: src,dst,protocol,port")
	outputFlag(cmd, &format)
	return cmd
}

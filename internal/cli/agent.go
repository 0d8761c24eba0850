package cli

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/kordon-dev/kordon/internal/agentcmd"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/wire"
)

const agentsAPI = "/policy/api/v1/kordon/agents"

func newAgentCmd(conn *connFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Enforcement agents: register them, run them on VMs and gateways, see their realization",
		Long: `An agent enforces on a Linux host, with nftables, the rules that apply there:
on a VM (--role vm) the distributed firewall rules whose Applied To covers the
VM, on traffic in and out of it; on a host routing for a tier-0 or tier-1
gateway (--role gateway) that gateway's firewall rules, on forwarded traffic.
Each agent has its own identity, issued at registration.

  kordon agent register edge-1 --role gateway --gateway /infra/tier-1s/t1-edge --bundle-out edge-1.bundle
  sudo kordon agent run --bundle edge-1.bundle
  kordon agent list`,
	}
	cmd.AddCommand(newAgentRegisterCmd(conn), newAgentUpdateCmd(conn), newAgentRotateCmd(conn), agentcmd.Run(), newAgentListCmd(conn),
		newAgentShowCmd(conn), newAgentDeregisterCmd(conn), agentcmd.Uninstall())
	return cmd
}

// agentAttrFlags are what the manager decides about a VM agent.
type agentAttrFlags struct {
	tags, allowed          []string
	osName, computerName   string
	setTags, setAllowed    bool
	setOSName, setComputer bool
}

func (a *agentAttrFlags) add(f *pflag.FlagSet) {
	f.StringArrayVar(&a.tags, "tag", nil, "a tag of the VM, as scope|tag (repeatable): what VirtualMachine groups select it by")
	f.StringVar(&a.osName, "os-name", "", "the VM's OS name, for groups that select by OSName")
	f.StringVar(&a.computerName, "computer-name", "", "the VM's computer name, for groups that select by ComputerName")
	f.StringArrayVar(&a.allowed, "allowed-address", nil, "an address, CIDR or range the VM may claim (repeatable); its addresses then belong to this VM only")
}

func (a *agentAttrFlags) changed(cmd *cobra.Command) {
	a.setTags, a.setAllowed = cmd.Flags().Changed("tag"), cmd.Flags().Changed("allowed-address")
	a.setOSName, a.setComputer = cmd.Flags().Changed("os-name"), cmd.Flags().Changed("computer-name")
}

func parseTags(list []string) ([]model.Tag, error) {
	out := []model.Tag{}
	for _, t := range list {
		scope, tag, ok := strings.Cut(t, "|")
		if !ok {
			return nil, failf(2, "--tag %q: write scope|tag", t)
		}
		out = append(out, model.Tag{Scope: scope, Tag: tag})
	}
	return out, nil
}

func writeBundle(cmd *cobra.Command, path string, b wire.Bundle, what string) error {
	data, _ := yaml.Marshal(b)
	if path == "-" {
		// The bundle alone on standard output (kubectl exec ... > FILE,
		// where the manager runs in a pod whose files cannot be read out).
		if _, err := cmd.OutOrStdout().Write(data); err != nil {
			return failf(1, "--bundle-out: %v", err)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "bundle (the %s's identity, keep it secret; it is not kept anywhere else) written to standard output\n", what)
		return nil
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return failf(1, "--bundle-out: %v", err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "bundle (the %s's identity, keep it secret; it is not kept anywhere else) written to %s\n", what, path)
	return nil
}

// bundleName is how the next steps name the bundle's file.
func bundleName(bundleOut string) string {
	if bundleOut == "-" {
		return "FILE"
	}
	return bundleOut
}

// messages is where a command that writes a bundle says what it did:
// standard error when the bundle itself goes to standard output.
func messages(cmd *cobra.Command, bundleOut string) io.Writer {
	if bundleOut == "-" {
		return cmd.ErrOrStderr()
	}
	return cmd.OutOrStdout()
}

func newAgentRegisterCmd(conn *connFlags) *cobra.Command {
	var role, gateway, project, managerURL, bundleOut string
	var attrs agentAttrFlags
	cmd := &cobra.Command{
		Use:   "register NAME --role vm|gateway [--gateway PATH] --bundle-out FILE",
		Short: "Register an enforcement agent and issue its identity",
		Long: `register creates the agent and its identity; the bundle holds its private key
and is written once, to --bundle-out: the manager keeps no copy (a lost bundle
is replaced with 'kordon agent rotate').

What selects a VM into groups is decided here, not by the agent: its name, --tag,
--os-name and --computer-name. --allowed-address pins the addresses the VM may
claim: an address outside them is refused, and another agent claiming one of
them is refused. Without it, an address two agents claim counts for neither.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if bundleOut == "" {
				return failf(2, "--bundle-out: the file to write the agent's bundle (its identity) to")
			}
			tags, err := parseTags(attrs.tags)
			if err != nil {
				return err
			}
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var out struct {
				Agent  manager.Agent `json:"agent"`
				Bundle wire.Bundle   `json:"bundle"`
			}
			req := map[string]any{"name": args[0], "role": role, "gateway": gateway, "project": project, "server": managerURL,
				"tags": tags, "os_name": attrs.osName, "computer_name": attrs.computerName, "allowed_addresses": attrs.allowed}
			if err := c.Do(cmd.Context(), http.MethodPost, agentsAPI, req, &out); err != nil {
				return remoteErr(err)
			}
			w := messages(cmd, bundleOut)
			what := "a VM (distributed firewall)"
			if out.Agent.Role == "gateway" {
				what = "gateway " + out.Agent.Gateway + " (gateway firewall)"
			}
			if out.Agent.Project != "" {
				what += " in project " + out.Agent.Project
			}
			fmt.Fprintf(w, "agent %s registered for %s; it will reach the manager at %s\n", oneLine(out.Agent.Name), oneLine(what), oneLine(out.Bundle.Server))
			if err := writeBundle(cmd, bundleOut, out.Bundle, "agent"); err != nil {
				return err
			}
			fmt.Fprintf(w, "on the host, as root: kordon agent run --bundle %s\n", bundleName(bundleOut))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&role, "role", "", "vm: a VM the distributed firewall protects; gateway: a host routing for --gateway")
	f.StringVar(&gateway, "gateway", "", "path of the tier-0 or tier-1 a gateway agent enforces, e.g. /infra/tier-1s/t1-edge")
	f.StringVar(&project, "project", "", "the project a VM belongs to (its groups and policies are that project's)")
	f.StringVar(&managerURL, "manager-url", "", "URL the agent reaches the manager at (default: the URL this command uses)")
	f.StringVar(&bundleOut, "bundle-out", "", "write the agent's bundle to this file (- for standard output)")
	attrs.add(f)
	return cmd
}

func newAgentUpdateCmd(conn *connFlags) *cobra.Command {
	var attrs agentAttrFlags
	var format string
	cmd := &cobra.Command{
		Use:   "update NAME [--tag S|T]... [--os-name N] [--computer-name N] [--allowed-address A]...",
		Short: "Change what selects a VM into groups (tags, OS and computer name) and the addresses it may claim",
		Long: `update replaces the attributes given and keeps the others; --tag (or
--allowed-address) given with an empty value clears the list.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			attrs.changed(cmd)
			req := map[string]any{}
			if attrs.setTags {
				var list []string
				for _, t := range attrs.tags {
					if t != "" {
						list = append(list, t)
					}
				}
				tags, err := parseTags(list)
				if err != nil {
					return err
				}
				req["tags"] = tags
			}
			if attrs.setAllowed {
				list := []string{}
				for _, a := range attrs.allowed {
					if a != "" {
						list = append(list, a)
					}
				}
				req["allowed_addresses"] = list
			}
			if attrs.setOSName {
				req["os_name"] = attrs.osName
			}
			if attrs.setComputer {
				req["computer_name"] = attrs.computerName
			}
			if len(req) == 0 {
				return failf(2, "nothing to change: give --tag, --os-name, --computer-name or --allowed-address")
			}
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var a manager.Agent
			if err := c.Do(cmd.Context(), http.MethodPatch, agentsAPI+"/"+url.PathEscape(args[0]), req, &a); err != nil {
				return remoteErr(err)
			}
			if done, err := printStructured(cmd.OutOrStdout(), format, a); err != nil || done {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "agent %s updated: tags %s, os name %s, computer name %s, allowed addresses %s\n", oneLine(a.Name),
				orNone(oneLine(tagList(a.Tags))), orNone(oneLine(a.OSName)), orNone(oneLine(a.ComputerName)), orNone(oneLine(strings.Join(a.AllowedAddresses, ", "))))
			return nil
		},
	}
	attrs.add(cmd.Flags())
	outputFlag(cmd, &format)
	return cmd
}

func tagList(ts []model.Tag) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Scope+"|"+t.Tag)
	}
	return strings.Join(out, ", ")
}

func newAgentRotateCmd(conn *connFlags) *cobra.Command {
	var managerURL, bundleOut string
	cmd := &cobra.Command{
		Use:   "rotate NAME --bundle-out FILE",
		Short: "Issue an agent a new identity (its old bundle is refused from now on)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if bundleOut == "" {
				return failf(2, "--bundle-out: the file to write the agent's new bundle to")
			}
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var out struct {
				Bundle wire.Bundle `json:"bundle"`
			}
			if err := c.Do(cmd.Context(), http.MethodPost, agentsAPI+"/"+url.PathEscape(args[0])+"/rotate", map[string]string{"server": managerURL}, &out); err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(messages(cmd, bundleOut), "agent %s has a new identity; its previous bundle is refused from now on\n", args[0])
			return writeBundle(cmd, bundleOut, out.Bundle, "agent")
		},
	}
	cmd.Flags().StringVar(&managerURL, "manager-url", "", "URL the agent reaches the manager at (default: the URL this command uses)")
	cmd.Flags().StringVar(&bundleOut, "bundle-out", "", "write the agent's new bundle to this file (- for standard output)")
	return cmd
}

func getAgents(cmd *cobra.Command, conn *connFlags) ([]manager.AgentStatus, error) {
	c, err := conn.connect()
	if err != nil {
		return nil, err
	}
	var out struct {
		Results []manager.AgentStatus `json:"results"`
	}
	if err := c.Do(cmd.Context(), http.MethodGet, agentsAPI, nil, &out); err != nil {
		return nil, remoteErr(err)
	}
	return out.Results, nil
}

func newAgentListCmd(conn *connFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List agents with their realization state (SUCCESS, IN_PROGRESS, ERROR, UNKNOWN)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			as, err := getAgents(cmd, conn)
			if err != nil {
				return err
			}
			if done, err := printStructured(cmd.OutOrStdout(), format, as); err != nil || done {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tENFORCES\tSTATE\tREVISION\tRULES\tELEMENTS\tREASON")
			for _, a := range as {
				where := a.Gateway
				if a.Role == "vm" {
					where = "[" + strings.Join(a.Addresses, " ") + "]"
					if len(a.Refused) > 0 {
						where += fmt.Sprintf(" (%d refused)", len(a.Refused))
					}
				}
				rev, rules, els := "-", "-", "-"
				if a.Report != nil {
					rev, rules, els = fmt.Sprint(a.Report.Revision), fmt.Sprint(a.Report.Rules), fmt.Sprint(a.Report.Elements)
				}
				// The reason holds what the agent reported (its error, up
				// to 4 KiB over lines): one line, cut; agent show has it
				// whole.
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(a.Name), oneLine(a.Role), oneLine(where), oneLine(a.State), rev, rules, els,
					oneLineMax(a.Reason, reasonWidth))
			}
			return tw.Flush()
		},
	}
	outputFlag(cmd, &format)
	return cmd
}

// reasonWidth bounds the reason column of agent list.
const reasonWidth = 120

func newAgentShowCmd(conn *connFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show an agent's realization state, its last report and its rules' counters",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var a manager.AgentStatus
			if err := c.Do(cmd.Context(), http.MethodGet, agentsAPI+"/"+url.PathEscape(args[0]), nil, &a); err != nil {
				return remoteErr(err)
			}
			if done, err := printStructured(cmd.OutOrStdout(), format, a); err != nil || done {
				return err
			}
			w := cmd.OutOrStdout()
			// Everything below may hold what the agent reported (its
			// error, OS and computer name, counters' keys): one line each.
			fmt.Fprintf(w, "agent        %s (id %s), role %s\n", oneLine(a.Name), oneLine(a.ID), oneLine(a.Role))
			if a.Gateway != "" {
				fmt.Fprintf(w, "gateway      %s\n", oneLine(a.Gateway))
			}
			if a.Project != "" {
				fmt.Fprintf(w, "project      %s\n", oneLine(a.Project))
			}
			if a.Role == "vm" {
				fmt.Fprintf(w, "addresses    %s\n", orNone(oneLine(strings.Join(a.Addresses, ", "))))
				for _, r := range a.Refused {
					fmt.Fprintf(w, "refused      %s: %s\n", r.Address, oneLine(r.Reason))
				}
				fmt.Fprintf(w, "selected by  tags %s; os name %s; computer name %s\n", orNone(oneLine(tagList(a.Tags))), orNone(oneLine(a.OSName)), orNone(oneLine(a.ComputerName)))
				if len(a.AllowedAddresses) > 0 {
					fmt.Fprintf(w, "allowed      %s\n", oneLine(strings.Join(a.AllowedAddresses, ", ")))
				}
				if a.VM != nil {
					fmt.Fprintf(w, "reports      %v %s %s\n", a.VM.Addresses, oneLine(a.VM.OSName), oneLine(a.VM.ComputerName))
				}
			}
			fmt.Fprintf(w, "state        %s\n", oneLine(strings.TrimSpace(a.State+" "+a.Reason)))
			if a.Report != nil && a.Report.Mode != "" {
				fmt.Fprintf(w, "table        %s\n", modeText[a.Report.Mode])
			}
			fmt.Fprintf(w, "span         revision %d (%s)\n", a.SpanRevision, oneLine(a.SpanDigest))
			if r := a.Report; r != nil {
				fmt.Fprintf(w, "enforces     revision %d (%s): %d rules, %d set elements, since %s\n", r.Revision, oneLine(r.Digest), r.Rules, r.Elements, r.Realized.Format(time.RFC3339))
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				for _, p := range sortedCounterKeys(r.Counters) {
					fmt.Fprintf(tw, "  %s\t%d packets\t%d bytes\t\n", oneLine(p), r.Counters[p].Packets, r.Counters[p].Bytes)
				}
				tw.Flush()
			}
			return nil
		},
	}
	outputFlag(cmd, &format)
	return cmd
}

// modeText says what each mode an agent reports means for its host.
var modeText = map[string]string{
	wire.ModeEnforcing:  "enforcing the span it was sent",
	wire.ModeKept:       "the table an earlier run applied (no span applied by this run yet)",
	wire.ModeFailClosed: "failing closed: no span applied yet, new connections dropped",
	wire.ModeFailOpen:   "failing open: no span applied yet, nothing enforced",
}

func sortedCounterKeys(m map[string]wire.RuleCounters) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func newAgentDeregisterCmd(conn *connFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "deregister NAME",
		Short: "Remove an agent and revoke its identity (its host keeps its rules until 'kordon agent uninstall')",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.connect()
			if err != nil {
				return err
			}
			if err := c.Do(cmd.Context(), http.MethodDelete, agentsAPI+"/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "agent %s deregistered; its identity is revoked\n", args[0])
			return nil
		},
	}
}

package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/client"
	"github.com/kordon-dev/kordon/internal/cmdutil"
	"github.com/kordon-dev/kordon/internal/model"
)

func newLoginCmd(conn *connFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "login --server URL --token TOKEN [--ca-file CA.pem]",
		Short: "Save how to reach a manager in the user's client configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if conn.server == "" || conn.token == "" {
				return failf(2, "--server and --token are required")
			}
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var st map[string]any
			if err := c.Do(cmd.Context(), http.MethodGet, "/policy/api/v1/kordon/status", nil, &st); err != nil {
				return &cmdutil.ExitError{Code: 1, Err: printableErr(err)}
			}
			cfg := client.Config{Server: conn.server, Token: conn.token, InsecureSkipVerify: conn.insecure}
			if conn.caFile != "" {
				b, _ := os.ReadFile(conn.caFile)
				cfg.CA = string(b)
			}
			p, err := client.UserConfigPath()
			if err != nil {
				return failf(1, "%v", err)
			}
			if err := client.WriteConfig(p, cfg); err != nil {
				return failf(1, "%v", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "logged in to %s (revision %s); configuration saved in %s\n", conn.server, oneLine(fmt.Sprint(st["revision"])), p)
			return nil
		},
	}
	return cmd
}

// apiPath turns a space and policy path into an API path.
func apiPath(project, policyPath string) string {
	return "/policy/api/v1" + model.Space(project) + policyPath
}

func newApplyCmd(conn *connFlags) *cobra.Command {
	var files []string
	var project, format string
	var dry bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE [--dry-run] [--project ID]",
		Short: "Apply policy documents to a manager (hierarchical PATCH /infra, all or nothing per document)",
		Long: `apply sends each document of the files as one hierarchical PATCH of /infra:
the whole document is applied, or nothing of it. --dry-run shows what would
change (objects, and how group memberships would change) and changes nothing.`,
		Example: `  kordon apply -f examples/policy.yaml --dry-run
  kordon apply -f team-a.yaml --project team-a`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return failf(2, "-f is required")
			}
			c, err := conn.connect()
			if err != nil {
				return err
			}
			for _, f := range files {
				data, err := readInput(f)
				if err != nil {
					return failf(2, "%v", err)
				}
				docs, err := model.ParseDocument(f, data)
				if err != nil {
					for _, e := range model.AsErrors(err) {
						fmt.Fprintln(cmd.ErrOrStderr(), oneLine(e.Error()))
					}
					return failf(1, "%s cannot be decoded; nothing was applied", f)
				}
				for _, d := range docs {
					path := apiPath(project, "/infra")
					if dry {
						path += "?dry_run=true"
					}
					var res applyResult
					if err := c.Do(cmd.Context(), http.MethodPatch, path, d, &res); err != nil {
						return remoteErr(err)
					}
					if err := printApply(cmd.OutOrStdout(), format, res); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "policy file, or - for standard input (repeatable)")
	cmd.Flags().BoolVar(&dry, "dry-run", false, "show what would change; change nothing")
	cmd.Flags().StringVar(&project, "project", "", "apply inside this project")
	outputFlag(cmd, &format)
	return cmd
}

func readInput(f string) ([]byte, error) {
	if f == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(f)
}

type applyResult struct {
	Revision int64          `json:"revision"`
	DryRun   bool           `json:"dry_run"`
	Changes  []model.Change `json:"changes"`
	Groups   []struct {
		Path  string `json:"path"`
		Delta struct {
			AddedMembers     []json.RawMessage `json:"added_members"`
			RemovedMembers   []json.RawMessage `json:"removed_members"`
			AddedAddresses   []string          `json:"added_addresses"`
			RemovedAddresses []string          `json:"removed_addresses"`
			AddedIPPorts     []ipPortJSON      `json:"added_ip_ports"`
			RemovedIPPorts   []ipPortJSON      `json:"removed_ip_ports"`
		} `json:"delta"`
	} `json:"group_changes"`
}

func printApply(w io.Writer, format string, res applyResult) error {
	if done, err := printStructured(w, format, res); err != nil || done {
		return err
	}
	verb := "applied"
	if res.DryRun {
		verb = "would apply (dry run; nothing changed)"
	}
	fmt.Fprintf(w, "%s %s at revision %d\n", verb, plural(len(res.Changes), "change"), res.Revision)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range res.Changes {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", oneLine(string(c.Op)), oneLine(string(c.Kind)), oneLine(c.Path))
	}
	tw.Flush()
	for _, g := range res.Groups {
		d := g.Delta
		fmt.Fprintf(w, "  members of %s: +%d/-%d objects, +%d/-%d addresses, +%d/-%d ip+port\n", oneLine(g.Path),
			len(d.AddedMembers), len(d.RemovedMembers), len(d.AddedAddresses), len(d.RemovedAddresses), len(d.AddedIPPorts), len(d.RemovedIPPorts))
		for _, a := range d.AddedAddresses {
			fmt.Fprintf(w, "    + %s\n", oneLine(a))
		}
		for _, a := range d.RemovedAddresses {
			fmt.Fprintf(w, "    - %s\n", oneLine(a))
		}
		for _, m := range d.AddedIPPorts {
			fmt.Fprintf(w, "    + %s\n", m)
		}
		for _, m := range d.RemovedIPPorts {
			fmt.Fprintf(w, "    - %s\n", m)
		}
	}
	return nil
}

// remoteErr reports an API error with its details and a non-zero exit.
func remoteErr(err error) error {
	if ce, ok := err.(*client.Error); ok {
		code := 1
		if ce.Status == http.StatusNotFound {
			code = 3
		}
		return &cmdutil.ExitError{Code: code, Err: printableErr(ce)}
	}
	return &cmdutil.ExitError{Code: 1, Err: printableErr(err)}
}

// printableErr makes an error from a manager, or from reaching one, safe
// to print: its messages may quote what a tenant, an agent or an adapter
// sent, and a failed connection may quote the server's certificate.
// Each message is one line (oneLine); a manager's related errors stay one
// a line below it.
func printableErr(err error) error { return printable{err} }

type printable struct{ err error }

func (p printable) Error() string {
	ce, ok := p.err.(*client.Error)
	if !ok {
		return oneLine(p.err.Error())
	}
	s := oneLine(ce.Message)
	if len(ce.Related) > 0 {
		related := make([]string, len(ce.Related))
		for i, r := range ce.Related {
			related[i] = oneLine(r)
		}
		s += ":\n  " + strings.Join(related, "\n  ")
	}
	return s
}

func (p printable) Unwrap() error { return p.err }

// kinds maps what `get` and `delete` accept to the path segment of their
// collection.
var kinds = map[string]string{
	"groups": "groups", "group": "groups", "services": "services", "service": "services",
	"security-policies": "security-policies", "security-policy": "security-policies",
	"gateway-policies": "gateway-policies", "gateway-policy": "gateway-policies",
	"tier-0s": "tier-0s", "tier-0": "tier-0s", "tier-1s": "tier-1s", "tier-1": "tier-1s",
	"domains": "domains", "domain": "domains", "rules": "rules", "rule": "rules",
}

// objectPath resolves `get`'s arguments to a policy path (a collection
// when id is empty).
func objectPath(kind, id, domain, policy string) (string, error) {
	if strings.HasPrefix(kind, "/") {
		return kind, nil
	}
	coll, ok := kinds[kind]
	if !ok {
		return "", failf(2, "unknown kind %q (groups, services, security-policies, gateway-policies, rules, tier-0s, tier-1s, domains, or a path)", kind)
	}
	var base string
	switch coll {
	case "services", "tier-0s", "tier-1s", "domains":
		base = "/infra/" + coll
	case "rules":
		if policy == "" {
			return "", failf(2, "rules belong to a policy: --policy-path /infra/domains/default/security-policies/<id>")
		}
		base = policy + "/rules"
	default:
		base = "/infra/domains/" + domain + "/" + coll
	}
	if id == "" {
		return base, nil
	}
	return base + "/" + id, nil
}

func newGetCmd(conn *connFlags) *cobra.Command {
	var domain, project, policy, format string
	cmd := &cobra.Command{
		Use:   "get KIND [ID] | get PATH",
		Short: "Read policy objects from a manager",
		Example: `  kordon get groups
  kordon get group web -o yaml
  kordon get rules --policy-path /infra/domains/default/security-policies/vms-to-k8s
  kordon get /infra/tier-1s/t1-edge -o json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 2 {
				id = args[1]
			}
			p, err := objectPath(args[0], id, domain, policy)
			if err != nil {
				return err
			}
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var out map[string]any
			if err := getAll(cmd.Context(), c, apiPath(project, p), &out); err != nil {
				return remoteErr(err)
			}
			if done, err := printStructured(cmd.OutOrStdout(), format, out); err != nil || done {
				return err
			}
			results, isList := out["results"].([]any)
			if !isList {
				results = []any{out}
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tDISPLAY NAME\tREVISION\tPATH")
			for _, r := range results {
				o, _ := r.(map[string]any)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", oneLine(fmt.Sprint(o["id"])), oneLine(fmt.Sprint(o["display_name"])), oneLine(fmt.Sprint(o["_revision"])), oneLine(fmt.Sprint(o["path"])))
			}
			tw.Flush()
			return nil
		},
	}
	cmd.Flags().StringVar(&domain, "domain", model.DefaultDomain, "domain of groups and policies")
	cmd.Flags().StringVar(&project, "project", "", "read inside this project")
	cmd.Flags().StringVar(&policy, "policy-path", "", "the policy whose rules to read")
	outputFlag(cmd, &format)
	return cmd
}

// getAll reads a path, following list cursors to the end.
func getAll(ctx context.Context, c *client.Client, path string, out *map[string]any) error {
	if err := c.Do(ctx, http.MethodGet, path, nil, out); err != nil {
		return err
	}
	for {
		cur, _ := (*out)["cursor"].(string)
		if cur == "" {
			return nil
		}
		var next map[string]any
		if err := c.Do(ctx, http.MethodGet, path+"?cursor="+url.QueryEscape(cur), nil, &next); err != nil {
			return err
		}
		all, _ := (*out)["results"].([]any)
		more, _ := next["results"].([]any)
		(*out)["results"], (*out)["cursor"] = append(all, more...), next["cursor"]
	}
}

func newDeleteCmd(conn *connFlags) *cobra.Command {
	var domain, project, policy string
	cmd := &cobra.Command{
		Use:   "delete KIND ID | delete PATH",
		Short: "Delete a policy object (and everything below it)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 2 {
				id = args[1]
			}
			p, err := objectPath(args[0], id, domain, policy)
			if err != nil {
				return err
			}
			if _, err := model.ParsePath(p); err != nil {
				return failf(2, "delete needs one object: %v", err)
			}
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var res applyResult
			if err := c.Do(cmd.Context(), http.MethodDelete, apiPath(project, p), nil, &res); err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s (%s) at revision %d\n", p, plural(len(res.Changes), "change"), res.Revision)
			return nil
		},
	}
	cmd.Flags().StringVar(&domain, "domain", model.DefaultDomain, "domain of groups and policies")
	cmd.Flags().StringVar(&project, "project", "", "inside this project")
	cmd.Flags().StringVar(&policy, "policy-path", "", "the policy whose rule to delete")
	return cmd
}

func newStatusCmd(conn *connFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the manager's revision, clusters, counts and license",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var st map[string]any
			if err := c.Do(cmd.Context(), http.MethodGet, "/policy/api/v1/kordon/status", nil, &st); err != nil {
				return remoteErr(err)
			}
			if done, err := printStructured(cmd.OutOrStdout(), format, st); err != nil || done {
				return err
			}
			w := cmd.OutOrStdout()
			// The answer is decoded loosely (any values): each is printed
			// as one line.
			v := func(x any) string { return oneLine(fmt.Sprint(x)) }
			fmt.Fprintf(w, "manager   %s (revision %s)\n", c.Server(), v(st["revision"]))
			fmt.Fprintf(w, "objects   %s groups, %s policies, %s rules; %s inventory objects\n", v(st["groups"]), v(st["policies"]), v(st["rules"]), v(st["inventory_objects"]))
			if cs, _ := st["clusters"].([]any); len(cs) > 0 {
				for _, x := range cs {
					cl, _ := x.(map[string]any)
					demo := ""
					if cl["demo"] == true {
						demo = " (DEMO)"
					}
					fmt.Fprintf(w, "cluster   %s from %s%s: %s\n", v(cl["name"]), v(cl["source"]), demo, v(cl["state"]))
				}
			}
			if lic, _ := st["license"].(map[string]any); lic != nil {
				l, _ := lic["license"].(map[string]any)
				switch {
				case l != nil:
					fmt.Fprintf(w, "license   %s, active: %s, expires %s\n", v(l["id"]), v(lic["active_features"]), v(l["expires"]))
				case lic["error"] != nil:
					fmt.Fprintf(w, "license   none (%s)\n", v(lic["error"]))
				default:
					fmt.Fprintln(w, "license   none installed")
				}
			}
			return nil
		},
	}
	outputFlag(cmd, &format)
	return cmd
}

func newWatchCmd(conn *connFlags) *cobra.Command {
	var since int64
	var types, prefix string
	cmd := &cobra.Command{
		Use:   "watch [--since REVISION] [--types config,membership] [--path-prefix P]",
		Short: "Stream configuration and membership changes as JSON lines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.connect()
			if err != nil {
				return err
			}
			q := url.Values{}
			if cmd.Flags().Changed("since") {
				q.Set("since", fmt.Sprint(since))
			}
			if types != "" {
				q.Set("types", types)
			}
			if prefix != "" {
				q.Set("path_prefix", prefix)
			}
			resp, err := c.Stream(cmd.Context(), http.MethodGet, "/policy/api/v1/kordon/watch?"+q.Encode(), nil)
			if err != nil {
				return remoteErr(err)
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 64<<20)
			for sc.Scan() {
				fmt.Fprintln(cmd.OutOrStdout(), sc.Text())
			}
			return nil
		},
	}
	cmd.Flags().Int64Var(&since, "since", 0, "resume after this store revision")
	cmd.Flags().StringVar(&types, "types", "", "only these event types (config, membership, project, cluster, license)")
	cmd.Flags().StringVar(&prefix, "path-prefix", "", "only events about paths with this prefix")
	return cmd
}

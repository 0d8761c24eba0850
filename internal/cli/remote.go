package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kordon-dev/kordon/internal/client"
	"github.com/kordon-dev/kordon/internal/cmdutil"
	"github.com/kordon-dev/kordon/internal/manager"
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
			if os.Getenv("KORDON_CONFIG") == "" {
				if _, err := os.Stat(client.DataDirConfig); err == nil {
					fmt.Fprintf(cmd.OutOrStdout(), "note: in this directory commands use ./%s first (a manager's data directory); give --config %s to use this login here\n", client.DataDirConfig, p)
				}
			}
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
	Revision int64            `json:"revision"`
	DryRun   bool             `json:"dry_run"`
	Changes  []model.Change   `json:"changes"`
	Groups   []groupDeltaJSON `json:"group_changes"`
}

// groupDeltaJSON is how an apply changed one group's members.
type groupDeltaJSON struct {
	Path  string `json:"path"`
	Delta struct {
		AddedMembers     []json.RawMessage `json:"added_members"`
		RemovedMembers   []json.RawMessage `json:"removed_members"`
		AddedAddresses   []string          `json:"added_addresses"`
		RemovedAddresses []string          `json:"removed_addresses"`
		AddedIPPorts     []ipPortJSON      `json:"added_ip_ports"`
		RemovedIPPorts   []ipPortJSON      `json:"removed_ip_ports"`
	} `json:"delta"`
}

func printApply(w io.Writer, format string, res applyResult) error {
	if done, err := printStructured(w, format, res); err != nil || done {
		return err
	}
	switch {
	case len(res.Changes) == 0 && res.DryRun:
		fmt.Fprintf(w, "nothing would change (dry run): the manager has every object as the document says (revision %d)\n", res.Revision)
	case len(res.Changes) == 0:
		fmt.Fprintf(w, "nothing changed: the manager has every object as the document says (revision %d)\n", res.Revision)
	case res.DryRun:
		fmt.Fprintf(w, "would apply (dry run; nothing changed) %s at revision %d\n", plural(len(res.Changes), "change"), res.Revision)
	default:
		fmt.Fprintf(w, "applied %s at revision %d\n", plural(len(res.Changes), "change"), res.Revision)
	}
	printChanges(w, res.Changes)
	for i, g := range res.Groups {
		if i == maxGroupDeltas {
			fmt.Fprintf(w, "  ... and %s whose members change (-o json lists them all)\n", plural(len(res.Groups)-i, "more group"))
			break
		}
		d := g.Delta
		fmt.Fprintf(w, "  members of %s: +%d/-%d objects, +%d/-%d addresses, +%d/-%d ip+port\n", oneLine(g.Path),
			len(d.AddedMembers), len(d.RemovedMembers), len(d.AddedAddresses), len(d.RemovedAddresses), len(d.AddedIPPorts), len(d.RemovedIPPorts))
		var lines []string
		for _, a := range d.AddedAddresses {
			lines = append(lines, "+ "+oneLine(a))
		}
		for _, a := range d.RemovedAddresses {
			lines = append(lines, "- "+oneLine(a))
		}
		for _, m := range d.AddedIPPorts {
			lines = append(lines, "+ "+m.String())
		}
		for _, m := range d.RemovedIPPorts {
			lines = append(lines, "- "+m.String())
		}
		for j, l := range lines {
			if j == maxDeltaLines {
				fmt.Fprintf(w, "    ... %d more (-o json lists them all)\n", len(lines)-j)
				break
			}
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	return nil
}

// A large apply (a whole installation's document, say) changes thousands
// of objects and memberships: the text output names each changed object,
// but lists at most maxDeltaLines addresses of a group and the member
// changes of at most maxGroupDeltas groups; -o json has everything.
const (
	maxDeltaLines  = 10
	maxGroupDeltas = 200
	maxChangeLines = 500
)

// maxFieldLines bounds the field changes printed per object (-o json
// lists them all), and maxFieldWidth each line.
const (
	maxFieldLines = 20
	maxFieldWidth = 200
)

// printChanges prints one line per changed object and, below an updated
// one, a line per changed field: ~ field: old -> new, + field: new,
// - field: old.
func printChanges(w io.Writer, changes []model.Change) {
	opW, kindW := 0, 0
	for _, c := range changes {
		opW, kindW = max(opW, len(oneLine(string(c.Op)))), max(kindW, len(oneLine(string(c.Kind))))
	}
	for i, c := range changes {
		if i == maxChangeLines {
			rest := map[string]int{}
			for _, c := range changes[i:] {
				rest[oneLine(string(c.Op))+" "+oneLine(string(c.Kind))]++
			}
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(rest)) {
				parts = append(parts, fmt.Sprintf("%d %s", rest[k], k))
			}
			fmt.Fprintf(w, "  ... and %s: %s (-o json lists them all)\n", plural(len(changes)-i, "more change"), strings.Join(parts, ", "))
			break
		}
		fmt.Fprintf(w, "  %-*s  %-*s  %s\n", opW, oneLine(string(c.Op)), kindW, oneLine(string(c.Kind)), oneLine(c.Path))
		for i, f := range c.Fields {
			if i == maxFieldLines {
				fmt.Fprintf(w, "      ... %s more (-o json lists every field)\n", plural(len(c.Fields)-i, "field"))
				break
			}
			fmt.Fprintf(w, "      %s\n", oneLineMax(f.String(), maxFieldWidth))
		}
	}
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

// remoteFlagErr is remoteErr for a request the CLI built from its flags:
// the manager's messages name the request's fields (from_pod:), which
// rename turns into the flags the user typed (--from-pod:).
func remoteFlagErr(err error, rename func(string) string) error {
	if ce, ok := err.(*client.Error); ok {
		cp := *ce
		cp.Message = rename(cp.Message)
		cp.Related = make([]string, len(ce.Related))
		for i, r := range ce.Related {
			cp.Related[i] = rename(r)
		}
		err = &cp
	}
	return remoteErr(err)
}

// fieldsToFlags returns a rename for remoteFlagErr: a message that starts
// with one of the fields ("gateway: ...") starts with its flag instead.
func fieldsToFlags(fields map[string]string) func(string) string {
	return func(s string) string {
		for field, flag := range fields {
			if rest, ok := strings.CutPrefix(s, field+":"); ok {
				return flag + ":" + rest
			}
		}
		return s
	}
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

// kinds maps what `get` and `delete` accept, in any case, to the path
// segments of the collections they name: plurals and singulars, NSX's
// resource_type spellings, and policies for both kinds of policy.
var kinds = func() map[string][]string {
	m := map[string][]string{}
	add := func(colls []string, names ...string) {
		for _, n := range names {
			m[n] = colls
		}
	}
	add([]string{"groups"}, "groups", "group")
	add([]string{"services"}, "services", "service")
	add([]string{"security-policies"}, "security-policies", "security-policy", "securitypolicies", "securitypolicy", "dfw-policies", "dfw-policy")
	add([]string{"gateway-policies"}, "gateway-policies", "gateway-policy", "gatewaypolicies", "gatewaypolicy", "gfw-policies", "gfw-policy")
	add([]string{"security-policies", "gateway-policies"}, "policies", "policy")
	add([]string{"rules"}, "rules", "rule")
	add([]string{"tier-0s"}, "tier-0s", "tier-0", "tier0s", "tier0")
	add([]string{"tier-1s"}, "tier-1s", "tier-1", "tier1s", "tier1")
	add([]string{"domains"}, "domains", "domain")
	return m
}()

// objectPaths resolves the arguments of `get` and `delete` to policy
// paths (collections when id is empty): one, or for "policies" a
// security policy's and a gateway policy's.
func objectPaths(kind, id, domain, policy string) ([]string, error) {
	if strings.HasPrefix(kind, "/") {
		if id != "" {
			return nil, failf(2, "give a path, or a kind and an id, not both")
		}
		return []string{kind}, nil
	}
	colls, ok := kinds[strings.ToLower(kind)]
	if !ok {
		return nil, failf(2, "unknown kind %q (groups, services, security-policies, gateway-policies, policies (both), rules, tier-0s, tier-1s, domains, or a path)", kind)
	}
	var out []string
	for _, coll := range colls {
		var base string
		switch coll {
		case "services", "tier-0s", "tier-1s", "domains":
			base = "/infra/" + coll
		case "rules":
			if policy == "" {
				return nil, failf(2, "rules belong to a policy: --policy-path /infra/domains/default/security-policies/<id>")
			}
			base = policy + "/rules"
		default:
			base = "/infra/domains/" + domain + "/" + coll
		}
		if id != "" {
			base += "/" + id
		}
		out = append(out, base)
	}
	return out, nil
}

// isNotFound reports whether a manager answered 404.
func isNotFound(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Status == http.StatusNotFound
}

// existing returns the first of paths that exists in the project's space
// (for a kind that names several collections).
func existing(ctx context.Context, c *client.Client, project string, paths []string) (string, map[string]any, error) {
	for _, p := range paths {
		var out map[string]any
		err := c.Do(ctx, http.MethodGet, apiPath(project, p), nil, &out)
		if err == nil {
			return p, out, nil
		}
		if !isNotFound(err) {
			return "", nil, remoteErr(err)
		}
	}
	shown := make([]string, len(paths))
	for i, p := range paths {
		shown[i] = model.Space(project) + p
	}
	if len(shown) == 2 {
		return "", nil, failf(3, "neither %s nor %s exists", shown[0], shown[1])
	}
	return "", nil, failf(3, "%s does not exist", strings.Join(shown, ", "))
}

func newGetCmd(conn *connFlags) *cobra.Command {
	var domain, project, policy, format string
	cmd := &cobra.Command{
		Use:   "get KIND [ID] | get PATH",
		Short: "Read policy objects from a manager",
		Long: `get reads objects: KIND is groups, services, security-policies,
gateway-policies, policies (security and gateway policies), rules (with
--policy-path), tier-0s, tier-1s or domains, singular or plural, in any case;
or give an object's path. -o yaml prints a document that kordon apply takes
back (as it is, it changes nothing).`,
		Example: `  kordon get groups
  kordon get group web -o yaml
  kordon get policies
  kordon get rules --policy-path /infra/domains/default/security-policies/vms-to-k8s
  kordon get /infra/tier-1s/t1-edge -o json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 2 {
				id = args[1]
			}
			paths, err := objectPaths(args[0], id, domain, policy)
			if err != nil {
				return err
			}
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var out map[string]any
			switch {
			case len(paths) == 1:
				if err := getAll(cmd.Context(), c, apiPath(project, paths[0]), &out); err != nil {
					return remoteErr(err)
				}
			case id != "":
				if _, out, err = existing(cmd.Context(), c, project, paths); err != nil {
					return err
				}
			default:
				var all []any
				for _, p := range paths {
					var l map[string]any
					if err := getAll(cmd.Context(), c, apiPath(project, p), &l); err != nil {
						return remoteErr(err)
					}
					more, _ := l["results"].([]any)
					all = append(all, more...)
				}
				if all == nil {
					all = []any{}
				}
				out = map[string]any{"results": all, "result_count": len(all)}
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
	var domain, project, policy, format string
	cmd := &cobra.Command{
		Use:   "delete KIND ID | delete PATH",
		Short: "Delete a policy object (and everything below it)",
		Long: `delete removes one object and what it holds (a policy's rules, a domain's
groups and policies). It fails, changing nothing, when the object does not
exist (exit status 3) or when something still uses it (the manager names it).`,
		Example: `  kordon delete group web
  kordon delete policy vms-to-k8s
  kordon delete /infra/domains/default/security-policies/vms-to-k8s/rules/app-to-cart
  kordon delete group web --project team-a`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 2 {
				id = args[1]
			} else if !strings.HasPrefix(args[0], "/") {
				return failf(2, "delete needs one object: a kind and an id, or a path")
			}
			paths, err := objectPaths(args[0], id, domain, policy)
			if err != nil {
				return err
			}
			for _, p := range paths {
				if _, err := model.ParsePath(p); err != nil {
					return failf(2, "delete needs one object: %v", err)
				}
			}
			c, err := conn.connect()
			if err != nil {
				return err
			}
			p := paths[0]
			if len(paths) > 1 {
				if p, _, err = existing(cmd.Context(), c, project, paths); err != nil {
					return err
				}
			}
			shown := model.Space(project) + p
			var res applyResult
			if err := c.Do(cmd.Context(), http.MethodDelete, apiPath(project, p), nil, &res); err != nil {
				return remoteErr(err)
			}
			if len(res.Changes) == 0 {
				// A manager that answers a deletion of nothing with
				// success (or lost a race with another deletion).
				return failf(3, "%s does not exist; nothing was deleted (revision %d)", shown, res.Revision)
			}
			if done, err := printStructured(cmd.OutOrStdout(), format, res); err != nil || done {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "deleted %s (%s) at revision %d\n", oneLine(shown), plural(len(res.Changes), "change"), res.Revision)
			if len(res.Changes) > 1 {
				printChanges(w, res.Changes)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&domain, "domain", model.DefaultDomain, "domain of groups and policies")
	cmd.Flags().StringVar(&project, "project", "", "inside this project")
	cmd.Flags().StringVar(&policy, "policy-path", "", "the policy whose rule to delete")
	outputFlag(cmd, &format)
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
			// count is a number of the answer with its noun.
			count := func(x any, noun string) string {
				if n, ok := x.(float64); ok && n == float64(int(n)) {
					return plural(int(n), noun)
				}
				return v(x) + " " + noun + "s"
			}
			fmt.Fprintf(w, "manager   %s (revision %s)\n", c.Server(), v(st["revision"]))
			fmt.Fprintf(w, "config    %s\n", oneLine(conn.sourceName()))
			fmt.Fprintf(w, "objects   %s, %s, %s; %s\n", count(st["groups"], "group"), count(st["policies"], "policy"), count(st["rules"], "rule"), count(st["inventory_objects"], "inventory object"))
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

// watchTypes are the event types the watch stream has.
var watchTypes = []string{"config", "membership", "project", "cluster", "license"}

func newWatchCmd(conn *connFlags) *cobra.Command {
	var since int64
	var types, prefix, format string
	cmd := &cobra.Command{
		Use:   "watch [--since REVISION] [--types config,membership] [--path-prefix P] [-o json|yaml|table]",
		Short: "Stream configuration and membership changes",
		Long: `watch prints the manager's events as they happen: configuration changes
(config), group membership changes (membership), projects, clusters and the
license. The first event (start) names the revision the stream starts after;
--since R resumes after revision R, which must not be beyond the manager's
current revision. -o json (the default) prints one JSON object a line, -o yaml
one YAML document per event, -o table a line per event.`,
		Example: `  kordon watch --types membership
  kordon watch --since 42 --path-prefix /infra/domains/default/groups/ -o table`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch format {
			case "json", "yaml", "table":
			default:
				return failf(2, "unknown output format %q (table, json or yaml)", format)
			}
			q := url.Values{}
			if types != "" {
				for _, t := range strings.Split(types, ",") {
					if !slices.Contains(watchTypes, strings.TrimSpace(t)) {
						return failf(2, "--types: unknown event type %q (%s)", t, strings.Join(watchTypes, ", "))
					}
				}
				q.Set("types", strings.ReplaceAll(types, " ", ""))
			}
			if cmd.Flags().Changed("since") && since < 0 {
				return failf(2, "--since: %d is not a revision", since)
			}
			c, err := conn.connect()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("since") {
				var st struct {
					Revision int64 `json:"revision"`
				}
				if err := c.Do(cmd.Context(), http.MethodGet, "/policy/api/v1/kordon/status", nil, &st); err != nil {
					return remoteErr(err)
				}
				if since > st.Revision {
					return failf(2, "--since: revision %d is beyond the manager's current revision %d (resume from a revision a stream or an answer gave you)", since, st.Revision)
				}
				q.Set("since", fmt.Sprint(since))
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
			w := cmd.OutOrStdout()
			var tw *tabwriter.Writer
			if format == "table" {
				tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "REVISION\tTIME\tTYPE\tOP\tKIND\tPATH\tMEMBERS")
				tw.Flush()
			}
			for sc.Scan() {
				line := sc.Bytes()
				switch format {
				case "json":
					fmt.Fprintln(w, string(line))
					continue
				case "yaml":
					y, err := yaml.JSONToYAML(line)
					if err != nil {
						return failf(1, "the manager sent an event that is not JSON: %v", err)
					}
					fmt.Fprintf(w, "---\n%s", y)
					continue
				}
				var e manager.Event
				if err := json.Unmarshal(line, &e); err != nil {
					return failf(1, "the manager sent an event that is not JSON: %v", err)
				}
				members := ""
				if g := e.Group; g != nil {
					members = fmt.Sprintf("+%d/-%d objects, +%d/-%d addresses, +%d/-%d ip+port", len(g.AddedMembers), len(g.RemovedMembers),
						len(g.AddedAddresses), len(g.RemovedAddresses), len(g.AddedIPPorts), len(g.RemovedIPPorts))
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Revision, e.Time.UTC().Format(time.RFC3339), orNone(oneLine(e.Type)), orNone(oneLine(e.Op)),
					orNone(oneLine(e.Kind)), orNone(oneLine(e.Path)), orNone(members))
				tw.Flush()
			}
			return nil
		},
	}
	cmd.Flags().Int64Var(&since, "since", 0, "resume after this store revision (at most the manager's current one)")
	cmd.Flags().StringVar(&types, "types", "", "only these event types, comma-separated: "+strings.Join(watchTypes, ", "))
	cmd.Flags().StringVar(&prefix, "path-prefix", "", "only events about paths with this prefix")
	cmd.Flags().StringVarP(&format, "output", "o", "json", "output format: json (a line per event), yaml or table")
	return cmd
}

package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/client"
	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
)

func newMembersCmd(conn *connFlags) *cobra.Command {
	var policies []string
	var dir, group, format, project string
	cmd := &cobra.Command{
		Use:   "members [GROUP] | members --policy FILE --inventory DIR [--group PATH]",
		Short: "Show what each group resolves to: objects, addresses and address+port members",
		Long: `members computes every group's effective members from the inventory, as NSX's
table of Kubernetes member types says: Egress IPs, IP pool ranges, node IPs or pod CIDRs,
Ingress, Gateway and LoadBalancer VIPs, and node IP + port for NodePort and
NodePortLocal Services. ip_addresses entries are single IPs, CIDRs or a-b
ranges, merged; ip_port_members list (ip, protocol, port).

With --policy it works offline on files; without, it asks the manager (GROUP is
a group path, or an id in the default domain).`,
		Example: `  kordon members --policy examples/policy.yaml --inventory examples/inventory
  kordon members --policy examples/policy.yaml --inventory examples/inventory \
      --group /infra/domains/default/groups/catalog-nodeport -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				group = args[0]
			}
			if len(policies) == 0 && dir != "" {
				return failf(2, "--policy is required with --inventory (offline mode); without both, kordon asks the manager")
			}
			if len(policies) == 0 {
				return remoteMembers(cmd, conn, project, group, format)
			}
			o, err := load(policies, dir, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			paths := model.Paths(o.cfg.Groups)
			if group != "" {
				if _, ok := o.cfg.Groups[group]; !ok {
					return failf(2, "group %s is not defined in the policy", group)
				}
				paths = []string{group}
			}
			if group != "" {
				rep := membersReport{Groups: []groupMembers{groupReport(o.idx, group, o.cfg.Groups[group], true)}}
				if done, err := printStructured(cmd.OutOrStdout(), format, rep); err != nil || done {
					return err
				}
				printGroupDetail(cmd.OutOrStdout(), rep.Groups[0])
				return nil
			}
			// One group at a time: every group's members (and, for -o
			// json or yaml, each member type's lists) held at once took
			// more memory than the inventory at 10,000 groups.
			return printGroups(cmd.OutOrStdout(), format, len(paths), func(i int) groupMembers {
				return groupReport(o.idx, paths[i], o.cfg.Groups[paths[i]], format != "table" && format != "")
			})
		},
	}
	cmd.Flags().StringArrayVar(&policies, "policy", nil, "policy file (repeatable; applied in order)")
	cmd.Flags().StringVar(&dir, "inventory", "", "inventory directory: DIR/<cluster>/*.yaml|json as kubectl prints them")
	cmd.Flags().StringVar(&group, "group", "", "show only this group (its path)")
	cmd.Flags().StringVar(&project, "project", "", "with a manager: the group's project")
	outputFlag(cmd, &format)
	return cmd
}

type membersReport struct {
	Groups []groupMembers `json:"groups"`
}

type ipPortJSON struct {
	IP       string `json:"ip"`
	Protocol string `json:"protocol"`
	Port     uint16 `json:"port"`
}

type objectJSON struct {
	MemberType string `json:"member_type"`
	Key        string `json:"key,omitempty"`
	Cluster    string `json:"cluster"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

type groupMembers struct {
	Path          string                      `json:"path"`
	DisplayName   string                      `json:"display_name"`
	IPAddresses   []string                    `json:"ip_addresses"`
	IPPortMembers []ipPortJSON                `json:"ip_port_members"`
	Members       []objectJSON                `json:"members"`
	ByType        map[string]model.MemberList `json:"effective_members,omitempty"`
}

// groupReport is what a group holds; byType adds NSX's per-member-type
// lists, which only the structured formats print.
func groupReport(idx *membership.Index, path string, g *model.Group, byType bool) groupMembers {
	gm := groupMembers{Path: path, DisplayName: g.DisplayName, IPAddresses: []string{}, IPPortMembers: []ipPortJSON{}, Members: []objectJSON{}}
	for _, r := range idx.Addresses(path) {
		gm.IPAddresses = append(gm.IPAddresses, address.FormatRange(r))
	}
	for _, m := range idx.IPPorts(path) {
		gm.IPPortMembers = append(gm.IPPortMembers, ipPortJSON{IP: m.Addr.String(), Protocol: m.Proto.String(), Port: m.Port})
	}
	for _, m := range idx.Members(path) {
		gm.Members = append(gm.Members, objectJSON{MemberType: m.Type, Key: m.ConditionKey, Cluster: m.Key.Cluster, Namespace: m.Key.Namespace, Name: m.Key.Name})
	}
	for _, ep := range model.MemberEndpoints {
		if !byType {
			break
		}
		if l := idx.NSXMembers(path, ep, "", nil); len(l.Clusters) > 0 {
			if gm.ByType == nil {
				gm.ByType = map[string]model.MemberList{}
			}
			gm.ByType[ep] = l
		}
	}
	return gm
}

// String is how a member is printed: one line, whatever the names an
// inventory (a cluster's adapter, or a dump) gave it.
func (o objectJSON) String() string {
	s := o.MemberType
	if o.Key != "" {
		s += "(" + o.Key + ")"
	}
	if o.Namespace != "" {
		return oneLine(s + " " + o.Cluster + "/" + o.Namespace + "/" + o.Name)
	}
	return oneLine(s + " " + o.Cluster + "/" + o.Name)
}

func (m ipPortJSON) String() string {
	if strings.Contains(m.IP, ":") {
		return oneLine(fmt.Sprintf("[%s]:%d/%s", m.IP, m.Port, m.Protocol))
	}
	return oneLine(fmt.Sprintf("%s:%d/%s", m.IP, m.Port, m.Protocol))
}

func printGroupTable(w io.Writer, groups []groupMembers) {
	printGroups(w, "table", len(groups), func(i int) groupMembers { return groups[i] })
}

// printGroups prints a members report of n groups, as printStructured
// and printGroupTable would print it whole, computing each group when it
// is printed and dropping it after.
func printGroups(w io.Writer, format string, n int, group func(i int) groupMembers) error {
	switch format {
	case "json", "yaml":
		return printList(w, format, "groups", n, func(i int) any { return group(i) })
	case "table", "":
	default:
		_, err := printStructured(w, format, nil)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tOBJECTS\tADDRESSES\tIP+PORT")
	for i := range n {
		g := group(i)
		ipp := make([]string, 0, min(len(g.IPPortMembers), 4))
		for _, m := range g.IPPortMembers[:min(len(g.IPPortMembers), 4)] {
			ipp = append(ipp, m.String())
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", oneLine(g.Path), len(g.Members), orNone(oneLine(abbreviateN(g.IPAddresses, len(g.IPAddresses), 4))), orNone(abbreviateN(ipp, len(g.IPPortMembers), 3)))
	}
	return tw.Flush()
}

// abbreviate joins a list, eliding the middle of long ones.
func abbreviate(l []string, keep int) string { return abbreviateN(l, len(l), keep) }

// abbreviateN is abbreviate of a list of n items of which l holds at
// least the first keep+1 (or all).
func abbreviateN(l []string, n, keep int) string {
	if n <= keep {
		return strings.Join(l, ", ")
	}
	return strings.Join(l[:keep], ", ") + fmt.Sprintf(", ... (%d in all)", n)
}

func printGroupDetail(w io.Writer, g groupMembers) {
	fmt.Fprintf(w, "%s", oneLine(g.Path))
	if g.DisplayName != "" && !strings.HasSuffix(g.Path, "/"+g.DisplayName) {
		fmt.Fprintf(w, "  (%s)", oneLine(g.DisplayName))
	}
	fmt.Fprintln(w)
	section := func(title string, items []string) {
		fmt.Fprintf(w, "  %s:\n", title)
		if len(items) == 0 {
			fmt.Fprintln(w, "    (none)")
		}
		for _, s := range items {
			fmt.Fprintln(w, "    "+oneLine(s))
		}
	}
	objs := make([]string, 0, len(g.Members))
	for _, o := range g.Members {
		objs = append(objs, o.String())
	}
	ipp := make([]string, 0, len(g.IPPortMembers))
	for _, m := range g.IPPortMembers {
		ipp = append(ipp, m.String())
	}
	section("objects", objs)
	section("ip addresses", g.IPAddresses)
	section("ip+port members", ipp)
}

// groupPath accepts a group path or an id in the default domain.
func groupPath(g string) string {
	if strings.HasPrefix(g, "/") {
		return g
	}
	return model.GroupPath(model.DefaultDomain, g)
}

// remoteMembers asks a manager for effective members. It reports what
// the offline form does: with -o json or yaml, each member type in NSX's
// shape too (effective_members, from the per-type endpoints).
func remoteMembers(cmd *cobra.Command, conn *connFlags, project, group, format string) error {
	c, err := conn.connect()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	type named struct{ path, name string }
	var groups []named
	if group != "" {
		p := groupPath(group)
		var g map[string]any
		if err := c.Do(ctx, http.MethodGet, apiPath(project, strings.TrimPrefix(p, model.Space(project))), nil, &g); err != nil {
			return remoteErr(err)
		}
		groups = []named{{p, str(g["display_name"])}}
	} else {
		var list map[string]any
		if err := getAll(ctx, c, apiPath(project, "/infra/domains/default/groups"), &list); err != nil {
			return remoteErr(err)
		}
		results, _ := list["results"].([]any)
		for _, r := range results {
			if g, ok := r.(map[string]any); ok {
				groups = append(groups, named{fmt.Sprint(g["path"]), str(g["display_name"])})
			}
		}
	}
	structured := format == "json" || format == "yaml"
	rep := membersReport{Groups: []groupMembers{}}
	for _, g := range groups {
		var e struct {
			IPAddresses   []string     `json:"ip_addresses"`
			IPPortMembers []ipPortJSON `json:"ip_port_members"`
			Members       []struct {
				Type   string `json:"member_type"`
				Key    string `json:"key"`
				Object struct {
					Cluster, Namespace, Name string
				} `json:"object"`
			} `json:"members"`
		}
		base := apiPath(project, strings.TrimPrefix(g.path, model.Space(project))) + "/members/"
		if err := c.Do(ctx, http.MethodGet, base+"effective", nil, &e); err != nil {
			return remoteErr(err)
		}
		gm := groupMembers{Path: g.path, DisplayName: g.name, IPAddresses: e.IPAddresses, IPPortMembers: e.IPPortMembers, Members: []objectJSON{}}
		if gm.IPAddresses == nil {
			gm.IPAddresses = []string{}
		}
		if gm.IPPortMembers == nil {
			gm.IPPortMembers = []ipPortJSON{}
		}
		for _, m := range e.Members {
			gm.Members = append(gm.Members, objectJSON{MemberType: m.Type, Key: m.Key, Cluster: m.Object.Cluster, Namespace: m.Object.Namespace, Name: m.Object.Name})
		}
		if structured {
			for _, ep := range model.MemberEndpoints {
				l, err := nsxMembers(ctx, c, base+ep)
				if err != nil {
					return remoteErr(err)
				}
				if len(l.Clusters) > 0 {
					if gm.ByType == nil {
						gm.ByType = map[string]model.MemberList{}
					}
					gm.ByType[ep] = l
				}
			}
		}
		rep.Groups = append(rep.Groups, gm)
	}
	done, err := printStructured(cmd.OutOrStdout(), format, rep)
	if err != nil || done {
		return err
	}
	if group != "" {
		printGroupDetail(cmd.OutOrStdout(), rep.Groups[0])
		return nil
	}
	printGroupTable(cmd.OutOrStdout(), rep.Groups)
	return nil
}

// nsxMembers reads one of NSX's per-type member endpoints to the end of
// its pages, as one list of clusters.
func nsxMembers(ctx context.Context, c *client.Client, path string) (model.MemberList, error) {
	var out model.MemberList
	cursor := ""
	for {
		var page struct {
			Results []model.MemberList `json:"results"`
			Cursor  string             `json:"cursor"`
		}
		p := path
		if cursor != "" {
			p += "?cursor=" + url.QueryEscape(cursor)
		}
		if err := c.Do(ctx, http.MethodGet, p, nil, &page); err != nil {
			return out, err
		}
		for _, l := range page.Results {
			out.Clusters = append(out.Clusters, l.Clusters...)
		}
		if page.Cursor == "" {
			return out, nil
		}
		cursor = page.Cursor
	}
}

// printList writes {key: [item(0), ..., item(n-1)]} as printStructured
// writes it, one item at a time, so that no more than one item is held.
func printList(w io.Writer, format, key string, n int, item func(i int) any) error {
	bw := bufio.NewWriter(w)
	if n == 0 {
		if format == "json" {
			fmt.Fprintf(bw, "{\n  %q: []\n}\n", key)
		} else {
			fmt.Fprintf(bw, "%s: []\n", key)
		}
		return bw.Flush()
	}
	if format == "json" {
		fmt.Fprintf(bw, "{\n  %q: [\n", key)
	} else {
		fmt.Fprintf(bw, "%s:\n", key)
	}
	for i := range n {
		var b []byte
		var err error
		if format == "json" {
			b, err = json.MarshalIndent(item(i), "    ", "  ")
			if err == nil {
				bw.WriteString("    ")
				bw.Write(b)
				if i < n-1 {
					bw.WriteByte(',')
				}
				err = bw.WriteByte('\n')
			}
		} else {
			// A one-item list is the item as it appears in the whole
			// list: YAML does not indent a list that is a map's value.
			if b, err = json.Marshal([]any{item(i)}); err == nil {
				if b, err = yaml.JSONToYAML(b); err == nil {
					_, err = bw.Write(b)
				}
			}
		}
		if err != nil {
			return err
		}
	}
	if format == "json" {
		bw.WriteString("  ]\n}\n")
	}
	return bw.Flush()
}

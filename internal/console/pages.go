package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/policy"
)

// Page sizes: what one screen shows of a long list; the rest is a page
// away, so a page costs the same at 10 or 10,000 rules.
const (
	inventoryPage = 100
	groupsPage    = 25
	membersPage   = 200
	rulesPage     = 200
	// maxListed bounds how many objects of a kind a page reads to filter
	// and order them (the scale fixtures have 10,010 groups).
	maxListed = 200000
)

// ---- overview

type statusView struct {
	Revision         int64         `json:"revision"`
	Ready            bool          `json:"ready"`
	Clusters         []clusterView `json:"clusters"`
	Groups           int           `json:"groups"`
	Policies         int           `json:"policies"`
	Rules            int           `json:"rules"`
	InventoryObjects int           `json:"inventory_objects"`
	EventsFrom       int64         `json:"events_from"`
	License          *licenseView  `json:"license"`
}

type clusterView struct {
	Name        string         `json:"name"`
	Source      string         `json:"source"`
	Demo        bool           `json:"demo"`
	State       string         `json:"state"`
	Since       time.Time      `json:"since"`
	Objects     map[string]int `json:"objects"`
	StaleGroups []string       `json:"stale_groups"`
}

// Total is the cluster's object count.
func (c clusterView) Total() int {
	n := 0
	for _, v := range c.Objects {
		n += v
	}
	return n
}

type licenseView struct {
	License struct {
		ID         string    `json:"id"`
		Licensee   string    `json:"licensee"`
		Features   []string  `json:"features"`
		Expires    time.Time `json:"expires"`
		Evaluation bool      `json:"evaluation"`
	} `json:"license"`
	Valid  bool     `json:"valid"`
	Error  string   `json:"error"`
	Active []string `json:"active_features"`
}

type agentView struct {
	Name         string `json:"name"`
	Role         string `json:"role"`
	Gateway      string `json:"gateway"`
	Project      string `json:"project"`
	State        string `json:"realization_state"`
	Reason       string `json:"reason"`
	SpanRevision int64  `json:"span_revision"`
}

type overviewData struct {
	Status      *statusView
	Agents      []agentView
	Counts      map[string]int
	Since       int64
	Clusterless bool
}

func (c *Console) overview(k *caller, v *view, _ *http.Request) error {
	v.Title, v.Nav, v.Live = "Overview", "overview", "config,membership,cluster,license,project"
	d := &overviewData{Counts: map[string]int{}}
	v.Data = d
	if !v.Installation() {
		v.LivePrefix = model.Space(v.Project)
		for _, l := range []struct{ name, path string }{{"groups", "/infra/domains/default/groups"},
			{"security policies", "/infra/domains/default/security-policies"}, {"gateway policies", "/infra/domains/default/gateway-policies"}} {
			var page struct {
				Count int `json:"result_count"`
			}
			if err := k.get(spacePrefix(v.Project)+l.path+"?page_size=1", &page); err != nil {
				return err
			}
			d.Counts[l.name] = page.Count
		}
		return nil
	}
	d.Status = &statusView{}
	if err := k.get("/policy/api/v1/kordon/status", d.Status); err != nil {
		return err
	}
	d.Since = max(d.Status.EventsFrom, d.Status.Revision-200)
	for i := range d.Status.Clusters {
		cl := &d.Status.Clusters[i]
		if cl.State != "Up" {
			if err := k.get("/policy/api/v1/kordon/clusters/"+url.PathEscape(cl.Name), cl); err != nil {
				return err
			}
		}
	}
	agents, err := listAll[agentView](k, "/policy/api/v1/kordon/agents", 1000)
	if err != nil {
		return err
	}
	d.Agents = agents
	return nil
}

// ---- inventory

type inventoryItem struct {
	Cluster   string   `json:"cluster"`
	Kind      string   `json:"kind"`
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Addresses []string `json:"addresses"`
}

type inventoryData struct {
	Clusters []string
	Kinds    []string
	Cluster  string
	Kind     string
	Query    string
	Items    []inventoryItem
	Total    int
	Next     string
	Cursor   string
}

var inventoryKinds = []string{"Node", "Namespace", "Service", "Pod", "Ingress", "Gateway", "Egress", "IPPool", "ExternalIPPool", "VirtualMachine"}

func (c *Console) inventory(k *caller, v *view, r *http.Request) error {
	v.Title, v.Nav, v.Live = "Inventory", "inventory", "cluster,membership"
	q := r.URL.Query()
	d := &inventoryData{Kinds: inventoryKinds, Cluster: q.Get("cluster"), Kind: q.Get("kind"), Query: q.Get("q"), Cursor: q.Get("cursor")}
	v.Data = d
	var st statusView
	if err := k.get("/policy/api/v1/kordon/status", &st); err != nil {
		return err
	}
	for _, cl := range st.Clusters {
		d.Clusters = append(d.Clusters, cl.Name)
	}
	p := url.Values{"page_size": {strconv.Itoa(inventoryPage)}}
	for _, f := range []string{"cluster", "kind", "q", "cursor"} {
		if x := q.Get(f); x != "" {
			p.Set(f, x)
		}
	}
	var page struct {
		Results []inventoryItem `json:"results"`
		Count   int             `json:"result_count"`
		Cursor  string          `json:"cursor"`
	}
	if err := k.get("/policy/api/v1/kordon/inventory/objects?"+p.Encode(), &page); err != nil {
		return err
	}
	d.Items, d.Total, d.Next = page.Results, page.Count, page.Cursor
	return nil
}

type objectData struct {
	Key struct {
		Cluster   string `json:"cluster"`
		Kind      string `json:"kind"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"key"`
	Object        json.RawMessage `json:"object"`
	Contributions []struct {
		MemberType string   `json:"member_type"`
		Key        string   `json:"key"`
		Addresses  []string `json:"addresses"`
		IPPorts    []ipPort `json:"ip_port_members"`
	} `json:"contributions"`
	Groups       []string `json:"groups"`
	DirectGroups []string `json:"direct_groups"`
}

// Pretty is the stored object, indented.
func (o *objectData) Pretty() string {
	var out strings.Builder
	var x any
	if json.Unmarshal(o.Object, &x) == nil {
		b, _ := json.MarshalIndent(x, "", "  ")
		out.Write(b)
	}
	return out.String()
}

// Direct reports whether the object's own criteria put it in group g.
func (o *objectData) Direct(g string) bool { return slices.Contains(o.DirectGroups, g) }

type ipPort struct {
	IP       string `json:"ip"`
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
}

func (p ipPort) String() string { return fmt.Sprintf("%s %s/%d", p.IP, p.Protocol, p.Port) }

func (c *Console) object(k *caller, v *view, r *http.Request) error {
	v.Nav, v.Live = "inventory", "membership,cluster"
	q := r.URL.Query()
	p := url.Values{}
	for _, f := range []string{"cluster", "kind", "namespace", "name"} {
		p.Set(f, q.Get(f))
	}
	d := &objectData{}
	if err := k.get("/policy/api/v1/kordon/inventory/object?"+p.Encode(), d); err != nil {
		return err
	}
	v.Title, v.Data = d.Key.Kind+" "+d.Key.Name, d
	return nil
}

// ---- groups

type groupView struct {
	ID          string               `json:"id"`
	Path        string               `json:"path"`
	DisplayName string               `json:"display_name"`
	Description string               `json:"description"`
	Tags        []model.Tag          `json:"tags"`
	Expression  model.ExpressionList `json:"expression"`
	Revision    int64                `json:"_revision"`
	Modified    int64                `json:"_last_modified_time"`
	ModifiedBy  string               `json:"_last_modified_user"`
}

// Criteria is the group's expression in words.
func (g groupView) Criteria() []criterion { return describe(g.Expression) }

// Domain is the group's domain, from its path.
func (g groupView) Domain() string {
	if r, err := model.ParsePath(g.Path); err == nil {
		return r.Domain
	}
	return model.DefaultDomain
}

type effectiveView struct {
	IPAddresses []string `json:"ip_addresses"`
	IPPorts     []ipPort `json:"ip_port_members"`
	Members     []struct {
		MemberType string `json:"member_type"`
		Key        string `json:"key"`
		Object     struct {
			Cluster   string `json:"cluster"`
			Kind      string `json:"kind"`
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"object"`
	} `json:"members"`
	LastChange *time.Time `json:"last_member_change"`
	// The counts of everything, when the members are read a page at a
	// time.
	MemberCount       int            `json:"member_count"`
	MemberTypes       map[string]int `json:"member_types"`
	IPAddressCount    int            `json:"ip_address_count"`
	IPPortMemberCount int            `json:"ip_port_member_count"`
	Stale             []struct {
		Cluster string    `json:"cluster"`
		State   string    `json:"state"`
		Since   time.Time `json:"since"`
	} `json:"stale_members"`
}

// StaleCluster reports whether a cluster's members in the group are stale.
func (e *effectiveView) StaleCluster(cluster string) bool {
	for _, s := range e.Stale {
		if s.Cluster == cluster {
			return true
		}
	}
	return false
}

type groupRow struct {
	Group     groupView
	Effective *effectiveView
}

type groupsData struct {
	Rows                                []groupRow
	Total, Shown, Page, Pages           int
	MemberType, Cluster, Namespace, Tag string
	Query                               string
	MemberTypes                         []string
}

func (c *Console) groups(k *caller, v *view, r *http.Request) error {
	v.Title, v.Nav, v.Live = "Groups", "groups", "config,membership"
	v.LivePrefix = model.Space(v.Project)
	q := r.URL.Query()
	d := &groupsData{MemberType: q.Get("member_type"), Cluster: q.Get("cluster"), Namespace: q.Get("namespace"), Tag: q.Get("tag"), Query: q.Get("q")}
	for _, t := range model.MemberTypes {
		d.MemberTypes = append(d.MemberTypes, t.Name)
	}
	v.Data = d
	all, err := listAll[groupView](k, spacePrefix(v.Project)+"/infra/domains/default/groups", maxListed)
	if err != nil {
		return err
	}
	var keep []groupView
	for _, g := range all {
		if groupMatches(g, d) {
			keep = append(keep, g)
		}
	}
	sort.Slice(keep, func(i, j int) bool { return keep[i].Path < keep[j].Path })
	d.Total = len(keep)
	d.Page, d.Pages = pageOf(q.Get("page"), len(keep), groupsPage)
	for _, g := range keep[(d.Page-1)*groupsPage : min(d.Page*groupsPage, len(keep))] {
		e := &effectiveView{}
		if err := k.get(spacePrefix(v.Project)+"/infra/domains/"+url.PathEscape(g.Domain())+"/groups/"+url.PathEscape(g.ID)+"/members/effective?page_size=1", e); err != nil {
			return err
		}
		d.Rows = append(d.Rows, groupRow{Group: g, Effective: e})
	}
	return nil
}

// pageOf parses a 1-based page number and returns it, clamped, and the
// number of pages.
func pageOf(s string, n, size int) (int, int) {
	pages := max(1, (n+size-1)/size)
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 {
		p = 1
	}
	return min(p, pages), pages
}

// groupMatches applies the groups page's filters to a group's definition:
// a member type it selects, a cluster or namespace its conditions name, a
// tag its conditions test, and text in its id or name.
func groupMatches(g groupView, d *groupsData) bool {
	if d.Query != "" && !strings.Contains(strings.ToLower(g.ID+" "+g.DisplayName), strings.ToLower(d.Query)) {
		return false
	}
	var types, clusters, namespaces, tags []string
	for _, cr := range describe(g.Expression) {
		for _, cond := range cr.Conditions {
			types = append(types, cond.MemberType)
			switch {
			case cond.MemberType == model.MemberKubernetesCluster:
				clusters = append(clusters, strings.Split(cond.Value, ",")...)
			case cond.MemberType == model.MemberKubernetesNamespace && cond.Key == model.KeyName:
				namespaces = append(namespaces, strings.Split(cond.Value, ",")...)
			}
			if cond.Key == model.KeyTag {
				tags = append(tags, cond.Value)
			}
		}
	}
	has := func(list []string, want string, substr bool) bool {
		if want == "" {
			return true
		}
		for _, x := range list {
			if strings.EqualFold(x, want) || substr && strings.Contains(strings.ToLower(x), strings.ToLower(want)) {
				return true
			}
		}
		return false
	}
	return has(types, d.MemberType, false) && has(clusters, d.Cluster, false) && has(namespaces, d.Namespace, false) && has(tags, d.Tag, true)
}

type memberRow struct {
	Type, Key                      string
	Cluster, Kind, Namespace, Name string
	Stale                          bool
}

type referenceView struct {
	Path  string `json:"path"`
	Field string `json:"field"`
}

type groupData struct {
	Group                   groupView
	Effective               *effectiveView
	Members                 []memberRow
	MembersTotal            int
	MemberPage, MemberPages int
	ByType                  map[string]int
	Addresses               []string
	AddressesTotal          int
	References              []referenceView
}

func (c *Console) group(k *caller, v *view, r *http.Request) error {
	q := r.URL.Query()
	domain, id := q.Get("domain"), q.Get("id")
	if domain == "" {
		domain = model.DefaultDomain
	}
	v.Nav, v.Live = "groups", "config,membership"
	base := spacePrefix(v.Project) + "/infra/domains/" + url.PathEscape(domain) + "/groups/" + url.PathEscape(id)
	v.LivePrefix = model.Ref{Project: v.Project, Domain: domain, Kind: model.KindGroup, ID: id}.Path()
	d := &groupData{Effective: &effectiveView{}, ByType: map[string]int{}}
	v.Data = d
	if err := k.get(base, &d.Group); err != nil {
		return err
	}
	v.Title = "Group " + d.Group.DisplayName
	d.MemberPage, _ = pageOf(q.Get("mpage"), maxListed, membersPage)
	if err := k.get(fmt.Sprintf("%s/members/effective?page_size=%d&cursor=%d", base, membersPage, (d.MemberPage-1)*membersPage), d.Effective); err != nil {
		if statusOf(err) != http.StatusBadRequest { // a page past the end: show the first
			return err
		}
		d.MemberPage = 1
		if err := k.get(fmt.Sprintf("%s/members/effective?page_size=%d", base, membersPage), d.Effective); err != nil {
			return err
		}
	}
	refs, err := listAll[referenceView](k, base+"/references", 100000)
	if err != nil {
		return err
	}
	d.References = refs
	d.ByType = d.Effective.MemberTypes
	d.MembersTotal = d.Effective.MemberCount
	_, d.MemberPages = pageOf("", d.MembersTotal, membersPage)
	for _, m := range d.Effective.Members {
		o := m.Object
		d.Members = append(d.Members, memberRow{Type: m.MemberType, Key: m.Key, Cluster: o.Cluster, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name,
			Stale: d.Effective.StaleCluster(o.Cluster)})
	}
	d.AddressesTotal = d.Effective.IPAddressCount
	d.Addresses = d.Effective.IPAddresses
	return nil
}

// ---- group editor

type editData struct {
	New        bool
	Domain, ID string
	// Group and Kinds go to the page's script as JSON data blocks
	// (html/template marshals and escapes them).
	Group   json.RawMessage
	Kinds   []memberTypeSpec
	APIPath string
}

// memberTypeSpec is what the criteria builder offers: for each member
// type, its keys and each key's operators, from kordon's own table, so
// that the builder offers only what validation accepts.
type memberTypeSpec struct {
	Name       string    `json:"name"`
	Scoping    bool      `json:"scoping"`
	Kubernetes bool      `json:"kubernetes"`
	InProjects bool      `json:"in_projects"`
	Keys       []keySpec `json:"keys"`
}

type keySpec struct {
	Key       string   `json:"key"`
	Operators []string `json:"operators"`
	// Value says what the value is: text, tag (scope|tag), clusters, all.
	Value string `json:"value"`
}

var valueForms = map[model.ValueForm]string{model.ValueText: "text", model.ValueTag: "tag", model.ValueClusters: "clusters", model.ValueAll: "all"}

func memberTypeSpecs(project bool) []memberTypeSpec {
	var out []memberTypeSpec
	for _, t := range model.MemberTypes {
		if project && !t.InProjects {
			continue
		}
		s := memberTypeSpec{Name: t.Name, Scoping: t.Scoping, Kubernetes: t.Kubernetes, InProjects: t.InProjects}
		for _, kr := range t.Keys {
			ks := keySpec{Key: kr.Key, Value: valueForms[kr.Value]}
			for _, op := range kr.Operators {
				ks.Operators = append(ks.Operators, op.String())
			}
			s.Keys = append(s.Keys, ks)
		}
		out = append(out, s)
	}
	return out
}

func (c *Console) editGroup(k *caller, v *view, r *http.Request) error {
	q := r.URL.Query()
	v.Nav = "groups"
	d := &editData{Domain: q.Get("domain"), ID: q.Get("id")}
	if d.Domain == "" {
		d.Domain = model.DefaultDomain
	}
	v.Data = d
	d.Kinds = memberTypeSpecs(v.Project != "")
	if d.ID == "" {
		d.New, d.Group, v.Title = true, json.RawMessage(`{"resource_type":"Group","expression":[]}`), "New group"
		d.APIPath = spacePrefix(v.Project) + "/infra/domains/" + url.PathEscape(d.Domain) + "/groups/"
		return nil
	}
	d.APIPath = spacePrefix(v.Project) + "/infra/domains/" + url.PathEscape(d.Domain) + "/groups/" + url.PathEscape(d.ID)
	if err := k.get(d.APIPath, &d.Group); err != nil {
		return err
	}
	v.Title = "Edit group " + d.ID
	return nil
}

// ---- firewalls

type ruleView struct {
	ID                   string          `json:"id"`
	Path                 string          `json:"path"`
	DisplayName          string          `json:"display_name"`
	Action               string          `json:"action"`
	Direction            string          `json:"direction"`
	IPProtocol           string          `json:"ip_protocol"`
	SourceGroups         []string        `json:"source_groups"`
	DestinationGroups    []string        `json:"destination_groups"`
	SourcesExcluded      bool            `json:"sources_excluded"`
	DestinationsExcluded bool            `json:"destinations_excluded"`
	Services             []string        `json:"services"`
	ServiceEntries       json.RawMessage `json:"service_entries"`
	Scope                []string        `json:"scope"`
	Logged               bool            `json:"logged"`
	Disabled             bool            `json:"disabled"`
	SequenceNumber       int64           `json:"sequence_number"`
	RuleID               int64           `json:"rule_id"`
	Revision             int64           `json:"_revision"`
}

type policyView struct {
	ID             string     `json:"id"`
	Path           string     `json:"path"`
	DisplayName    string     `json:"display_name"`
	Category       string     `json:"category"`
	SequenceNumber int64      `json:"sequence_number"`
	Scope          []string   `json:"scope"`
	Rules          []ruleView `json:"rules"`
	RuleCount      int        `json:"rule_count"`
	Connectivity   string     `json:"connectivity_preference"`
}

// fwRow is one line of a firewall table: a policy's header, or a rule.
type fwRow struct {
	Policy *policyView
	Rule   *ruleView
	// Index is the rule's place in its policy, Of the policy's count.
	Index, Of int
	Hits      *ruleHits
	// Prev and Next are the neighbours a move swaps with.
	Prev, Next *ruleView
}

type ruleHits struct {
	Hits    int64 `json:"hit_count"`
	Packets int64 `json:"packet_count"`
	Bytes   int64 `json:"byte_count"`
}

type firewallData struct {
	Gateway     bool
	Rows        []fwRow
	Rules       int
	Page, Pages int
	Gateways    []string
	Selected    string
	Categories  []string
	// Focus is the rule or policy a link asked for.
	Focus string
	// Kind is the editor's name for the table's policies.
	Kind string
}

func (c *Console) dfw(k *caller, v *view, r *http.Request) error {
	v.Title, v.Nav, v.Live = "Distributed firewall", "dfw", "config"
	return c.firewall(k, v, r, false)
}

func (c *Console) gfw(k *caller, v *view, r *http.Request) error {
	v.Title, v.Nav, v.Live = "Gateway firewall", "gfw", "config"
	return c.firewall(k, v, r, true)
}

func (c *Console) firewall(k *caller, v *view, r *http.Request, gateway bool) error {
	v.LivePrefix = model.Space(v.Project)
	q := r.URL.Query()
	d := &firewallData{Gateway: gateway, Kind: "security", Selected: q.Get("gateway"), Categories: model.DFWCategories}
	if gateway {
		d.Kind = "gateway"
	}
	v.Data = d
	kind, order := "security-policies", policy.SecurityPolicyOrder
	if gateway {
		kind, order, d.Categories = "gateway-policies", policy.GatewayPolicyOrder, model.GFWCategories
		for _, t := range []string{"tier-0s", "tier-1s"} {
			gws, err := listAll[struct {
				Path string `json:"path"`
			}](k, spacePrefix(v.Project)+"/infra/"+t, maxListed)
			if err != nil && statusOf(err) != http.StatusForbidden {
				return err
			}
			for _, g := range gws {
				d.Gateways = append(d.Gateways, g.Path)
			}
		}
	}
	// The policies come without their rules: a page reads the rules of
	// the policies it shows, so its cost follows the page, not the
	// firewall (the scale fixtures have 10,000 rules).
	pols, err := listAll[policyView](k, spacePrefix(v.Project)+"/infra/domains/default/"+kind+"?include_rules=false", maxListed)
	if err != nil {
		return err
	}
	sort.Slice(pols, func(i, j int) bool {
		a, b := pols[i], pols[j]
		return order(a.Path, a.Category, a.SequenceNumber).Before(order(b.Path, b.Category, b.SequenceNumber))
	})
	loaded := map[string]bool{}
	load := func(p *policyView) error {
		if loaded[p.Path] {
			return nil
		}
		var full policyView
		if err := k.get("/policy/api/v1"+p.Path, &full); err != nil {
			return err
		}
		p.Rules, loaded[p.Path] = full.Rules, true
		sort.Slice(p.Rules, func(i, j int) bool {
			return policy.RuleBefore(p.Rules[i].SequenceNumber, p.Rules[i].Path, p.Rules[j].SequenceNumber, p.Rules[j].Path)
		})
		if gateway && d.Selected != "" { // the table shows the rules applied at the gateway
			var at []ruleView
			for i := range p.Rules {
				if slices.Contains(effectiveScope(p, &p.Rules[i]), d.Selected) {
					at = append(at, p.Rules[i])
				}
			}
			p.Rules = at
		}
		p.RuleCount = len(p.Rules)
		return nil
	}
	// Each policy takes its rules' count of lines, or one for its
	// header when it has none; a gateway filter needs every rule's scope.
	var shown []*policyView
	for i := range pols {
		p := &pols[i]
		if gateway && d.Selected != "" {
			if !slices.Contains(p.Scope, d.Selected) && !model.IsAny(p.Scope) && len(p.Scope) > 0 {
				continue
			}
			if err := load(p); err != nil {
				return err
			}
			if p.RuleCount == 0 && !slices.Contains(p.Scope, d.Selected) {
				continue
			}
		}
		shown = append(shown, p)
	}
	lines := func(p *policyView) int { return max(1, p.RuleCount) }
	offset := make([]int, len(shown)+1)
	for i, p := range shown {
		offset[i+1] = offset[i] + lines(p)
		d.Rules += p.RuleCount
	}
	d.Page, d.Pages = pageOf(q.Get("page"), offset[len(shown)], rulesPage)
	if want := q.Get("rule"); want != "" {
		// A link to a rule or policy opens the page that shows it.
		for i, p := range shown {
			if want != p.Path && !strings.HasPrefix(want, p.Path+"/rules/") {
				continue
			}
			at := offset[i]
			if want != p.Path {
				if err := load(p); err != nil {
					return err
				}
				for ri := range p.Rules {
					if p.Rules[ri].Path == want {
						at += ri
					}
				}
			}
			d.Page, d.Focus = at/rulesPage+1, want
			break
		}
	}
	start, end := (d.Page-1)*rulesPage, d.Page*rulesPage
	for i, p := range shown {
		if offset[i+1] <= start || offset[i] >= end {
			continue
		}
		if err := load(p); err != nil {
			return err
		}
		d.Rows = append(d.Rows, fwRow{Policy: p, Of: len(p.Rules)})
		if len(p.Rules) == 0 {
			continue
		}
		hits := c.statistics(k, v.Project, kind, p.ID)
		for ri := range p.Rules {
			if at := offset[i] + ri; at < start || at >= end {
				continue
			}
			row := fwRow{Policy: p, Rule: &p.Rules[ri], Index: ri, Of: len(p.Rules), Hits: hits[p.Rules[ri].Path]}
			if ri > 0 {
				row.Prev = &p.Rules[ri-1]
			}
			if ri+1 < len(p.Rules) {
				row.Next = &p.Rules[ri+1]
			}
			d.Rows = append(d.Rows, row)
		}
	}
	return nil
}

// effectiveScope is where a gateway rule applies: its policy's scope when
// the policy has one, else its own.
func effectiveScope(p *policyView, r *ruleView) []string {
	if len(p.Scope) > 0 && !model.IsAny(p.Scope) {
		return p.Scope
	}
	return r.Scope
}

// statistics reads a policy's rule counters; a page without them is still
// a page, so a failure shows no counts rather than an error.
func (c *Console) statistics(k *caller, project, kind, id string) map[string]*ruleHits {
	var st struct {
		Results []struct {
			Statistics struct {
				Results []struct {
					Rule string `json:"rule"`
					ruleHits
				} `json:"results"`
			} `json:"statistics"`
		} `json:"results"`
	}
	out := map[string]*ruleHits{}
	if err := k.get(spacePrefix(project)+"/infra/domains/default/"+kind+"/"+url.PathEscape(id)+"/statistics", &st); err != nil {
		return out
	}
	for _, r := range st.Results {
		for _, s := range r.Statistics.Results {
			h := s.ruleHits
			out[s.Rule] = &h
		}
	}
	return out
}

// ---- trace

type traceForm struct {
	Mode                             string
	FromPod, To, Protocol, Port      string
	From, ToService, ToIngress, ToGW string
	Gateway                          string
}

type traceData struct {
	Form     traceForm
	Result   *traceResult
	Error    string
	Gateways []string
}

type traceFlow struct {
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
}

type traceDecision struct {
	Firewall   string    `json:"firewall"`
	Gateway    string    `json:"gateway"`
	Flow       traceFlow `json:"flow"`
	Verdict    string    `json:"verdict"`
	RulePath   string    `json:"rule_path"`
	PolicyPath string    `json:"policy_path"`
	Reason     string    `json:"reason"`
	Assumption string    `json:"assumption"`
}

type traceSource struct {
	Address string `json:"address"`
	Via     string `json:"via"`
	Object  string `json:"object"`
	Node    string `json:"node"`
	Reason  string `json:"reason"`
}

type traceHop struct {
	Flow    traceFlow       `json:"flow"`
	Source  *traceSource    `json:"source"`
	Entry   *traceWay       `json:"entry"`
	Gateway []traceDecision `json:"gateway_firewall"`
	DFW     *traceDecision  `json:"distributed_firewall"`
	Verdict string          `json:"verdict"`
	Note    string          `json:"note"`
}

type traceWay struct {
	Address  string `json:"address"`
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
	Via      string `json:"via"`
	Object   string `json:"object"`
	Reason   string `json:"reason"`
}

type traceResult struct {
	Direction string `json:"direction"`
	Exit      *struct {
		Pod     string   `json:"pod"`
		PodIPs  []string `json:"pod_ips"`
		PodNode string   `json:"pod_node"`
	} `json:"exit"`
	Target string     `json:"target"`
	Hops   []traceHop `json:"hops"`
	Reason string     `json:"reason"`
}

func (c *Console) trace(k *caller, v *view, r *http.Request) error {
	v.Title, v.Nav = "Trace", "trace"
	q := r.URL.Query()
	f := traceForm{Mode: q.Get("mode"), FromPod: q.Get("from_pod"), To: q.Get("to"), Protocol: q.Get("protocol"), Port: q.Get("port"),
		From: q.Get("from"), ToService: q.Get("to_service"), ToIngress: q.Get("to_ingress"), ToGW: q.Get("to_gateway"), Gateway: q.Get("gateway")}
	if f.Mode != "in" && f.Mode != "out" {
		f.Mode = "out"
		if f.FromPod == "" && f.From != "" {
			f.Mode = "in"
		}
	}
	// What was filled decides when the direction chosen has nothing.
	if f.Mode == "out" && f.FromPod == "" && f.From != "" {
		f.Mode = "in"
	} else if f.Mode == "in" && f.From == "" && f.FromPod != "" {
		f.Mode = "out"
	}
	if f.Protocol == "" {
		f.Protocol = "TCP"
	}
	d := &traceData{Form: f}
	v.Data = d
	for _, t := range []string{"tier-0s", "tier-1s"} {
		gws, err := listAll[struct {
			Path string `json:"path"`
		}](k, "/policy/api/v1/infra/"+t, maxListed)
		if err != nil {
			return err
		}
		for _, g := range gws {
			d.Gateways = append(d.Gateways, g.Path)
		}
	}
	req := map[string]any{}
	switch {
	case f.Mode == "out" && f.FromPod != "":
		port, err := strconv.Atoi(f.Port)
		if err != nil && f.Port != "" {
			d.Error = "port: " + strconv.Quote(f.Port) + " is not a number"
			return nil
		}
		req["from_pod"], req["to"], req["protocol"] = f.FromPod, f.To, f.Protocol
		if f.Port != "" {
			req["port"] = port
		}
	case f.Mode == "in" && f.From != "":
		req["from"] = f.From
		for name, val := range map[string]string{"to_service": f.ToService, "to_ingress": f.ToIngress, "to_gateway": f.ToGW} {
			if val != "" {
				req[name] = val
			}
		}
	default:
		return nil
	}
	if f.Gateway != "" {
		req["gateway"] = f.Gateway
	}
	res := &traceResult{}
	if err := k.post("/policy/api/v1/kordon/trace", req, res); err != nil {
		// A refusal (a link from another site, say) shows the form
		// filled in: the console's own Trace button runs it.
		if s := statusOf(err); s == http.StatusBadRequest || s == http.StatusNotFound || s == http.StatusForbidden {
			d.Error = err.(*apiError).Message
			return nil
		}
		return err
	}
	d.Result = res
	return nil
}

// ---- advisor

type findingView struct {
	Code     string   `json:"code"`
	Severity string   `json:"severity"`
	Message  string   `json:"message"`
	Objects  []string `json:"objects"`
	Fix      string   `json:"fix"`
	Count    int      `json:"count"`
}

func (c *Console) advisor(k *caller, v *view, _ *http.Request) error {
	v.Title, v.Nav, v.Live = "Advisor", "advisor", "config,membership"
	fs, err := listAll[findingView](k, "/policy/api/v1/kordon/advise", 100000)
	if err != nil {
		return err
	}
	v.Data = fs
	return nil
}

// ---- rule editor

type ruleEditData struct {
	New              bool
	Gateway          bool
	PolicyPath, Back string
	APIPath          string
	Object           json.RawMessage
	Actions          []string
}

func (c *Console) editRule(k *caller, v *view, r *http.Request) error {
	q := r.URL.Query()
	ref, err := model.ParsePath(q.Get("policy"))
	if err != nil || ref.Kind != model.KindSecurityPolicy && ref.Kind != model.KindGatewayPolicy {
		return &apiError{Status: http.StatusNotFound, Message: "policy: " + strconv.Quote(q.Get("policy")) + " is not a security or gateway policy path"}
	}
	v.Project = ref.Project
	d := &ruleEditData{Gateway: ref.Kind == model.KindGatewayPolicy, PolicyPath: ref.Path(), Back: link(ref.Path()),
		Actions: []string{model.ActionAllow, model.ActionDrop, model.ActionReject}}
	v.Nav, v.Data = "dfw", d
	if d.Gateway {
		v.Nav = "gfw"
	} else {
		d.Actions = append(d.Actions, model.ActionJumpToApplication)
	}
	id := q.Get("id")
	if id == "" {
		// A new rule goes after the policy's last one.
		var pol policyView
		if err := k.get("/policy/api/v1"+ref.Path(), &pol); err != nil {
			return err
		}
		seq := int64(0)
		for _, rl := range pol.Rules {
			seq = max(seq, rl.SequenceNumber+10)
		}
		d.New, v.Title = true, "New rule in "+pol.DisplayName
		d.APIPath = "/policy/api/v1" + ref.Path() + "/rules/"
		d.Object = json.RawMessage(fmt.Sprintf(`{"resource_type": "Rule", "action": "ALLOW", "direction": "IN_OUT", "ip_protocol": "IPV4_IPV6", "sequence_number": %d}`, seq))
		return nil
	}
	d.APIPath = "/policy/api/v1" + ref.Path() + "/rules/" + url.PathEscape(id)
	if err := k.get(d.APIPath, &d.Object); err != nil {
		return err
	}
	v.Title = "Edit rule " + id
	d.Back = link(ref.Path() + "/rules/" + id)
	return nil
}

// ---- policy editor

type policyEditData struct {
	New, Gateway bool
	Back         string
	APIPath      string
	Object       json.RawMessage
	Categories   []string
}

// editPolicy edits a security or gateway policy's own fields; its rules
// are left as they are (the object is sent without them, which a PUT
// keeps), and edited one by one.
func (c *Console) editPolicy(k *caller, v *view, r *http.Request) error {
	q := r.URL.Query()
	d := &policyEditData{Gateway: q.Get("kind") == "gateway", Categories: model.DFWCategories}
	kind, page := "security-policies", "/ui/dfw"
	v.Nav = "dfw"
	if d.Gateway {
		kind, v.Nav, page, d.Categories = "gateway-policies", "gfw", "/ui/gfw", model.GFWCategories
	}
	v.Data = d
	base := spacePrefix(v.Project) + "/infra/domains/default/" + kind + "/"
	id := q.Get("id")
	if id == "" {
		d.New, d.APIPath, d.Back, v.Title = true, base, v.Q(page), "New policy"
		category := model.CategoryApplication
		if d.Gateway {
			category = model.CategoryLocalGatewayRules
		}
		d.Object = json.RawMessage(fmt.Sprintf(`{"resource_type": %q, "category": %q, "sequence_number": 0}`,
			map[bool]string{false: "SecurityPolicy", true: "GatewayPolicy"}[d.Gateway], category))
		return nil
	}
	d.APIPath = base + url.PathEscape(id)
	if err := k.get(d.APIPath, &d.Object); err != nil {
		return err
	}
	v.Title = "Edit policy " + id
	d.Back = link(model.Ref{Project: v.Project, Domain: model.DefaultDomain, Kind: map[bool]model.Kind{false: model.KindSecurityPolicy, true: model.KindGatewayPolicy}[d.Gateway], ID: id}.Path())
	return nil
}

package console

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kordon-dev/kordon/internal/model"
)

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

package apiserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
)

// Kordon's member endpoints besides NSX's per-type ones.
const (
	// membersEffective lists everything a group resolves to.
	membersEffective = "effective"
	// membersConsolidated lists the group's addresses (NSX's name for it).
	membersConsolidated = "consolidated-effective-ip-addresses"
	// membersIPAddresses is NSX's endpoint for a group's VM and IP
	// address members; kordon answers every effective address (its
	// Kubernetes members' too) in the same shape.
	membersIPAddresses = "ip-addresses"
)

// Effective is everything a group resolves to.
type Effective struct {
	Path          string              `json:"path"`
	Revision      int64               `json:"revision"`
	IPAddresses   []string            `json:"ip_addresses"`
	IPPortMembers []manager.IPPort    `json:"ip_port_members"`
	Members       []membership.Member `json:"members"`
	LastChange    *time.Time          `json:"last_member_change,omitempty"`
	// Stale lists clusters whose members the group keeps although the
	// cluster is not Up, and since when.
	Stale []manager.Stale `json:"stale_members,omitempty"`
}

// EffectivePage is one page of a group's effective members, with the
// counts of everything: what a reader shows of a large group (the
// console's group page) without reading all of it. page_size and cursor
// page the objects; the addresses and address+port members are cut to
// the first page_size.
type EffectivePage struct {
	Effective
	Cursor            string         `json:"cursor,omitempty"`
	MemberCount       int            `json:"member_count"`
	MemberTypes       map[string]int `json:"member_types"`
	IPAddressCount    int            `json:"ip_address_count"`
	IPPortMemberCount int            `json:"ip_port_member_count"`
}

func effectivePage(r *http.Request, e Effective) (EffectivePage, error) {
	out := EffectivePage{Effective: e, MemberCount: len(e.Members), MemberTypes: map[string]int{},
		IPAddressCount: len(e.IPAddresses), IPPortMemberCount: len(e.IPPortMembers)}
	for _, m := range e.Members {
		out.MemberTypes[m.Type]++
	}
	pg, next, err := page(r, e.Members)
	if err != nil {
		return out, err
	}
	out.Members, out.Cursor = pg, next
	n := len(pg)
	if v := r.URL.Query().Get("page_size"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	out.IPAddresses = e.IPAddresses[:min(n, len(e.IPAddresses))]
	out.IPPortMembers = e.IPPortMembers[:min(n, len(e.IPPortMembers))]
	return out, nil
}

func effective(v manager.View, p string) Effective {
	idx := v.Index()
	e := Effective{Path: p, Revision: v.Revision(), IPAddresses: []string{}, IPPortMembers: []manager.IPPort{}, Members: idx.Members(p)}
	if e.Members == nil {
		e.Members = []membership.Member{}
	}
	for _, r := range idx.Addresses(p) {
		e.IPAddresses = append(e.IPAddresses, address.FormatRange(r))
	}
	for _, m := range idx.IPPorts(p) {
		e.IPPortMembers = append(e.IPPortMembers, manager.IPPortOf(m))
	}
	if st, ok := v.GroupStatus(p); ok && !st.LastChange.IsZero() {
		t := st.LastChange
		e.LastChange = &t
	}
	e.Stale = v.StaleMembers(p)
	return e
}

// members serves .../groups/{id}/members/{type}.
func (s *Server) members(w http.ResponseWriter, r *http.Request) {
	group := model.Ref{Project: space(r), Domain: r.PathValue("domain"), Kind: model.KindGroup, ID: r.PathValue("id")}.Path()
	typ := r.PathValue("type")
	if typ != membersEffective && typ != membersConsolidated && typ != membersIPAddresses && !model.IsMemberEndpoint(typ) {
		writeError(w, notFound(fmt.Sprintf("no member type %q (use %s, %s, %s or %s)", typ, strings.Join(model.MemberEndpoints, ", "), membersConsolidated, membersIPAddresses, membersEffective)))
		return
	}
	var out any
	var err error
	s.m.Read(func(v manager.View) {
		if _, ok := v.Config().Groups[group]; !ok {
			err = notFound(group + " does not exist")
			return
		}
		switch typ {
		case membersEffective:
			e := effective(v, group)
			if r.URL.Query().Get("page_size") == "" && r.URL.Query().Get("cursor") == "" {
				out = e
				return
			}
			out, err = effectivePage(r, e)
		case membersConsolidated, membersIPAddresses:
			var addrs []string
			for _, r := range v.Index().Addresses(group) {
				addrs = append(addrs, address.FormatRange(r))
			}
			if addrs == nil {
				addrs = []string{}
			}
			var pg []string
			var next string
			if pg, next, err = page(r, addrs); err == nil {
				out = listResult{Results: pg, ResultCount: len(addrs), Cursor: next}
			}
		default:
			cluster := ""
			if id := r.URL.Query().Get("cluster_id"); id != "" {
				name, ok := v.ClusterByID(id)
				if !ok {
					err = notFound("no cluster " + id)
					return
				}
				cluster = name
			}
			// One result per cluster: result_count counts what results
			// holds, so a client that pages until it has result_count
			// results ends, and one that follows the cursor sees every
			// cluster once.
			l := v.Index().NSXMembers(group, typ, cluster, v.ClusterID)
			var pg []model.MemberCluster
			var next string
			if pg, next, err = page(r, l.Clusters); err == nil {
				results := make([]model.MemberList, 0, len(pg))
				for _, c := range pg {
					results = append(results, model.MemberList{Clusters: []model.MemberCluster{c}})
				}
				out = listResult{Results: results, ResultCount: len(l.Clusters), Cursor: next}
			}
		}
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// RealizedStatus is an object's realization state.
type RealizedStatus struct {
	IntentPath       string          `json:"intent_path"`
	PublishStatus    string          `json:"publish_status"`
	RealizedRevision int64           `json:"realized_revision"`
	LastMemberChange *time.Time      `json:"last_member_change,omitempty"`
	Stale            []manager.Stale `json:"stale_members,omitempty"`
	// For a security or gateway policy: its state at each enforcement
	// point whose span holds its rules, and all of them together.
	ConsolidatedStatus *Consolidated         `json:"consolidated_status,omitempty"`
	EnforcementPoints  []manager.PointStatus `json:"enforced_status_per_enforcement_point,omitempty"`
}

// Consolidated is NSX's summary of a realization over enforcement points.
type Consolidated struct {
	Status string `json:"consolidated_status"`
}

// consolidate: any error is an error, then anything in progress or
// unknown; with no enforcement point the policy is not realized anywhere.
func consolidate(ps []manager.PointStatus) *Consolidated {
	if len(ps) == 0 {
		return &Consolidated{Status: "UNINITIALIZED"}
	}
	rank := map[string]int{manager.RealizedError: 3, manager.RealizedUnknown: 2, manager.RealizedInProgress: 1, manager.RealizedSuccess: 0}
	worst := manager.RealizedSuccess
	for _, p := range ps {
		if rank[p.State] > rank[worst] {
			worst = p.State
		}
	}
	return &Consolidated{Status: worst}
}

// realized serves /infra/realized-state/status?intent_path=...: a
// stored object is realized once the manager has applied it (and, for a
// group, computed its members at that revision).
func (s *Server) realized(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("intent_path")
	if p == "" {
		writeError(w, badRequest("intent_path is required", nil))
		return
	}
	// The route's space bounds what it reports on: a project's route
	// answers for that project's objects only, the default space's for its
	// own.
	if ref, err := model.ParsePath(p); err != nil || ref.Project != space(r) {
		writeError(w, notFound(p+" is not an object of this space"))
		return
	}
	var out *RealizedStatus
	s.m.Read(func(v manager.View) {
		if _, ok := v.Config().Object(p); !ok {
			return
		}
		out = &RealizedStatus{IntentPath: p, PublishStatus: "REALIZED", RealizedRevision: v.Revision()}
		if st, ok := v.GroupStatus(p); ok {
			out.RealizedRevision = st.Revision
			if !st.LastChange.IsZero() {
				t := st.LastChange
				out.LastMemberChange = &t
			}
			out.Stale = v.StaleMembers(p)
		}
	})
	if out != nil && (strings.Contains(p, "/security-policies/") || strings.Contains(p, "/gateway-policies/")) && !strings.Contains(p, "/rules/") {
		out.EnforcementPoints = s.m.PolicyRealization(p)
		out.ConsolidatedStatus = consolidate(out.EnforcementPoints)
	}
	if out == nil {
		writeError(w, notFound(p+" does not exist"))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

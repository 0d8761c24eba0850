package apiserver

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
)

// The inventory routes let people browse what the adapters reported (the
// console's inventory pages): objects by cluster and kind, and for one
// object, the addresses it contributes and every group it is in. They
// read the whole installation's inventory, so they are readers' routes.

// maxInventoryQuery bounds the search text of an inventory listing.
const maxInventoryQuery = 256

// InventoryItem is one object of an inventory listing.
type InventoryItem struct {
	inventory.Key
	// Addresses are what the object contributes to a group that selects
	// it, whatever the member type.
	Addresses []string `json:"addresses"`
}

// inventoryObjects lists inventory objects, filtered by cluster, kind and
// a case-insensitive substring of namespace/name, in key order, paged.
func (s *Server) inventoryObjects(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cluster, kind, text := q.Get("cluster"), q.Get("kind"), strings.ToLower(q.Get("q"))
	if len(text) > maxInventoryQuery {
		writeError(w, badRequest("q: at most "+strconv.Itoa(maxInventoryQuery)+" bytes", nil))
		return
	}
	kinds := append([]inventory.Kind(nil), inventory.Kinds...)
	kinds = append(kinds, inventory.KindVirtualMachine)
	if kind != "" {
		if !slices.Contains(kinds, inventory.Kind(kind)) {
			writeError(w, badRequest("kind: "+strconv.Quote(kind)+" is not an inventory kind", nil))
			return
		}
		kinds = []inventory.Kind{inventory.Kind(kind)}
	}
	var items []InventoryItem
	s.m.Read(func(v manager.View) {
		idx := v.Index()
		var keys []inventory.Key
		for _, k := range kinds {
			for _, o := range idx.Objects(cluster, k) {
				key := inventory.KeyOf(o)
				if text == "" || strings.Contains(strings.ToLower(key.Namespace+"/"+key.Name), text) {
					keys = append(keys, key)
				}
			}
		}
		slices.SortFunc(keys, func(a, b inventory.Key) int { return strings.Compare(a.String(), b.String()) })
		pg, next, err := page(r, keys)
		if err != nil {
			writeError(w, err)
			return
		}
		items = make([]InventoryItem, 0, len(pg))
		for _, k := range pg {
			items = append(items, InventoryItem{Key: k, Addresses: addressesOf(idx.Use(k).Contributions)})
		}
		writeJSON(w, http.StatusOK, listResult{Results: items, ResultCount: len(keys), Cursor: next, SortBy: "key", SortAscending: true})
	})
}

// InventoryObject is one object, as stored, with what it means to groups.
type InventoryObject struct {
	Key           inventory.Key   `json:"key"`
	Object        json.RawMessage `json:"object"`
	Contributions []Contribution  `json:"contributions"`
	Groups        []string        `json:"groups"`
	DirectGroups  []string        `json:"direct_groups"`
	Stale         []manager.Stale `json:"stale,omitempty"`
}

// Contribution is what the object adds to a group that selects it as one
// member type.
type Contribution struct {
	MemberType    string           `json:"member_type"`
	Key           string           `json:"key,omitempty"`
	Addresses     []string         `json:"addresses"`
	IPPortMembers []manager.IPPort `json:"ip_port_members,omitempty"`
}

func (s *Server) inventoryObject(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	k := inventory.Key{Cluster: q.Get("cluster"), Kind: inventory.Kind(q.Get("kind")), Namespace: q.Get("namespace"), Name: q.Get("name")}
	if k.Cluster == "" || k.Kind == "" || k.Name == "" {
		writeError(w, badRequest("give cluster, kind, name (and namespace for a namespaced kind)", nil))
		return
	}
	var out *InventoryObject
	s.m.Read(func(v manager.View) {
		idx := v.Index()
		o, ok := idx.Object(k)
		if !ok {
			return
		}
		b, err := inventory.Encode(o)
		if err != nil {
			return
		}
		use := idx.Use(k)
		out = &InventoryObject{Key: k, Object: b, Contributions: []Contribution{}, Groups: nonNil(use.Groups), DirectGroups: nonNil(use.Direct)}
		for _, c := range use.Contributions {
			oc := Contribution{MemberType: c.MemberType, Key: c.ConditionKey, Addresses: []string{}}
			for _, a := range c.Addresses {
				oc.Addresses = append(oc.Addresses, address.FormatRange(a))
			}
			for _, m := range c.IPPorts {
				oc.IPPortMembers = append(oc.IPPortMembers, manager.IPPortOf(m))
			}
			out.Contributions = append(out.Contributions, oc)
		}
	})
	if out == nil {
		writeError(w, notFound(k.String()+" is not in the inventory"))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// addressesOf is the union of what contributions add, as text, in order.
func addressesOf(cs []membership.Contribution) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, c := range cs {
		for _, a := range c.Addresses {
			if t := address.FormatRange(a); !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
		for _, m := range c.IPPorts {
			if t := m.Addr.String(); !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// Reference is one use of a group: the object naming it and the field.
type Reference struct {
	Path  string `json:"path"`
	Field string `json:"field"`
}

// groupReferences lists what uses a group: rules and policies naming it
// (sources, destinations, Applied To), groups including it, gateways.
func (s *Server) groupReferences(w http.ResponseWriter, r *http.Request) {
	target := model.Ref{Project: space(r), Domain: r.PathValue("domain"), Kind: model.KindGroup, ID: r.PathValue("id")}.Path()
	var refs []reference
	found := false
	s.m.Read(func(v manager.View) {
		cfg := v.Config()
		if _, found = cfg.Groups[target]; found {
			refs = referrers(cfg, target)
		}
	})
	if !found {
		writeError(w, notFound("group "+target+" does not exist"))
		return
	}
	out := make([]Reference, 0, len(refs))
	for _, rf := range refs {
		out = append(out, Reference{Path: rf.from, Field: rf.field})
	}
	pg, next, err := page(r, out)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, listResult{Results: pg, ResultCount: len(out), Cursor: next, SortBy: "path", SortAscending: true})
}

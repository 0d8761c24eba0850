package apiserver

import (
	"net/http"

	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
)

// search is NSX's GET /policy/api/v1/search/query?query=...: the policy
// objects (domains, groups, services, predefined ones included, security
// and gateway policies, rules, tier-0s and tier-1s) of every space the
// caller may read that match the query (see query.go), each as GET of it
// returns it, sorted by path unless sort_by says otherwise, paged with
// page_size and cursor. A project's principals find only their project's
// objects: each object is decided as reading it at its own route is.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	terms, err := parseQuery(r.URL.Query().Get("query"))
	if err != nil {
		writeError(w, badRequest("the search query: "+err.Error(), nil))
		return
	}
	spec, err := parseSort(r, "path", objectOrders)
	if err != nil {
		writeError(w, err)
		return
	}
	canRead := readable(principal(r))
	var snaps []rendered
	s.m.Read(func(v manager.View) {
		cfg := v.Config()
		var found []model.Object
		consider := func(path string, o model.Object) {
			if canRead(path) && matches(terms, o) {
				found = append(found, o)
			}
		}
		eachObj(cfg.Domains, consider)
		eachObj(cfg.Groups, consider)
		eachObj(cfg.Services, consider)
		eachObj(cfg.SecurityPolicies, consider)
		eachObj(cfg.GatewayPolicies, consider)
		eachObj(cfg.Rules, consider)
		eachObj(cfg.Tier0s, consider)
		eachObj(cfg.Tier1s, consider)
		for _, path := range model.PredefinedServices() {
			o, _ := cfg.Service(path)
			consider(path, o)
		}
		sortItems(found, spec, objectOrders, byPath)
		for _, o := range found {
			snaps = append(snaps, snapshot(v, o))
		}
	})
	writeObjectPage(w, r, snaps, spec)
}

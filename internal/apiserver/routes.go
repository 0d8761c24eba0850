package apiserver

import (
	"net/http"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/model"
)

// route is one entry of the API's route table: a ServeMux pattern, who may
// call it, and how much it may cost. The table is the only place routes
// are declared; New registers each with the authorization that its rule
// decides, so no request reaches a handler that the table did not
// approve, whatever the spelling of its path.
type route struct {
	method  string
	pattern string
	rule    access.Rule
	serve   func(*Server, http.ResponseWriter, *http.Request)
	// body limits the request body, decompressed (0: noBody).
	body int64
	// heavy marks reads whose answer grows with the configuration or the
	// inventory: they take a slot of the read limiter.
	heavy bool
	// scrape marks /metrics: rendered in memory like a heavy read, under
	// a limiter of its own, so that no one's heavy reads delay monitoring
	// (the series are labelled by route, so a gather's cost is bounded).
	scrape bool
	// stream marks long-lived answers (the watch stream, span long
	// polls): they set their own write deadlines.
	stream bool
}

// Body limits by kind of request.
const (
	noBody        = 4 << 10   // GET and DELETE
	smallBody     = 64 << 10  // heartbeats, explain, trace, tokens, registrations
	reportBody    = 4 << 20   // an agent's report: its counters
	inventoryBody = 512 << 20 // a full synchronisation of a large cluster
	// docBody is the default limit of policy documents (Options.MaxBody).
	docBody = 32 << 20
)

const (
	apiV1      = "/policy/api/v1"
	projectsV1 = apiV1 + "/orgs/default/projects"
	projectV1  = projectsV1 + "/{project}"
	kordonV1   = apiV1 + "/kordon"
)

// objectRoute is a route to one policy object of a kind.
type objectRoute struct {
	suffix string
	kind   model.Kind
	// policy is the kind of a rule's policy.
	policy model.Kind
}

var objectRoutes = []objectRoute{
	{"/infra/domains/{domain}", model.KindDomain, ""},
	{"/infra/domains/{domain}/groups/{id}", model.KindGroup, ""},
	{"/infra/domains/{domain}/security-policies/{id}", model.KindSecurityPolicy, ""},
	{"/infra/domains/{domain}/gateway-policies/{id}", model.KindGatewayPolicy, ""},
	{"/infra/domains/{domain}/security-policies/{policy}/rules/{id}", model.KindRule, model.KindSecurityPolicy},
	{"/infra/domains/{domain}/gateway-policies/{policy}/rules/{id}", model.KindRule, model.KindGatewayPolicy},
	{"/infra/services/{id}", model.KindService, ""},
	{"/infra/tier-0s/{id}", model.KindTier0, ""},
	{"/infra/tier-1s/{id}", model.KindTier1, ""},
}

// listRoutes are the collections: their parent and the kind they list.
var listRoutes = []objectRoute{
	{"/infra/domains", model.KindDomain, ""},
	{"/infra/domains/{domain}/groups", model.KindGroup, ""},
	{"/infra/domains/{domain}/security-policies", model.KindSecurityPolicy, ""},
	{"/infra/domains/{domain}/gateway-policies", model.KindGatewayPolicy, ""},
	{"/infra/domains/{domain}/security-policies/{policy}/rules", model.KindRule, model.KindSecurityPolicy},
	{"/infra/domains/{domain}/gateway-policies/{policy}/rules", model.KindRule, model.KindGatewayPolicy},
	{"/infra/services", model.KindService, ""},
	{"/infra/tier-0s", model.KindTier0, ""},
	{"/infra/tier-1s", model.KindTier1, ""},
}

// routes is the API. Every NSX route exists twice: in the default space
// and in a project's space, where project roles of that project may use
// it too.
func (s *Server) routes() []route {
	var rs []route
	space := func(method, suffix string, rule access.Rule, h func(*Server, http.ResponseWriter, *http.Request), body int64, heavy bool) {
		for _, prefix := range []string{apiV1, projectV1} {
			rs = append(rs, route{method: method, pattern: prefix + suffix, rule: rule, serve: h, body: body, heavy: heavy})
		}
	}
	for _, o := range objectRoutes {
		o := o
		space("GET", o.suffix, access.SpaceRead, func(s *Server, w http.ResponseWriter, r *http.Request) { s.getObject(w, r, o) }, 0, false)
		for _, m := range []string{"PUT", "PATCH"} {
			space(m, o.suffix, access.SpaceWrite, func(s *Server, w http.ResponseWriter, r *http.Request) { s.putObject(w, r, o) }, s.maxBody, false)
		}
		space("DELETE", o.suffix, access.SpaceWrite, func(s *Server, w http.ResponseWriter, r *http.Request) { s.deleteObject(w, r, o) }, 0, false)
	}
	for _, l := range listRoutes {
		l := l
		space("GET", l.suffix, access.SpaceRead, func(s *Server, w http.ResponseWriter, r *http.Request) { s.list(w, r, l) }, 0, true)
	}
	space("GET", "/infra", access.SpaceRead, (*Server).getInfra, 0, true)
	space("PATCH", "/infra", access.SpaceWrite, (*Server).patchInfra, s.maxBody, false)
	space("GET", "/infra/realized-state/status", access.SpaceRead, (*Server).realized, 0, false)
	space("GET", "/infra/domains/{domain}/groups/{id}/members/{type}", access.SpaceRead, (*Server).members, 0, true)
	space("GET", "/infra/domains/{domain}/groups/{id}/references", access.SpaceRead, (*Server).groupReferences, 0, true)
	space("GET", "/infra/domains/{domain}/security-policies/{id}/statistics", access.SpaceRead,
		func(s *Server, w http.ResponseWriter, r *http.Request) { s.statistics(w, r, model.KindSecurityPolicy) }, 0, false)
	space("GET", "/infra/domains/{domain}/gateway-policies/{id}/statistics", access.SpaceRead,
		func(s *Server, w http.ResponseWriter, r *http.Request) { s.statistics(w, r, model.KindGatewayPolicy) }, 0, false)

	rs = append(rs,
		// What NSX clients call besides the policy tree (nsx.go, search.go).
		route{method: "GET", pattern: "/api/v1/node/version", rule: access.AnyToken, serve: (*Server).nodeVersion},
		route{method: "POST", pattern: "/api/session/create", rule: access.Public, serve: (*Server).sessionCreate, body: smallBody},
		route{method: "POST", pattern: "/api/session/destroy", rule: access.AnyToken, serve: (*Server).sessionDestroy},
		route{method: "GET", pattern: kordonV1 + "/session", rule: access.AnyToken, serve: (*Server).sessionGet},
		route{method: "GET", pattern: apiV1 + "/search/query", rule: access.AnyToken, serve: (*Server).search, heavy: true},

		route{method: "GET", pattern: "/healthz", rule: access.Public, serve: (*Server).healthz},
		route{method: "GET", pattern: "/readyz", rule: access.Public, serve: (*Server).readyz},
		route{method: "GET", pattern: "/metrics", rule: access.ReadAll, serve: (*Server).metrics, scrape: true},

		route{method: "GET", pattern: projectsV1, rule: access.ReadAll, serve: (*Server).projects},
		route{method: "GET", pattern: projectV1, rule: access.SpaceRead, serve: (*Server).getProject},
		route{method: "PUT", pattern: projectV1, rule: access.AdminOnly, serve: (*Server).putProject, body: smallBody},
		route{method: "PATCH", pattern: projectV1, rule: access.AdminOnly, serve: (*Server).putProject, body: smallBody},
		route{method: "DELETE", pattern: projectV1, rule: access.AdminOnly, serve: (*Server).deleteProject},

		route{method: "GET", pattern: "/edl/v1/infra/domains/{domain}/groups/{id}", rule: access.SpaceRead, serve: (*Server).edl, heavy: true},
		route{method: "GET", pattern: "/edl/v1/orgs/default/projects/{project}/infra/domains/{domain}/groups/{id}", rule: access.SpaceRead, serve: (*Server).edl, heavy: true},

		route{method: "POST", pattern: kordonV1 + "/explain", rule: access.ReadAll, serve: (*Server).explainFlow, body: smallBody},
		route{method: "POST", pattern: kordonV1 + "/trace", rule: access.ReadAll, serve: (*Server).trace, body: smallBody, heavy: true},
		route{method: "GET", pattern: kordonV1 + "/advise", rule: access.ReadAll, serve: (*Server).advise, heavy: true},
		route{method: "GET", pattern: kordonV1 + "/watch", rule: access.AnyToken, serve: (*Server).watch, stream: true},
		route{method: "GET", pattern: kordonV1 + "/status", rule: access.ReadAll, serve: (*Server).status},
		route{method: "GET", pattern: kordonV1 + "/license", rule: access.ReadAll, serve: (*Server).getLicense},
		route{method: "PUT", pattern: kordonV1 + "/license", rule: access.AdminOnly, serve: (*Server).installLicense, body: smallBody},

		route{method: "GET", pattern: kordonV1 + "/tokens", rule: access.AdminOnly, serve: (*Server).listTokens},
		route{method: "POST", pattern: kordonV1 + "/tokens", rule: access.AdminOnly, serve: (*Server).createToken, body: smallBody},
		route{method: "GET", pattern: kordonV1 + "/tokens/{token}", rule: access.AdminOnly, serve: (*Server).getToken},
		route{method: "DELETE", pattern: kordonV1 + "/tokens/{token}", rule: access.AdminOnly, serve: (*Server).revokeToken},

		route{method: "GET", pattern: kordonV1 + "/clusters", rule: access.ReadAll, serve: (*Server).listClusters},
		route{method: "POST", pattern: kordonV1 + "/clusters", rule: access.AdminOnly, serve: (*Server).registerCluster, body: smallBody},
		route{method: "GET", pattern: kordonV1 + "/clusters/{cluster}", rule: access.ReadAll, serve: (*Server).getCluster},
		route{method: "GET", pattern: kordonV1 + "/inventory/objects", rule: access.ReadAll, serve: (*Server).inventoryObjects, heavy: true},
		route{method: "GET", pattern: kordonV1 + "/inventory/object", rule: access.ReadAll, serve: (*Server).inventoryObject},
		route{method: "DELETE", pattern: kordonV1 + "/clusters/{cluster}", rule: access.AdminOnly, serve: (*Server).deregisterCluster},
		route{method: "POST", pattern: kordonV1 + "/clusters/{cluster}/rotate", rule: access.AdminOnly, serve: (*Server).rotateCluster, body: smallBody},
		route{method: "GET", pattern: kordonV1 + "/clusters/{cluster}/inventory/digest", rule: access.ClusterSelf, serve: (*Server).inventoryDigest},
		route{method: "POST", pattern: kordonV1 + "/clusters/{cluster}/inventory", rule: access.ClusterSelf, serve: (*Server).writeInventory, body: inventoryBody},
		route{method: "POST", pattern: kordonV1 + "/clusters/{cluster}/heartbeat", rule: access.ClusterSelf, serve: (*Server).heartbeat, body: heartbeatBody},

		route{method: "GET", pattern: kordonV1 + "/agents", rule: access.ReadAll, serve: (*Server).listAgents},
		route{method: "POST", pattern: kordonV1 + "/agents", rule: access.AdminOnly, serve: (*Server).registerAgent, body: smallBody},
		route{method: "GET", pattern: kordonV1 + "/agents/{agent}", rule: access.ReadAll, serve: (*Server).getAgent},
		route{method: "PATCH", pattern: kordonV1 + "/agents/{agent}", rule: access.AdminOnly, serve: (*Server).updateAgent, body: smallBody},
		route{method: "DELETE", pattern: kordonV1 + "/agents/{agent}", rule: access.AdminOnly, serve: (*Server).deregisterAgent},
		route{method: "POST", pattern: kordonV1 + "/agents/{agent}/rotate", rule: access.AdminOnly, serve: (*Server).rotateAgent, body: smallBody},
		route{method: "GET", pattern: kordonV1 + "/agents/{agent}/span", rule: access.AgentSelf, serve: (*Server).span, stream: true},
		route{method: "POST", pattern: kordonV1 + "/agents/{agent}/report", rule: access.AgentSelf, serve: (*Server).report, body: reportBody},
	)
	return rs
}

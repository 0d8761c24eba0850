package apiserver

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/manager"
)

// caller is one principal of the matrix and how its requests are sent.
type caller struct {
	name string
	p    access.Principal // what it is, for the decision
	// send adds its credentials to a request and picks its client.
	client *http.Client
	token  string
	basic  bool
}

// matrixTargets fill the route patterns' wildcards. The project, cluster
// and agent are the ones the *-a callers own.
var matrixTargets = map[string]string{
	"project": "pa", "cluster": "east", "agent": "agent-a", "domain": "default",
	"id": "g", "policy": "p", "type": "effective", "token": "victim",
}

func fill(pattern string) string {
	for k, v := range matrixTargets {
		pattern = strings.ReplaceAll(pattern, "{"+k+"}", v)
	}
	return pattern
}

// spellings are other ways to write a route's path. Each must reach the
// same route (and so the same decision) or no route at all: none may
// reach a handler the table did not approve for the caller.
func spellings(path string) map[string]string {
	last := path[strings.LastIndexByte(path, '/')+1:]
	upper := path[:len(path)-len(last)] + strings.ToUpper(last)
	return map[string]string{
		"canonical":        path,
		"trailing slash":   path + "/",
		"two slashes":      path + "//",
		"upper case":       upper,
		"dot segment":      strings.Replace(path, "/policy/", "/policy/./", 1),
		"encoded slash":    strings.Replace(path, "/api/v1/", "/api%2Fv1/", 1),
		"encoded dot-dot":  path + "/%2e%2e",
		"parent and back":  path + "/x/..",
		"semicolon params": path + ";x=1",
	}
}

// TestRouteAccessMatrix sends every route of the table, in every spelling,
// as every kind of principal, and checks the answer against the table's
// own rule: a refused call is 401 or 403 and changes nothing; an allowed
// one is never 401 or 403. Other spellings either reach the same route
// (same decision) or none (404, 405, or a redirect a client must follow
// to the clean path, which is then decided anew).
func TestRouteAccessMatrix(t *testing.T) {
	a := newMTLSAPI(t)
	a.expect("PUT", "/policy/api/v1/orgs/default/projects/pa", `{}`, 200)
	a.expect("PUT", "/policy/api/v1/orgs/default/projects/pb", `{}`, 200)
	a.expect("PATCH", "/policy/api/v1/infra/tier-1s/t1", `{}`, 200)
	east, west := a.register("east"), a.register("west")
	agentA := a.registerAgent("agent-a", "gateway", "/infra/tier-1s/t1")
	agentB := a.registerAgent("agent-b", "vm", "")
	tok := func(id string, role access.Role, project string, expires time.Time) string {
		tk, _, err := a.m.CreateToken(t.Context(), manager.TokenRequest{ID: id, Role: role, Project: project, Expires: expires})
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	pa := tok("pa-admin", access.ProjectAdmin, "pa", time.Time{})
	pr := tok("pa-reader", access.ProjectReader, "pa", time.Time{})
	pbAdmin := tok("pb-admin", access.ProjectAdmin, "pb", time.Time{})
	pbReader := tok("pb-reader", access.ProjectReader, "pb", time.Time{})
	revoked := tok("revoked", access.Admin, "", time.Time{})
	if err := a.m.RevokeToken(t.Context(), "revoked"); err != nil {
		t.Fatal(err)
	}
	expired := tok("expired", access.Admin, "", time.Now().Add(300*time.Millisecond))
	tok("victim", access.Reader, "", time.Time{})
	time.Sleep(400 * time.Millisecond)

	plain := a.srv.Client()
	callers := []caller{
		{name: "none", client: plain},
		{name: "revoked admin token", client: plain, token: revoked},
		{name: "expired admin token", client: plain, token: expired},
		{name: "garbage token", client: plain, token: "kdn_not-a-token"},
		{name: "reader", p: access.TokenPrincipal("reader", access.Reader, ""), client: plain, token: a.reader},
		{name: "reader as basic password", p: access.TokenPrincipal("reader", access.Reader, ""), client: plain, token: a.reader, basic: true},
		{name: "project admin of pa", p: access.TokenPrincipal("pa-admin", access.ProjectAdmin, "pa"), client: plain, token: pa},
		{name: "project reader of pa", p: access.TokenPrincipal("pa-reader", access.ProjectReader, "pa"), client: plain, token: pr},
		{name: "project admin of pb", p: access.TokenPrincipal("pb-admin", access.ProjectAdmin, "pb"), client: plain, token: pbAdmin},
		{name: "project reader of pb", p: access.TokenPrincipal("pb-reader", access.ProjectReader, "pb"), client: plain, token: pbReader, basic: true},
		{name: "cluster east", p: access.ClusterPrincipal("east"), client: a.as(east)},
		{name: "cluster west", p: access.ClusterPrincipal("west"), client: a.as(west)},
		{name: "cluster east with the admin token too", p: access.ClusterPrincipal("east"), client: a.as(east), token: a.admin},
		{name: "agent-a", p: access.AgentPrincipal("agent-a"), client: a.as(agentA)},
		{name: "agent-b", p: access.AgentPrincipal("agent-b"), client: a.as(agentB)},
		// Last: the admin's allowed calls change the state.
		{name: "admin", p: access.TokenPrincipal("admin", access.Admin, ""), client: plain, token: a.admin},
	}
	routes := a.srv.Config.Handler.(*Server).routes()
	sort.SliceStable(routes, func(i, j int) bool { return routes[i].method == "GET" && routes[j].method != "GET" })
	checked := 0
	for _, c := range callers {
		start := time.Now()
		for _, rt := range routes {
			path := fill(rt.pattern)
			t0 := access.Target{Project: matrixTargets["project"], Cluster: matrixTargets["cluster"], Agent: matrixTargets["agent"]}
			if !strings.Contains(rt.pattern, "{project}") {
				t0.Project = ""
			}
			if !strings.Contains(rt.pattern, "{cluster}") {
				t0.Cluster = ""
			}
			if !strings.Contains(rt.pattern, "{agent}") {
				t0.Agent = ""
			}
			decision := access.Decide(rt.rule, c.p, t0)
			for spelling, p := range spellings(path) {
				before := a.m.Revision()
				code, body := matrixCall(t, c, rt.method, a.srv.URL+p)
				checked++
				where := fmt.Sprintf("%s %s %s (%s, rule %s)", c.name, rt.method, p, spelling, rt.rule)
				sameRoute := spelling == "canonical" || spelling == "trailing slash"
				switch {
				case code == 401 || code == 403:
					if decision == nil && sameRoute {
						t.Errorf("%s: refused (%d) although the table allows it: %s", where, code, body)
					}
					if a.m.Revision() != before {
						t.Errorf("%s: a refused call changed the state", where)
					}
				case decision != nil && sameRoute:
					t.Errorf("%s: answered %d although the table refuses it (%v): %s", where, code, decision, trunc(body))
				case decision != nil && code < 300:
					t.Errorf("%s: a refused route answered %d in another spelling: %s", where, code, trunc(body))
				}
				if decision != nil && errors.Is(decision, access.ErrUnauthenticated) && sameRoute && code != 401 {
					t.Errorf("%s: no credentials answered %d, want 401", where, code)
				}
			}
		}
		t.Logf("%s: %s", c.name, time.Since(start).Round(time.Millisecond))
	}
	t.Logf("%d calls: %d callers × %d routes × %d spellings", checked, len(callers), len(routes), len(spellings("/x")))
}

func matrixCall(t *testing.T, c caller, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(""))
	if err != nil {
		return 400, err.Error() // a spelling Go refuses to send
	}
	switch {
	case c.basic:
		req.SetBasicAuth("anyone", c.token)
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	// Redirects are answered, not followed: the client would then ask for
	// the clean path, a call of its own.
	cl := *c.client
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "application/x-ndjson" {
		return resp.StatusCode, "(a stream)" // the watch stream: its status is the answer
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(b)
}

func trunc(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// TestRouteTableInvariants states what the table must always say,
// whatever routes are added: secrets and identities are the admin's, a
// project's routes are decided by the project, and every route has a rule.
// anyTokenRoutes are the routes every token may call: the version and the
// caller's own session, which say nothing of the state, and search and the
// watch stream, whose handlers confine a project's principals to their
// project themselves.
var anyTokenRoutes = map[string]bool{"GET /api/v1/node/version": true, "GET /policy/api/v1/search/query": true,
	"GET /policy/api/v1/kordon/watch": true, "GET /policy/api/v1/kordon/session": true, "POST /api/session/destroy": true}

func TestRouteTableInvariants(t *testing.T) {
	s := New(Options{})
	seen := map[string]bool{}
	for _, rt := range s.routes() {
		id := rt.method + " " + rt.pattern
		if seen[id] {
			t.Errorf("%s is declared twice", id)
		}
		seen[id] = true
		switch {
		case rt.rule == 0:
			t.Errorf("%s has no rule", id)
		case strings.HasSuffix(rt.pattern, "/rotate") || (rt.method == "POST" && (strings.HasSuffix(rt.pattern, "/kordon/clusters") || strings.HasSuffix(rt.pattern, "/kordon/agents"))):
			if rt.rule != access.AdminOnly {
				t.Errorf("%s hands out a private key but its rule is %s", id, rt.rule)
			}
		case strings.Contains(rt.pattern, "/kordon/tokens"):
			if rt.rule != access.AdminOnly {
				t.Errorf("%s handles tokens but its rule is %s", id, rt.rule)
			}
		case strings.Contains(rt.pattern, "{project}/") && rt.rule != access.SpaceRead && rt.rule != access.SpaceWrite:
			t.Errorf("%s is inside a project but its rule %s does not look at the project", id, rt.rule)
		case rt.rule == access.Public && rt.pattern != "/healthz" && rt.pattern != "/readyz" && id != "POST /api/session/create":
			// The sign-in takes a token and checks it itself.
			t.Errorf("%s is public", id)
		case rt.rule == access.AnyToken && !anyTokenRoutes[id]:
			t.Errorf("%s is open to every token; only %v are", id, slices.Sorted(maps.Keys(anyTokenRoutes)))
		case rt.method != "GET" && (rt.rule == access.ReadAll || rt.rule == access.SpaceRead) && !strings.HasSuffix(rt.pattern, "/explain") && !strings.HasSuffix(rt.pattern, "/trace"):
			t.Errorf("%s changes something but readers may call it", id)
		}
		if strings.Contains(rt.pattern, "bundle") {
			t.Errorf("%s: no route returns a stored identity", id)
		}
		if !rt.stream && rt.rule == access.AgentSelf && rt.method == "GET" {
			t.Errorf("%s: the span long poll must manage its own deadline", id)
		}
	}
}

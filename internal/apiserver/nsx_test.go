package apiserver

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/manager"
)

// doBasic sends a request with HTTP basic authentication, as NSX clients
// (the Terraform provider) do on every call.
func (a *api) doBasic(user, password, method, path, body string) (int, http.Header, string) {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	req.SetBasicAuth(user, password)
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (a *api) token(id string, role access.Role, project string) string {
	a.t.Helper()
	tk, _, err := a.m.CreateToken(a.t.Context(), manager.TokenRequest{ID: id, Role: role, Project: project})
	if err != nil {
		a.t.Fatal(err)
	}
	return tk
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return m
}

// TestNodeVersionAndSession: the two calls the Terraform provider makes
// when it is configured, as every kind of principal.
func TestNodeVersionAndSession(t *testing.T) {
	a := newAPI(t, 0)
	a.expect("PUT", projectV1Path("dev"), `{}`, 200)
	pr := a.token("dev-reader", access.ProjectReader, "dev")
	for _, tt := range []struct {
		name, method, path, user, password string
		status                             int
		want                               []string
	}{
		{"admin", "GET", "/api/v1/node/version", "admin", a.admin, 200, []string{`"node_version": "4.2.0.0.0.0"`, `"product_version": "4.2.0.0.0.0"`}},
		{"reader, any user name", "GET", "/api/v1/node/version", "terraform", a.reader, 200, []string{`"node_version"`}},
		{"project reader", "GET", "/api/v1/node/version", "", pr, 200, []string{`"node_version"`}},
		{"wrong password", "GET", "/api/v1/node/version", "admin", "kdn_wrong", 401, []string{"not valid"}},
		{"empty password", "GET", "/api/v1/node/version", "admin", "", 401, []string{"no token"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var code int
			var hdr http.Header
			var body string
			if tt.user == "" && tt.password == "" {
				code, body = a.do("", tt.method, tt.path, "j_username=admin&j_password=x")
			} else {
				code, hdr, body = a.doBasic(tt.user, tt.password, tt.method, tt.path, "")
			}
			if code != tt.status {
				t.Fatalf("status %d, want %d: %s", code, tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("%q not in %s", w, body)
				}
			}
			if hdr != nil && hdr.Get("Set-Cookie") != "" {
				t.Errorf("a cookie was set: %s", hdr.Get("Set-Cookie"))
			}
		})
	}
}

// TestBasicAuthentication: the provider's configuration (any user name,
// the token as the password) reads and writes like a bearer token, and
// nothing else passes.
func TestBasicAuthentication(t *testing.T) {
	a := newAPI(t, 0)
	a.expect("PUT", projectV1Path("dev"), `{}`, 200)
	pa := a.token("dev-admin", access.ProjectAdmin, "dev")
	for _, tt := range []struct {
		name, user, password, method, path, body string
		status                                   int
	}{
		{"admin writes", "admin", a.admin, "PATCH", groups + "/g", ipGrp, 200},
		{"any user name", "someone-else", a.admin, "GET", groups + "/g", "", 200},
		{"no user name", "", a.admin, "GET", groups + "/g", "", 200},
		{"reader reads", "terraform", a.reader, "GET", groups, "", 200},
		{"reader may not write", "terraform", a.reader, "PATCH", groups + "/h", ipGrp, 403},
		{"project admin in its project", "terraform", pa, "PATCH", projectV1Path("dev") + "/infra/domains/default/groups/g", ipGrp, 200},
		{"project admin outside it", "terraform", pa, "GET", groups, "", 403},
		{"the token as the user name does not count", a.admin, "x", "GET", groups, "", 401},
		{"a wrong token", "admin", a.admin + "x", "GET", groups, "", 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, body := a.doBasic(tt.user, tt.password, tt.method, tt.path, tt.body); code != tt.status {
				t.Fatalf("status %d, want %d: %s", code, tt.status, body)
			}
		})
	}
}

// TestSearch: the search API as the provider's data sources use it, and
// what each principal finds.
func TestSearch(t *testing.T) {
	a := newAPI(t, 0)
	a.expect("PUT", projectV1Path("dev"), `{}`, 200)
	a.expect("PATCH", groups+"/web", `{"display_name":"Web Tier","tags":[{"scope":"env","tag":"prod"}],`+ipGrp[1:], 200)
	a.expect("PATCH", groups+"/web-2", `{"display_name":"Web Tier 2",`+ipGrp[1:], 200)
	a.expect("PATCH", "/policy/api/v1/infra/services/web-svc", `{"display_name":"HTTPS alt","service_entries":[{"resource_type":"L4PortSetServiceEntry","l4_protocol":"TCP","destination_ports":["8443"]}]}`, 200)
	a.expect("PATCH", projectV1Path("dev")+"/infra/domains/default/groups/web", `{"display_name":"Web Tier",`+ipGrp[1:], 200)
	a.expect("PUT", projectV1Path("other"), `{}`, 200)
	a.expect("PATCH", projectV1Path("other")+"/infra/domains/default/groups/web", `{"display_name":"Web Tier",`+ipGrp[1:], 200)
	pa := a.token("dev-admin", access.ProjectAdmin, "dev")
	pr := a.token("dev-reader", access.ProjectReader, "dev")
	q := func(query string, extra ...string) string {
		return "/policy/api/v1/search/query?query=" + url.QueryEscape(query) + strings.Join(extra, "")
	}
	for _, tt := range []struct {
		name, token, path string
		status            int
		paths             []string // the results, in order
		count             int      // result_count when paged
	}{
		{"group data source by name", a.admin, q(`resource_type:Group AND display_name:Web Tier* AND marked_for_delete:false AND parent_path:*\/default AND path:\/infra*`), 200,
			[]string{"/infra/domains/default/groups/web", "/infra/domains/default/groups/web-2"}, 0},
		{"group data source by id", a.admin, q(`id:web\-2 AND marked_for_delete:false AND path:\/infra*`), 200,
			[]string{"/infra/domains/default/groups/web-2"}, 0},
		{"predefined service by name", a.reader, q(`resource_type:Service AND display_name:HTTPS* AND marked_for_delete:false AND path:\/infra*`), 200,
			[]string{"/infra/services/HTTPS", "/infra/services/web-svc"}, 0},
		{"project context", a.admin, q(`resource_type:Group AND display_name:Web Tier* AND path:\/orgs\/default\/projects\/dev*`), 200,
			[]string{"/orgs/default/projects/dev/infra/domains/default/groups/web"}, 0},
		{"a project admin finds only its project", pa, q(`resource_type:Group AND display_name:Web*`), 200,
			[]string{"/orgs/default/projects/dev/infra/domains/default/groups/web"}, 0},
		{"a project reader never finds the default space", pr, q(`resource_type:Service`), 200, nil, 0},
		{"a project admin asking for the provider's paths", pa, q(`path:\/infra*`), 200, nil, 0},
		{"a reader finds every space", a.reader, q(`resource_type:Group AND id:web`), 200,
			[]string{"/infra/domains/default/groups/web", "/orgs/default/projects/dev/infra/domains/default/groups/web", "/orgs/default/projects/other/infra/domains/default/groups/web"}, 0},
		{"tags", a.admin, q(`tags.scope:env AND tags.tag:PROD`), 200, []string{"/infra/domains/default/groups/web"}, 0},
		{"sorted by display name, descending", a.admin, q(`resource_type:Group AND path:\/infra*`, "&sort_by=display_name&sort_ascending=false"), 200,
			[]string{"/infra/domains/default/groups/web-2", "/infra/domains/default/groups/web"}, 0},
		{"paged", a.admin, q(`resource_type:Group`, "&page_size=2"), 200,
			[]string{"/infra/domains/default/groups/web", "/infra/domains/default/groups/web-2"}, 4},
		{"paged, second page", a.admin, q(`resource_type:Group`, "&page_size=2&cursor=2"), 200,
			[]string{"/orgs/default/projects/dev/infra/domains/default/groups/web", "/orgs/default/projects/other/infra/domains/default/groups/web"}, 4},
		{"a malformed query", a.admin, q(`resource_type:Group OR id:x`), 400, nil, 0},
		{"no query", a.admin, "/policy/api/v1/search/query", 400, nil, 0},
		{"an unknown field", a.admin, q(`colour:red`), 400, nil, 0},
		{"a bad sort", a.admin, q(`id:x`, "&sort_by=colour"), 400, nil, 0},
		{"anonymous", "", q(`id:x`), 401, nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := a.do(tt.token, "GET", tt.path, "")
			if code != tt.status {
				t.Fatalf("status %d, want %d: %s", code, tt.status, body)
			}
			if code != 200 {
				if !strings.Contains(body, `"error_message"`) {
					t.Fatalf("not an NSX error: %s", body)
				}
				return
			}
			var l struct {
				Results []map[string]any `json:"results"`
				Count   int              `json:"result_count"`
				Cursor  string           `json:"cursor"`
			}
			if err := json.Unmarshal([]byte(body), &l); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range l.Results {
				got = append(got, r["path"].(string))
				// Each result is the object as GET returns it.
				if r["resource_type"] == nil || r["display_name"] == nil || r["_revision"] == nil || r["marked_for_delete"] != false {
					t.Errorf("result not in NSX shape: %v", r)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.paths) {
				t.Fatalf("got %v, want %v", got, tt.paths)
			}
			want := tt.count
			if want == 0 {
				want = len(tt.paths)
			}
			if l.Count != want {
				t.Fatalf("result_count %d, want %d", l.Count, want)
			}
		})
	}
}

// TestListSorting: sort_by and sort_ascending on lists, paging in the
// order asked for.
func TestListSorting(t *testing.T) {
	a := newAPI(t, 0)
	for _, g := range []struct{ id, name string }{{"a", "Zeta"}, {"b", "alpha"}, {"c", "Beta"}, {"d", "beta"}} {
		a.expect("PATCH", groups+"/"+g.id, `{"display_name":"`+g.name+`",`+ipGrp[1:], 200)
	}
	ids := func(body string) string {
		var l struct {
			Results []map[string]any `json:"results"`
		}
		json.Unmarshal([]byte(body), &l)
		var out []string
		for _, r := range l.Results {
			out = append(out, r["id"].(string))
		}
		return strings.Join(out, ",")
	}
	for _, tt := range []struct {
		query  string
		status int
		want   string
	}{
		{"", 200, "a,b,c,d"},
		{"?sort_ascending=false", 200, "d,c,b,a"},
		{"?sort_by=display_name", 200, "b,c,d,a"},
		{"?sort_by=display_name&sort_ascending=false", 200, "a,d,c,b"},
		{"?sort_by=display_name&page_size=2&cursor=2", 200, "d,a"},
		{"?sort_by=_create_time", 200, "a,b,c,d"},
		{"?sort_by=colour", 400, ""},
		{"?sort_ascending=maybe", 400, ""},
	} {
		t.Run(tt.query, func(t *testing.T) {
			code, body := a.do(a.admin, "GET", groups+tt.query, "")
			if code != tt.status {
				t.Fatalf("status %d, want %d: %s", code, tt.status, body)
			}
			if code == 200 && ids(body) != tt.want {
				t.Fatalf("order %s, want %s", ids(body), tt.want)
			}
		})
	}
	a.expect("PUT", projectV1Path("b"), `{"display_name":"first"}`, 200)
	a.expect("PUT", projectV1Path("a"), `{"display_name":"second"}`, 200)
	a.expect("GET", "/policy/api/v1/orgs/default/projects?sort_by=display_name", "", 200, `"sort_by": "display_name"`)
	if out := a.expect("GET", "/policy/api/v1/orgs/default/projects?sort_ascending=false", "", 200); strings.Index(out, `"id": "b"`) > strings.Index(out, `"id": "a"`) {
		t.Fatalf("projects not descending: %s", out)
	}
}

// TestDeleteInUse: deleting what others use is refused with 412, a
// status NSX clients do not retry, naming every use; force=true changes
// nothing; once the uses are gone the deletion goes through.
func TestDeleteInUse(t *testing.T) {
	a := newAPI(t, 0)
	pol := "/policy/api/v1/infra/domains/default/security-policies/p"
	a.expect("PATCH", groups+"/g", ipGrp, 200)
	a.expect("PATCH", groups+"/h", `{"expression":[{"resource_type":"PathExpression","paths":["/infra/domains/default/groups/g"]}]}`, 200)
	a.expect("PATCH", "/policy/api/v1/infra/services/s", `{"service_entries":[{"resource_type":"L4PortSetServiceEntry","l4_protocol":"TCP","destination_ports":["8443"]}]}`, 200)
	a.expect("PATCH", "/policy/api/v1/infra/services/outer", `{"service_entries":[{"resource_type":"NestedServiceServiceEntry","nested_service_path":"/infra/services/s"}]}`, 200)
	a.expect("PATCH", pol, `{"category":"Application","scope":["/infra/domains/default/groups/g"],"rules":[{"id":"r1","source_groups":["/infra/domains/default/groups/g"],"services":["/infra/services/s"]}]}`, 200)
	a.expect("PATCH", "/policy/api/v1/infra/tier-0s/t0", `{}`, 200)
	a.expect("PATCH", "/policy/api/v1/infra/tier-1s/t1", `{"tier0_path":"/infra/tier-0s/t0"}`, 200)
	a.expect("PATCH", "/policy/api/v1/infra/domains/lab", `{}`, 200)
	a.expect("PATCH", "/policy/api/v1/infra/domains/lab/groups/x", ipGrp, 200)
	a.expect("PATCH", pol+"/rules/r2", `{"destination_groups":["/infra/domains/lab/groups/x"]}`, 200)
	rev := a.m.Revision()
	for _, tt := range []struct {
		name, path string
		uses       []string // path|field of every related error
	}{
		{"a group used by a rule, a policy and a group", groups + "/g?fail_if_subtree_exists=false&force=true", []string{
			"/infra/domains/default/groups/h|expression[0].paths[0]",
			"/infra/domains/default/security-policies/p|scope[0]",
			"/infra/domains/default/security-policies/p/rules/r1|source_groups[0]"}},
		{"without force", groups + "/g", nil},
		{"a service used by a rule and a service", "/policy/api/v1/infra/services/s", []string{
			"/infra/domains/default/security-policies/p/rules/r1|services[0]",
			"/infra/services/outer|service_entries[0].nested_service_path"}},
		{"a tier-0 a tier-1 is attached to", "/policy/api/v1/infra/tier-0s/t0", []string{"/infra/tier-1s/t1|tier0_path"}},
		{"a domain whose group a rule elsewhere uses", "/policy/api/v1/infra/domains/lab", []string{
			"/infra/domains/default/security-policies/p/rules/r2|destination_groups[0]"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := a.do(a.admin, "DELETE", tt.path, "")
			if code != 412 {
				t.Fatalf("status %d, want 412: %s", code, body)
			}
			e := decodeJSON(t, body)
			if e["httpStatus"] != "PRECONDITION_FAILED" || e["error_code"] != float64(codeInUse) || !strings.Contains(e["error_message"].(string), "is in use") {
				t.Fatalf("error body %s", body)
			}
			if tt.uses == nil {
				return
			}
			var got []string
			for _, r := range e["related_errors"].([]any) {
				re := r.(map[string]any)
				got = append(got, re["path"].(string)+"|"+re["field"].(string))
				if !strings.Contains(e["error_message"].(string), re["path"].(string)) {
					t.Errorf("the message does not name %s: %s", re["path"], e["error_message"])
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.uses) {
				t.Fatalf("uses %v, want %v", got, tt.uses)
			}
		})
	}
	if a.m.Revision() != rev {
		t.Fatal("a refused deletion changed the state")
	}
	// Deleting a policy takes its rules, which use the group, with it;
	// then the group goes too (its remaining use, h, first).
	a.expect("DELETE", pol, "", 200)
	a.expect("DELETE", groups+"/g", "", 412, "/infra/domains/default/groups/h")
	a.expect("DELETE", groups+"/h", "", 200)
	a.expect("DELETE", groups+"/g?force=true", "", 200)
	a.expect("DELETE", "/policy/api/v1/infra/domains/lab", "", 200)
}

// TestDeleteInUseAcrossSpaces: a project's use of a provider's tier-0 is
// named to the provider's admin; a project admin is told of uses it may
// not read only as a count.
func TestDeleteInUseAcrossSpaces(t *testing.T) {
	a := newAPI(t, 0)
	a.expect("PATCH", "/policy/api/v1/infra/tier-0s/t0", `{}`, 200)
	a.expect("PUT", projectV1Path("dev"), `{"tier_0s":["/infra/tier-0s/t0"]}`, 200)
	a.expect("PATCH", projectV1Path("dev")+"/infra/tier-1s/t1", `{"tier0_path":"/infra/tier-0s/t0"}`, 200)
	a.expect("DELETE", "/policy/api/v1/infra/tier-0s/t0", "", 412, "/orgs/default/projects/dev/infra/tier-1s/t1")
	e := inUse(&http.Request{}, "/infra/tier-0s/t0", []reference{{"/orgs/default/projects/dev/infra/tier-1s/t1", "tier0_path"}})
	if !strings.Contains(e.ErrorMessage, "1 uses by objects you cannot read") || strings.Contains(e.ErrorMessage, "dev") || len(e.RelatedErrors) != 0 {
		t.Fatalf("an anonymous caller is told %q (%d related errors)", e.ErrorMessage, len(e.RelatedErrors))
	}
}

// TestReadBack: what the Terraform provider sends comes back as NSX
// returns it, and every rule has a rule_id that stays its own.
func TestReadBack(t *testing.T) {
	a := newAPI(t, 0)
	pol := "/policy/api/v1/infra/domains/default/security-policies/p"
	a.expect("PATCH", groups+"/g", `{"display_name":"g","description":"","tags":[{"scope":"","tag":"web"}],`+ipGrp[1:], 200)
	a.expect("PATCH", pol, `{"display_name":"p","description":"","comments":"","locked":false,"stateful":true,"tcp_strict":false,"category":"Application","sequence_number":0,
		"rules":[{"id":"r1","display_name":"r1","description":"","notes":"","tag":"","logged":false,"disabled":false,"sources_excluded":false,"destinations_excluded":false,"sequence_number":1,"tags":[{"scope":"","tag":"t"}]},
		         {"id":"r2","display_name":"r2","sequence_number":2,"rule_id":7}]}`, 200)
	a.expect("PATCH", "/policy/api/v1/infra/domains/default/gateway-policies/gp", `{"category":"LocalGatewayRules","rules":[{"id":"x","scope":["ANY"]}]}`, 400) // scope needed: nothing changes
	for _, tt := range []struct {
		path   string
		want   map[string]any
		absent []string
	}{
		{groups + "/g", map[string]any{"description": "", "marked_for_delete": false, "tags": []any{map[string]any{"scope": "", "tag": "web"}}}, nil},
		{pol, map[string]any{"description": "", "comments": "", "locked": false, "stateful": true, "tcp_strict": false, "is_default": false, "marked_for_delete": false, "sequence_number": float64(0)}, nil},
		{pol + "/rules/r1", map[string]any{"description": "", "notes": "", "tag": "", "logged": false, "disabled": false, "sources_excluded": false, "destinations_excluded": false,
			"is_default": false, "rule_id": float64(1000), "tags": []any{map[string]any{"scope": "", "tag": "t"}}}, nil},
		// Not given: no empty text, flags as NSX defaults them; a
		// document's rule_id is not taken.
		{pol + "/rules/r2", map[string]any{"logged": false, "disabled": false, "sources_excluded": false, "destinations_excluded": false, "rule_id": float64(1001)},
			[]string{"description", "notes", "tag"}},
	} {
		t.Run(tt.path, func(t *testing.T) {
			got := decodeJSON(t, a.expect("GET", tt.path, "", 200))
			for k, v := range tt.want {
				if fmt.Sprint(got[k]) != fmt.Sprint(v) {
					t.Errorf("%s: %v, want %v", k, got[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s: %v, want it absent", k, got[k])
				}
			}
		})
	}
	// The policy as GET returns it holds its rules the same way.
	p := decodeJSON(t, a.expect("GET", pol, "", 200))
	r1 := p["rules"].([]any)[0].(map[string]any)
	if r1["notes"] != "" || r1["rule_id"] != float64(1000) || r1["logged"] != false {
		t.Fatalf("rule in its policy: %v", r1)
	}
	// A policy given nothing has NSX's defaults.
	a.expect("PATCH", pol+"-2", `{"category":"Application"}`, 200, `"stateful": true`, `"tcp_strict": true`, `"locked": false`)
	a.expect("PATCH", pol+"-3", `{"category":"Ethernet"}`, 200, `"stateful": false`, `"tcp_strict": false`)
	// Rule ids stay through updates, are not reused by new rules, and a
	// rule created later gets the next.
	a.expect("PATCH", pol+"/rules/r1", `{"display_name":"renamed","sequence_number":1}`, 200, `"rule_id": 1000`, `"display_name": "renamed"`)
	a.expect("PATCH", "/policy/api/v1/infra", `{"resource_type":"Infra","children":[{"resource_type":"ChildResourceReference","id":"default","target_type":"Domain","children":[
		{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"p","resource_type":"SecurityPolicy","category":"Application","children":[
			{"resource_type":"ChildRule","id":"r2","marked_for_delete":false,"Rule":{"id":"r2","resource_type":"Rule","sequence_number":2,"rule_id":1}},
			{"resource_type":"ChildRule","id":"r3","marked_for_delete":false,"Rule":{"id":"r3","resource_type":"Rule","sequence_number":3}}]}}]}]}`, 200)
	a.expect("GET", pol+"/rules/r2", "", 200, `"rule_id": 1001`)
	a.expect("GET", pol+"/rules/r3", "", 200, `"rule_id": 1002`)
	a.expect("PATCH", "/policy/api/v1/infra/domains/default/gateway-policies/gp", `{"category":"LocalGatewayRules","rules":[{"id":"x","scope":["/infra/tier-1s/t1"]}]}`, 400)
	a.expect("PATCH", "/policy/api/v1/infra/tier-1s/t1", `{}`, 200)
	a.expect("PATCH", "/policy/api/v1/infra/domains/default/gateway-policies/gp", `{"category":"LocalGatewayRules","rules":[{"id":"x","scope":["/infra/tier-1s/t1"]}]}`, 200)
	a.expect("GET", "/policy/api/v1/infra/domains/default/gateway-policies/gp/rules/x", "", 200, `"rule_id": 1003`)
	// What GET returns, defaults and all, PUTs back as it was (but for
	// the stamps of the write).
	before := a.expect("GET", pol, "", 200)
	after := a.expect("PUT", pol, before, 200)
	if b, a := unstampedJSON(t, before), unstampedJSON(t, after); b != a {
		t.Fatalf("PUT of what GET returned changed it:\n%s\n%s", b, a)
	}
}

// unstampedJSON is an object as GET returns it without what a write
// stamps on it and its rules.
func unstampedJSON(t *testing.T, s string) string {
	t.Helper()
	m := decodeJSON(t, s)
	strip := func(m map[string]any) {
		for _, k := range []string{"_revision", "_create_time", "_create_user", "_last_modified_time", "_last_modified_user"} {
			delete(m, k)
		}
	}
	strip(m)
	for _, r := range m["rules"].([]any) {
		strip(r.(map[string]any))
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestReadable: search and the in-use error decide each object as reading
// it at its own route is decided.
func TestReadable(t *testing.T) {
	admin := access.TokenPrincipal("admin", access.Admin, "")
	reader := access.TokenPrincipal("r", access.Reader, "")
	pa := access.TokenPrincipal("pa", access.ProjectAdmin, "dev")
	east := access.ClusterPrincipal("east")
	const (
		def   = "/infra/domains/default/groups/g"
		dev   = "/orgs/default/projects/dev/infra/domains/default/groups/g"
		other = "/orgs/default/projects/other/infra/domains/default/groups/g"
		odd   = "/orgs/default/projects/dev"
	)
	for _, tt := range []struct {
		name string
		p    access.Principal
		path string
		want bool
	}{
		{"admin, default space", admin, def, true},
		{"admin, a project", admin, other, true},
		{"reader, a project", reader, dev, true},
		{"project admin, its project", pa, dev, true},
		{"project admin, the default space", pa, def, false},
		{"project admin, another project", pa, other, false},
		{"project admin, a project path without an object", pa, odd, false},
		{"cluster", east, def, false},
		{"anonymous", access.Principal{}, def, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := readable(tt.p)(tt.path); got != tt.want {
				t.Fatalf("%v, want %v", got, tt.want)
			}
			if got := canRead(tt.p, tt.path); got != tt.want {
				t.Fatalf("canRead %v, want %v", got, tt.want)
			}
		})
	}
}

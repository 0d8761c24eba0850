package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/client"
)

// nsxClient speaks to kordon as the NSX-T Terraform provider
// (vmware/terraform-provider-nsxt v3.11) does: HTTP basic authentication
// on every call (its user name is anything, its password a kordon token),
// the manager's CA as its ca_file, JSON bodies as the vSphere automation
// SDK writes them.
type nsxClient struct {
	t          *testing.T
	base       string
	hc         *http.Client
	user, pass string
}

func newNSXClient(t *testing.T, s *server) *nsxClient {
	t.Helper()
	cfg, err := client.ReadConfig(filepath.Join(s.dir, "kordon-data", "client.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(s.dir, "kordon-data", "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(s.dir, "kordon-data", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("ca.crt holds no certificate")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return &nsxClient{t: t, base: strings.TrimSuffix(cfg.Server, "/"), hc: hc, user: "terraform", pass: strings.TrimSpace(string(tok))}
}

// call sends one request and decodes a JSON answer.
func (c *nsxClient) call(method, path string, body any) (int, http.Header, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.SetBasicAuth(c.user, c.pass)
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, resp.Header, out
}

// must sends a request that must answer status.
func (c *nsxClient) must(status int, method, path string, body any) map[string]any {
	c.t.Helper()
	code, _, out := c.call(method, path, body)
	if code != status {
		c.t.Fatalf("%s %s: %d, want %d: %v", method, path, code, status, out)
	}
	return out
}

// search is the provider's searchLMPolicyResources: GET
// /policy/api/v1/search/query, following cursor until it holds
// result_count results (the provider stops there, so result_count must
// be the total).
func (c *nsxClient) search(query string) []map[string]any {
	c.t.Helper()
	var all []map[string]any
	cursor := ""
	for pages := 0; ; pages++ {
		p := "/policy/api/v1/search/query?query=" + url.QueryEscape(query) + "&page_size=2"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		out := c.must(200, "GET", p, nil)
		all = append(all, results(out)...)
		total := int(out["result_count"].(float64))
		cursor, _ = out["cursor"].(string)
		if len(all) >= total {
			if cursor != "" {
				c.t.Fatalf("search %q: every result read but a cursor is still given", query)
			}
			return all
		}
		if cursor == "" || pages > 100 {
			c.t.Fatalf("search %q: %d of %d results and no cursor", query, len(all), total)
		}
	}
}

// list follows a list's cursor to its end, as the provider's list
// helpers do.
func (c *nsxClient) list(path string) []map[string]any {
	c.t.Helper()
	var all []map[string]any
	cursor := ""
	for pages := 0; pages < 100; pages++ {
		p := path + "?include_mark_for_delete_objects=false&page_size=2"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		out := c.must(200, "GET", p, nil)
		all = append(all, results(out)...)
		if cursor, _ = out["cursor"].(string); cursor == "" {
			if n := int(out["result_count"].(float64)); n != len(all) {
				c.t.Fatalf("list %s: %d results read, result_count %d", path, len(all), n)
			}
			return all
		}
	}
	c.t.Fatalf("list %s does not end", path)
	return nil
}

func results(out map[string]any) []map[string]any {
	var rs []map[string]any
	for _, r := range out["results"].([]any) {
		rs = append(rs, r.(map[string]any))
	}
	return rs
}

// pick is the provider's policyDataSourceResourceFilterAndSet: of the
// results of one resource type, the one whose display name is the name,
// else the only one it prefixes.
func pick(t *testing.T, rs []map[string]any, resourceType, name string) map[string]any {
	t.Helper()
	var perfect, prefix []map[string]any
	for _, r := range rs {
		if r["resource_type"] != resourceType {
			continue
		}
		dn, ok := r["display_name"].(string)
		if !ok {
			t.Fatalf("a %s without display_name (the provider dereferences it): %v", resourceType, r)
		}
		if dn == name {
			perfect = append(perfect, r)
		}
		if strings.HasPrefix(dn, name) {
			prefix = append(prefix, r)
		}
	}
	switch {
	case len(perfect) == 1:
		return perfect[0]
	case len(perfect) == 0 && len(prefix) == 1:
		return prefix[0]
	}
	t.Fatalf("%s %q: %d exact and %d prefix matches", resourceType, name, len(perfect), len(prefix))
	return nil
}

// sameFields requires every field of want in got with the same JSON value.
func sameFields(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: %s is missing (sent %v)", what, k, w)
			continue
		}
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		if !bytes.Equal(gb, wb) {
			t.Errorf("%s: %s is %s, sent %s", what, k, gb, wb)
		}
	}
}

// versionAtLeast compares dotted versions numerically, as go-version does
// for the provider.
func versionAtLeast(t *testing.T, v, min string) bool {
	t.Helper()
	a, b := strings.Split(v, "."), strings.Split(min, ".")
	for i := 0; i < max(len(a), len(b)); i++ {
		x, y := 0, 0
		var err error
		if i < len(a) {
			if x, err = strconv.Atoi(a[i]); err != nil {
				t.Fatalf("version %q does not parse: %v", v, err)
			}
		}
		if i < len(b) {
			y, _ = strconv.Atoi(b[i])
		}
		if x != y {
			return x > y
		}
	}
	return true
}

// TestTerraformProviderConformance replays, against `kordon serve`, the
// calls the NSX-T Terraform provider makes for a configuration of a
// service, a group, a security policy with rules and the data sources
// that find them, as its source (v3.11) shows them: provider configure,
// data source reads through search, resource create/read/update through
// PATCH, PUT and the hierarchical PATCH of /infra, list paging, and
// destroy. Every field the provider reads back must be there with the
// value it sent. The provider binary itself is not run here.
func TestTerraformProviderConformance(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inv")
	os.MkdirAll(filepath.Join(inv, "lab"), 0o755)
	os.WriteFile(filepath.Join(inv, "lab", "svc.yaml"), []byte(strings.Replace(lbYAML, "%s", "192.168.7.1", 1)), 0o644)
	s := serve(t, dir, "--inventory", inv)
	c := newNSXClient(t, s)

	// 1. Configure (providerConfigure). The MP client tries a session
	// login (session_auth defaults to true): a JSESSIONID cookie and an
	// X-XSRF-TOKEN header, which it then sends with every call instead of
	// the password; then the version, which the provider compares with
	// go-version.
	code, hdr, out := c.call("POST", "/api/session/create", url.Values{"j_username": {c.user}, "j_password": {c.pass}})
	resp := http.Response{Header: hdr}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "JSESSIONID" {
			session = ck
		}
	}
	if code != 200 || session == nil || hdr.Get("X-XSRF-TOKEN") == "" {
		t.Fatalf("session login: %d %v %v", code, hdr, out)
	}
	for _, withToken := range []bool{true, false} {
		req, _ := http.NewRequest("PATCH", c.base+"/policy/api/v1/infra/domains/default/groups/tf-session", strings.NewReader(`{"expression": [{"resource_type": "IPAddressExpression", "ip_addresses": ["192.0.2.9"]}]}`))
		req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
		req.Header.Set("Content-Type", "application/json")
		if withToken {
			req.Header.Set("X-XSRF-TOKEN", hdr.Get("X-XSRF-TOKEN"))
		}
		r, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if want := map[bool]int{true: 200, false: 403}[withToken]; r.StatusCode != want {
			t.Fatalf("a session write with X-XSRF-TOKEN %v: %d, want %d", withToken, r.StatusCode, want)
		}
	}
	c.must(200, "DELETE", "/policy/api/v1/infra/domains/default/groups/tf-session", nil)
	ver := c.must(200, "GET", "/api/v1/node/version", nil)
	nv, _ := ver["node_version"].(string)
	if _, ok := ver["product_version"].(string); !ok || !versionAtLeast(t, nv, "3.2.0") || versionAtLeast(t, nv, "9.0.0") {
		t.Fatalf("node version %v: the provider needs 3.2.0 or later for group_type, and kordon does not model 9.0's VPC fields", ver)
	}

	// 2. data "nsxt_policy_service" "https" { display_name = "HTTPS" }.
	q := `resource_type:Service AND display_name:HTTPS* AND marked_for_delete:false AND path:\/infra*`
	https := pick(t, c.search(q), "Service", "HTTPS")
	sameFields(t, "data nsxt_policy_service", https, map[string]any{"id": "HTTPS", "path": "/infra/services/HTTPS"})

	// 3. resource "nsxt_policy_service": absent (getOrGenerateID2's GET),
	// PATCH, read back.
	svc := "/policy/api/v1/infra/services/tf-svc"
	c.must(404, "GET", svc, nil)
	svcTags := []any{map[string]any{"scope": "", "tag": "terraform"}}
	entry := map[string]any{"resource_type": "L4PortSetServiceEntry", "id": "3f0c0a1e-5e0b-4a57-9b38-7ad0bfa3a1c4", "display_name": "alt-https",
		"description": "", "l4_protocol": "TCP", "destination_ports": []any{"8443"}, "source_ports": []any{}}
	c.must(200, "PATCH", svc, map[string]any{"display_name": "tf-svc", "description": "", "tags": svcTags, "service_entries": []any{entry}})
	got := c.must(200, "GET", svc, nil)
	sameFields(t, "nsxt_policy_service", got, map[string]any{"display_name": "tf-svc", "description": "", "tags": svcTags, "path": "/infra/services/tf-svc"})
	if _, ok := got["_revision"].(float64); !ok {
		t.Fatalf("no _revision: %v", got)
	}
	entries := got["service_entries"].([]any)
	if len(entries) != 1 {
		t.Fatalf("service entries %v", entries)
	}
	sameFields(t, "service entry", entries[0].(map[string]any), map[string]any{"resource_type": "L4PortSetServiceEntry", "display_name": "alt-https",
		"l4_protocol": "TCP", "destination_ports": []any{"8443"}})
	// Update with PUT (the provider replaces a service's entries whole),
	// sending the _revision it read.
	upd := c.must(200, "PUT", svc, map[string]any{"display_name": "tf-svc", "description": "alternate HTTPS", "tags": svcTags,
		"service_entries": []any{entry}, "_revision": got["_revision"]})
	sameFields(t, "nsxt_policy_service after PUT", upd, map[string]any{"description": "alternate HTTPS"})

	// 4. resource "nsxt_policy_group": a Kubernetes member type and
	// addresses, criteria joined by OR, as buildGroupExpressionData
	// serialises them.
	grp := "/policy/api/v1/infra/domains/default/groups/tf-web"
	c.must(404, "GET", grp, nil)
	expr := []any{
		map[string]any{"resource_type": "Condition", "member_type": "KubernetesService", "key": "Tag", "operator": "EQUALS", "value": "dis:k8s:app|web"},
		map[string]any{"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"},
		map[string]any{"resource_type": "IPAddressExpression", "ip_addresses": []any{"172.16.0.0/24"}},
	}
	grpTags := []any{map[string]any{"scope": "team", "tag": "web"}, map[string]any{"scope": "", "tag": "terraform"}}
	c.must(200, "PATCH", grp, map[string]any{"display_name": "TF Web Tier", "description": "", "tags": grpTags, "expression": expr})
	got = c.must(200, "GET", grp, nil)
	sameFields(t, "nsxt_policy_group", got, map[string]any{"display_name": "TF Web Tier", "description": "", "tags": grpTags,
		"path": "/infra/domains/default/groups/tf-web", "expression": expr})
	if _, ok := got["group_type"]; ok {
		t.Errorf("a generic group reads back a group_type: %v", got["group_type"])
	}
	members := c.must(200, "GET", grp+"/members/kubernetes-services", nil)
	if !strings.Contains(fmt.Sprint(members), "192.168.7.1") {
		t.Errorf("the Kubernetes member is not resolved: %v", members)
	}

	// 5. data "nsxt_policy_group" { display_name = "TF Web Tier" }: its
	// query adds the domain as parent_path; by id too.
	q = `resource_type:Group AND display_name:TF Web Tier* AND marked_for_delete:false AND parent_path:*\/default AND path:\/infra*`
	found := pick(t, c.search(q), "Group", "TF Web Tier")
	sameFields(t, "data nsxt_policy_group", found, map[string]any{"id": "tf-web", "path": "/infra/domains/default/groups/tf-web", "description": ""})
	byID := c.search(`id:tf\-web AND marked_for_delete:false AND path:\/infra*`)
	if len(byID) != 1 || byID[0]["resource_type"] != "Group" {
		t.Fatalf("group by id: %v", byID)
	}

	// 6. resource "nsxt_policy_security_policy": absent, then the
	// selective hierarchical PATCH (securityPolicyInfraPatch): the
	// domain by reference, the policy, its rules as ChildRule children.
	pol := "/policy/api/v1/infra/domains/default/security-policies/tf-pol"
	c.must(404, "GET", pol, nil)
	rule := func(id, name string, seq int, extra map[string]any) map[string]any {
		r := map[string]any{"resource_type": "Rule", "id": id, "display_name": name, "notes": "", "description": "", "action": "ALLOW",
			"logged": false, "tag": "", "disabled": false, "sources_excluded": false, "destinations_excluded": false,
			"ip_protocol": "IPV4_IPV6", "direction": "IN_OUT", "sequence_number": seq,
			"source_groups": []any{"172.16.1.0/24"}, "destination_groups": []any{"/infra/domains/default/groups/tf-web"},
			"services": []any{"/infra/services/HTTPS", "/infra/services/tf-svc"}, "scope": []any{"/infra/domains/default/groups/tf-web"},
			"tags": []any{map[string]any{"scope": "", "tag": "terraform"}}}
		for k, v := range extra {
			r[k] = v
		}
		return r
	}
	childRule := func(r map[string]any, del bool) map[string]any {
		return map[string]any{"resource_type": "ChildRule", "id": r["id"], "marked_for_delete": del, "Rule": r}
	}
	policy := func(rev any, children ...any) map[string]any {
		p := map[string]any{"resource_type": "SecurityPolicy", "id": "tf-pol", "display_name": "tf-pol", "description": "",
			"tags": []any{map[string]any{"scope": "", "tag": "terraform"}}, "comments": "", "locked": false,
			"sequence_number": 0, "stateful": true, "tcp_strict": false, "category": "Application", "children": children}
		if rev != nil {
			p["_revision"] = rev
		}
		return p
	}
	infra := func(p map[string]any) map[string]any {
		return map[string]any{"resource_type": "Infra", "children": []any{map[string]any{
			"resource_type": "ChildResourceReference", "id": "default", "target_type": "Domain",
			"children": []any{map[string]any{"resource_type": "ChildSecurityPolicy", "SecurityPolicy": p}}}}}
	}
	r1 := rule("5a7b0c62-1f0e-4b55-8a0c-0d7a1ef2a001", "allow-https", 1, map[string]any{"logged": true, "tag": "tf-log", "notes": "why"})
	r2 := rule("5a7b0c62-1f0e-4b55-8a0c-0d7a1ef2a002", "drop-rest", 2, map[string]any{"action": "DROP", "services": []any{}, "destinations_excluded": true})
	c.must(200, "PATCH", "/policy/api/v1/infra?enforce_revision_check=false", infra(policy(nil, childRule(r1, false), childRule(r2, false))))
	got = c.must(200, "GET", pol, nil)
	want := policy(nil)
	delete(want, "children")
	want["path"] = "/infra/domains/default/security-policies/tf-pol"
	sameFields(t, "nsxt_policy_security_policy", got, want)
	rules := got["rules"].([]any)
	if len(rules) != 2 {
		t.Fatalf("%d rules read back, want 2", len(rules))
	}
	ids := map[string]float64{}
	for i, sent := range []map[string]any{r1, r2} {
		rr := rules[i].(map[string]any) // in sequence order, as the provider lists them
		w := map[string]any{}
		for k, v := range sent {
			if l, ok := v.([]any); ok && len(l) == 0 {
				continue // an empty list means any; the provider reads it back as empty or absent alike
			}
			w[k] = v
		}
		sameFields(t, "rule "+sent["display_name"].(string), rr, w)
		for _, k := range []string{"path", "_revision"} {
			if _, ok := rr[k]; !ok {
				t.Errorf("rule %s: %s is missing", sent["id"], k)
			}
		}
		id, ok := rr["rule_id"].(float64)
		if !ok || id <= 0 {
			t.Fatalf("rule_id %v", rr["rule_id"])
		}
		ids[sent["id"].(string)] = id
	}
	if ids[r1["id"].(string)] == ids[r2["id"].(string)] {
		t.Fatalf("two rules share rule_id %v", ids)
	}

	// 7. Update: the policy with the _revision read, one rule changed,
	// one added, one removed (getUpdatedRuleChildren marks it for
	// deletion with only its id).
	r1["display_name"] = "allow-https-8443"
	r3 := rule("5a7b0c62-1f0e-4b55-8a0c-0d7a1ef2a003", "log-rest", 3, map[string]any{"logged": true})
	gone := map[string]any{"resource_type": "Rule", "id": r2["id"]}
	c.must(200, "PATCH", "/policy/api/v1/infra?enforce_revision_check=false",
		infra(policy(got["_revision"], childRule(r1, false), childRule(r3, false), childRule(gone, true))))
	got = c.must(200, "GET", pol, nil)
	rules = got["rules"].([]any)
	if len(rules) != 2 {
		t.Fatalf("%d rules after the update, want 2: %v", len(rules), rules)
	}
	first, second := rules[0].(map[string]any), rules[1].(map[string]any)
	sameFields(t, "updated rule", first, map[string]any{"id": r1["id"], "display_name": "allow-https-8443", "rule_id": ids[r1["id"].(string)]})
	sameFields(t, "added rule", second, map[string]any{"id": r3["id"], "logged": true, "notes": "", "tag": ""})
	if second["rule_id"] == ids[r1["id"].(string)] || second["rule_id"] == ids[r2["id"].(string)] {
		t.Fatalf("the new rule reuses a rule_id: %v", second["rule_id"])
	}
	c.must(404, "GET", pol+"/rules/"+r2["id"].(string), nil)

	// 8. Lists: every page until the cursor ends (the policy data source
	// and others list that way); sort orders the provider may ask for.
	var names []string
	for _, g := range c.list("/policy/api/v1/infra/domains/default/groups") {
		names = append(names, g["id"].(string))
	}
	if !slices.Contains(names, "tf-web") || !slices.IsSorted(names) {
		t.Fatalf("groups listed: %v", names)
	}
	pols := c.list("/policy/api/v1/infra/domains/default/security-policies")
	if len(pols) != 1 || pols[0]["id"] != "tf-pol" || pols[0]["is_default"] != false {
		t.Fatalf("policies listed: %v", pols)
	}
	desc := results(c.must(200, "GET", "/policy/api/v1/infra/services?sort_by=display_name&sort_ascending=false", nil))
	if len(desc) < 2 || strings.ToLower(desc[0]["display_name"].(string)) < strings.ToLower(desc[1]["display_name"].(string)) {
		t.Fatalf("services not descending by display name")
	}

	// 9. Destroy, in the order Terraform does (the policy, then what it
	// used). Deleting the group first is refused with a status the
	// provider does not retry, naming the rule.
	code, _, out = c.call("DELETE", grp+"?fail_if_subtree_exists=false&force=true", nil)
	if code != 412 || !strings.Contains(fmt.Sprint(out["error_message"]), "tf-pol/rules/") {
		t.Fatalf("deleting a group in use: %d %v", code, out)
	}
	for _, retried := range []int{400, 409, 429, 500, 503, 504} { // the provider's defaultRetryOnStatusCodes
		if code == retried {
			t.Fatalf("%d is retried by the provider", code)
		}
	}
	for _, k := range []string{"httpStatus", "error_code", "error_message", "related_errors"} {
		if _, ok := out[k]; !ok {
			t.Fatalf("the error lacks %s: %v", k, out)
		}
	}
	c.must(200, "DELETE", pol, nil)
	c.must(200, "DELETE", grp+"?fail_if_subtree_exists=false&force=true", nil)
	c.must(200, "DELETE", svc, nil)
	for _, p := range []string{pol, grp, svc} {
		c.must(404, "GET", p, nil)
	}
	if left := c.search(`_create_user:token\:admin`); len(left) != 0 {
		t.Fatalf("objects left after destroy: %v", left)
	}
}

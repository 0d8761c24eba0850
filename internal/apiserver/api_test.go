package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/store"
)

type api struct {
	t      testing.TB
	srv    *httptest.Server
	m      *manager.Manager
	admin  string
	reader string
}

func newAPI(t *testing.T, maxBody int64) *api {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, store.Options{DataDir: t.TempDir(), UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	ring := pki.KeyringForTest()
	boot, err := manager.Initialize(ctx, st, time.Now(), ring)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := manager.New(manager.Options{Store: st, Registerer: reg, Seal: ring, ReportGap: time.Nanosecond})
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	for !m.Ready() {
		time.Sleep(5 * time.Millisecond)
	}
	reader, _, err := m.CreateToken(ctx, manager.TokenRequest{ID: "reader", Role: access.Reader})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(New(Options{Manager: m, Gatherer: reg, Registerer: reg, MaxBody: maxBody}))
	t.Cleanup(func() { srv.Close(); cancel(); <-done; st.Close() })
	return &api{t: t, srv: srv, m: m, admin: boot.AdminToken, reader: reader}
}

// do sends a request as token and returns the status and body.
func (a *api) do(token, method, path, body string) (int, string) {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (a *api) expect(method, path, body string, status int, contains ...string) string {
	a.t.Helper()
	code, out := a.do(a.admin, method, path, body)
	if code != status {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, status, out)
	}
	for _, c := range contains {
		if !strings.Contains(out, c) {
			a.t.Fatalf("%s %s: %q not in %s", method, path, c, out)
		}
	}
	return out
}

const (
	groups = "/policy/api/v1/infra/domains/default/groups"
	ipGrp  = `{"expression":[{"resource_type":"IPAddressExpression","ip_addresses":["172.16.0.0/24"]}]}`
	k8sGrp = `{"expression":[{"resource_type":"Condition","member_type":"KubernetesService","key":"Name","operator":"EQUALS","value":"web"}]}`
)

func TestAuth(t *testing.T) {
	a := newAPI(t, 0)
	for _, tt := range []struct {
		token, method, path string
		status              int
	}{
		{"", "GET", groups, 401},
		{"kdn_wrong", "GET", groups, 401},
		{a.reader, "GET", groups, 200},
		{a.reader, "PATCH", groups + "/g", 403},
		{a.reader, "POST", "/policy/api/v1/kordon/explain", 400}, // a read: refused only for its empty body
		{"", "GET", "/healthz", 200},
		{"", "GET", "/readyz", 200},
		{"", "GET", "/metrics", 401},
		{a.reader, "GET", "/metrics", 200},
	} {
		if code, body := a.do(tt.token, tt.method, tt.path, ""); code != tt.status {
			t.Errorf("%s %s with %q: %d, want %d: %s", tt.method, tt.path, tt.token, code, tt.status, body)
		}
	}
}

func TestObjects(t *testing.T) {
	a := newAPI(t, 0)
	a.expect("GET", groups+"/g", "", 404, "does not exist")
	out := a.expect("PATCH", groups+"/g", ipGrp, 200, `"_revision": 0`, `"path": "/infra/domains/default/groups/g"`, `"_create_user": "token:admin"`)
	a.expect("PUT", groups+"/g", ipGrp, 412, "needs the _revision")
	a.expect("PUT", groups+"/g", `{"_revision":7,"expression":[]}`, 412, "modified by somebody else")
	a.expect("PUT", groups+"/g", `{"_revision":0,"display_name":"VMs","expression":[]}`, 200, `"_revision": 1`, `"display_name": "VMs"`)
	a.expect("GET", groups+"/g", "", 200, `"state": "SUCCESS"`)
	_ = out
	// Lists and paging.
	for i := 0; i < 5; i++ {
		a.expect("PATCH", fmt.Sprintf("%s/p%d", groups, i), ipGrp, 200)
	}
	page := a.expect("GET", groups+"?page_size=4", "", 200, `"result_count": 6`, `"cursor": "4"`)
	var l struct {
		Results []map[string]any `json:"results"`
	}
	json.Unmarshal([]byte(page), &l)
	if len(l.Results) != 4 || l.Results[0]["id"] != "g" {
		t.Fatalf("first page: %s", page)
	}
	last := a.expect("GET", groups+"?page_size=4&cursor=4", "", 200)
	if strings.Contains(last, `"cursor"`) {
		t.Fatalf("the last page has a cursor: %s", last)
	}
	a.expect("GET", "/policy/api/v1/infra/services", "", 200, `"/infra/services/HTTPS"`)
	a.expect("GET", "/policy/api/v1/infra/services/SSH", "", 200, `"destination_ports"`)
	a.expect("DELETE", groups+"/g", "", 200)
	a.expect("GET", groups+"/g", "", 404)
	// A policy with rules; PUT with rules replaces them, PATCH keeps others.
	pol := "/policy/api/v1/infra/domains/default/security-policies/p"
	a.expect("PATCH", pol, `{"category":"Application","rules":[{"id":"r1","action":"DROP"},{"id":"r2","action":"ALLOW"}]}`, 200, `"rule_count": 2`)
	a.expect("PATCH", pol, `{"category":"Application","rules":[{"id":"r3","action":"REJECT"}]}`, 200, `"rule_count": 3`)
	a.expect("PUT", pol, `{"_revision":1,"category":"Application","rules":[{"id":"r1","action":"DROP"}]}`, 200, `"rule_count": 1`)
	a.expect("GET", pol+"/rules/r1", "", 200, `"action": "DROP"`)
	a.expect("GET", pol+"/rules", "", 200, `"result_count": 1`)
	a.expect("PATCH", pol+"/rules/r9", `{"action":"ALLOW","source_groups":["10.0.0.0/8"]}`, 200)
	a.expect("DELETE", pol, "", 200)
	a.expect("GET", pol+"/rules/r9", "", 404)
}

// TestBadInput checks that every kind of bad request is refused with a
// clear 4xx and changes nothing.
func TestBadInput(t *testing.T) {
	a := newAPI(t, 4096)
	rev := a.m.Revision()
	for _, tt := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"PATCH", groups + "/g", `{"expression": [`, 400, "not valid JSON"},
		{"PATCH", groups + "/g", ``, 400, "empty"},
		{"PATCH", groups + "/g", `{"expression":[], "soruce": 1}`, 400, "soruce: unknown field"},
		{"PATCH", groups + "/g", `{"display_name": 7}`, 400, "expected a string, got number"},
		{"PATCH", groups + "/g", `{"id":"other"}`, 400, "does not match"},
		{"PATCH", groups + "/g", `{"expression":[{"resource_type":"Condition","member_type":"KubernetesCluster","key":"Name","operator":"EQUALS","value":"x"}]}`, 400, "selects nothing"},
		{"PATCH", groups + "/g", `{"expression":["` + strings.Repeat("x", 5000) + `"]}`, 413, "larger than 4096 bytes"},
		{"PATCH", "/policy/api/v1/infra", `{"resource_type":"Infra","children":[{"resource_type":"ChildSegment","Segment":{}}]}`, 400, "does not manage ChildSegment"},
		{"PATCH", "/policy/api/v1/infra", `{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","Domain":{"id":"default","children":[{"resource_type":"ChildGroup","Group":{"id":"ok"}},{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"p","rules":[{"id":"r","action":"JUMP_TO_APPLICATION"}]}}]}}]}`, 400, "JUMP_TO_APPLICATION"},
		{"DELETE", "/policy/api/v1/infra/services/HTTP", "", 400, "predefined"},
		{"PATCH", "/policy/api/v1/infra/services/HTTP", `{"service_entries":[{"resource_type":"L4PortSetServiceEntry","l4_protocol":"TCP"}]}`, 400, "predefined"},
		{"POST", groups, `{}`, 405, "not allowed"},
		{"GET", "/policy/api/v1/infra/nothing-here", "", 404, "no API"},
		{"GET", "/policy/api/v1/elsewhere", "", 404, "no API"},
		{"GET", groups + "/g/members/kubernetes-services", "", 404, "does not exist"},
		{"GET", groups + "/g/members/everything", "", 404, "no member type"},
		{"GET", groups + "?page_size=0", "", 400, "page_size"},
		{"GET", groups + "?cursor=x", "", 400, "cursor"},
		{"GET", "/policy/api/v1/orgs/default/projects/none/infra/domains/default/groups", "", 404, "project"},
		{"GET", "/policy/api/v1/infra/realized-state/status", "", 400, "intent_path"},
		{"POST", "/policy/api/v1/kordon/explain", `{"src":"1.2.3.4","dst":"5.6.7.8"}`, 400, "port is required"},
		{"POST", "/policy/api/v1/kordon/explain", `{"src":"1.2.3.4","dst":"5.6.7.8","port":1,"colour":1}`, 400, "unknown field"},
		{"POST", "/policy/api/v1/kordon/explain", `{"src":"1.2.3.4","dst":"5.6.7.8","port":1,"gateway":"/infra/tier-1s/none"}`, 400, "not an existing tier-0 or tier-1"},
		{"GET", "/policy/api/v1/kordon/watch?since=x", "", 400, "since"},
		{"PUT", "/policy/api/v1/kordon/license", `{"id":"x"}`, 400, "feature"},
		{"POST", "/policy/api/v1/kordon/tokens", `{"id":"a b","role":"admin"}`, 400, "token id"},
		{"GET", "/edl/v1/infra/services/HTTP", "", 404, "no API"},
		{"GET", "/edl/v1/infra/domains/default/groups/none", "", 404, "does not exist"},
		{"PUT", "/policy/api/v1/orgs/default/projects/p1", `{"id":"p1","owner":"x"}`, 400, "unknown field"},
		{"DELETE", "/policy/api/v1/orgs/default/projects/none", "", 404, "does not exist"},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			code, out := a.do(a.admin, tt.method, tt.path, tt.body)
			if code != tt.status || !strings.Contains(out, tt.want) {
				t.Fatalf("status %d (want %d), body %s (want %q)", code, tt.status, out, tt.want)
			}
			if code >= 400 && !strings.Contains(out, `"error_code"`) && !strings.HasPrefix(tt.path, "/edl") {
				t.Fatalf("not an NSX error body: %s", out)
			}
		})
	}
	if a.m.Revision() != rev {
		t.Fatal("a refused request changed the store")
	}
}

func TestHierarchicalAndMembers(t *testing.T) {
	a := newAPI(t, 0)
	ctx := context.Background()
	svc := &inventory.Service{Meta: inventory.Meta{Cluster: "east", Namespace: "shop", Name: "web"}, Type: inventory.ServiceNodePort,
		Ports: []inventory.ServicePort{{Protocol: 6, Port: 80, NodePort: 30080}}}
	node := &inventory.Node{Meta: inventory.Meta{Cluster: "east", Name: "n1"}, InternalIPs: []netipAddr{mustAddr("10.0.1.1")}}
	if _, err := a.m.SyncCluster(ctx, manager.Cluster{Name: "east", ID: "uuid-east", Source: "test"}, []inventory.Object{svc, node}); err != nil {
		t.Fatal(err)
	}
	doc := `{"resource_type":"Infra","children":[{"resource_type":"ChildTier1","Tier1":{"id":"t1"}},{"resource_type":"ChildDomain","Domain":{"id":"default","children":[
		{"resource_type":"ChildGroup","Group":{"id":"web",` + k8sGrp[1:] + `},
		{"resource_type":"ChildGroup","Group":{"id":"vms",` + ipGrp[1:] + `},
		{"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"p","category":"Application","rules":[{"id":"r","source_groups":["/infra/domains/default/groups/vms"],"destination_groups":["/infra/domains/default/groups/web"],"action":"REJECT"}]}}]}}]}`
	dry := a.expect("PATCH", "/policy/api/v1/infra?dry_run=true", doc, 200, `"dry_run": true`, `"10.0.1.1"`, `30080`)
	if a.expect("GET", groups, "", 200, `"result_count": 0`) == "" {
		t.Fatal(dry)
	}
	a.expect("PATCH", "/policy/api/v1/infra", doc, 200, `"revision"`)
	a.expect("GET", groups+"/web/members/kubernetes-services", "", 200, `"external_id": "uuid-east"`, `"node_port_endpoints"`, `"node_port": "30080"`)
	a.expect("GET", groups+"/web/members/kubernetes-services?cluster_id=uuid-east", "", 200, `"display_name": "web"`)
	a.expect("GET", groups+"/web/members/kubernetes-services?cluster_id=nope", "", 404)
	a.expect("GET", groups+"/web/members/antrea-egresses", "", 200, `"results": []`, `"result_count": 0`)
	a.expect("GET", groups+"/web/members/effective", "", 200, `"ip": "10.0.1.1"`, `"port": 30080`)
	a.expect("GET", groups+"/vms/members/consolidated-effective-ip-addresses", "", 200, `"172.16.0.0/24"`)
	a.expect("GET", "/policy/api/v1/infra/realized-state/status?intent_path=/infra/domains/default/groups/web", "", 200, `"publish_status": "REALIZED"`, `"last_member_change"`)
	exp := a.expect("POST", "/policy/api/v1/kordon/explain", `{"src":"172.16.0.9","dst":"10.0.1.1","protocol":"TCP","port":30080}`, 200, `"verdict": "REJECT"`, `"rule_path": "/infra/domains/default/security-policies/p/rules/r"`)
	_ = exp
	a.expect("POST", "/policy/api/v1/kordon/explain", `{"src":"172.16.0.9","dst":"10.0.1.1","protocol":"TCP","port":30081}`, 200, `"rule_path": "default"`)
	a.expect("POST", "/policy/api/v1/kordon/explain", `{"src":"10.0.1.1","dst":"172.16.0.9","port":22,"gateway":"/infra/tier-1s/t1"}`, 200, `"firewall": "GFW"`)
	// The export re-applies to the same state: nothing changes, nothing
	// is written.
	export := a.expect("GET", "/policy/api/v1/infra", "", 200, `"ChildSecurityPolicy"`, `"ChildRule"`)
	rev := a.m.Revision()
	a.expect("PATCH", "/policy/api/v1/infra", export, 200)
	if a.m.Revision() != rev {
		t.Fatalf("re-applying the export wrote: revision %d -> %d", rev, a.m.Revision())
	}
	a.expect("GET", groups+"/web", "", 200, `"_revision": 0`)
	// EDL.
	code, body := a.do(a.reader, "GET", "/edl/v1/infra/domains/default/groups/vms?format=cidr", "")
	if code != 200 || body != "172.16.0.0/24\n" {
		t.Fatalf("EDL: %d %q", code, body)
	}
	a.expect("GET", "/policy/api/v1/kordon/clusters", "", 200, `"uuid-east"`)
	a.expect("GET", "/policy/api/v1/kordon/status", "", 200, `"groups": 2`, `"inventory_objects": 2`)
}

func TestProjects(t *testing.T) {
	a := newAPI(t, 0)
	proj := "/policy/api/v1/orgs/default/projects"
	a.expect("PUT", proj+"/team-a", `{"display_name":"Team A"}`, 200, `"path": "/orgs/default/projects/team-a"`)
	a.expect("PUT", proj+"/team-b", `{}`, 200)
	a.expect("GET", proj, "", 200, `"result_count": 2`)
	pa := proj + "/team-a/infra/domains/default/groups"
	a.expect("PATCH", pa+"/vms", ipGrp, 200, `"path": "/orgs/default/projects/team-a/infra/domains/default/groups/vms"`)
	a.expect("PATCH", pa+"/k8s", k8sGrp, 400, "create it in the default space")
	a.expect("GET", pa, "", 200, `"result_count": 1`)
	a.expect("GET", proj+"/team-b/infra/domains/default/groups", "", 200, `"result_count": 0`)
	a.expect("GET", groups, "", 200, `"result_count": 0`)
	a.expect("GET", proj+"/team-b/infra/domains/default/groups/vms", "", 404)
	// A project's rule cannot use another space's group.
	a.expect("PATCH", proj+"/team-b/infra/domains/default/security-policies/p", `{"rules":[{"id":"r","source_groups":["/orgs/default/projects/team-a/infra/domains/default/groups/vms"]}]}`, 400, "another space")
	a.expect("DELETE", proj+"/team-a", "", 409, "still holds 1 objects")
	a.expect("DELETE", pa+"/vms", "", 200)
	a.expect("DELETE", proj+"/team-a", "", 200)
}

func TestWatch(t *testing.T) {
	a := newAPI(t, 0)
	start := a.m.Revision()
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/policy/api/v1/kordon/watch?since=%d&types=config", a.srv.URL, start), nil)
	req.Header.Set("Authorization", "Bearer "+a.reader)
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatal(resp.Header)
	}
	a.expect("PATCH", groups+"/g", ipGrp, 200)
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	for len(lines) < 2 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 2 || !strings.Contains(lines[0], `"type":"start"`) || !strings.Contains(lines[1], `"path":"/infra/domains/default/groups/g"`) {
		t.Fatalf("stream: %v", lines)
	}
	a.expect("GET", "/policy/api/v1/kordon/watch?since=0", "", 410, "no longer kept")
}

func TestLicenseAndTokens(t *testing.T) {
	a := newAPI(t, 0)
	a.expect("GET", "/policy/api/v1/kordon/license", "", 200, `"evaluation": true`, `"DFW"`)
	out := a.expect("POST", "/policy/api/v1/kordon/tokens", `{"id":"feeds","role":"reader"}`, 200, `"token": "kdn_`)
	var tok map[string]string
	json.Unmarshal([]byte(out), &tok)
	if code, _ := a.do(tok["token"], "GET", groups, ""); code != 200 {
		t.Fatal("a new reader token cannot read")
	}
}

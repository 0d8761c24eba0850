package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/realization"
	"github.com/kordon-dev/kordon/internal/wire"
)

const agentsPath = "/policy/api/v1/kordon/agents"

// agentPolicy: a tier-1, a group of VMs and a group the test fills, a
// gateway policy on the tier-1 and a security policy applied to the VMs.
const agentPolicy = `{"resource_type":"Infra","children":[
 {"resource_type":"ChildTier1","Tier1":{"id":"t1"}},
 {"resource_type":"ChildDomain","Domain":{"id":"default","children":[
  {"resource_type":"ChildGroup","Group":{"id":"vms","expression":[{"resource_type":"IPAddressExpression","ip_addresses":["172.16.0.0/24"]}]}},
  {"resource_type":"ChildGroup","Group":{"id":"tagged","expression":[{"resource_type":"Condition","member_type":"VirtualMachine","key":"Tag","operator":"EQUALS","value":"tier|app"}]}},
  {"resource_type":"ChildGroup","Group":{"id":"web","expression":[{"resource_type":"Condition","member_type":"KubernetesService","key":"Name","operator":"EQUALS","value":"web"}]}},
  {"resource_type":"ChildGatewayPolicy","GatewayPolicy":{"id":"gw","category":"LocalGatewayRules","scope":["/infra/tier-1s/t1"],"rules":[
    {"id":"web-to-vms","source_groups":["/infra/domains/default/groups/web"],"destination_groups":["/infra/domains/default/groups/vms"],"action":"ALLOW"}]}},
  {"resource_type":"ChildSecurityPolicy","SecurityPolicy":{"id":"vm-pol","category":"Application","scope":["/infra/domains/default/groups/vms"],"rules":[
    {"id":"to-web","source_groups":["/infra/domains/default/groups/vms"],"destination_groups":["/infra/domains/default/groups/web"],"action":"DROP"}]}}
 ]}}]}`

func (a *mtlsAPI) registerAgent(name, role, gateway string) wire.Bundle {
	a.t.Helper()
	var out struct {
		Bundle wire.Bundle `json:"bundle"`
	}
	body := a.expect("POST", agentsPath, fmt.Sprintf(`{"name":%q,"role":%q,"gateway":%q}`, name, role, gateway), 200)
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		a.t.Fatal(err)
	}
	return out.Bundle
}

func spanOf(t *testing.T, c *http.Client, url string) (int, SpanResponse) {
	t.Helper()
	code, body := call(t, c, "GET", url, nil, false)
	var out SpanResponse
	if code == 200 {
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
	} else if code != http.StatusNotModified {
		t.Fatalf("span: %d %s", code, body)
	}
	return code, out
}

func TestAgentsAPI(t *testing.T) {
	a := newMTLSAPI(t)
	a.expect("PATCH", "/policy/api/v1/infra", agentPolicy, 200)
	a.expect("POST", agentsPath, `{"name":"e1","role":"gateway","gateway":"/infra/tier-1s/nope"}`, 400, "no such tier-0 or tier-1")
	a.expect("POST", agentsPath, `{"name":"e1","role":"router"}`, 400, "use vm or gateway")
	a.expect("POST", agentsPath, `{"name":"E 1","role":"vm"}`, 400, "agent name")
	gw := a.registerAgent("edge-1", "gateway", "/infra/tier-1s/t1")
	vm := a.registerAgent("vm-1", "vm", "")
	a.expect("POST", agentsPath, `{"name":"vm-1","role":"vm"}`, 409, "unique")
	if gw.Agent != "edge-1" || gw.Cluster != "" || !strings.Contains(gw.Key, "PRIVATE KEY") {
		t.Fatalf("bundle = %+v", gw)
	}
	a.expect("GET", agentsPath, "", 200, `"realization_state": "UNKNOWN"`, "has not reported yet")

	// A gateway agent gets its gateway's rules; the long poll answers at
	// once with a new span, then waits.
	c := a.as(gw)
	base := a.srv.URL + agentsPath + "/edge-1/"
	_, first := spanOf(t, c, base+"span")
	if first.Span == nil || first.Span.Point != "/infra/tier-1s/t1" || len(first.Span.Hooks) != 1 || len(first.Span.Hooks[0].Rules) != 1 {
		t.Fatalf("gateway span = %+v", first.Span)
	}
	start := time.Now()
	if code, _ := spanOf(t, c, base+"span?wait=1&digest="+first.Span.Digest); code != http.StatusNotModified || time.Since(start) < time.Second {
		t.Fatalf("an unchanged span answered %d after %s; want 304 after the wait", code, time.Since(start))
	}
	// A membership change while the agent waits comes as a delta.
	got := make(chan SpanResponse, 1)
	go func() { _, r := spanOf(t, c, base+"span?wait=30&digest="+first.Span.Digest); got <- r }()
	time.Sleep(200 * time.Millisecond)
	web := &inventory.Service{Meta: inventory.Meta{Cluster: "east", Namespace: "shop", Name: "web"}, Type: inventory.ServiceLoadBalancer,
		LoadBalancer: []inventory.LoadBalancerIngress{{IP: netip.MustParseAddr("192.168.1.10")}}}
	if _, err := a.m.SyncCluster(t.Context(), manager.Cluster{Name: "east", Source: "test"}, []inventory.Object{web}); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.Delta == nil || r.Span != nil || r.Delta.From != first.Span.Digest || r.Delta.Elements() != 1 {
		t.Fatalf("after a membership change: %+v", r)
	}
	next, err := first.Span.Apply(r.Delta)
	if err != nil {
		t.Fatal(err)
	}

	// Reports give the realization state, per agent and per policy.
	report := func(cl *http.Client, name, digest string, rev int64, counters string) {
		t.Helper()
		body := fmt.Sprintf(`{"state":"success","revision":%d,"digest":%q,"interval":10000000000,"rule_statistics":%s}`, rev, digest, counters)
		if code, out := call(t, cl, "POST", a.srv.URL+agentsPath+"/"+name+"/report", []byte(body), false); code != 200 {
			t.Fatalf("report: %d %s", code, out)
		}
	}
	report(c, "edge-1", first.Span.Digest, first.Span.Revision, `{}`)
	a.expect("GET", agentsPath+"/edge-1", "", 200, `"realization_state": "IN_PROGRESS"`)
	a.expect("GET", "/policy/api/v1/infra/realized-state/status?intent_path=/infra/domains/default/gateway-policies/gw", "", 200,
		`"consolidated_status": "IN_PROGRESS"`, `"enforcement_point": "edge-1"`)
	report(c, "edge-1", next.Digest, next.Revision, `{"/infra/domains/default/gateway-policies/gw/rules/web-to-vms":{"packet_count":3,"byte_count":180}}`)
	a.expect("GET", "/policy/api/v1/infra/realized-state/status?intent_path=/infra/domains/default/gateway-policies/gw", "", 200, `"consolidated_status": "SUCCESS"`)
	a.expect("GET", "/policy/api/v1/infra/domains/default/gateway-policies/gw/statistics", "", 200, `"packet_count": 3`, `"byte_count": 180`, `"internal_rule_id": "web-to-vms"`)
	if code, out := call(t, c, "POST", base+"report", []byte(`{"state":"great","interval":10000000000}`), false); code != 400 || !strings.Contains(out, "state") {
		t.Fatalf("bad report: %d %s", code, out)
	}

	// A VM's span depends on the addresses it reports: Applied To.
	v := a.as(vm)
	vbase := a.srv.URL + agentsPath + "/vm-1/"
	_, s0 := spanOf(t, v, vbase+"span")
	if n, _ := s0.Span.Count(); n != 0 || s0.Span.Role != realization.RoleVM {
		t.Fatalf("a VM with no addresses got %d rules", n)
	}
	report(v, "vm-1", "", 0, `{}`)
	if code, out := call(t, v, "POST", vbase+"report", []byte(`{"state":"success","interval":10000000000,"vm":{"ip_addresses":["172.16.0.5"],"os_name":"Debian"}}`), false); code != 200 {
		t.Fatalf("%d %s", code, out)
	}
	_, s1 := spanOf(t, v, vbase+"span?wait=5&digest="+s0.Span.Digest)
	if s1.Span == nil || len(s1.Span.Hooks) != 2 || len(s1.Span.Hooks[0].Rules) != 1 || len(s1.Span.Hooks[1].Rules) != 1 {
		t.Fatalf("the VM in scope: %+v", s1)
	}
	a.expect("GET", agentsPath+"/vm-1", "", 200, `"172.16.0.5"`, `"os_name": "Debian"`, `"effective_addresses"`)
	// The VM selects itself into no group: its tags are the manager's.
	if code, out := call(t, v, "POST", vbase+"report", []byte(`{"state":"success","interval":10000000000,"vm":{"ip_addresses":["172.16.0.5"],"tags":[{"scope":"tier","tag":"app"}]}}`), false); code != 400 || !strings.Contains(out, "does not report its tags") {
		t.Fatalf("a report with tags: %d %s", code, out)
	}
	if body := a.expect("GET", "/policy/api/v1/infra/domains/default/groups/tagged/members/effective", "", 200); strings.Contains(body, "172.16.0") {
		t.Fatalf("a VM joined a tag group by its own report: %s", body)
	}
	if code, out := call(t, v, "PATCH", a.srv.URL+agentsPath+"/vm-1", []byte(`{"tags":[{"scope":"tier","tag":"app"}]}`), false); code != 403 {
		t.Fatalf("an agent set its own tags: %d %s", code, out)
	}
	a.expect("PATCH", agentsPath+"/vm-1", `{"tags":[{"scope":"tier","tag":"app"}],"os_name":"Debian 13"}`, 200, `"tier"`)
	a.expect("GET", "/policy/api/v1/infra/domains/default/groups/tagged/members/effective", "", 200, "VirtualMachine", "172.16.0.5")
	a.expect("PATCH", agentsPath+"/vm-1", `{"tags":[{"scope":"tier","tag":"db"}]}`, 200)
	if body := a.expect("GET", "/policy/api/v1/infra/domains/default/groups/tagged/members/effective", "", 200); strings.Contains(body, "172.16.0") {
		t.Errorf("a VM whose tag changed is still a member: %s", body)
	}
	a.expect("PATCH", agentsPath+"/edge-1", `{"tags":[]}`, 400, "gateway agent")
	a.expect("PATCH", agentsPath+"/vm-1", `{"tags":[{"scope":"\u001b[2J","tag":"x"}]}`, 400, "control character")
	a.expect("PATCH", agentsPath+"/vm-1", `{"allowed_addresses":["::ffff:0.0.0.0/96"]}`, 400, "IPv4-mapped")

	// An agent may only fetch and report for itself.
	for _, tt := range []struct{ method, url string }{
		{"GET", vbase + "span"},
		{"POST", vbase + "report"},
		{"POST", base + "rotate"},
		{"PATCH", a.srv.URL + agentsPath + "/vm-1"},
		{"GET", a.srv.URL + agentsPath},
		{"DELETE", base},
		{"GET", a.srv.URL + "/policy/api/v1/infra/domains/default/groups"},
		{"POST", a.srv.URL + clustersPath + "/east/heartbeat"},
	} {
		if code, out := call(t, c, tt.method, tt.url, []byte(`{}`), false); code != 403 {
			t.Errorf("edge-1 %s %s: %d %s", tt.method, tt.url, code, out)
		}
	}
	a.expect("DELETE", agentsPath+"/edge-1", "", 200)
	if code, out := call(t, c, "GET", base+"span", nil, false); code != 401 || !strings.Contains(out, "not registered") {
		t.Fatalf("a deregistered agent: %d %s", code, out)
	}
}

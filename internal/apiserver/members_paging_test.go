package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
)

// TestPerTypeMembersPage: a per-type member endpoint answers one result
// per cluster, so result_count counts what results hold: a client that
// pages until it has result_count results ends, and one that follows the
// cursor sees each cluster once.
func TestPerTypeMembersPage(t *testing.T) {
	a := newAPI(t, 0)
	ctx := context.Background()
	for _, c := range []string{"east", "west", "north"} {
		svc := &inventory.Service{Meta: inventory.Meta{Cluster: c, Namespace: "shop", Name: "web", Labels: map[string]string{"app": "web"}}, Type: inventory.ServiceLoadBalancer,
			LoadBalancer: []inventory.LoadBalancerIngress{{IP: mustAddr("192.168.1.1")}}}
		if _, err := a.m.SyncCluster(ctx, manager.Cluster{Name: c, ID: "uuid-" + c, Source: "test"}, []inventory.Object{svc}); err != nil {
			t.Fatal(err)
		}
	}
	a.expect("PATCH", groups+"/web", k8sGrp, 200)
	seen := map[string]int{}
	cursor, pages := "", 0
	for {
		path := groups + "/web/members/kubernetes-services?page_size=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var page struct {
			Results []struct {
				Clusters []struct {
					DisplayName string `json:"display_name"`
				} `json:"clusters"`
			} `json:"results"`
			ResultCount int    `json:"result_count"`
			Cursor      string `json:"cursor"`
		}
		if err := json.Unmarshal([]byte(a.expect("GET", path, "", 200)), &page); err != nil {
			t.Fatal(err)
		}
		if page.ResultCount != 3 {
			t.Fatalf("result_count %d, want 3 (one per cluster)", page.ResultCount)
		}
		for _, r := range page.Results {
			if len(r.Clusters) != 1 {
				t.Fatalf("a result holds %d clusters, want 1", len(r.Clusters))
			}
			seen[r.Clusters[0].DisplayName]++
		}
		pages++
		if cursor = page.Cursor; cursor == "" || pages > 5 {
			break
		}
	}
	if len(seen) != 3 || seen["east"] != 1 || seen["west"] != 1 || seen["north"] != 1 || pages != 2 {
		t.Fatalf("clusters seen %v in %d pages", seen, pages)
	}
	a.expect("GET", groups+"/web/members/ip-addresses", "", 200, `"192.168.1.1"`)
}

// TestWatchRefusesWhatCannotBe: a watch from a revision beyond the
// current one, or of an event type that does not exist, is refused
// instead of waiting or streaming nothing in silence.
func TestWatchRefusesWhatCannotBe(t *testing.T) {
	a := newAPI(t, 0)
	a.expect("GET", "/policy/api/v1/kordon/watch?since=99999999", "", 400, "beyond the current revision")
	a.expect("GET", "/policy/api/v1/kordon/watch?types=config,bogus", "", 400, `\"bogus\" is not an event type`)
}

// TestEDLChallengesBasic: a feed client without credentials is challenged
// for Basic authentication only (many read only the first challenge and
// send Basic credentials only when asked for them); the API offers both.
func TestEDLChallengesBasic(t *testing.T) {
	a := newAPI(t, 0)
	for path, want := range map[string][]string{
		"/edl/v1/infra/domains/default/groups/g":      {`Basic realm="kordon", charset="UTF-8"`},
		"/policy/api/v1/infra/domains/default/groups": {`Bearer realm="kordon"`, `Basic realm="kordon", charset="UTF-8"`},
	} {
		resp, err := a.srv.Client().Get(a.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Values("WWW-Authenticate"); resp.StatusCode != 401 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %d %q, want 401 %q", path, resp.StatusCode, got, want)
		}
	}
}

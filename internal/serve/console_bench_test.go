package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/benchdata"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
)

// BenchmarkConsole measures the console's heaviest pages at the scale of
// the fixtures (100 clusters, 339,000 objects, 10,010 groups, and 10,000
// rules in 100 policies), rendered on the server, against the API reads
// the same page makes, in the same run:
//
//	go test ./internal/serve -run '^$' -bench Console -benchtime 20x -timeout 30m
//
// KORDON_BENCH_CLUSTERS lowers the cluster count for a quicker run.
func BenchmarkConsole(b *testing.B) {
	h, cookie, groups := consoleAtScale(b)
	get := func(path string, withCookie bool, token string) (int, int) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if withCookie {
			req.AddCookie(cookie)
		} else {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("GET %s: %d %s", path, w.Code, w.Body.String()[:min(400, w.Body.Len())])
		}
		return w.Code, w.Body.Len()
	}
	measure := func(b *testing.B, page string, reads []string) {
		var pageT, apiT []time.Duration
		size := 0
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			_, size = get(page, true, "")
			pageT = append(pageT, time.Since(t0))
			t1 := time.Now()
			for _, r := range reads {
				get(r, true, "")
			}
			apiT = append(apiT, time.Since(t1))
		}
		b.ReportMetric(float64(median(pageT).Microseconds())/1000, "page-ms")
		b.ReportMetric(float64(median(apiT).Microseconds())/1000, "api-ms")
		b.ReportMetric(float64(median(pageT))/float64(median(apiT)), "x-api")
		b.ReportMetric(float64(size)/1024, "page-KiB")
	}
	// The group with the most members: the page's cost grows with them.
	g := groups[0]
	id := g[strings.LastIndex(g, "/")+1:]
	b.Run("group-page", func(b *testing.B) {
		// The API's one read of everything the group holds, for scale.
		t0 := time.Now()
		get("/policy/api/v1"+g+"/members/effective", true, "")
		b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "all-members-ms")
		base := "/policy/api/v1" + g
		measure(b, "/ui/group?domain=default&id="+url.QueryEscape(id), []string{base, base + "/members/effective?page_size=200&cursor=0", base + "/references"})
	})
	b.Run("dfw-table", func(b *testing.B) {
		// The list of the policies (without their rules), and the rules
		// and counters of the two policies the first page of 200 rules
		// shows.
		reads := []string{"/policy/api/v1/infra/domains/default/security-policies?include_rules=false&page_size=1000"}
		for _, p := range []string{"scale-000", "scale-001"} {
			reads = append(reads, "/policy/api/v1/infra/domains/default/security-policies/"+p,
				"/policy/api/v1/infra/domains/default/security-policies/"+p+"/statistics")
		}
		measure(b, "/ui/dfw", reads)
	})
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// consoleAtScale starts a manager with the scale fixtures behind the API
// and the console, signs in, and returns the handler, the session cookie
// and the group paths, the largest group first.
func consoleAtScale(b *testing.B) (http.Handler, *http.Cookie, []string) {
	s := benchdata.Full
	if n := os.Getenv("KORDON_BENCH_CLUSTERS"); n != "" {
		fmt.Sscan(n, &s.Clusters)
	}
	in := newInstallation(b)
	m, ctx := in.m, context.Background()
	byCluster := map[string][]inventory.Object{}
	for _, o := range s.Inventory() {
		byCluster[o.GetMeta().Cluster] = append(byCluster[o.GetMeta().Cluster], o)
	}
	for c, objs := range byCluster {
		if _, err := m.SyncCluster(ctx, manager.Cluster{Name: c, ID: c, Source: "bench"}, objs); err != nil {
			b.Fatal(err)
		}
	}
	body, _ := scaleDoc(b, s, "")
	h := in.h
	if w := in.do(http.MethodPatch, "/policy/api/v1/infra", string(body), "", in.admin, nil); w.Code != 200 {
		b.Fatalf("loading the policy: %d %s", w.Code, w.Body.String()[:min(400, w.Body.Len())])
	}
	secret, _, err := m.CreateSession(ctx, in.admin)
	if err != nil {
		b.Fatal(err)
	}
	var largest []string
	m.Read(func(v manager.View) {
		largest = v.Index().Groups()
		n := map[string]int{}
		for _, g := range largest {
			n[g] = len(v.Index().Members(g))
		}
		slices.SortStableFunc(largest, func(x, y string) int { return n[y] - n[x] })
	})
	return h, &http.Cookie{Name: "JSESSIONID", Value: secret}, largest
}

// scaleDoc is the scale's configuration as one Infra document
// (benchdata.PolicyDoc): its 10,010 groups, and 10,000 rules in 100
// policies. The group at changed, if any, also holds one more address.
// It returns the document and the group paths, sorted.
func scaleDoc(b *testing.B, s benchdata.Scale, changed string) ([]byte, []string) {
	doc := s.PolicyDoc(0)
	found := changed == ""
	for _, c := range doc.Children[0].Object.(*model.Domain).Children {
		if g, ok := c.Object.(*model.Group); ok && changed != "" && strings.HasSuffix(changed, "/groups/"+g.ID) {
			g.Expression = append(g.Expression, &model.ConjunctionOperator{ConjunctionOperator: model.ConjOr},
				&model.IPAddressExpression{IPAddresses: []string{"198.51.100.99"}})
			found = true
		}
	}
	if !found {
		b.Fatalf("no group %s in the scale's document", changed)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		b.Fatal(err)
	}
	return body, model.Paths(s.Groups())
}

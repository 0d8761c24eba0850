package serve

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/apiserver"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/store"
)

// testInstallation is a manager behind kordon's handler (API and console).
type testInstallation struct {
	m     *manager.Manager
	h     http.Handler
	admin string
}

func newInstallation(tb testing.TB) *testInstallation {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, store.Options{DataDir: tb.TempDir(), UnsafeNoFsync: true})
	if err != nil {
		tb.Fatal(err)
	}
	ring := pki.KeyringForTest()
	boot, err := manager.Initialize(ctx, st, time.Now(), ring)
	if err != nil {
		tb.Fatal(err)
	}
	m := manager.New(manager.Options{Store: st, Seal: ring})
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done; st.Close() })
	for !m.Ready() {
		time.Sleep(5 * time.Millisecond)
	}
	return &testInstallation{m: m, h: Handler(apiserver.New(apiserver.Options{Manager: m, MaxBody: 512 << 20}), nil), admin: boot.AdminToken}
}

// do serves one request; a cookie value signs it in as a session, a
// token as a bearer.
func (in *testInstallation) do(method, path, body, session, token string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if session != "" {
		req.AddCookie(&http.Cookie{Name: "JSESSIONID", Value: session})
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	in.h.ServeHTTP(w, req)
	return w
}

func (in *testInstallation) session(t *testing.T, token string) string {
	t.Helper()
	s, _, err := in.m.CreateSession(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConsoleRouting: who gets which answer, before any page renders.
func TestConsoleRouting(t *testing.T) {
	in := newInstallation(t)
	sess := in.session(t, in.admin)
	for _, tt := range []struct {
		name, path, session string
		hdr                 map[string]string
		status              int
		location, body      string
	}{
		{"no session: to the sign-in page, back here after", "/ui/dfw?page=2", "", nil, 303, "/ui/signin?next=%2Fui%2Fdfw%3Fpage%3D2", ""},
		{"a live refresh without a session", "/ui/dfw", "", map[string]string{"X-Kordon-Fragment": "1"}, 401, "", ""},
		{"an ended session", "/", "kds_ended", nil, 303, "/ui/signin?next=%2F", ""},
		{"the sign-in page needs no session", "/ui/signin?next=//evil.example/", "", nil, 200, "", `data-next="/"`},
		{"the overview", "/", sess, nil, 200, "", "<h1>Overview</h1>"},
		{"a fragment is the main part only", "/ui/groups", sess, map[string]string{"X-Kordon-Fragment": "1"}, 200, "", "<h1>Groups"},
		{"an unknown console page", "/ui/nothing", sess, nil, 404, "", "no console page at /ui/nothing"},
		{"the API is the API", "/policy/api/v1/infra/domains", sess, nil, 200, "", `"results"`},
		{"an asset", "/ui/static/console.js", "", nil, 200, "", "use strict"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := in.do("GET", tt.path, "", tt.session, "", tt.hdr)
			if w.Code != tt.status || w.Header().Get("Location") != tt.location || !strings.Contains(w.Body.String(), tt.body) {
				t.Fatalf("%d %q:\n%s", w.Code, w.Header().Get("Location"), w.Body.String()[:min(600, w.Body.Len())])
			}
			if strings.HasPrefix(tt.path, "/ui") || tt.path == "/" {
				if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
					t.Errorf("CSP %q", csp)
				}
			}
			if strings.Contains(tt.name, "fragment") && strings.Contains(w.Body.String(), "<html") {
				t.Error("a fragment holds the whole page")
			}
		})
	}
}

// TestConsoleHostileText: text a document or a cluster sets is shown as
// text on every page that shows it, never as markup or script, including
// inside the editor's JSON data.
func TestConsoleHostileText(t *testing.T) {
	in := newInstallation(t)
	evil := `<img src=x onerror=alert(1)></script><script>alert(2)</script>`
	body := `{"display_name": ` + jsonString(evil) + `, "description": ` + jsonString(evil) + `,
		"tags": [{"scope": "s", "tag": ` + jsonString(evil) + `}],
		"expression": [{"resource_type": "Condition", "member_type": "VirtualMachine", "key": "Name", "operator": "EQUALS", "value": ` + jsonString(evil) + `}]}`
	if w := in.do("PATCH", "/policy/api/v1/infra/domains/default/groups/evil", body, "", in.admin, nil); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	sess := in.session(t, in.admin)
	for _, path := range []string{"/ui/groups", "/ui/group?id=evil", "/ui/group/edit?id=evil", "/ui/groups?q=" + "%3Cimg"} {
		w := in.do("GET", path, "", sess, "", nil)
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body.String())
		}
		out := w.Body.String()
		for _, bad := range []string{"<img src=x", "<script>alert", "</script><script>"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s renders %q as markup", path, bad)
			}
		}
		if !strings.Contains(out, "&lt;img src=x") && !strings.Contains(out, `\u003cimg src=x`) {
			t.Errorf("%s does not show the text at all", path)
		}
	}
}

// TestConsoleRoles: a reader's and a project's pages offer no control
// they may not use; the API refuses them anyway (TestSession* in
// apiserver).
func TestConsoleRoles(t *testing.T) {
	in := newInstallation(t)
	ctx := context.Background()
	if w := in.do("PUT", "/policy/api/v1/orgs/default/projects/dev", `{}`, "", in.admin, nil); w.Code != 200 {
		t.Fatal(w.Body.String())
	}
	reader, _, err := in.m.CreateToken(ctx, manager.TokenRequest{ID: "r", Role: access.Reader})
	if err != nil {
		t.Fatal(err)
	}
	dev, _, err := in.m.CreateToken(ctx, manager.TokenRequest{ID: "d", Role: access.ProjectReader, Project: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	admin := in.session(t, in.admin)
	if w := in.do("GET", "/ui/groups", "", admin, "", nil); !strings.Contains(w.Body.String(), "New group") {
		t.Fatal("an admin is not offered a new group")
	}
	r := in.session(t, reader)
	if w := in.do("GET", "/ui/groups", "", r, "", nil); w.Code != 200 || strings.Contains(w.Body.String(), "New group") {
		t.Fatalf("a reader: %d, offered a new group: %v", w.Code, strings.Contains(w.Body.String(), "New group"))
	}
	d := in.session(t, dev)
	w := in.do("GET", "/ui/groups", "", d, "", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "Groups of project dev") || strings.Contains(w.Body.String(), "New group") || strings.Contains(w.Body.String(), `href="/ui/inventory"`) {
		t.Fatalf("a project reader's groups page: %d\n%s", w.Code, w.Body.String())
	}
	if w := in.do("GET", "/ui/dfw?project=other", "", d, "", nil); w.Code != 403 && w.Code != 404 {
		t.Fatalf("another project's firewall: %d", w.Code)
	}
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// TestConsoleAttackTraceFromAnotherSite: the trace page runs a POST of
// the API on the browser's behalf, with the session's CSRF token. A page
// of a sibling site (same-site: its requests carry SameSite=Strict
// cookies) that links or redirects to /ui/trace?... must not get, through
// the console, the POST the API refuses it directly.
func TestConsoleAttackTraceFromAnotherSite(t *testing.T) {
	in := newInstallation(t)
	sess := in.session(t, in.admin)
	const path = "/ui/trace?mode=out&from_pod=c1/default/web&to=10.0.0.1&protocol=TCP&port=80"
	direct := in.do("POST", "/policy/api/v1/kordon/trace", `{"from_pod":"c1/default/web","to":"10.0.0.1"}`, sess, "",
		map[string]string{"Sec-Fetch-Site": "same-site", "X-XSRF-TOKEN": "x"})
	if direct.Code != http.StatusForbidden {
		t.Fatalf("the API itself: %d %s", direct.Code, direct.Body.String())
	}
	ran := in.do("GET", path, "", sess, "", map[string]string{"Sec-Fetch-Site": "same-origin"})
	if ran.Code != 200 || strings.Contains(ran.Body.String(), "another site") {
		t.Fatalf("the console's own form: %d\n%s", ran.Code, ran.Body.String())
	}
	for _, site := range []string{"same-site", "cross-site"} {
		w := in.do("GET", path, "", sess, "", map[string]string{"Sec-Fetch-Site": site})
		if !strings.Contains(w.Body.String(), "another site") {
			t.Errorf("%s: the trace ran for another site's page: %d\n%s", site, w.Code, w.Body.String())
		}
	}
}

// TestConsoleAttackSigninFormMethod: the sign-in form is submitted by the
// page's script; before the script runs (it is deferred), or where it is
// blocked, the browser submits the form itself. A form without a method
// is a GET of the page with the API token in the query: in the address
// bar, the history, and every log and proxy on the way.
func TestConsoleAttackSigninFormMethod(t *testing.T) {
	in := newInstallation(t)
	w := in.do("GET", "/ui/signin", "", "", "", nil)
	out := w.Body.String()
	i := strings.Index(out, `<form id="signin-form"`)
	if i < 0 {
		t.Fatalf("no sign-in form:\n%s", out)
	}
	form := out[i : i+strings.Index(out[i:], ">")]
	if !strings.Contains(form, `method="post"`) || !strings.Contains(form, `action="/api/session/create"`) {
		t.Fatalf("the sign-in form, submitted without its script, sends the token in a URL: %s", form)
	}
}

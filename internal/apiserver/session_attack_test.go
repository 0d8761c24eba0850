package apiserver

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kordon-dev/kordon/internal/access"
)

// TestSessionAttackBasicCrossSite: a browser that was given the token in
// its Basic dialog (the challenge navigations still get) attaches it by
// itself, like a cookie, to a form another site posts. A text/plain form
// can carry a JSON body: without a check of where the request comes
// from, a cross-site page creates an admin token or rotates a cluster's
// credentials with the victim's authority.
func TestSessionAttackBasicCrossSite(t *testing.T) {
	a := newAPI(t, 0)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+a.admin))
	body := `{"id":"planted","role":"admin","description":"="}` // what a text/plain form sends
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "https://evil.example"},
		{"Origin": "null"},
	} {
		hdr["Authorization"] = basic
		hdr["Content-Type"] = "text/plain"
		code, _, out := a.raw("POST", "/policy/api/v1/kordon/tokens", body, hdr, nil)
		if code != http.StatusForbidden {
			t.Errorf("%v: %d %s; want 403", hdr, code, out)
		}
	}
	if code, out := a.do(a.admin, "GET", "/policy/api/v1/kordon/tokens/planted", ""); code != 404 {
		t.Fatalf("a cross-site form created a token: %d %s", code, out)
	}
	// Clients that are not browsers send neither header and are served.
	code, _, out := a.raw("POST", "/policy/api/v1/kordon/tokens", body, map[string]string{"Authorization": basic}, nil)
	if code != 200 || !strings.Contains(out, `"planted"`) {
		t.Fatalf("a plain client: %d %s", code, out)
	}
}

// TestSessionAttackCookieTossing: a sibling site (evil.example.com next to
// kordon.example.com) cannot read kordon's cookie, but it can set one of
// the same name for the parent domain, or for a longer path, which the
// browser then sends before kordon's own. The request must not be taken
// as the session the attacker planted: the victim would act, and see
// pages, as the attacker's principal without knowing it.
func TestSessionAttackCookieTossing(t *testing.T) {
	a := newAPI(t, 0)
	attacker, _ := a.signIn(a.token("attacker", access.Reader, ""))
	victim, _ := a.signIn(a.admin)
	req, _ := http.NewRequest("GET", a.srv.URL+"/policy/api/v1/kordon/session", nil)
	req.Header.Set("Cookie", sessionCookie+"="+attacker.Value+"; "+sessionCookie+"="+victim.Value)
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), "more than one") {
		t.Fatalf("two session cookies: %d %s; want 401", resp.StatusCode, b)
	}
	// One cookie, sent twice alike, is one session.
	req.Header.Set("Cookie", sessionCookie+"="+victim.Value+"; "+sessionCookie+"="+victim.Value)
	resp2, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 200 {
		t.Fatalf("the same cookie twice: %d", resp2.StatusCode)
	}
}

// TestSessionAttackCookieTossingSignIn: a sign-in with two session
// cookies says why it cannot help, rather than giving a third cookie the
// browser would send after the planted one.
func TestSessionAttackCookieTossingSignIn(t *testing.T) {
	a := newAPI(t, 0)
	code, hdr, body := a.raw("POST", "/api/session/create", "j_password="+a.admin,
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": sessionCookie + "=kds_a; " + sessionCookie + "=kds_b"}, nil)
	if code != 400 || !strings.Contains(body, "more than one") || hdr.Get("Set-Cookie") != "" {
		t.Fatalf("%d %s", code, body)
	}
}

// TestSessionAttackWatchPreviousTenant: a project deleted and created
// again under the same id is another tenant. Its principals' watch,
// resumed from an old revision, must not replay what the previous
// project of that id held (its objects' names, its groups' members).
func TestSessionAttackWatchPreviousTenant(t *testing.T) {
	a := newAPI(t, 0)
	since := a.m.Revision()
	a.expect("PUT", projectV1Path("dev"), `{}`, 200)
	old := projectV1Path("dev") + "/infra/domains/default/groups/previous-tenant"
	a.expect("PATCH", old, ipGrp, 200)
	a.expect("DELETE", old, "", 200)
	a.expect("DELETE", projectV1Path("dev"), "", 200)
	a.expect("PUT", projectV1Path("dev"), `{}`, 200)
	tk := a.token("new-dev", access.ProjectReader, "dev")
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/policy/api/v1/kordon/watch?since=%d", a.srv.URL, since), nil)
	req.Header.Set("Authorization", "Bearer "+tk)
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("watch: %d", resp.StatusCode)
	}
	a.expect("PATCH", projectV1Path("dev")+"/infra/domains/default/groups/mine", ipGrp, 200)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, "previous-tenant") {
			t.Fatalf("the new project's reader saw the previous project's object: %s", l)
		}
		if strings.Contains(l, "/groups/mine") {
			return
		}
	}
	t.Fatal("the stream ended before the new project's own group")
}

// TestSessionAttackBasicDialogForAnotherSite: another site's page that
// frames (or links to) an API URL must not make the browser open its
// Basic password dialog for kordon: the token typed there becomes a
// credential the browser sends by itself from then on.
func TestSessionAttackBasicDialogForAnotherSite(t *testing.T) {
	a := newAPI(t, 0)
	for _, tt := range []struct {
		dest, site string
		basic      bool
	}{
		{"document", "", true},
		{"document", "none", true},
		{"document", "same-origin", true},
		{"", "", true}, // a client that is not a browser
		{"iframe", "cross-site", false},
		{"document", "cross-site", false},
		{"document", "same-site", false},
		{"empty", "same-origin", false},
	} {
		hdr := map[string]string{}
		if tt.dest != "" {
			hdr["Sec-Fetch-Dest"] = tt.dest
		}
		if tt.site != "" {
			hdr["Sec-Fetch-Site"] = tt.site
		}
		code, h, _ := a.raw("GET", groups, "", hdr, nil)
		got := strings.Contains(strings.Join(h.Values("WWW-Authenticate"), " "), "Basic")
		if code != 401 || got != tt.basic {
			t.Errorf("dest %q site %q: %d, Basic challenge %v; want %v", tt.dest, tt.site, code, got, tt.basic)
		}
	}
}

package apiserver

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/access"
)

// signIn posts NSX's session login with token as j_password and returns
// the session cookie and CSRF token it was given.
func (a *api) signIn(token string) (*http.Cookie, string) {
	a.t.Helper()
	code, hdr, body := a.raw("POST", "/api/session/create", "j_username=admin&j_password="+url.QueryEscape(token),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, nil)
	if code != 200 {
		a.t.Fatalf("sign-in: %d %s", code, body)
	}
	resp := http.Response{Header: hdr}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			return c, hdr.Get(csrfHeader)
		}
	}
	a.t.Fatalf("sign-in set no %s cookie: %v", sessionCookie, hdr)
	return nil, ""
}

// raw sends a request with the headers and cookie given, nothing else.
func (a *api) raw(method, path, body string, headers map[string]string, c *http.Cookie) (int, http.Header, string) {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if c != nil {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestSessionLogin: NSX's form login gives a cookie a browser keeps to
// itself (HttpOnly, Secure, SameSite=Strict) and a CSRF token; the cookie
// reads like the token, and changes need the CSRF token besides.
func TestSessionLogin(t *testing.T) {
	a := newAPI(t, 0)
	c, csrf := a.signIn(a.admin)
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
		t.Errorf("cookie attributes: %+v", c)
	}
	if !strings.HasPrefix(c.Value, "kds_") || csrf == "" || csrf == c.Value {
		t.Errorf("secret %q, csrf %q", c.Value, csrf)
	}
	if time.Until(c.Expires) > 8*time.Hour+time.Minute || time.Until(c.Expires) < 7*time.Hour {
		t.Errorf("cookie expires %s", c.Expires)
	}
	code, _, body := a.raw("GET", "/policy/api/v1/kordon/session", "", nil, c)
	if code != 200 || !strings.Contains(body, `"principal": "token:admin"`) || !strings.Contains(body, `"csrf_token": "`+csrf+`"`) {
		t.Fatalf("session: %d %s", code, body)
	}
	path := groups + "/s"
	for _, tt := range []struct {
		name    string
		headers map[string]string
		status  int
		want    string
	}{
		{"no CSRF token", nil, 403, "must send the session's CSRF token"},
		{"another session's CSRF token", map[string]string{csrfHeader: csrfToken("kds_other")}, 403, "not this session's CSRF token"},
		{"another origin", map[string]string{csrfHeader: csrf, "Origin": "https://evil.example"}, 403, "another origin"},
		{"another site", map[string]string{csrfHeader: csrf, "Sec-Fetch-Site": "cross-site"}, 403, "another site"},
		{"same site, another origin", map[string]string{csrfHeader: csrf, "Sec-Fetch-Site": "same-site"}, 403, "another site"},
		{"the CSRF token", map[string]string{csrfHeader: csrf, "Sec-Fetch-Site": "same-origin"}, 200, `"id": "s"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := a.raw("PATCH", path, ipGrp, tt.headers, c)
			if code != tt.status || !strings.Contains(body, tt.want) {
				t.Fatalf("%d %s; want %d with %q", code, body, tt.status, tt.want)
			}
		})
	}
	// Reads need no CSRF token.
	if code, _, body := a.raw("GET", path, "", nil, c); code != 200 {
		t.Fatalf("read: %d %s", code, body)
	}
	// A bearer token wins over the cookie: it is what the request says.
	if code, _, body := a.raw("PATCH", path, ipGrp, map[string]string{"Authorization": "Bearer " + a.reader}, c); code != 403 || !strings.Contains(body, "reader role may only read") {
		t.Fatalf("bearer with a cookie: %d %s", code, body)
	}
	// Sign-out ends the session on the server, not just in the browser.
	code, hdr, body := a.raw("POST", "/api/session/destroy", "", map[string]string{csrfHeader: csrf}, c)
	if code != 200 || !strings.Contains(hdr.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("sign-out: %d %v %s", code, hdr, body)
	}
	if code, _, body := a.raw("GET", path, "", nil, c); code != 401 || !strings.Contains(body, "the session has ended") {
		t.Fatalf("after sign-out: %d %s", code, body)
	}
}

// TestSessionRefusals: what a sign-in refuses, and what a session can
// never do that its token could not.
func TestSessionRefusals(t *testing.T) {
	a := newAPI(t, 0)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for _, tt := range []struct {
		name, body string
		headers    map[string]string
		status     int
		want       string
	}{
		{"a wrong token", "j_password=kdn_wrong", form, 403, "not valid"},
		{"no token", "j_username=admin", form, 400, "j_password"},
		{"JSON", `{"j_password":"x"}`, map[string]string{"Content-Type": "application/json"}, 415, "form"},
		{"from another site", "j_password=" + url.QueryEscape(a.admin), map[string]string{"Content-Type": form["Content-Type"], "Origin": "https://evil.example"}, 403, "another origin"},
		{"too large", "j_password=" + strings.Repeat("a", smallBody), form, 413, "too large"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, hdr, body := a.raw("POST", "/api/session/create", tt.body, tt.headers, nil)
			if code != tt.status || !strings.Contains(body, tt.want) || hdr.Get("Set-Cookie") != "" {
				t.Fatalf("%d %s (cookie %q); want %d with %q", code, body, hdr.Get("Set-Cookie"), tt.status, tt.want)
			}
		})
	}
	t.Run("a reader's session cannot write", func(t *testing.T) {
		c, csrf := a.signIn(a.reader)
		code, _, body := a.raw("PATCH", groups+"/r", ipGrp, map[string]string{csrfHeader: csrf}, c)
		if code != 403 || !strings.Contains(body, "may only read") {
			t.Fatalf("%d %s", code, body)
		}
		code, _, body = a.raw("GET", "/policy/api/v1/kordon/tokens", "", nil, c)
		if code != 403 {
			t.Fatalf("tokens: %d %s", code, body)
		}
	})
	t.Run("a revoked token's sessions end with it", func(t *testing.T) {
		tk := a.token("ops", access.Admin, "")
		c, _ := a.signIn(tk)
		a.expect("DELETE", "/policy/api/v1/kordon/tokens/ops", "", 200)
		if code, _, body := a.raw("GET", groups, "", nil, c); code != 401 {
			t.Fatalf("%d %s", code, body)
		}
	})
	t.Run("a made-up cookie is no session", func(t *testing.T) {
		for _, v := range []string{"kds_made-up", a.admin, "x"} {
			if code, _, body := a.raw("GET", groups, "", nil, &http.Cookie{Name: sessionCookie, Value: v}); code != 401 {
				t.Fatalf("%q: %d %s", v, code, body)
			}
		}
	})
	t.Run("one token signs in a bounded number of times a minute", func(t *testing.T) {
		// Past the bound a sign-in is refused, not stored; later it
		// ends the oldest session (manager's TestSessionAttackSignInLoop).
		tk := a.token("many", access.Reader, "")
		first, _ := a.signIn(tk)
		for range maxSessionsForTest - 1 {
			a.signIn(tk)
		}
		code, hdr, body := a.raw("POST", "/api/session/create", "j_password="+url.QueryEscape(tk),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, nil)
		if code != http.StatusTooManyRequests || hdr.Get("Set-Cookie") != "" {
			t.Fatalf("sign-in %d within a minute: %d %s", maxSessionsForTest+1, code, body)
		}
		if code, _, _ := a.raw("GET", groups, "", nil, first); code != 200 {
			t.Fatalf("a refused sign-in ended the oldest session: %d", code)
		}
	})
}

// maxSessionsForTest is the manager's limit of sessions per token.
const maxSessionsForTest = 16

// TestSessionWatchConfined: a project's principal may follow the watch
// stream, and sees its own space only.
func TestSessionWatchConfined(t *testing.T) {
	a := newAPI(t, 0)
	a.expect("PUT", projectV1Path("dev"), `{}`, 200)
	a.expect("PUT", projectV1Path("ops"), `{}`, 200)
	c, _ := a.signIn(a.token("dev-reader", access.ProjectReader, "dev"))
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/policy/api/v1/kordon/watch?since=%d", a.srv.URL, a.m.Revision()), nil)
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("watch: %d", resp.StatusCode)
	}
	a.expect("PATCH", groups+"/default-space", ipGrp, 200)
	a.expect("PATCH", projectV1Path("ops")+"/infra/domains/default/groups/theirs", ipGrp, 200)
	a.expect("PATCH", projectV1Path("dev")+"/infra/domains/default/groups/ours", ipGrp, 200)
	sc := bufio.NewScanner(resp.Body)
	var seen []string
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, `"type":"start"`) || strings.Contains(l, `"type":"heartbeat"`) {
			continue
		}
		seen = append(seen, l)
		if strings.Contains(l, "/groups/ours") {
			break
		}
	}
	for _, l := range seen {
		if !strings.Contains(l, `"path":"/orgs/default/projects/dev/`) {
			t.Errorf("a dev reader saw %s", l)
		}
	}
	if len(seen) == 0 {
		t.Fatal("the dev reader saw nothing of its own group")
	}
}

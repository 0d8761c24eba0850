package apiserver

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/manager"
)

// TestClientsThatDoNotReadStarveNoOne: the heavy-read limiter has one slot
// per CPU in all and half of them per principal, so two principals could
// take every slot. A slot bounds computing an answer, not sending it: a
// tenant whose project-admin and project-reader tokens ask for exports and
// never read them holds no slot the provider's heavy reads (or /metrics)
// wait for.
func TestClientsThatDoNotReadStarveNoOne(t *testing.T) {
	a := newAPI(t, 0)
	a.expect("PUT", projectsV1+"/ta", `{}`, 200)
	tok := func(id string, role access.Role) string {
		tk, _, err := a.m.CreateToken(t.Context(), manager.TokenRequest{ID: id, Role: role, Project: "ta"})
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	padmin, preader := tok("ta-admin", access.ProjectAdmin), tok("ta-reader", access.ProjectReader)
	// The tenant fills its own space: an export of some megabytes.
	var b strings.Builder
	b.WriteString(`{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","Domain":{"id":"default","resource_type":"Domain","children":[`)
	for i := range 6000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"resource_type":"ChildGroup","Group":{"id":"g%d","description":"%s","expression":[{"resource_type":"IPAddressExpression","ip_addresses":["10.0.0.1"]}]}}`, i, strings.Repeat("d", 1000))
	}
	b.WriteString(`]}}]}`)
	if code, out := a.do(padmin, "PATCH", projectV1Path("ta")+"/infra", b.String()); code != 200 {
		t.Fatalf("patch: %d %.300s", code, out)
	}
	// Two connections that ask for the export and never read the answer.
	addr := strings.TrimPrefix(a.srv.URL, "https://")
	for _, token := range []string{padmin, preader} {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		raw.(*net.TCPConn).SetReadBuffer(4096)
		c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
		defer c.Close()
		fmt.Fprintf(c, "GET %s/infra HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", projectV1Path("ta"), token)
		br := bufio.NewReader(c)
		if _, err := br.Peek(1); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	// The provider's administrator.
	start := time.Now()
	code, out := a.do(a.admin, "GET", "/policy/api/v1/infra/domains/default/groups", "")
	t.Logf("admin's list after %s: %d %.120s", time.Since(start).Round(time.Millisecond), code, out)
	if code != http.StatusOK {
		t.Errorf("two project tokens of one tenant starve the admin's heavy reads: %d after %s", code, time.Since(start).Round(time.Second))
	}
	code, _ = a.do(a.reader, "GET", "/metrics", "")
	if code != http.StatusOK {
		t.Errorf("and /metrics: %d", code)
	}
}

func projectV1Path(p string) string { return projectsV1 + "/" + p }

// TestProjectCannotProbeProviderTier0s: a project's tier-1 may connect
// only to a tier-0 granted to the project, and is refused alike whether
// an ungranted tier-0 exists or not: no oracle on the provider's space,
// and no way to keep the provider from deleting its own tier-0.
func TestProjectCannotProbeProviderTier0s(t *testing.T) {
	a := newAPI(t, 0)
	a.expect("PUT", projectsV1+"/ta", `{}`, 200)
	padmin, _, err := a.m.CreateToken(t.Context(), manager.TokenRequest{ID: "ta-admin", Role: access.ProjectAdmin, Project: "ta"})
	if err != nil {
		t.Fatal(err)
	}
	a.expect("PATCH", "/policy/api/v1/infra/tier-0s/provider-t0", `{}`, 200)
	probe := func(id string) int {
		code, _ := a.do(padmin, "PATCH", projectV1Path("ta")+"/infra/tier-1s/probe-"+id, `{"tier0_path":"/infra/tier-0s/`+id+`"}`)
		return code
	}
	exists, missing := probe("provider-t0"), probe("nope")
	t.Logf("tier0_path to an existing provider tier-0: %d; to a missing one: %d", exists, missing)
	if exists != missing {
		t.Errorf("a project admin tells the provider's tier-0s from missing ones (%d vs %d)", exists, missing)
	}
	code, out := a.do(a.admin, "DELETE", "/policy/api/v1/infra/tier-0s/provider-t0", "")
	if code != 200 {
		t.Errorf("the provider cannot delete its own tier-0 because of a project's tier-1: %d %.200s", code, out)
	}
}

// TestWatchEndsWhenTokenIsRevoked: a watch stream opened with a token
// receives no change made after the token is revoked; the stream ends.
func TestWatchEndsWhenTokenIsRevoked(t *testing.T) {
	a := newAPI(t, 0)
	req, _ := http.NewRequest("GET", a.srv.URL+"/policy/api/v1/kordon/watch", nil)
	req.Header.Set("Authorization", "Bearer "+a.reader)
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	<-lines // start
	a.expect("DELETE", "/policy/api/v1/kordon/tokens/reader", "", 200)
	if code, _ := a.do(a.reader, "GET", "/policy/api/v1/kordon/status", ""); code != 401 {
		t.Fatalf("the revoked token still authenticates new requests: %d", code)
	}
	a.expect("PATCH", groups+"/after-revocation", ipGrp, 200)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return // the stream ended: the revocation held
			}
			if strings.Contains(l, "after-revocation") {
				t.Errorf("the watch of a revoked token still streams changes: %.200s", l)
				return
			}
		case <-deadline:
			return
		}
	}
}

package apiserver

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/manager"
)

// TestWatchEndsWhenTokenExpires: a watch stream whose token expires ends
// within a re-check or two, with nothing to send (no heartbeat is due for
// 15 s), and its token opens no new one.
func TestWatchEndsWhenTokenExpires(t *testing.T) {
	a := newAPI(t, 0)
	expires := time.Now().Add(1500 * time.Millisecond)
	tok, _, err := a.m.CreateToken(t.Context(), manager.TokenRequest{ID: "brief", Role: access.Reader, Expires: expires})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", a.srv.URL+"/policy/api/v1/kordon/watch", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("watch: %d", resp.StatusCode)
	}
	ended := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
		}
		close(ended)
	}()
	select {
	case <-ended:
		if time.Now().Before(expires) {
			t.Fatal("the stream ended before its token expired")
		}
	case <-time.After(time.Until(expires) + 2*recheckEvery + 2*time.Second):
		t.Fatal("the watch of an expired token still runs")
	}
	if code, _ := a.do(tok, "GET", "/policy/api/v1/kordon/watch", ""); code != http.StatusUnauthorized {
		t.Errorf("an expired token opened a watch: %d", code)
	}
}

// TestSpanPollEndsWhenIdentityIsReplaced: an agent's span long poll,
// waiting for a change, is refused (401) within a re-check or two of the
// agent's certificate being replaced, not at the end of its wait.
func TestSpanPollEndsWhenIdentityIsReplaced(t *testing.T) {
	a := newMTLSAPI(t)
	a.expect("PATCH", "/policy/api/v1/infra", agentPolicy, 200)
	b := a.registerAgent("edge-1", "gateway", "/infra/tier-1s/t1")
	c := a.as(b)
	base := a.srv.URL + agentsPath + "/edge-1/"
	_, first := spanOf(t, c, base+"span")
	type answer struct {
		code int
		body string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := c.Get(base + "span?wait=60&digest=" + first.Span.Digest)
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		got <- answer{resp.StatusCode, string(body), err}
	}()
	time.Sleep(300 * time.Millisecond)
	a.expect("POST", agentsPath+"/edge-1/rotate", "", 200)
	rotated := time.Now()
	select {
	case ans := <-got:
		if ans.err != nil {
			t.Fatal(ans.err)
		}
		if ans.code != http.StatusUnauthorized || !strings.Contains(ans.body, "replaced") {
			t.Errorf("the long poll of a replaced certificate: %d %s", ans.code, ans.body)
		}
		t.Logf("refused %s after the rotation: %.200s", time.Since(rotated).Round(time.Millisecond), ans.body)
	case <-time.After(2*recheckEvery + 3*time.Second):
		t.Fatal("the long poll of a replaced certificate still waits")
	}
}

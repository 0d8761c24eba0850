package cli

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/apiserver"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/realization"
	"github.com/kordon-dev/kordon/internal/store"
	"github.com/kordon-dev/kordon/internal/wire"
)

// TestAgentCannotForgeAgentList: an agent's report error may hold line
// breaks and carriage returns (the manager keeps multi-line errors); the
// agent table prints it on one line with them escaped, so a compromised
// agent cannot forge rows (here, a row for an agent that does not exist)
// or, on a terminal, overwrite its own state with "\r".
func TestAgentCannotForgeAgentList(t *testing.T) {
	ctx, m, srvURL, adminToken := liveManager(t)
	if _, _, err := m.RegisterAgent(ctx, manager.AgentSpec{Name: "evil", Role: realization.RoleVM}); err != nil {
		t.Fatal(err)
	}
	forged := "nft: syntax error\r\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\n" +
		"db-1   vm   [172.16.10.5]   SUCCESS   9   18   40"
	if err := m.RecordAgentReport(ctx, "evil", wire.AgentReport{State: "error", Error: forged, Interval: 10 * time.Second}); err != nil {
		t.Fatalf("the manager refused the report: %v", err)
	}
	out, errOut, code := run(t, "--server", srvURL, "--token", adminToken, "--insecure-skip-verify", "agent", "list")
	if code != 0 {
		t.Fatalf("agent list: %d %s", code, errOut)
	}
	t.Logf("agent list prints:\n%s", out)
	if strings.Contains(out, "\r") || strings.Contains(out, "\ndb-1 ") {
		t.Errorf("an agent's report forges the agent table (a carriage return, and a row for an agent db-1 that is not registered)")
	}
}

// liveManager serves a manager on an embedded store over TLS for the
// CLI to talk to, with reports stored as often as they come.
func liveManager(t *testing.T) (context.Context, *manager.Manager, string, string) {
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
	m := manager.New(manager.Options{Store: st, Seal: ring, ReportGap: time.Nanosecond})
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	<-m.ReadyC()
	srv := httptest.NewTLSServer(apiserver.New(apiserver.Options{Manager: m}))
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		st.Close()
	})
	return ctx, m, srv.URL, boot.AdminToken
}

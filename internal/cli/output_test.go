package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/client"
	"github.com/kordon-dev/kordon/internal/cmdutil"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/realization"
	"github.com/kordon-dev/kordon/internal/wire"
)

// TestClusterStatusOneLine: an adapter's heartbeat error over lines, and
// its versions and API names, print as one line each.
func TestClusterStatusOneLine(t *testing.T) {
	var b bytes.Buffer
	now := time.Now()
	printClusterStatus(&b, manager.ClusterStatus{
		Cluster: manager.Cluster{Name: "east", Source: "adapter"},
		State:   "Down", Since: now, Reason: "down: boom\r\nkubernetes   v1.99 (forged)",
		Heartbeat: &wire.Heartbeat{Kubernetes: "v1.31\n\x1b[31m", Adapter: "x\ty", APIs: map[string]string{"pods\nforged": "v1"}},
	}, now)
	out := b.String()
	t.Logf("\n%s", out)
	if strings.Contains(out, "\r") || strings.Contains(out, "\x1b") || strings.Contains(out, "\t") {
		t.Errorf("control characters printed raw:\n%q", out)
	}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.HasPrefix(l, "kubernetes") && strings.Contains(l, "forged") || strings.HasPrefix(l, "forged") {
			t.Errorf("a line forged by the adapter: %q", l)
		}
	}
}

// TestRemoteErrorOneLine: a manager's error keeps its related errors a
// line each, and nothing it quotes breaks a line or drives the terminal.
func TestRemoteErrorOneLine(t *testing.T) {
	ce := &client.Error{Status: 400, Message: "bad\nkordon: forged", Related: []string{"one\r", "two\x1b[0m"}}
	err := remoteErr(ce)
	want := "bad\\nkordon: forged:\n  one\\r\n  two\\u001b[0m"
	if err.Error() != want {
		t.Errorf("remoteErr = %q, want %q", err.Error(), want)
	}
	var got *client.Error
	if !errors.As(err, &got) || got != ce {
		t.Error("the manager's error is no longer reachable with errors.As")
	}
	if cmdutil.ExitCode(remoteErr(&client.Error{Status: 404, Message: "gone"})) != 3 {
		t.Error("a 404 no longer exits 3")
	}
	if e := failf(1, "reading %s", "dump\x1b]0;title\a"); e.Error() != `reading dump\u001b]0;title\u0007` {
		t.Errorf("failf = %q", e.Error())
	}
}

// TestAgentShowOneLine: agent show prints an agent's multi-line error on
// its state line, escaped; agent list cuts it; -o json keeps it exact.
func TestAgentShowOneLine(t *testing.T) {
	ctx, m, srvURL, adminToken := liveManager(t)
	if _, _, err := m.RegisterAgent(ctx, manager.AgentSpec{Name: "evil", Role: realization.RoleVM}); err != nil {
		t.Fatal(err)
	}
	report := "nft: error\r\nstate        SUCCESS\n" + strings.Repeat("x", 300)
	if err := m.RecordAgentReport(ctx, "evil", wire.AgentReport{State: "error", Error: report, Interval: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	conn := []string{"--server", srvURL, "--token", adminToken, "--insecure-skip-verify"}
	out, errOut, code := run(t, append(conn, "agent", "show", "evil")...)
	if code != 0 {
		t.Fatalf("agent show: %d %s", code, errOut)
	}
	if strings.Contains(out, "\r") || strings.Count(out, "\nstate ") != 1 || !strings.Contains(out, `nft: error\r\nstate        SUCCESS\n`+strings.Repeat("x", 300)) {
		t.Errorf("agent show:\n%s", out)
	}
	out, _, _ = run(t, append(conn, "agent", "list")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[1], "…") || strings.Contains(out, strings.Repeat("x", 200)) {
		t.Errorf("agent list does not cut a long reason to one line:\n%s", out)
	}
	out, _, _ = run(t, append(conn, "agent", "show", "evil", "-o", "json")...)
	if !strings.Contains(out, `nft: error\r\nstate        SUCCESS\n`) {
		t.Errorf("-o json changed the report:\n%s", out)
	}
}

// TestPrintApplyLarge: the text of a large apply names at most
// maxChangeLines objects, maxGroupDeltas groups and maxDeltaLines
// addresses a group, and says how many more there are; -o json keeps all.
func TestPrintApplyLarge(t *testing.T) {
	var res applyResult
	res.DryRun, res.Revision = true, 7
	for i := range maxChangeLines + 30 {
		kind := model.KindGroup
		if i%3 == 0 {
			kind = model.KindRule
		}
		res.Changes = append(res.Changes, model.Change{Op: model.OpUpsert, Kind: kind, Path: fmt.Sprintf("/infra/x/%d", i)})
	}
	res.Groups = make([]groupDeltaJSON, maxGroupDeltas+5)
	for i := range res.Groups {
		res.Groups[i].Path = fmt.Sprintf("/infra/domains/default/groups/g%d", i)
	}
	for i := range maxDeltaLines + 3 {
		res.Groups[0].Delta.AddedAddresses = append(res.Groups[0].Delta.AddedAddresses, fmt.Sprintf("10.0.0.%d", i))
	}
	var b strings.Builder
	if err := printApply(&b, "", res); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"would apply (dry run; nothing changed) 530 changes at revision 7",
		"  ... and 30 more changes: 20 upsert Group, 10 upsert Rule (-o json lists them all)",
		"  members of /infra/domains/default/groups/g0: +0/-0 objects, +13/-0 addresses",
		"    + 10.0.0.9\n    ... 3 more (-o json lists them all)",
		"  ... and 5 more groups whose members change (-o json lists them all)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("%q not in the output", want)
		}
	}
	if n := strings.Count(out, "\n  upsert"); n != maxChangeLines {
		t.Errorf("%d object lines, want %d", n, maxChangeLines)
	}
	if strings.Contains(out, "10.0.0.10") || strings.Contains(out, "groups/g200:") {
		t.Error("more than the caps printed")
	}
}

package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/client"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/realization"
)

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "",
		"plain text, café ✓":      "plain text, café ✓",
		`C:\path`:                 `C:\path`,
		"a\nb\r\tc":               `a\nb\r\tc`,
		"\x1b[2Jclear":            `\u001b[2Jclear`,
		"del\x7f":                 `del\u007f`,
		"c1 \u009b31m":            `c1 \u009b31m`,
		"abc\u202edcba":           `abc\u202edcba`,
		"zero\u200bwidth\ufeff":   `zero\u200bwidth\ufeff`,
		"line\u2028para\u2029":    `line\u2028para\u2029`,
		"tag\U000e0041":           `tag\U000e0041`,
		"bad \xff\xc3 utf-8":      `bad \xff\xc3 utf-8`,
		"\ufffd is a real U+FFFD": "\ufffd is a real U+FFFD",
	} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tt := range []struct {
		in    string
		width int
		want  string
	}{
		{"abcd", 4, "abcd"},
		{"abcdef", 4, "abc…"},
		{"a\nbcdef", 4, `a\n…`},
		{"ab\x1b", 4, "ab…"},
		{"ab\x1b", 8, `ab\u001b`},
		{"ééééé", 3, "éé…"},
		{"anything", 0, "anything"},
	} {
		if got := oneLineMax(tt.in, tt.width); got != tt.want {
			t.Errorf("oneLineMax(%q, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
		}
	}
}

// TestClusterStatusOneLine: an adapter's heartbeat error over lines, and
// its versions and API names, print as one line each.
func TestClusterStatusOneLine(t *testing.T) {
	var b bytes.Buffer
	now := time.Now()
	printClusterStatus(&b, manager.ClusterStatus{
		Cluster: manager.Cluster{Name: "east", Source: "adapter"},
		State:   "Down", Since: now, Reason: "down: boom\r\nkubernetes   v1.99 (forged)",
		Heartbeat: &manager.Heartbeat{Kubernetes: "v1.31\n\x1b[31m", Adapter: "x\ty", APIs: map[string]string{"pods\nforged": "v1"}},
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
	if ExitCode(remoteErr(&client.Error{Status: 404, Message: "gone"})) != 3 {
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
	if err := m.RecordAgentReport(ctx, "evil", manager.AgentReport{State: "error", Error: report, Interval: 10 * time.Second}); err != nil {
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

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/client"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/manager"
)

// remote is a manager holding the example inventory (and, with policy,
// the example policy) for the CLI to talk to.
type remote struct {
	ctx   context.Context
	m     *manager.Manager
	url   string
	token string
	conn  []string
}

func newRemote(t *testing.T, policy bool) *remote {
	t.Helper()
	ctx, m, srvURL, token := liveManager(t)
	d, err := inventory.LoadDir(invDir)
	if err != nil {
		t.Fatal(err)
	}
	byCluster := map[string][]inventory.Object{}
	for _, o := range d.Objects {
		byCluster[o.GetMeta().Cluster] = append(byCluster[o.GetMeta().Cluster], o)
	}
	for _, c := range d.Clusters {
		if _, err := m.SyncCluster(ctx, manager.Cluster{Name: c, ID: c, Source: "test", Registered: time.Now()}, byCluster[c]); err != nil {
			t.Fatal(err)
		}
	}
	r := &remote{ctx: ctx, m: m, url: srvURL, token: token, conn: []string{"--server", srvURL, "--token", token, "--insecure-skip-verify"}}
	if policy {
		r.ok(t, "apply", "-f", policyFile)
	}
	return r
}

// run runs a command against the manager.
func (r *remote) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return run(t, append(append([]string{}, r.conn...), args...)...)
}

// ok runs a command that must succeed and returns its output.
func (r *remote) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := r.run(t, args...)
	if code != 0 {
		t.Fatalf("kordon %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func (r *remote) client(t *testing.T) *client.Client {
	c, err := client.New(client.Config{Server: r.url, Token: r.token, InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRemoteGolden: what apply, delete, get, project list and watch print
// against a manager, as a session; the manager's address is replaced.
func TestRemoteGolden(t *testing.T) {
	r := newRemote(t, false)
	var b strings.Builder
	for _, args := range [][]string{
		{"apply", "-f", policyFile},
		{"apply", "-f", policyFile, "--dry-run"},
		{"apply", "-f", "testdata/remote-change.yaml", "--dry-run"},
		{"apply", "-f", "testdata/remote-change.yaml"},
		{"delete", "group", "nope"},
		{"delete", "policy", "nope"},
		{"project", "create", "team-a", "--display-name", "Team A"},
		{"delete", "group", "nope", "--project", "team-a"},
		{"apply", "-f", "testdata/ip-group.yaml", "--project", "team-a"},
		{"delete", "group", "vms", "--project", "team-a"},
		{"delete", "policy", "vms-to-k8s"},
		{"get", "policies"},
		{"get", "GatewayPolicy", "k8s-to-vms"},
		{"project", "list"},
		{"watch", "--since", "1000000"},
		{"watch", "--types", "config,bogus"},
		{"watch", "-o", "xml"},
	} {
		out, errOut, code := r.run(t, args...)
		fmt.Fprintf(&b, "$ kordon %s\n%s%s", strings.Join(args, " "), out, errOut)
		if code != 0 {
			fmt.Fprintf(&b, "[exit %d]\n", code)
		}
		b.WriteString("\n")
	}
	golden(t, "remote-session", strings.ReplaceAll(b.String(), r.url, "https://MANAGER"))
}

// TestDeleteNothingChangesNothing: deleting what does not exist fails,
// names the object (in its project), and leaves the revision as it was.
func TestDeleteNothingChangesNothing(t *testing.T) {
	r := newRemote(t, true)
	r.ok(t, "project", "create", "team-a")
	before := r.m.Revision()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"delete", "group", "nope"}, "/infra/domains/default/groups/nope does not exist"},
		{[]string{"delete", "group", "nope", "--project", "team-a"}, "/orgs/default/projects/team-a/infra/domains/default/groups/nope does not exist"},
		{[]string{"delete", "policies", "nope"}, "neither /infra/domains/default/security-policies/nope nor /infra/domains/default/gateway-policies/nope exists"},
		{[]string{"delete", "/infra/domains/default/security-policies/vms-to-k8s/rules/nope"}, "does not exist"},
	} {
		out, errOut, code := r.run(t, tt.args...)
		if code != 3 || !strings.Contains(errOut, tt.want) || strings.Contains(out, "deleted") {
			t.Errorf("kordon %s: exit %d, %q%q; want exit 3 and %q", strings.Join(tt.args, " "), code, out, errOut, tt.want)
		}
	}
	if r.m.Revision() != before {
		t.Errorf("failed deletions moved the revision from %d to %d", before, r.m.Revision())
	}
	// A deletion in a project names the project's path; -o json gives the
	// manager's answer.
	r.ok(t, "apply", "-f", "testdata/ip-group.yaml", "--project", "team-a")
	out := r.ok(t, "delete", "group", "vms", "--project", "team-a", "-o", "json")
	var res applyResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Changes) != 1 || res.Changes[0].Path != "/orgs/default/projects/team-a/infra/domains/default/groups/vms" {
		t.Errorf("delete -o json: %v\n%s", err, out)
	}
	// A group in use is not deleted, and the rules using it are named.
	_, errOut, code := r.run(t, "delete", "group", "db-vms")
	if code == 0 || !strings.Contains(errOut, "/infra/domains/default/gateway-policies/k8s-to-vms/rules/payments-to-db") {
		t.Errorf("deleting a group in use: exit %d, %s", code, errOut)
	}
}

// TestApplyBackIsNoChange: what get -o yaml prints, and the export of
// GET /infra, applied back (dry run or not) change nothing.
func TestApplyBackIsNoChange(t *testing.T) {
	r := newRemote(t, true)
	dir := t.TempDir()
	for _, args := range [][]string{
		{"get", "group", "payments-egress"},
		{"get", "groups"},
		{"get", "security-policy", "vms-to-k8s"},
		{"get", "gateway-policies"},
		{"get", "rules", "--policy-path", "/infra/domains/default/gateway-policies/k8s-to-vms"},
		{"get", "services"},
		{"get", "tier-1s"},
	} {
		for _, format := range []string{"yaml", "json"} {
			f := filepath.Join(dir, "got."+format)
			if err := os.WriteFile(f, []byte(r.ok(t, append(args, "-o", format)...)), 0o644); err != nil {
				t.Fatal(err)
			}
			before := r.m.Revision()
			for _, dry := range []bool{true, false} {
				apply := []string{"apply", "-f", f}
				if dry {
					apply = append(apply, "--dry-run")
				}
				out, errOut, code := r.run(t, apply...)
				if code != 0 || !strings.HasPrefix(out, "nothing") {
					t.Errorf("kordon %s -o %s, applied back (dry run %v): exit %d\n%s%s", strings.Join(args, " "), format, dry, code, out, errOut)
				}
			}
			if r.m.Revision() != before {
				t.Errorf("kordon %s -o %s, applied back, moved the revision", strings.Join(args, " "), format)
			}
		}
	}
	c := r.client(t)
	var export json.RawMessage
	if err := c.Do(r.ctx, http.MethodGet, "/policy/api/v1/infra", nil, &export); err != nil {
		t.Fatal(err)
	}
	var res applyResult
	if err := c.Do(r.ctx, http.MethodPatch, "/policy/api/v1/infra?dry_run=true", []byte(export), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 0 {
		t.Errorf("PATCH /infra?dry_run=true of GET /infra: %d changes: %+v", len(res.Changes), res.Changes)
	}
}

// TestRemoteMembersAsOffline: members against a manager prints what it
// prints on files: display names and each member type in NSX's shape
// (the manager adds each cluster's id).
func TestRemoteMembersAsOffline(t *testing.T) {
	r := newRemote(t, true)
	decode := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("%v: %s", err, s)
		}
		dropKey(v, "cluster_id")
		return v
	}
	for _, args := range [][]string{
		{"members", "-o", "json"},
		{"members", "--group", "/infra/domains/default/groups/cart-npl", "-o", "json"},
		{"members", "--group", "/infra/domains/default/groups/k8s-gateways", "-o", "json"},
	} {
		offline, errOut, code := run(t, append(args, "--policy", policyFile, "--inventory", invDir)...)
		if code != 0 {
			t.Fatalf("offline: %s", errOut)
		}
		remote := r.ok(t, args...)
		if !strings.Contains(remote, `"display_name"`) || !strings.Contains(remote, `"effective_members"`) {
			t.Errorf("kordon %s against a manager lacks display_name or effective_members:\n%s", strings.Join(args, " "), remote)
		}
		if a, b := decode(offline), decode(remote); !reflect.DeepEqual(a, b) {
			t.Errorf("kordon %s: the manager's answer differs from the offline one\noffline:\n%s\nmanager:\n%s", strings.Join(args, " "), offline, remote)
		}
	}
	out := r.ok(t, "members", "cart-npl")
	if !strings.Contains(out, "(Cart through NodePortLocal (node IP + port per pod))") {
		t.Errorf("members GROUP against a manager does not name the group:\n%s", out)
	}
}

func dropKey(v any, key string) {
	switch x := v.(type) {
	case map[string]any:
		delete(x, key)
		for _, e := range x {
			dropKey(e, key)
		}
	case []any:
		for _, e := range x {
			dropKey(e, key)
		}
	}
}

// TestRemoteExplainAndTraceErrors: explain against a manager does not
// say "offline"; errors of requests the CLI built name its flags.
func TestRemoteExplainAndTraceErrors(t *testing.T) {
	r := newRemote(t, true)
	out := r.ok(t, "explain", "--src", "172.16.20.11", "--dst", "192.168.50.10", "--port", "443")
	if strings.Contains(out, "offline") || !strings.Contains(out, "verdict    ALLOW") {
		t.Errorf("explain against a manager:\n%s", out)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"explain", "--src", "1.1.1.1", "--dst", "2.2.2.2", "--port", "1", "--gateway", "/infra/tier-1s/nope"}, "--gateway: /infra/tier-1s/nope"},
		{[]string{"trace", "--from-pod", "prod-east/shop/nope", "--to", "172.16.10.5", "--port", "1"}, "--from-pod: pod prod-east/shop/nope is not in the inventory"},
		{[]string{"trace", "--from-pod", "prod-east/nope", "--to", "172.16.10.5", "--port", "1"}, `--from-pod: "prod-east/nope" is not CLUSTER/NAMESPACE/NAME`},
		{[]string{"trace", "--from", "1.1.1.1", "--to-service", "prod-east/shop/cart", "--gateway", "/infra/tier-1s/nope"}, "--gateway: /infra/tier-1s/nope"},
	} {
		_, errOut, code := r.run(t, tt.args...)
		if code == 0 || !strings.Contains(errOut, tt.want) || strings.Contains(errOut, "from_pod") {
			t.Errorf("kordon %s: exit %d, %q; want %q", strings.Join(tt.args, " "), code, errOut, tt.want)
		}
	}
}

// TestOutputFlags: -o json of project list, token create and delete, and
// the kinds get takes.
func TestOutputFlags(t *testing.T) {
	r := newRemote(t, true)
	r.ok(t, "project", "create", "team-a", "--tier-0", "/infra/tier-0s/t0-core")
	var projects []map[string]any
	if err := json.Unmarshal([]byte(r.ok(t, "project", "list", "-o", "json")), &projects); err != nil || len(projects) != 1 || projects[0]["id"] != "team-a" {
		t.Errorf("project list -o json: %v %v", projects, err)
	}
	if out := r.ok(t, "project", "list"); !strings.HasPrefix(out, "ID ") || !strings.Contains(out, "/infra/tier-0s/t0-core") {
		t.Errorf("project list:\n%s", out)
	}
	var tok map[string]any
	if err := json.Unmarshal([]byte(r.ok(t, "token", "create", "dash", "--role", "reader", "--expires", "2099-12-31", "-o", "json")), &tok); err != nil ||
		tok["id"] != "dash" || !strings.HasPrefix(fmt.Sprint(tok["token"]), "kdn_") || tok["expires"] != "2100-01-01T00:00:00Z" {
		t.Errorf("token create -o json: %v %v", tok, err)
	}
	file := filepath.Join(t.TempDir(), "tok")
	if err := json.Unmarshal([]byte(r.ok(t, "token", "create", "dash2", "--out", file, "-o", "yaml")), new(any)); err == nil {
		t.Errorf("token create -o yaml printed JSON")
	}
	if out := r.ok(t, "token", "create", "dash3", "--out", file, "-o", "json"); strings.Contains(out, "kdn_") || !strings.Contains(out, `"token_file"`) {
		t.Errorf("token create --out -o json shows the token, or not where it went:\n%s", out)
	}
	for _, kind := range []string{"policies", "policy", "Policies", "SecurityPolicy", "securitypolicies", "dfw-policies", "gatewaypolicy", "tier1s", "Tier1", "groups", "GROUP"} {
		if _, errOut, code := r.run(t, "get", kind); code != 0 {
			t.Errorf("get %s: exit %d %s", kind, code, errOut)
		}
	}
	if out := r.ok(t, "get", "policy", "k8s-to-vms", "-o", "json"); !strings.Contains(out, `"resource_type": "GatewayPolicy"`) {
		t.Errorf("get policy k8s-to-vms: %s", out)
	}
}

// TestConfigurationNamedOnFailure: a command that cannot reach or
// authenticate to the manager says which client configuration it used.
func TestConfigurationNamedOnFailure(t *testing.T) {
	r := newRemote(t, false)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := client.WriteConfig(bad, client.Config{Server: r.url, Token: "kdn_wrong", InsecureSkipVerify: true}); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, "--config", bad, "status")
	if code == 0 || !strings.Contains(errOut, "(client configuration: "+bad+"; --config FILE uses another)") {
		t.Errorf("a rejected token: exit %d, %q", code, errOut)
	}
	gone := filepath.Join(dir, "gone.yaml")
	if err := client.WriteConfig(gone, client.Config{Server: "https://127.0.0.1:1", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KORDON_CONFIG", gone)
	_, errOut, code = run(t, "status")
	if code == 0 || !strings.Contains(errOut, "client configuration: "+gone) {
		t.Errorf("an unreachable manager: exit %d, %q", code, errOut)
	}
	_, errOut, _ = run(t, "--token", "x", "status")
	if !strings.Contains(errOut, "client configuration: "+gone+" with --token") {
		t.Errorf("a flag over the configuration is not named: %q", errOut)
	}
	// Other failures do not mention it.
	t.Setenv("KORDON_CONFIG", "")
	_, errOut, _ = r.run(t, "get", "group", "nope")
	if strings.Contains(errOut, "client configuration") {
		t.Errorf("a 404 names the configuration: %q", errOut)
	}
}

// TestVersion: -ldflags win; else the module version and the VCS
// revision the go command stamped; never just "dev" with a revision.
func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-11-25T12:00:00Z"}}}
	for _, tt := range []struct {
		version, commit string
		bi              *debug.BuildInfo
		want, short     string
	}{
		{"dev", "", bi, "dev (commit 0123456789abcdef0123, modified, 2026-11-25T12:00:00Z)", "dev-0123456789ab-modified"},
		{"v1.2.3", "", bi, "v1.2.3 (commit 0123456789abcdef0123, modified, 2026-11-25T12:00:00Z)", "v1.2.3"},
		{"v1.2.3", "feed", nil, "v1.2.3 (commit feed)", "v1.2.3"},
		{"dev", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, "v0.4.0", "v0.4.0"},
		{"dev", "", nil, "dev", "dev"},
	} {
		v := versionOf(tt.version, tt.commit, tt.bi)
		if v.String() != tt.want || v.Short() != tt.short {
			t.Errorf("versionOf(%q, %q) = %q, %q; want %q, %q", tt.version, tt.commit, v, v.Short(), tt.want, tt.short)
		}
	}
	out, _, code := run(t, "version", "-o", "json")
	var v versionInfo
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Version == "" || v.Go == "" {
		t.Errorf("version -o json: %d %s", code, out)
	}
	for _, flag := range []string{"--version", "-v"} {
		if out, _, code := run(t, flag); code != 0 || !strings.HasPrefix(out, "kordon ") {
			t.Errorf("kordon %s: %d %q", flag, code, out)
		}
	}
}

// TestExpiryDates: a date is the end of that day (the next day's start),
// for licenses and tokens alike; --not-before a date's start.
func TestExpiryDates(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, code := run(t, "license", "keygen", filepath.Join(dir, "vendor")); code != 0 {
		t.Fatal(errOut)
	}
	out, errOut, code := run(t, "license", "sign", "--key", filepath.Join(dir, "vendor.key"), "--id", "acme", "--licensee", "ACME",
		"--expires", "2027-12-31", "--not-before", "2027-01-01")
	if code != 0 {
		t.Fatal(errOut)
	}
	var l struct{ NotBefore, Expires time.Time }
	if err := json.Unmarshal([]byte(strings.NewReplacer(`"not_before"`, `"NotBefore"`, `"expires"`, `"Expires"`).Replace(out)), &l); err != nil {
		t.Fatal(err)
	}
	if !l.Expires.Equal(time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)) || !l.NotBefore.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("license valid %s to %s, want 2027-01-01T00:00:00Z to 2028-01-01T00:00:00Z", l.NotBefore, l.Expires)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{"2027-06-30": "2027-07-01T00:00:00Z", "2027-06-30T12:00:00Z": "2027-06-30T12:00:00Z", "720h": "2026-12-25T12:00:00Z"} {
		got, err := parseExpiry(in, now)
		if err != nil || got.Format(time.RFC3339) != want {
			t.Errorf("parseExpiry(%q) = %s %v, want %s", in, got.Format(time.RFC3339), err, want)
		}
	}
	if _, errOut, code := run(t, "license", "sign", "--key", filepath.Join(dir, "vendor.key"), "--id", "x", "--expires", "31/12/2027"); code != 2 || !strings.Contains(errOut, "--expires") {
		t.Errorf("a bad date: %d %s", code, errOut)
	}
}

// TestHelpSaysWhatIsMeant: help texts name what they mean, not the
// documents kordon was written from.
func TestHelpSaysWhatIsMeant(t *testing.T) {
	var walk func(args []string)
	root := NewRoot(new(strings.Builder), new(strings.Builder))
	walk = func(path []string) {
		out, _, _ := run(t, append(path, "--help")...)
		if strings.Contains(strings.ToLower(out), "the seed") || strings.Contains(out, "seed's") {
			t.Errorf("kordon %s --help mentions the seed:\n%s", strings.Join(path, " "), out)
		}
	}
	for _, c := range root.Commands() {
		walk([]string{c.Name()})
		for _, sub := range c.Commands() {
			walk([]string{c.Name(), sub.Name()})
		}
	}
}

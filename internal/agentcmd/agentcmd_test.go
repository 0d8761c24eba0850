package agentcmd

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/cmdutil"
)

// run executes the commands under a root named like one of the binaries
// that hold them.
func run(t *testing.T, root string, args ...string) (string, int) {
	t.Helper()
	r := &cobra.Command{Use: root, SilenceUsage: true, SilenceErrors: true}
	r.AddCommand(Run(), Uninstall())
	var out bytes.Buffer
	r.SetOut(&out)
	r.SetErr(&out)
	r.SetArgs(args)
	if err := r.Execute(); err != nil {
		return err.Error(), cmdutil.ExitCode(err)
	}
	return out.String(), 0
}

func TestRunRefusesBadInvocations(t *testing.T) {
	dir := t.TempDir()
	cluster := filepath.Join(dir, "cluster.yaml")
	os.WriteFile(cluster, []byte("cluster: c1\nserver: https://10.0.0.1:8443\nca: x\ncert: y\nkey: z\n"), 0o600)
	agent := filepath.Join(dir, "agent.yaml")
	os.WriteFile(agent, []byte("agent: a1\nrole: vm\nserver: https://10.0.0.1:8443\nca: x\ncert: y\nkey: z\n"), 0o600)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "--bundle is required"},
		{[]string{"run", "--bundle", cluster}, "an agent's bundle needs agent"},
		{[]string{"run", "--bundle", agent, "--tag", "tier|app"}, "an agent does not choose its tags"},
		{[]string{"run", "--bundle", agent, "--report", "10ms"}, "--report: between 1s and 1h"},
		{[]string{"run", "--bundle", agent, "--address", "::ffff:10.0.0.1"}, "not an IPv4 or IPv6 address"},
	} {
		out, code := run(t, "kordon-agent", tt.args...)
		if code != 2 || !strings.Contains(out, tt.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tt.args, code, out, tt.want)
		}
	}
}

func TestSibling(t *testing.T) {
	for _, path := range [][]string{{"kordon-agent"}, {"kordon", "agent"}} {
		root := &cobra.Command{Use: path[0]}
		parent := root
		if len(path) > 1 {
			parent = &cobra.Command{Use: path[1]}
			root.AddCommand(parent)
		}
		r := Run()
		parent.AddCommand(r)
		if got, want := sibling(r, "uninstall"), strings.Join(path, " ")+" uninstall"; got != want {
			t.Errorf("under %v: %q, want %q", path, got, want)
		}
	}
}

func TestManagerAddrs(t *testing.T) {
	for server, want := range map[string]string{
		"https://10.99.0.1:8443":         "10.99.0.1:8443",
		"https://10.99.0.1":              "10.99.0.1:443",
		"https://[fd00::1]:8443":         "[fd00::1]:8443",
		"https://[::ffff:10.99.0.1]:443": "10.99.0.1:443",
	} {
		got, err := managerAddrs(t.Context(), server)
		if err != nil || len(got) != 1 || got[0] != netip.MustParseAddrPort(want) {
			t.Errorf("%s: %v %v, want %s", server, got, err, want)
		}
	}
	for _, bad := range []string{"not a url", "https://10.99.0.1:99999"} {
		if _, err := managerAddrs(t.Context(), bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

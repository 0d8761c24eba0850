package wire

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadBundle(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, content string
		of            Identity
		want          string
	}{
		{"ok.yaml", "cluster: a\nserver: https://m\nca: x\ncert: y\nkey: z\n", ClusterIdentity, ""},
		{"agent.json", `{"agent": "a1", "role": "vm", "server": "https://m", "ca": "x", "cert": "y", "key": "z"}`, AgentIdentity, ""},
		{"missing.yaml", "cluster: a\nserver: https://m\n", ClusterIdentity, "needs cluster, server, ca, cert and key"},
		{"agent-for-adapter.yaml", "agent: a1\nserver: https://m\nca: x\ncert: y\nkey: z\n", ClusterIdentity, "needs cluster"},
		{"cluster-for-agent.yaml", "cluster: a\nserver: https://m\nca: x\ncert: y\nkey: z\n", AgentIdentity, "an agent's bundle needs agent"},
		{"unknown.yaml", "cluster: a\nserver: https://m\nca: x\ncert: y\nkey: z\ncolour: red\n", ClusterIdentity, "colour"},
		{"broken.yaml", "cluster: [", ClusterIdentity, "broken.yaml"},
		{"nobody.yaml", "cluster: a\nserver: https://m\nca: x\ncert: y\nkey: z\n", Identity("admin"), "no such identity"},
	} {
		p := filepath.Join(dir, tt.name)
		os.WriteFile(p, []byte(tt.content), 0o600)
		_, err := ReadBundle(p, tt.of)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := ReadBundle(filepath.Join(dir, "absent.yaml"), ClusterIdentity); err == nil {
		t.Error("absent file accepted")
	}
}

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// requireAll is set in CI: a test whose prerequisite is missing fails
// instead of skipping.
var requireAll = os.Getenv("KORDON_REQUIRE_ALL") == "1"

func missing(t testing.TB, what string) {
	t.Helper()
	if requireAll {
		t.Fatalf("%s is missing (KORDON_REQUIRE_ALL=1); hack/test.sh prepares it", what)
	}
	t.Skipf("%s is missing; hack/test.sh prepares it", what)
}

// k8sBin finds a binary built by hack/k8s-test-bins.sh (kube-apiserver,
// etcd) through $KUBEBUILDER_ASSETS.
func k8sBin(t testing.TB, name string) string {
	t.Helper()
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	missing(t, name)
	return ""
}

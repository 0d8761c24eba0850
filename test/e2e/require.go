package e2e

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
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

// needNFTables requires what the real-kernel nftables tests use: root
// (network namespaces, nftables) and the ip and nft commands.
func needNFTables(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "root (network namespaces, nftables)")
	}
	for _, bin := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing(t, bin+" (Debian packages iproute2 and nftables)")
		}
	}
}

// seeded returns a random source seeded from $KORDON_SEED, or from the
// clock and logged, so that a failing run can be repeated.
func seeded(t testing.TB) *rand.Rand {
	t.Helper()
	seed := time.Now().UnixNano()
	if s := os.Getenv("KORDON_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d (KORDON_SEED)", seed)
	return rand.New(rand.NewPCG(uint64(seed), 0))
}

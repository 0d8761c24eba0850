package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// kordon is the binary under test, built once for the package.
var kordon string

func TestMain(m *testing.M) {
	// A test re-run in a private network namespace uses its parent's
	// binary.
	if bin := os.Getenv("KORDON_E2E_BIN"); bin != "" {
		kordon = bin
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "kordon-e2e-")
	if err != nil {
		panic(err)
	}
	kordon = filepath.Join(dir, "kordon")
	build := exec.Command("go", "build", "-o", kordon, "github.com/kordon-dev/kordon/cmd/kordon")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building kordon:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

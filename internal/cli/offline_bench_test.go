package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/benchdata"
)

// BenchmarkOfflineAtScale runs the offline commands as a user does, each
// in its own kordon process, on the scale's files (100 clusters, 339,000
// objects as `kubectl get -o json` prints them, 10,010 groups, 10,000
// rules; diff compares with a copy in which 10 groups and their rules
// changed). It reports each command's peak RSS and wall time, and both
// against `kordon validate` of the same files (x-validate-rss,
// x-validate-time), which reads them and nothing more, measured in the
// same run:
//
//	go test ./internal/cli -run '^$' -bench OfflineAtScale -benchtime 1x -timeout 60m
//
// KORDON_SCALE_FILES=DIR reads files written there before (see
// benchdata's TestWriteFiles) instead of writing them;
// KORDON_BENCH_CLUSTERS lowers the cluster count of written ones.
func BenchmarkOfflineAtScale(b *testing.B) {
	// The peak RSS of a child as wait4 reports it starts from its
	// parent's (Linux counts the memory the child shared with it before
	// exec), so each command runs under time(1), which reports its own
	// child's.
	timeBin, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		b.Skip("needs /usr/bin/time (apt-get install time) to measure each command's peak RSS")
	}
	dir := os.Getenv("KORDON_SCALE_FILES")
	if dir == "" {
		s := benchdata.Full
		if n := os.Getenv("KORDON_BENCH_CLUSTERS"); n != "" {
			fmt.Sscan(n, &s.Clusters)
		}
		dir = b.TempDir()
		if _, err := s.WriteFiles(dir); err != nil {
			b.Fatal(err)
		}
	}
	bin := filepath.Join(b.TempDir(), "kordon")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/kordon-dev/kordon/cmd/kordon").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	p, pNew, inv := filepath.Join(dir, "policy.json"), filepath.Join(dir, "policy-new.json"), filepath.Join(dir, "inventory")
	run := func(b *testing.B, args ...string) (time.Duration, int64) {
		var stderr bytes.Buffer
		cmd := exec.Command(timeBin, append([]string{"-f", "maxrss-kib %M", bin}, args...)...)
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		t0 := time.Now()
		err := cmd.Run()
		d := time.Since(t0)
		out := stderr.String()
		if err != nil {
			b.Fatalf("kordon %v: %v\n%s", args, err, out[max(0, len(out)-2000):])
		}
		var kib int64
		if i := strings.LastIndex(out, "maxrss-kib "); i < 0 {
			b.Fatalf("kordon %v: no peak RSS from time(1):\n%s", args, out[max(0, len(out)-2000):])
		} else {
			fmt.Sscan(out[i+len("maxrss-kib "):], &kib)
		}
		return d, kib << 10
	}
	baseT, baseRSS := run(b, "validate", "--policy", p, "--inventory", inv)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"members", []string{"members", "--policy", p, "--inventory", inv}},
		{"members-json", []string{"members", "--policy", p, "--inventory", inv, "-o", "json"}},
		{"explain", []string{"explain", "--policy", p, "--inventory", inv, "--src", "100.3.4.5", "--dst", "30.7.1.9", "--port", "80"}},
		{"diff", []string{"diff", "--policy", p, "--policy", pNew, "--inventory", inv}},
		{"advise", []string{"advise", "--policy", p, "--inventory", inv}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var peak int64
			for i := 0; i < b.N; i++ {
				_, rss := run(b, c.args...)
				peak = max(peak, rss)
			}
			b.ReportMetric(float64(peak>>20), "peak-rss-MiB")
			b.ReportMetric(float64(peak)/float64(baseRSS), "x-validate-rss")
			b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(baseT), "x-validate-time")
		})
	}
	b.Logf("validate (the baseline): %.1f s, peak RSS %d MiB", baseT.Seconds(), baseRSS>>20)
}

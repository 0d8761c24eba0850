package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveOnce runs `kordon serve` expecting it to exit by itself within
// the timeout, and returns its exit code and output.
func serveOnce(t *testing.T, dir string, timeout time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kordon, append([]string{"serve"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("kordon serve %v did not exit within %s:\n%s", args, timeout, out)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// TestSecondManagerOnOneDataDir: a second manager on a data directory in
// use exits at once, naming the first, and the first goes on serving.
func TestSecondManagerOnOneDataDir(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, dir, "--no-demo")
	code, out := serveOnce(t, dir, 10*time.Second, "--no-demo", "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(out, "in use by another kordon serve (pid "+strconv.Itoa(s.cmd.Process.Pid)+")") {
		t.Fatalf("second manager: exit %d:\n%s", code, out)
	}
	c := s.mustClient(t)
	if err := c.Do(context.Background(), http.MethodGet, "/policy/api/v1/kordon/status", nil, nil); err != nil {
		t.Fatalf("the first manager after the second tried: %v", err)
	}
	if err := c.Do(context.Background(), http.MethodPatch, "/policy/api/v1/infra/domains/default/groups/g", []byte(`{"expression":[]}`), nil); err != nil {
		t.Fatalf("a write to the first manager (its store sockets must be intact): %v", err)
	}
}

// TestFailedFirstStartCanBeRetried: a first start that cannot take its
// port creates nothing; the next one creates the installation, and its
// admin token works.
func TestFailedFirstStartCanBeRetried(t *testing.T) {
	dir := t.TempDir()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	code, out := serveOnce(t, dir, 30*time.Second, "--no-demo", "--listen", taken.Addr().String())
	taken.Close()
	if code == 0 || !strings.Contains(out, "address already in use") {
		t.Fatalf("a start on a taken port: exit %d:\n%s", code, out)
	}
	for _, f := range []string{"etcd", "admin.token", "ca.crt", "seal.key"} {
		if _, err := os.Stat(filepath.Join(dir, "kordon-data", f)); err == nil {
			t.Errorf("the failed start left %s", f)
		}
	}
	s := serve(t, dir, "--no-demo")
	tok, _ := os.ReadFile(filepath.Join(dir, "kordon-data", "admin.token"))
	req, _ := http.NewRequest("GET", "https://"+s.addr(t)+"/policy/api/v1/kordon/tokens", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := insecureClient().Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the admin token of the retried start: %v %v", err, resp)
	}
	resp.Body.Close()
}

// TestPartialInstallationIsRefused: a data directory whose database is
// gone, next to the files of its installation, is refused; it is never
// silently made a new installation.
func TestPartialInstallationIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, dir, "--no-demo")
	s.stop()
	data := filepath.Join(dir, "kordon-data")
	oldToken, _ := os.ReadFile(filepath.Join(data, "admin.token"))
	if err := os.RemoveAll(filepath.Join(data, "etcd")); err != nil {
		t.Fatal(err)
	}
	code, out := serveOnce(t, dir, 30*time.Second, "--no-demo", "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(out, "no etcd/ database") {
		t.Fatalf("a data directory without its database: exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(data, "etcd")); err == nil {
		t.Fatal("a new database was created")
	}
	if tok, _ := os.ReadFile(filepath.Join(data, "admin.token")); string(tok) != string(oldToken) {
		t.Fatal("the admin token file was overwritten")
	}
}

// TestStoreIsReachableOnlyByTheOwner: the embedded etcd listens on no TCP
// port and on no abstract unix socket (which any local user can reach),
// only on unix sockets in a directory of the data directory's owner: in
// the data directory, or, when that path is too long for a socket, in a
// private directory under the temporary directory. The manager's only TCP
// listener is the API.
func TestStoreIsReachableOnlyByTheOwner(t *testing.T) {
	for _, name := range []string{"short", strings.Repeat("d", 60) + "/" + strings.Repeat("e", 60)} {
		t.Run(fmt.Sprintf("data dir of %d bytes", len(name)), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			s := serve(t, dir, "--no-demo")
			pid := fmt.Sprintf("pid=%d,", s.cmd.Process.Pid)
			listeners := func(args ...string) []string {
				out, err := exec.Command("ss", args...).CombinedOutput()
				if err != nil {
					t.Skipf("ss: %v %s", err, out)
				}
				var mine []string
				for _, l := range strings.Split(string(out), "\n") {
					if strings.Contains(l, pid) {
						mine = append(mine, strings.Join(strings.Fields(l), " "))
					}
				}
				return mine
			}
			if tcp := listeners("-ltnpH"); len(tcp) != 1 || !strings.Contains(tcp[0], s.addr(t)) {
				t.Fatalf("TCP listeners of the manager (want the API's only):\n%s", strings.Join(tcp, "\n"))
			}
			unix := listeners("-lxpH")
			if len(unix) == 0 {
				t.Fatal("no unix socket: where is etcd?")
			}
			for _, l := range unix {
				f := strings.Fields(l)
				if len(f) < 5 || !strings.HasPrefix(f[4], "/") {
					t.Errorf("a unix listener that is not a file: %s", l)
				} else if fi, err := os.Stat(filepath.Dir(f[4])); err != nil || fi.Mode().Perm()&0o077 != 0 {
					t.Errorf("etcd's socket %s is in a directory others can enter (%v)", f[4], fi.Mode())
				}
			}
			if err := s.mustClient(t).Do(context.Background(), http.MethodPatch, "/policy/api/v1/infra/domains/default/groups/g", []byte(`{"expression":[]}`), nil); err != nil {
				t.Fatalf("a write: %v", err)
			}
		})
	}
}

// TestSignalAlwaysEndsTheManager: SIGTERM ends a serving manager at once,
// and a manager stuck starting (here: waiting for an external etcd that
// does not answer) too.
func TestSignalAlwaysEndsTheManager(t *testing.T) {
	dir := t.TempDir()
	dead, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	cmd := exec.Command(kordon, "serve", "--no-demo", "--listen", "127.0.0.1:0", "--etcd-endpoints", "http://"+dead.Addr().String())
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		t.Logf("a manager stuck starting ended %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(45 * time.Second):
		cmd.Process.Kill()
		t.Fatal("SIGTERM did not end a manager stuck starting")
	}
}

func insecureClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
}

// TestDamagedStoreFailsClearly: a manager on damaged store files exits
// promptly, non-zero, with one line naming the damaged file, where etcd
// alone hung (a truncated WAL) or died of SIGBUS (a truncated database).
func TestDamagedStoreFailsClearly(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, dir, "--no-demo")
	c := s.mustClient(t)
	for i := range 50 {
		if err := c.Do(context.Background(), http.MethodPatch, fmt.Sprintf("/policy/api/v1/infra/domains/default/groups/g%d", i),
			[]byte(`{"description":"`+strings.Repeat("d", 1000)+`","expression":[]}`), nil); err != nil {
			t.Fatal(err)
		}
	}
	s.stop()
	data := filepath.Join(dir, "kordon-data", "etcd", "member")
	wals, _ := filepath.Glob(filepath.Join(data, "wal", "*.wal"))
	for _, tt := range []struct {
		name, file, want string
		damage           func(path string)
	}{
		{"a WAL cut in the middle", wals[len(wals)-1], ".wal is damaged", func(p string) {
			b, _ := os.ReadFile(p)
			end := len(b)
			for end > 0 && b[end-1] == 0 {
				end--
			}
			os.Truncate(p, int64(end/2))
		}},
		// The database file is larger than its data; cut into the data.
		{"a database cut short", filepath.Join(data, "snap", "db"), "truncated", func(p string) { os.Truncate(p, 12<<10) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			keep, _ := os.ReadFile(tt.file)
			defer os.WriteFile(tt.file, keep, 0o600)
			tt.damage(tt.file)
			start := time.Now()
			code, out := serveOnce(t, dir, 60*time.Second, "--no-demo", "--listen", "127.0.0.1:0")
			line := strings.TrimSpace(out)
			if code == 0 || !strings.Contains(line, tt.want) || !strings.Contains(line, tt.file) {
				t.Fatalf("exit %d after %s:\n%s", code, time.Since(start), out)
			}
			t.Logf("exit %d after %s: %s", code, time.Since(start).Round(time.Millisecond), line[strings.LastIndex(line, "\n")+1:])
		})
	}
	// Restored, it starts again with everything.
	s2 := serve(t, dir, "--no-demo")
	if err := s2.mustClient(t).Do(context.Background(), http.MethodGet, "/policy/api/v1/infra/domains/default/groups/g49", nil, nil); err != nil {
		t.Fatal(err)
	}
}

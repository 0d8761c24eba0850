package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/client"
)

// server is a running `kordon serve`.
type server struct {
	t    testing.TB
	dir  string // working directory; the data directory is dir/kordon-data
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
}

// serve starts `kordon serve` in dir and waits until it answers.
func serve(t testing.TB, dir string, args ...string) *server {
	t.Helper()
	return serveCmd(t, dir, exec.Command(kordon, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...))
}

// serveLimited starts `kordon serve` with at most files open file
// descriptors.
func serveLimited(t testing.TB, dir string, files int, args ...string) *server {
	t.Helper()
	line := fmt.Sprintf("ulimit -n %d && exec %q serve --listen 127.0.0.1:0", files, kordon)
	for _, a := range args {
		line += fmt.Sprintf(" %q", a)
	}
	return serveCmd(t, dir, exec.Command("bash", "-c", line))
}

func serveCmd(t testing.TB, dir string, cmd *exec.Cmd) *server {
	t.Helper()
	s := &server{t: t, dir: dir, out: &bytes.Buffer{}, done: make(chan struct{})}
	s.cmd = cmd
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			t.Fatalf("kordon serve exited:\n%s", s.out)
		default:
		}
		if c, err := s.client(); err == nil {
			if c.Do(context.Background(), http.MethodGet, "/policy/api/v1/kordon/status", nil, nil) == nil {
				return s
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("kordon serve did not answer in 60s:\n%s", s.out)
	return nil
}

func (s *server) client() (*client.Client, error) {
	cfg, err := client.ReadConfig(filepath.Join(s.dir, "kordon-data", "client.yaml"))
	if err != nil {
		return nil, err
	}
	return client.New(cfg)
}

func (s *server) stop() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
}

func (s *server) kill() {
	s.cmd.Process.Kill() // SIGKILL
	<-s.done
}

// run runs the CLI in the server's directory and returns its output.
func (s *server) run(wantCode int, args ...string) string {
	s.t.Helper()
	cmd := exec.Command(kordon, args...)
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatal(err)
	}
	if code != wantCode {
		s.t.Fatalf("kordon %s: exit %d, want %d:\n%s", strings.Join(args, " "), code, wantCode, out)
	}
	return string(out)
}

func contains(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("%s: %q not in:\n%s", what, w, out)
		}
	}
}

// TestCLIAgainstServe drives a real manager over HTTPS with the CLI, as
// the README's tour does.
func TestCLIAgainstServe(t *testing.T) {
	dir := t.TempDir()
	vendor := filepath.Join(dir, "vendor")
	keygen := exec.Command(kordon, "license", "keygen", vendor)
	if out, err := keygen.CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	s := serve(t, dir, "--license-trust", vendor+".pub")
	contains(t, "first start", s.out.String(), "The admin token is in", "DEMO:")
	tok, err := os.ReadFile(filepath.Join(dir, "kordon-data", "admin.token"))
	if err != nil || !strings.HasPrefix(string(tok), "kdn_") {
		t.Fatalf("admin.token: %q %v", tok, err)
	}
	if strings.Contains(s.out.String(), strings.TrimSpace(string(tok))) {
		t.Fatal("the admin token was printed")
	}
	contains(t, "status", s.run(0, "status"), "16 groups", "cluster   prod-east from demo (DEMO): Up", "active: [DFW GFW]")
	contains(t, "get", s.run(0, "get", "groups"), "cart-npl", "/infra/domains/default/groups/k8s-sources")
	contains(t, "get -o yaml", s.run(0, "get", "group", "east-nodes", "-o", "yaml"), "member_type: KubernetesNode", "tag: demo")
	contains(t, "members", s.run(0, "members", "catalog-nodeport"), "10.30.1.12:30125/UDP", "KubernetesService prod-west/shop/catalog")
	contains(t, "members table", s.run(0, "members"), "/infra/domains/default/groups/redis-clusterip")
	contains(t, "explain", s.run(0, "explain", "--src", "10.10.1.100", "--dst", "172.16.10.5", "--port", "5432", "--gateway", "/infra/tier-1s/t1-edge"),
		"verdict    ALLOW", "k8s-to-vms/rules/payments-to-db")
	// Trace and advice through the API.
	contains(t, "trace out", s.run(0, "trace", "--from-pod", "prod-east/batch/report-28f1", "--to", "172.16.10.5", "--port", "5432", "--gateway", "/infra/tier-1s/t1-edge"),
		"the firewall sees source 10.10.1.13 (Node)", "no egress IP assigned yet", "DROP by /infra/domains/default/gateway-policies/k8s-to-vms/rules/nodes-to-db")
	contains(t, "trace in", s.run(0, "trace", "--from", "172.16.20.11", "--to-service", "prod-east/shop/cart", "-o", "json"),
		`"via": "NodePortLocal"`, `"port": 61001`)
	contains(t, "trace bad", s.run(1, "trace", "--from-pod", "prod-east/shop/nope", "--to", "172.16.10.5", "--port", "1"), "is not in the inventory")
	contains(t, "advise", s.run(0, "advise"), "clusterip-services-match-nothing", "egress-without-ip", "rule-redundant")
	// Apply: a dry run changes nothing, the real one does.
	doc := filepath.Join(dir, "g.yaml")
	os.WriteFile(doc, []byte(`resource_type: Group
id: egress-pay-and-analytics
expression:
- {resource_type: Condition, member_type: AntreaEgress, key: Tag, operator: EQUALS, value: "dis:k8s:purpose|payments"}
- {resource_type: ConjunctionOperator, conjunction_operator: OR}
- {resource_type: Condition, member_type: AntreaEgress, key: Tag, operator: EQUALS, value: "dis:k8s:purpose|analytics"}
`), 0o644)
	contains(t, "dry run", s.run(0, "apply", "-f", doc, "--dry-run"), "dry run; nothing changed", "+ 10.10.1.100", "+ 10.30.1.100")
	s.run(3, "get", "group", "egress-pay-and-analytics")
	contains(t, "apply", s.run(0, "apply", "-f", doc), "applied 1 change")
	contains(t, "get", s.run(0, "get", "group", "egress-pay-and-analytics"), "egress-pay-and-analytics")
	// Bad input: every problem, nothing applied.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`{"resource_type":"Group","id":"x","expression":[{"resource_type":"Condition","member_type":"KubernetesNode","key":"IPAddress","operator":"EQUALS","value":"10.0.0.1"}]}`), 0o644)
	contains(t, "invalid apply", s.run(1, "apply", "-f", bad), "must be operator MATCHES")
	contains(t, "delete", s.run(0, "delete", "group", "egress-pay-and-analytics"), "deleted /infra/domains/default/groups/egress-pay-and-analytics")
	// License: sign with the trusted key and install.
	lic := s.run(0, "license", "sign", "--key", vendor+".key", "--id", "acme-1", "--licensee", "ACME", "--features", "GFW", "--expires", "2030-01-01")
	os.WriteFile(filepath.Join(dir, "acme.lic"), []byte(lic), 0o644)
	contains(t, "install", s.run(0, "license", "install", filepath.Join(dir, "acme.lic")), "active features: [GFW]")
	contains(t, "show", s.run(0, "license", "show"), "acme-1 for ACME")
	examplePolicy, _ := filepath.Abs("../../examples/policy.yaml")
	contains(t, "DFW needs a license now", s.run(1, "apply", "-f", examplePolicy), "does not include the DFW entitlement")
	// Projects and tokens.
	s.run(0, "project", "create", "team-a")
	contains(t, "project list", s.run(0, "project", "list"), "team-a")
	contains(t, "token", s.run(0, "token", "create", "dash", "--role", "reader"), "kdn_")
	// The watch stream sees a change.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	watch := exec.CommandContext(ctx, kordon, "watch", "--types", "config")
	watch.Dir = dir
	var wout syncBuffer
	watch.Stdout = &wout
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	s.run(0, "apply", "-f", doc)
	for !strings.Contains(wout.String(), "egress-pay-and-analytics") && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	watch.Wait()
	contains(t, "watch", wout.String(), `"type":"start"`, `"path":"/infra/domains/default/groups/egress-pay-and-analytics"`)
	// A restart keeps the client configuration working and the demo once.
	s.stop()
	s2 := serve(t, dir)
	contains(t, "restart without the signing key's trust", s2.run(0, "status"), "17 groups", "license   none (license acme-1: the signature is not from a trusted key")
	s2.stop()
	s3 := serve(t, dir, "--license-trust", vendor+".pub")
	contains(t, "restart", s3.run(0, "status"), "17 groups", "acme-1")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestNothingAcknowledgedIsLost kills the manager with SIGKILL in the
// middle of a stream of writes and restarts it: every write it
// acknowledged is there.
func TestNothingAcknowledgedIsLost(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, dir, "--no-demo")
	c, err := s.client()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%04d", w, i)
				body := fmt.Sprintf(`{"expression":[{"resource_type":"IPAddressExpression","ip_addresses":["10.%d.%d.%d"]}]}`, w, i/250, i%250+1)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := c.Do(ctx, http.MethodPatch, "/policy/api/v1/infra/domains/default/groups/"+id, []byte(body), nil)
				cancel()
				if err != nil {
					return // the manager is gone
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}(w)
	}
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.kill()
	close(stop)
	wg.Wait()
	s2 := serve(t, dir, "--no-demo")
	c2, _ := s2.client()
	var list struct {
		Results []struct {
			ID string `json:"id"`
		} `json:"results"`
		Cursor string `json:"cursor"`
	}
	have := map[string]bool{}
	for cursor := ""; ; cursor = list.Cursor {
		list.Cursor = ""
		if err := c2.Do(context.Background(), http.MethodGet, "/policy/api/v1/infra/domains/default/groups?cursor="+cursor, nil, &list); err != nil {
			t.Fatal(err)
		}
		for _, r := range list.Results {
			have[r.ID] = true
		}
		if list.Cursor == "" {
			break
		}
	}
	for _, id := range acked {
		if !have[id] {
			t.Fatalf("group %s was acknowledged before the crash but is gone (%d acknowledged, %d present)", id, len(acked), len(have))
		}
	}
	t.Logf("%d writes acknowledged before SIGKILL, all present after restart (%d stored)", len(acked), len(have))
}

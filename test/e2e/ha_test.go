package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/kordon-dev/kordon/internal/client"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type etcdMember struct {
	name       string
	client     string
	cmd        *exec.Cmd
	done       chan struct{}
	clientPort int
}

// etcdCluster starts three etcd members on loopback.
func etcdCluster(t *testing.T, bin string) []*etcdMember {
	dir := t.TempDir()
	var ms []*etcdMember
	var initial []string
	peers := map[string]int{}
	for i := 1; i <= 3; i++ {
		m := &etcdMember{name: fmt.Sprintf("m%d", i), clientPort: freePort(t), done: make(chan struct{})}
		m.client = fmt.Sprintf("http://127.0.0.1:%d", m.clientPort)
		peers[m.name] = freePort(t)
		initial = append(initial, fmt.Sprintf("%s=http://127.0.0.1:%d", m.name, peers[m.name]))
		ms = append(ms, m)
	}
	for _, m := range ms {
		peer := fmt.Sprintf("http://127.0.0.1:%d", peers[m.name])
		m.cmd = exec.Command(bin, "--name", m.name, "--data-dir", filepath.Join(dir, m.name),
			"--listen-client-urls", m.client, "--advertise-client-urls", m.client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new", "--initial-cluster-token", "kordon-ha",
			"--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "error",
			"--max-txn-ops", "100000", "--max-request-bytes", fmt.Sprint(64<<20))
		if err := m.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func(m *etcdMember) { m.cmd.Wait(); close(m.done) }(m)
		t.Cleanup(func() {
			m.cmd.Process.Kill()
			<-m.done
		})
	}
	return ms
}

func endpoints(ms []*etcdMember) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.client)
	}
	return strings.Join(out, ",")
}

// TestHighAvailability runs two managers against a 3-member etcd cluster,
// kills the etcd leader, and checks that writes continue and both
// managers serve the same state.
func TestHighAvailability(t *testing.T) {
	bin := k8sBin(t, "etcd")
	ms := etcdCluster(t, bin)
	cli, err := clientv3.New(clientv3.Config{Endpoints: strings.Split(endpoints(ms), ","), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	dirA, dirB := t.TempDir(), t.TempDir()
	portA, portB := freePort(t), freePort(t)
	a := serve(t, dirA, "--no-demo", "--etcd-endpoints", endpoints(ms), "--listen", fmt.Sprintf("127.0.0.1:%d", portA))
	cfgA, _ := client.ReadConfig(filepath.Join(dirA, "kordon-data", "client.yaml"))
	// The second manager joins the installation the first created: same
	// CA, same tokens. It needs the installation's seal key: without it,
	// it cannot open the CA and says so.
	without := exec.Command(kordon, "serve", "--no-demo", "--etcd-endpoints", endpoints(ms), "--listen", fmt.Sprintf("127.0.0.1:%d", portB), "--data-dir", filepath.Join(dirB, "nokey"))
	without.Dir = dirB
	if out, err := without.CombinedOutput(); err == nil || !strings.Contains(string(out), "--seal-key") {
		t.Fatalf("a manager without the seal key: %v\n%s", err, out)
	}
	bDone := make(chan struct{})
	bCmd := exec.Command(kordon, "serve", "--no-demo", "--etcd-endpoints", endpoints(ms), "--listen", fmt.Sprintf("127.0.0.1:%d", portB), "--data-dir", filepath.Join(dirB, "data"),
		"--seal-key", filepath.Join(dirA, "kordon-data", "seal.key"))
	bCmd.Dir = dirB
	if err := bCmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { bCmd.Wait(); close(bDone) }()
	t.Cleanup(func() { bCmd.Process.Kill(); <-bDone })
	cfgB := cfgA
	cfgB.Server = fmt.Sprintf("https://127.0.0.1:%d", portB)
	ca, _ := client.New(cfgA)
	cb, _ := client.New(cfgB)
	ctx := context.Background()
	waitFor(t, 60*time.Second, "manager B", func() bool {
		return cb.Do(ctx, http.MethodGet, "/policy/api/v1/kordon/status", nil, nil) == nil
	})
	put := func(c *client.Client, id string) error {
		body := `{"expression":[{"resource_type":"IPAddressExpression","ip_addresses":["10.0.0.1"]}]}`
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return c.Do(cctx, http.MethodPatch, "/policy/api/v1/infra/domains/default/groups/"+id, []byte(body), nil)
	}
	if err := put(ca, "before"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "B to see A's write", func() bool {
		return cb.Do(ctx, http.MethodGet, "/policy/api/v1/infra/domains/default/groups/before", nil, nil) == nil
	})
	// Writes from both managers while the etcd leader is killed.
	leader := findLeader(t, cli, ms)
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]bool{}
	stop := make(chan struct{})
	for i, c := range []*client.Client{ca, cb} {
		wg.Add(1)
		go func(i int, c *client.Client) {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("m%d-%04d", i, n)
				if put(c, id) == nil {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}
		}(i, c)
	}
	time.Sleep(500 * time.Millisecond)
	killed := time.Now()
	leader.cmd.Process.Kill()
	<-leader.done
	var resumed time.Duration
	waitFor(t, 30*time.Second, "a write after the leader died", func() bool {
		if err := put(ca, fmt.Sprintf("after-%d", time.Now().UnixNano())); err == nil {
			resumed = time.Since(killed)
			return true
		}
		return false
	})
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("etcd leader %s killed; writes through kordon resumed after %s; %d writes acknowledged", leader.name, resumed.Round(time.Millisecond), len(acked))
	for id := range acked {
		for _, c := range []*client.Client{ca, cb} {
			if err := c.Do(ctx, http.MethodGet, "/policy/api/v1/infra/domains/default/groups/"+id, nil, nil); err != nil {
				t.Fatalf("acknowledged group %s missing on %s: %v", id, c.Server(), err)
			}
		}
	}
	if os.Getenv("KORDON_HA_LOG") != "" {
		t.Log(a.out.String())
	}
}

func findLeader(t *testing.T, cli *clientv3.Client, ms []*etcdMember) *etcdMember {
	for _, m := range ms {
		st, err := cli.Status(context.Background(), m.client)
		if err == nil && st.Leader == st.Header.MemberId {
			return m
		}
	}
	t.Fatal("no etcd leader")
	return nil
}

func waitFor(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

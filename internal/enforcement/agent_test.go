package enforcement

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/internal/enforcement/nft"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/policy"
	"github.com/kordon-dev/kordon/internal/realization"
	"github.com/kordon-dev/kordon/internal/wire"
)

// fakeManager serves one agent's span and takes its reports, over mTLS
// as the manager does; down makes it answer 503.
type fakeManager struct {
	srv     *httptest.Server
	bundle  wire.Bundle
	mu      sync.Mutex
	span    *realization.Span
	down    bool
	reports []wire.AgentReport
}

func newFakeManager(t *testing.T, role string) *fakeManager {
	t.Helper()
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	srvCert, _ := ca.IssueServer([]string{"127.0.0.1"})
	agentCert, _ := ca.IssueClient("a1", "agent", 1)
	f := &fakeManager{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /policy/api/v1/kordon/agents/a1/span", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		sp, down := f.span, f.down
		f.mu.Unlock()
		if down || sp == nil {
			http.Error(w, `{"error_message":"down"}`, http.StatusServiceUnavailable)
			return
		}
		if r.URL.Query().Get("digest") == sp.Digest {
			time.Sleep(100 * time.Millisecond)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"span": sp})
	})
	mux.HandleFunc("POST /policy/api/v1/kordon/agents/a1/report", func(w http.ResponseWriter, r *http.Request) {
		var rep wire.AgentReport
		if err := json.NewDecoder(gunzip(t, r)).Decode(&rep); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.mu.Lock()
		f.reports = append(f.reports, rep)
		f.mu.Unlock()
		w.Write([]byte(`{}`))
	})
	f.srv = httptest.NewUnstartedServer(mux)
	cert, _ := srvCert.TLS()
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	f.bundle = wire.Bundle{Agent: "a1", Role: role, Server: f.srv.URL, CA: string(ca.CertPEM), Cert: string(agentCert.CertPEM), Key: string(agentCert.KeyPEM)}
	return f
}

func (f *fakeManager) set(sp *realization.Span, down bool) {
	f.mu.Lock()
	f.span, f.down = sp, down
	f.mu.Unlock()
}

func (f *fakeManager) lastReport() (wire.AgentReport, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reports) == 0 {
		return wire.AgentReport{}, false
	}
	return f.reports[len(f.reports)-1], true
}

// flakyNFT is the knftables fake, whose transactions fail on demand and
// whose counters count what a test says.
type flakyNFT struct {
	*knftables.Fake
	mu             sync.Mutex
	fail           bool
	packets, bytes uint64
}

// ListCounters reports every counter at the counts setCounts gave: the
// fake's own are shared with its table, so a test cannot change them
// while the agent reads them.
func (n *flakyNFT) ListCounters(ctx context.Context) ([]*knftables.Counter, error) {
	cs, err := n.Fake.ListCounters(ctx)
	n.mu.Lock()
	p, b := n.packets, n.bytes
	n.mu.Unlock()
	for _, c := range cs {
		if c != nil && p > 0 {
			c.Packets, c.Bytes = knftables.PtrTo(p), knftables.PtrTo(b)
		}
	}
	return cs, err
}

func (n *flakyNFT) setCounts(packets, bytes uint64) {
	n.mu.Lock()
	n.packets, n.bytes = packets, bytes
	n.mu.Unlock()
}

func (n *flakyNFT) Run(ctx context.Context, tx *knftables.Transaction) error {
	n.mu.Lock()
	fail := n.fail
	n.mu.Unlock()
	if fail {
		return errors.New("nft: transaction refused (test)")
	}
	return n.Fake.Run(ctx, tx)
}

func (n *flakyNFT) setFail(v bool) { n.mu.Lock(); n.fail = v; n.mu.Unlock() }

// gatewaySpan drops traffic to port on a gateway.
func gatewaySpan(rule string) *realization.Span {
	s := &realization.Span{Point: "/infra/tier-1s/t1", Role: realization.RoleGateway, Revision: 1, Hooks: []realization.Hook{{
		Name: realization.HookForward, Rules: []realization.Rule{{Path: "/infra/domains/default/gateway-policies/p/rules/" + rule,
			Policy: "/infra/domains/default/gateway-policies/p", Action: policy.ActionDrop, V4: true, V6: true,
			Src: realization.Endpoint{Any: true}, Dst: realization.Endpoint{Any: true}}}}}}
	s.Rehash()
	return s
}

// run starts an agent and returns a stop function that waits for it.
func run(t *testing.T, o Options) func() {
	t.Helper()
	o.Report, o.Wait = time.Second, time.Second
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("agent: %v", err)
		}
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out: %s", what)
}

func TestGatewayFailsClosedUntilItsFirstSpan(t *testing.T) {
	m := newFakeManager(t, realization.RoleGateway)
	m.set(nil, true)
	n := &flakyNFT{Fake: knftables.NewFake(knftables.InetFamily, nft.DefaultTable)}
	stop := run(t, Options{Bundle: m.bundle, NFT: n})
	defer stop()
	eventually(t, "the fail-closed table", func() bool { return strings.Contains(n.Dump(), "failing closed") })
	if d := n.Dump(); !strings.Contains(d, "hook forward priority 0 ; policy drop") || !strings.Contains(d, "ct state established,related accept") {
		t.Fatalf("fail-closed table:\n%s", d)
	}
	eventually(t, "a report of the mode", func() bool { r, ok := m.lastReport(); return ok && r.Mode == wire.ModeFailClosed })
	m.set(gatewaySpan("r1"), false)
	eventually(t, "the span replacing the fail-closed table", func() bool {
		d := n.Dump()
		return !strings.Contains(d, "failing closed") && strings.Contains(d, "rules/r1")
	})
	eventually(t, "a report of enforcing", func() bool {
		r, ok := m.lastReport()
		return ok && r.Mode == wire.ModeEnforcing && r.State == "success"
	})
}

func TestVMFailsOpenByDefault(t *testing.T) {
	m := newFakeManager(t, realization.RoleVM)
	m.set(nil, true)
	n := &flakyNFT{Fake: knftables.NewFake(knftables.InetFamily, nft.DefaultTable)}
	stop := run(t, Options{Bundle: m.bundle, NFT: n, VM: &wire.VMFacts{}})
	eventually(t, "a report of the mode", func() bool { r, ok := m.lastReport(); return ok && r.Mode == wire.ModeFailOpen })
	stop()
	if d := n.Dump(); strings.TrimSpace(d) != "" {
		t.Fatalf("a VM failing open installed:\n%s", d)
	}
	// --fail-mode closed: new connections dropped both ways, the manager
	// exempt.
	n2 := &flakyNFT{Fake: knftables.NewFake(knftables.InetFamily, nft.DefaultTable)}
	mgr, _ := managerAddrPort(m.srv.URL)
	stop = run(t, Options{Bundle: m.bundle, NFT: n2, VM: &wire.VMFacts{}, FailMode: FailClosed, Manager: mgr})
	defer stop()
	eventually(t, "the fail-closed table", func() bool { return strings.Contains(n2.Dump(), "failing closed") })
	d := n2.Dump()
	for _, want := range []string{"hook input priority 0 ; policy drop", "hook output priority 0 ; policy drop", "ip daddr 127.0.0.1 tcp dport"} {
		if !strings.Contains(d, want) {
			t.Errorf("%q not in:\n%s", want, d)
		}
	}
}

func TestKeepsTheTableOfAnEarlierRun(t *testing.T) {
	m := newFakeManager(t, realization.RoleGateway)
	m.set(nil, true)
	n := &flakyNFT{Fake: knftables.NewFake(knftables.InetFamily, nft.DefaultTable)}
	if _, err := nft.NewApplier(n).Apply(context.Background(), gatewaySpan("earlier")); err != nil {
		t.Fatal(err)
	}
	before := n.Dump()
	stop := run(t, Options{Bundle: m.bundle, NFT: n})
	eventually(t, "a report of the mode", func() bool { r, ok := m.lastReport(); return ok && r.Mode == wire.ModeKept })
	stop()
	if n.Dump() != before {
		t.Fatalf("the earlier table changed with the manager away:\n%s", n.Dump())
	}
}

func TestAFailedApplyKeepsTheLastRuleset(t *testing.T) {
	m := newFakeManager(t, realization.RoleGateway)
	m.set(gatewaySpan("r1"), false)
	n := &flakyNFT{Fake: knftables.NewFake(knftables.InetFamily, nft.DefaultTable)}
	stop := run(t, Options{Bundle: m.bundle, NFT: n})
	defer stop()
	eventually(t, "the first span", func() bool { return strings.Contains(n.Dump(), "rules/r1") })
	applied := n.Dump()
	n.setFail(true)
	m.set(gatewaySpan("r2"), false)
	eventually(t, "a report of the failure", func() bool {
		r, ok := m.lastReport()
		return ok && r.State == "error" && strings.Contains(r.Error, "refused (test)")
	})
	if n.Dump() != applied {
		t.Fatal("a failed apply changed the table")
	}
	n.setFail(false)
	eventually(t, "the second span once nft works again", func() bool { return strings.Contains(n.Dump(), "rules/r2") })
	eventually(t, "a report of success", func() bool {
		r, ok := m.lastReport()
		return ok && r.State == "success" && r.Digest == gatewaySpan("r2").Digest
	})
}

func gunzip(t *testing.T, r *http.Request) io.Reader {
	if r.Header.Get("Content-Encoding") != "gzip" {
		return r.Body
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		t.Error(err)
		return strings.NewReader("")
	}
	return zr
}

func managerAddrPort(server string) ([]netip.AddrPort, error) {
	u, err := url.Parse(server)
	if err != nil {
		return nil, err
	}
	ap, err := netip.ParseAddrPort(u.Host)
	return []netip.AddrPort{ap}, err
}

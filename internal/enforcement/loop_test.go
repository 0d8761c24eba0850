package enforcement

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go4.org/netipx"
	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/internal/enforcement/nft"
	"github.com/kordon-dev/kordon/internal/policy"
	"github.com/kordon-dev/kordon/internal/realization"
	"github.com/kordon-dev/kordon/internal/wire"
)

// fakeUpstream is the manager behind the agent's Upstream seam, without
// HTTP: it serves one span (or the delta to it from the span before) and
// records what the agent asked and reported, in order.
type fakeUpstream struct {
	mu        sync.Mutex
	cur       *realization.Span
	delta     *realization.Delta // from the span before cur, when only elements changed
	spanErr   error
	reportErr error
	events    []string // "span HAVE" and "report"
	reports   []wire.AgentReport
}

func (f *fakeUpstream) Span(ctx context.Context, have string, wait time.Duration) (*Update, error) {
	f.mu.Lock()
	f.events = append(f.events, "span "+have)
	cur, delta, err := f.cur, f.delta, f.spanErr
	f.mu.Unlock()
	switch {
	case err != nil:
		return nil, err
	case cur == nil || have == cur.Digest:
		// A long poll that ends with nothing new; short, so tests move.
		sleep(ctx, min(wait, 20*time.Millisecond))
		return nil, nil
	case delta != nil && have == delta.From:
		return &Update{Delta: delta}, nil
	}
	return &Update{Span: cur}, nil
}

func (f *fakeUpstream) Report(ctx context.Context, rep wire.AgentReport) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, "report")
	if f.reportErr != nil {
		return f.reportErr
	}
	f.reports = append(f.reports, rep)
	return nil
}

// serve makes next the span to follow; from is the span it replaces, so
// that an agent holding from is sent only the element changes.
func (f *fakeUpstream) serve(from, next *realization.Span) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cur, f.delta = next, nil
	if from != nil {
		if d, ok := realization.Diff(from, next); ok {
			f.delta = d
		}
	}
}

func (f *fakeUpstream) fail(span, report error) {
	f.mu.Lock()
	f.spanErr, f.reportErr = span, report
	f.mu.Unlock()
}

func (f *fakeUpstream) lastReport() (wire.AgentReport, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reports) == 0 {
		return wire.AgentReport{}, false
	}
	return f.reports[len(f.reports)-1], true
}

func (f *fakeUpstream) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

// groupSpan drops forwarded traffic to the addresses of one group: spans
// of it that differ only by the addresses differ only by set elements.
func groupSpan(revision int64, addrs ...string) *realization.Span {
	names := []string{"/infra/domains/default/groups/db"}
	set := realization.Set{Name: realization.SetName(names), Names: names}
	for _, a := range addrs {
		ip := netip.MustParseAddr(a)
		set.Ranges = append(set.Ranges, netipx.IPRangeFrom(ip, ip))
	}
	s := &realization.Span{Point: "/infra/tier-1s/t1", Role: realization.RoleGateway, Revision: revision, Sets: []realization.Set{set},
		Hooks: []realization.Hook{{Name: realization.HookForward, Rules: []realization.Rule{{Path: "/infra/domains/default/gateway-policies/p/rules/to-db",
			Policy: "/infra/domains/default/gateway-policies/p", Action: policy.ActionDrop, V4: true, V6: true,
			Src: realization.Endpoint{Any: true}, Dst: realization.Endpoint{Set: set.Name}}}}}}
	s.Rehash()
	return s
}

// loop is an agent's Run in progress.
type loop struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned err
	err    error
}

// stop ends the run and returns what Run returned.
func (l *loop) stop() error {
	l.cancel()
	select {
	case <-l.done:
		return l.err
	case <-time.After(10 * time.Second):
		return errors.New("the agent did not stop")
	}
}

// runLoop runs an agent against up, with waits short enough for tests.
func runLoop(t *testing.T, up Upstream, n knftables.Interface, vm *wire.VMFacts) *loop {
	t.Helper()
	a, err := New(Options{Bundle: wire.Bundle{Agent: "a1", Role: realization.RoleGateway}, Upstream: up, NFT: n, VM: vm,
		Report: time.Second, Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a.pause = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	l := &loop{cancel: cancel, done: make(chan struct{})}
	go func() { l.err = a.Run(ctx); close(l.done) }()
	t.Cleanup(func() { l.stop() })
	return l
}

// TestLoopResyncsAfterAFailedApply: a delta that cannot be applied
// leaves the table as it was (fail static), and the agent's next request
// asks for the whole span, which it applies once nftables works again.
func TestLoopResyncsAfterAFailedApply(t *testing.T) {
	up := &fakeUpstream{}
	n := &flakyNFT{Fake: knftables.NewFake(knftables.InetFamily, nft.DefaultTable)}
	one, two := groupSpan(1, "10.0.0.1"), groupSpan(2, "10.0.0.1", "10.0.0.2")
	up.serve(nil, one)
	runLoop(t, up, n, nil)
	eventually(t, "the first span", func() bool { r, ok := up.lastReport(); return ok && r.Digest == one.Digest })
	applied := n.Dump()

	n.setFail(true)
	up.serve(one, two)
	eventually(t, "a report of the failure", func() bool { r, ok := up.lastReport(); return ok && r.State == "error" })
	if n.Dump() != applied {
		t.Fatalf("a failed apply changed the table:\n%s", n.Dump())
	}
	if r, _ := up.lastReport(); r.Digest != one.Digest || !strings.Contains(r.Error, "refused (test)") {
		t.Fatalf("the report after the failure: %+v; want the span still enforced and nft's message", r)
	}
	eventually(t, "a request for the whole span", func() bool { return wholeRequests(up.log()) > 1 })

	n.setFail(false)
	eventually(t, "the second span, whole", func() bool { r, ok := up.lastReport(); return ok && r.State == "success" && r.Digest == two.Digest })
	if d := n.Dump(); !strings.Contains(d, "10.0.0.2") {
		t.Fatalf("the table after the resync:\n%s", d)
	}
}

// wholeRequests counts the requests for a whole span.
func wholeRequests(log []string) int {
	n := 0
	for _, e := range log {
		if e == "span " {
			n++
		}
	}
	return n
}

// TestLoopAppliesDeltas: element changes arrive as a delta and change
// only elements; the report names the new span.
func TestLoopAppliesDeltas(t *testing.T) {
	up := &fakeUpstream{}
	n := &flakyNFT{Fake: knftables.NewFake(knftables.InetFamily, nft.DefaultTable)}
	one, two := groupSpan(1, "10.0.0.1"), groupSpan(2, "10.0.0.1", "10.0.0.2")
	up.serve(nil, one)
	runLoop(t, up, n, nil)
	eventually(t, "the first span", func() bool { r, ok := up.lastReport(); return ok && r.Digest == one.Digest })
	up.serve(one, two)
	if up.delta == nil {
		t.Fatal("the test's spans differ by more than elements")
	}
	eventually(t, "the delta", func() bool { r, ok := up.lastReport(); return ok && r.Digest == two.Digest && r.Revision == 2 })
	if d := n.Dump(); !strings.Contains(d, "10.0.0.2") {
		t.Fatalf("the table after the delta:\n%s", d)
	}
	if n := wholeRequests(up.log()); n != 1 {
		t.Errorf("the agent asked for the whole span %d times", n)
	}
}

// TestLoopFailsStaticWhileTheManagerIsAway: requests that fail leave the
// table alone and are retried; the span that waits meanwhile is applied
// once the manager answers.
func TestLoopFailsStaticWhileTheManagerIsAway(t *testing.T) {
	up := &fakeUpstream{}
	n := &flakyNFT{Fake: knftables.NewFake(knftables.InetFamily, nft.DefaultTable)}
	one, two := groupSpan(1, "10.0.0.1"), groupSpan(2, "10.0.0.3")
	up.serve(nil, one)
	runLoop(t, up, n, nil)
	eventually(t, "the first span", func() bool { r, ok := up.lastReport(); return ok && r.Digest == one.Digest })
	applied := n.Dump()
	away := errors.New("dial tcp 10.99.0.1:8443: connect: connection refused")
	up.fail(away, away)
	before := len(up.log())
	up.serve(one, two)
	eventually(t, "retries", func() bool { return len(up.log()) > before+3 })
	if n.Dump() != applied {
		t.Fatalf("the table changed with the manager away:\n%s", n.Dump())
	}
	up.fail(nil, nil)
	eventually(t, "the span once the manager is back", func() bool { r, ok := up.lastReport(); return ok && r.Digest == two.Digest })
	if !strings.Contains(n.Dump(), "10.0.0.3") {
		t.Fatalf("the table once the manager is back:\n%s", n.Dump())
	}
}

// TestLoopReports: the first report comes before the first span request
// (a VM's span depends on the addresses it reports), and a report holds
// the VM's facts, the mode, the span enforced and the rules' counters.
func TestLoopReports(t *testing.T) {
	up := &fakeUpstream{}
	n := &flakyNFT{Fake: knftables.NewFake(knftables.InetFamily, nft.DefaultTable)}
	vm := &wire.VMFacts{Addresses: []netip.Addr{netip.MustParseAddr("172.16.20.10")}, OSName: "Debian", ComputerName: "app-1"}
	runLoop(t, up, n, vm)
	eventually(t, "a request for the span", func() bool { return len(up.log()) >= 2 })
	if log := up.log(); log[0] != "report" || log[1] != "span " {
		t.Fatalf("the agent began with %v; want a report, then a request for the whole span", log[:2])
	}
	r, _ := up.lastReport()
	if r.Mode != wire.ModeFailClosed || r.State != "success" || r.VM == nil || r.VM.ComputerName != "app-1" || r.Interval != time.Second || r.Digest != "" {
		t.Fatalf("the first report: %+v", r)
	}

	sp := groupSpan(7, "10.0.0.1", "10.0.0.2")
	up.serve(nil, sp)
	eventually(t, "a report of the span", func() bool { r, ok := up.lastReport(); return ok && r.Digest == sp.Digest })
	// The kernel counted: every counter of the table saw 3 packets.
	n.setCounts(3, 180)
	rule := sp.Hooks[0].Rules[0].Path
	eventually(t, "a report of the counters", func() bool { r, ok := up.lastReport(); return ok && r.Counters[rule].Packets == 3 })
	r, _ = up.lastReport()
	rules, elements := sp.Count()
	if r.State != "success" || r.Mode != wire.ModeEnforcing || r.Revision != 7 || r.Rules != rules || r.Elements != elements ||
		r.Realized.IsZero() || r.Error != "" || r.VM == nil || r.VM.Addresses[0] != vm.Addresses[0] ||
		r.Counters[rule] != (wire.RuleCounters{Packets: 3, Bytes: 180}) || len(r.Counters) != 1 {
		t.Fatalf("the report of the span: %+v", r)
	}
}

// TestLoopStopsWhenRevoked: the manager refusing the identity, on a span
// request or on a report, ends Run with ErrRevoked and leaves the table.
func TestLoopStopsWhenRevoked(t *testing.T) {
	for _, on := range []string{"span", "report"} {
		t.Run(on, func(t *testing.T) {
			up := &fakeUpstream{}
			n := &flakyNFT{Fake: knftables.NewFake(knftables.InetFamily, nft.DefaultTable)}
			sp := groupSpan(1, "10.0.0.1")
			up.serve(nil, sp)
			l := runLoop(t, up, n, nil)
			eventually(t, "the span", func() bool { r, ok := up.lastReport(); return ok && r.Digest == sp.Digest })
			applied := n.Dump()
			revoked := fmt.Errorf("%w: agent a1 is not registered", ErrRevoked)
			if on == "span" {
				up.fail(revoked, nil)
			} else {
				up.fail(nil, revoked)
			}
			select {
			case <-l.done:
				if !errors.Is(l.err, ErrRevoked) {
					t.Fatalf("Run returned %v", l.err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("a revoked agent still runs")
			}
			if n.Dump() != applied {
				t.Fatal("the table changed when the agent stopped")
			}
		})
	}
}

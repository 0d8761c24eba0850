package enforcement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/internal/enforcement/nft"
	"github.com/kordon-dev/kordon/internal/realization"
	"github.com/kordon-dev/kordon/internal/wire"
)

// Options configure an agent.
type Options struct {
	// Bundle is the agent's identity: its name and role, and how it
	// reaches the manager unless Upstream is given.
	Bundle wire.Bundle
	NFT    knftables.Interface
	// Upstream is where spans come from and reports go; nil: the manager
	// the bundle names, over HTTPS with the bundle's certificate.
	Upstream Upstream
	// VM is what a VM's agent reports about its host; nil on a gateway.
	VM *wire.VMFacts
	// Report is how often the agent reports (default 10 s); Wait how
	// long one span request waits for a change (default 30 s).
	Report, Wait time.Duration
	// FailMode is what the host enforces while this run has applied no
	// span and no table of an earlier run is in the kernel: FailClosed
	// drops new connections (the default for gateways), FailOpen enforces
	// nothing (the default for VMs).
	FailMode string
	// Manager lists where the manager is: the host's connections to it
	// are exempt from every rule.
	Manager []netip.AddrPort
	Logger  *slog.Logger
}

// Fail modes.
const (
	FailOpen   = "open"
	FailClosed = "closed"
)

// minReportGap spaces an agent's reports: a burst of changes is
// reported once it settles, never faster than the manager takes them.
const minReportGap = time.Second

// Agent follows its span and enforces it.
type Agent struct {
	o  Options
	up Upstream
	// pause is the first wait after a failure, doubled while failures
	// last (to 30 s); tests shorten it.
	pause time.Duration

	// mu serialises every use of the applier: the table has one writer.
	mu      sync.Mutex
	applier *nft.Applier
	report  wire.AgentReport
	kick    chan struct{}
}

// New prepares an agent.
func New(o Options) (*Agent, error) {
	if o.Report <= 0 {
		o.Report = 10 * time.Second
	}
	if o.Wait <= 0 {
		o.Wait = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.FailMode == "" {
		o.FailMode = FailOpen
		if o.Bundle.Role == realization.RoleGateway {
			o.FailMode = FailClosed
		}
	}
	if o.FailMode != FailOpen && o.FailMode != FailClosed {
		return nil, fmt.Errorf("fail mode %q: use open or closed", o.FailMode)
	}
	if o.FailMode == FailClosed && o.Bundle.Role != realization.RoleVM && o.Bundle.Role != realization.RoleGateway {
		return nil, errors.New("the bundle does not say whether the agent is a VM's or a gateway's, so it cannot fail closed: issue a new one (kordon agent rotate)")
	}
	up := o.Upstream
	if up == nil {
		var err error
		if up, err = NewHTTPUpstream(o.Bundle, o.Wait); err != nil {
			return nil, err
		}
	}
	applier := nft.NewApplierWith(o.NFT, nft.Options{Manager: o.Manager})
	applier.SetLogger(o.Logger)
	return &Agent{o: o, up: up, pause: time.Second, applier: applier, kick: make(chan struct{}, 1),
		report: wire.AgentReport{State: "success", VM: o.VM, Interval: o.Report}}, nil
}

// Run follows the span until ctx ends or the identity is revoked. When
// the manager cannot be reached the table stays as it is (fail static)
// and the agent retries; an apply that fails leaves the previous ruleset
// in force and is retried with a whole snapshot.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.start(ctx); err != nil {
		return err
	}
	// Report first: a VM's span depends on the addresses it reports.
	if err := a.send(ctx); errors.Is(err, ErrRevoked) {
		return err
	}
	reported := make(chan error, 1)
	go func() { reported <- a.reportLoop(ctx) }()
	have := ""
	backoff := a.pause
	for ctx.Err() == nil {
		select {
		case err := <-reported:
			return err
		default:
		}
		resp, err := a.up.Span(ctx, have, a.o.Wait)
		if errors.Is(err, ErrRevoked) {
			return err
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			a.o.Logger.Warn("no span from the manager; enforcing the rules already in place", "error", err, "retry_in", backoff)
			sleep(ctx, backoff)
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = a.pause
		if resp == nil {
			continue // nothing changed while we waited
		}
		if err := a.apply(ctx, resp); err != nil {
			a.o.Logger.Error("the span could not be applied; the previous rules stay in force", "error", err)
			have = "" // ask for a whole snapshot
			sleep(ctx, a.pause)
			continue
		}
		have = a.applier.Current().Digest
	}
	if err := <-reported; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// start decides what the host enforces until the first span is applied:
// the table an earlier run left (the last ruleset applied), else the fail
// mode. It says which, loudly.
func (a *Agent) start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	kept, err := nft.TableExists(ctx, a.o.NFT)
	if err != nil {
		return fmt.Errorf("reading the nftables table: %w", err)
	}
	role := a.o.Bundle.Role
	switch {
	case kept:
		a.report.Mode = wire.ModeKept
		a.o.Logger.Warn("the table an earlier run applied stays in force until this run applies its first span")
	case a.o.FailMode == FailClosed:
		if err := a.applier.FailClosed(ctx, role); err != nil {
			return err
		}
		a.report.Mode = wire.ModeFailClosed
		a.o.Logger.Warn("no ruleset applied yet: failing closed (new connections dropped, the manager reachable) until the first span is applied")
	default:
		a.report.Mode = wire.ModeFailOpen
		a.o.Logger.Warn("no ruleset applied yet: failing open (nothing enforced) until the first span is applied; --fail-mode closed drops new connections instead")
	}
	return nil
}

func (a *Agent) apply(ctx context.Context, resp *Update) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	start := time.Now()
	var res nft.Result
	var err error
	switch {
	case resp.Delta != nil:
		a.o.Logger.Debug("delta received", "from", resp.Delta.From, "to", resp.Delta.To, "revision", resp.Delta.Revision, "elements", resp.Delta.Elements())
		res, err = a.applier.ApplyDelta(ctx, resp.Delta, nil)
	case resp.Span != nil:
		a.o.Logger.Debug("span received", "digest", resp.Span.Digest, "revision", resp.Span.Revision)
		res, err = a.applier.Apply(ctx, resp.Span)
	default:
		err = errors.New("the manager sent neither a span nor a delta")
	}
	if err != nil {
		a.report.State, a.report.Error = "error", err.Error()
		a.o.Logger.Error("the span could not be applied; the table keeps what it enforced", "mode", a.report.Mode, "error", err)
	} else {
		s := a.applier.Current()
		rules, elements := s.Count()
		a.report.State, a.report.Error, a.report.Mode = "success", "", wire.ModeEnforcing
		a.report.Revision, a.report.Digest, a.report.Realized = s.Revision, s.Digest, time.Now().UTC()
		a.report.Rules, a.report.Elements = rules, elements
		a.o.Logger.Info("span applied", "revision", s.Revision, "rules", rules, "elements", elements,
			"replaced_table", res.Full, "operations", res.Ops, "took", time.Since(start).Round(time.Microsecond))
	}
	select {
	case a.kick <- struct{}{}:
	default:
	}
	return err
}

// reportLoop reports every interval, and soon after an apply (never
// more often than minReportGap).
func (a *Agent) reportLoop(ctx context.Context) error {
	t := time.NewTicker(a.o.Report)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-a.kick:
		}
		if wait := minReportGap - time.Since(last); wait > 0 {
			sleep(ctx, wait)
		}
		last = time.Now()
		if err := a.send(ctx); errors.Is(err, ErrRevoked) {
			return err
		}
	}
}

// send reports the realization state and the rules' counters.
func (a *Agent) send(ctx context.Context) error {
	a.mu.Lock()
	counts, err := a.applier.Counters(ctx)
	rep := a.report
	a.mu.Unlock()
	if err == nil && len(counts) > 0 {
		rep.Counters = make(map[string]wire.RuleCounters, len(counts))
		for r, c := range counts {
			rep.Counters[r] = wire.RuleCounters{Packets: c.Packets, Bytes: c.Bytes}
		}
	}
	err = a.up.Report(ctx, rep)
	if err != nil && ctx.Err() == nil {
		a.o.Logger.Warn("reporting to the manager", "error", err)
	}
	return err
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

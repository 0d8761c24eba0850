package nft

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/internal/realization"
)

// Applier is the single writer of the agent's table. It remembers the
// span the table holds, so that the next one costs only the element
// changes when the rules did not change.
type Applier struct {
	nft knftables.Interface
	opt Options
	cur *realization.Span
	// base holds counts read before the table was last replaced, which
	// replacing resets; by rule path.
	base map[string]Counts
	prog *Program
	log  *slog.Logger
	// netlink names the table when element changes go through netlink
	// (UseNetlink), else they go through nft.
	netlink string
}

// Counts are a rule's packet and byte counters.
type Counts struct{ Packets, Bytes uint64 }

// Result says what an apply did.
type Result struct {
	Full bool // the table was replaced, else only elements changed
	Ops  int  // operations in the transaction
	// Netlink says the element changes went to the kernel as one netlink
	// batch rather than through nft.
	Netlink bool
	// Fallback is the error of a netlink batch that failed (the kernel
	// keeps the table as it was) before the same changes went through
	// nft.
	Fallback error
}

// NewApplier returns an applier for a table. It assumes nothing about
// what the table holds: the first apply replaces it.
func NewApplier(nft knftables.Interface) *Applier { return NewApplierWith(nft, Options{}) }

// NewApplierWith returns an applier whose programs are compiled with o.
//
// When nft is the kernel's nftables from New and the process runs as
// root on Linux, element changes go through netlink (see UseNetlink); a
// knftables.Fake, or an Interface from elsewhere, keeps them on nft.
func NewApplierWith(nft knftables.Interface, o Options) *Applier {
	a := &Applier{nft: nft, opt: o, base: map[string]Counts{}, log: slog.New(slog.DiscardHandler)}
	if k, ok := nft.(*kernel); ok && netlinkAvailable() {
		a.netlink = k.table
	}
	return a
}

// UseNetlink makes the applier send element changes (ApplyDelta) to the
// kernel through netlink, as one batch for table (family inet) in the
// network namespace of the calling thread, instead of through nft, which
// reads the whole table back for each transaction (hundreds of
// milliseconds at 10,000 rules). Whole tables still go through nft. An
// empty table turns netlink off. A batch that fails leaves the table as
// it was, and the changes then go through nft (Result.Fallback).
func (a *Applier) UseNetlink(table string) { a.netlink = table }

// SetLogger makes the applier log each transaction's text at debug level
// (kordon agent --log-level debug): what was sent to the kernel is the
// first thing to read when a ruleset does not do what its span says.
func (a *Applier) SetLogger(l *slog.Logger) {
	if l != nil {
		a.log = l
	}
}

// run runs a transaction, logging its text first when debug is on.
func (a *Applier) run(ctx context.Context, what string, tx *knftables.Transaction) error {
	if a.log.Enabled(ctx, slog.LevelDebug) {
		a.log.Debug("nftables transaction", "what", what, "operations", tx.NumOperations(), "text", tx.String())
	}
	return a.nft.Run(ctx, tx)
}

// Current returns the span the table holds, nil before the first apply or
// after a failed one.
func (a *Applier) Current() *realization.Span { return a.cur }

// Apply makes the table enforce s: element changes when only members
// differ from the span it holds (and no set gains its first or loses its
// last address of a family, see ApplyDelta), else a replacement of the
// whole table,
// always as one transaction. When it fails the kernel keeps the previous
// ruleset (transactions are atomic) and the next apply replaces the
// table.
func (a *Applier) Apply(ctx context.Context, s *realization.Span) (Result, error) {
	if a.cur != nil {
		if a.cur.Digest == s.Digest {
			return Result{}, nil
		}
		if d, ok := realization.Diff(a.cur, s); ok {
			return a.ApplyDelta(ctx, d, s)
		}
	}
	return a.replace(ctx, s)
}

// ApplyDelta applies element changes that lead from the current span to
// next (next may be nil: it is then computed from the delta). When a set
// of the delta gains its first or loses its last address of a family,
// the table set of that family is created or goes, and so do the rule
// lines that look it up: the table is then replaced instead.
func (a *Applier) ApplyDelta(ctx context.Context, d *realization.Delta, next *realization.Span) (Result, error) {
	if a.cur == nil || a.cur.Digest != d.From {
		return Result{}, errors.New("the table does not hold the span the delta applies to")
	}
	if next == nil {
		var err error
		if next, err = a.cur.Apply(d); err != nil {
			return Result{}, err
		}
	}
	if familiesChange(a.cur, next, d) {
		return a.replace(ctx, next)
	}
	var fallback error
	if a.netlink != "" {
		ops, n := deltaOps(d)
		if n == 0 {
			a.cur = next
			return Result{Netlink: true}, nil
		}
		if n <= maxNetlinkElements {
			if a.log.Enabled(ctx, slog.LevelDebug) {
				tx := a.nft.NewTransaction()
				RenderDelta(tx, d)
				a.log.Debug("nftables netlink batch", "what", "element changes", "operations", n, "text", tx.String())
			}
			err := applyNetlink(a.netlink, ops)
			if err == nil {
				a.cur = next
				return Result{Ops: n, Netlink: true}, nil
			}
			fallback = fmt.Errorf("netlink batch of %d element changes: %w", n, err)
			a.log.Warn("element changes through netlink failed, applying them through nft", "error", err)
		}
	}
	tx := a.nft.NewTransaction()
	RenderDelta(tx, d)
	n := tx.NumOperations()
	if n > 0 {
		if err := a.run(ctx, "element changes", tx); err != nil {
			a.cur = nil
			if fallback != nil {
				return Result{Ops: n, Fallback: fallback}, fmt.Errorf("applying %d element changes: %w; then through nft: %w", n, fallback, err)
			}
			return Result{Ops: n}, fmt.Errorf("applying %d element changes: %w", n, err)
		}
	}
	a.cur = next
	return Result{Ops: n, Fallback: fallback}, nil
}

// familiesChange reports whether a set the delta changes has elements of
// a family in one span and none in the other.
func familiesChange(from, to *realization.Span, d *realization.Delta) bool {
	for _, c := range d.Changes {
		a, b := from.Set(c.Set), to.Set(c.Set)
		if a == nil || b == nil {
			return true
		}
		a4, a6 := setFamilies(a)
		b4, b6 := setFamilies(b)
		if a4 != b4 || a6 != b6 {
			return true
		}
	}
	return false
}

func (a *Applier) replace(ctx context.Context, s *realization.Span) (Result, error) {
	// Replacing the table resets its counters: keep what they counted.
	base := a.base
	if a.prog != nil {
		if counts, err := a.read(ctx); err == nil {
			base = counts
		}
	}
	p := CompileWith(s, a.opt)
	tx := a.nft.NewTransaction()
	Render(tx, p)
	n := tx.NumOperations()
	if err := a.run(ctx, "table replacement", tx); err != nil {
		a.cur = nil
		return Result{Full: true, Ops: n}, fmt.Errorf("replacing the table (%d operations): %w", n, err)
	}
	a.cur, a.prog, a.base = s, p, base
	return Result{Full: true, Ops: n}, nil
}

// Counters returns each rule's counts (by rule path, summed over hooks)
// since the applier started.
func (a *Applier) Counters(ctx context.Context) (map[string]Counts, error) {
	if a.prog == nil {
		return a.base, nil
	}
	return a.read(ctx)
}

func (a *Applier) read(ctx context.Context) (map[string]Counts, error) {
	cs, err := a.nft.ListCounters(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Counts, len(a.base))
	for r, c := range a.base {
		out[r] = c
	}
	for _, c := range cs {
		if c == nil || c.Packets == nil || c.Bytes == nil {
			continue
		}
		of, ok := a.prog.Counters[c.Name]
		if !ok {
			continue
		}
		t := out[of.Rule]
		t.Packets += *c.Packets
		t.Bytes += *c.Bytes
		out[of.Rule] = t
	}
	return out, nil
}

// New returns the kernel's nftables, through the nft command, for the
// agent's table (inet family). Only this package names knftables'
// constructor, so the agent's commands need not import knftables.
func New(table string) (knftables.Interface, error) {
	n, err := knftables.New(knftables.InetFamily, table)
	if err != nil {
		return nil, err
	}
	return &kernel{Interface: n, table: table}, nil
}

// kernel is the kernel's nftables for a table: NewApplierWith knows its
// table's name, which element changes through netlink need.
type kernel struct {
	knftables.Interface
	table string
}

// Uninstall deletes the table and everything in it. A missing table is
// not an error.
func Uninstall(ctx context.Context, nft knftables.Interface) error {
	tx := nft.NewTransaction()
	tx.Add(&knftables.Table{})
	tx.Delete(&knftables.Table{})
	return nft.Run(ctx, tx)
}

// TableExists reports whether the agent's table is in the kernel: the
// rules a previous run of the agent applied, which stay in force until
// this run applies its first span.
func TableExists(ctx context.Context, nft knftables.Interface) (bool, error) {
	_, err := nft.List(ctx, "chains")
	switch {
	case err == nil:
		return true, nil
	case knftables.IsNotFound(err):
		return false, nil
	}
	return false, err
}

// FailClosed installs the table an agent enforces when it has nothing
// better: for a gateway, forwarded traffic that is not part of an
// established connection is dropped; for a VM, new connections in and
// out are dropped, except on loopback and to the manager. Established
// and related traffic passes, so connections that existed go on.
func (a *Applier) FailClosed(ctx context.Context, role string) error {
	tx := a.nft.NewTransaction()
	tx.Add(&knftables.Table{})
	tx.Delete(&knftables.Table{})
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("kordon agent: failing closed until the first span is applied")})
	hooks := []string{"input", "output"}
	if role == realization.RoleGateway {
		hooks = []string{"forward"}
	}
	for _, h := range hooks {
		tx.Add(&knftables.Chain{Name: h, Type: knftables.PtrTo(knftables.FilterType), Hook: knftables.PtrTo(knftables.BaseChainHook(h)),
			Priority: knftables.PtrTo(knftables.FilterPriority), Policy: knftables.PtrTo(knftables.DropPolicy)})
		lines := []string{"ct state established,related accept",
			"meta l4proto ipv6-icmp icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept"}
		switch h {
		case "input":
			lines = append(lines, `iifname "lo" accept`)
		case "output":
			lines = append(lines, `oifname "lo" accept`)
			for _, l := range managerLines(a.opt.Manager) {
				lines = append(lines, l.Raw)
			}
		}
		for _, l := range lines {
			tx.Add(&knftables.Rule{Chain: h, Rule: l})
		}
	}
	if err := a.run(ctx, "fail-closed table", tx); err != nil {
		return fmt.Errorf("installing the fail-closed table: %w", err)
	}
	a.cur, a.prog = nil, nil
	return nil
}

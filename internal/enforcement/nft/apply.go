package nft

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"

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
	// The classes, and so the class maps' elements, follow from the
	// sets' members: the maps the changed sets make are classed again
	// where the changes are, or, when that may change the program's
	// structure, the next program is compiled and, when its chains,
	// lines and maps are the current one's, only elements differ.
	np, ok := a.prog.update(d, next)
	if !ok {
		np = CompileWith(next, a.opt)
		if a.prog == nil || !sameStructure(a.prog, np) {
			return a.replaceWith(ctx, next, np)
		}
	}
	classes := classDelta(a.prog, np)
	var fallback error
	if a.netlink != "" {
		ops, n := deltaOps(d, np.Sets, classes)
		if n == 0 {
			a.cur, a.prog = next, np
			return Result{Netlink: true}, nil
		}
		if kernelElements(ops) <= maxNetlinkElements {
			if a.log.Enabled(ctx, slog.LevelDebug) {
				tx := a.nft.NewTransaction()
				renderDelta(tx, d, np.Sets, classes)
				a.log.Debug("nftables netlink batch", "what", "element changes", "operations", n, "text", tx.String())
			}
			err := applyNetlink(a.netlink, ops)
			if err == nil {
				a.cur, a.prog = next, np
				return Result{Ops: n, Netlink: true}, nil
			}
			fallback = fmt.Errorf("netlink batch of %d element changes: %w", n, err)
			a.log.Warn("element changes through netlink failed, applying them through nft", "error", err)
		}
	}
	tx := a.nft.NewTransaction()
	renderDelta(tx, d, np.Sets, classes)
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
	a.cur, a.prog = next, np
	return Result{Ops: n, Fallback: fallback}, nil
}

// update returns the program of next, which d leads to from p's span,
// computed from p when d only changes sets that p's class maps decide
// and no class chain appears or goes; else false.
func (p *Program) update(d *realization.Delta, next *realization.Span) (*Program, bool) {
	if p == nil {
		return nil, false
	}
	touched := map[int]bool{}
	for _, c := range d.Changes {
		if p.undecided[c.Set] {
			return nil, false
		}
		for _, k := range p.decides[c.Set] {
			touched[k] = true
		}
	}
	q := *p
	q.Span = next
	if len(touched) == 0 {
		return &q, true
	}
	q.ClassMaps = slices.Clone(p.ClassMaps)
	for k := range touched {
		m, ok := p.ClassMaps[k].update(d, next)
		if !ok {
			return nil, false
		}
		q.ClassMaps[k] = *m
	}
	return &q, true
}

// sameStructure reports whether two programs differ only in the
// elements of their sets and class maps, so that element operations
// lead from one to the other.
func sameStructure(a, b *Program) bool {
	if len(a.ClassMaps) != len(b.ClassMaps) || !maps.Equal(a.Sets, b.Sets) || !maps.Equal(a.Counters, b.Counters) {
		return false
	}
	for i := range a.ClassMaps {
		x, y := &a.ClassMaps[i], &b.ClassMaps[i]
		if x.Name != y.Name || x.Family != y.Family || x.Src != y.Src {
			return false
		}
	}
	return reflect.DeepEqual(a.Chains, b.Chains) && reflect.DeepEqual(a.Maps, b.Maps)
}

// classChange lists the elements a class map loses and gains.
type classChange struct {
	Map            *ClassMap
	Removed, Added []ClassElement
}

// classDelta lists the element changes of the class maps between two
// programs of the same structure. Elements are sorted and disjoint, so
// one pass over both lists finds them.
func classDelta(from, to *Program) []classChange {
	var out []classChange
	for i := range to.ClassMaps {
		a, b := from.ClassMaps[i].Elements, to.ClassMaps[i].Elements
		if len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0]) {
			continue // a map no change touched
		}
		c := classChange{Map: &to.ClassMaps[i]}
		j, k := 0, 0
		for j < len(a) || k < len(b) {
			switch {
			case j < len(a) && k < len(b) && a[j] == b[k]:
				j++
				k++
			case k == len(b) || j < len(a) && a[j].Range.From().Less(b[k].Range.From()):
				c.Removed = append(c.Removed, a[j])
				j++
			case j == len(a) || b[k].Range.From().Less(a[j].Range.From()):
				c.Added = append(c.Added, b[k])
				k++
			default:
				c.Removed = append(c.Removed, a[j])
				c.Added = append(c.Added, b[k])
				j++
				k++
			}
		}
		if len(c.Added)+len(c.Removed) > 0 {
			out = append(out, c)
		}
	}
	return out
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
	return a.replaceWith(ctx, s, CompileWith(s, a.opt))
}

// replaceWith replaces the table with p, the program of s.
func (a *Applier) replaceWith(ctx context.Context, s *realization.Span, p *Program) (Result, error) {
	// Replacing the table resets its counters: keep what they counted.
	base := a.base
	if a.prog != nil {
		if counts, err := a.read(ctx); err == nil {
			base = counts
		}
	}
	tx := a.nft.NewTransaction()
	// The kernel's nft takes elements many to a command (render); a fake
	// in tests keeps knftables' one element to an operation, which it
	// can delete one by one.
	chunk := 1
	if _, ok := a.nft.(*kernel); ok {
		chunk = elementsPerCommand
	}
	n := render(tx, p, chunk) + tx.NumOperations()
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

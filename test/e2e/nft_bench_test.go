package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"go4.org/netipx"
	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/enforcement/nft"
	"github.com/kordon-dev/kordon/internal/policy"
	"github.com/kordon-dev/kordon/internal/realization"
)

// inPrivateNetNS re-runs the benchmark alone in a new network namespace
// and reports the metrics it prints; it returns false in the child.
func inPrivateNetNS(b *testing.B, name string) bool {
	b.Helper()
	needNFTables(b)
	if os.Getenv("KORDON_E2E_NETNS") != "" {
		return false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^"+name+"$", "-test.benchtime=1x", "-test.timeout=30m")
	cmd.Env = append(os.Environ(), "KORDON_E2E_NETNS=1", "KORDON_E2E_BIN="+kordon)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := cmd.Run(); err != nil {
		b.Fatalf("the benchmark in its network namespace: %v\n%s", err, out.String())
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "kordon-metric" {
			v, _ := strconv.ParseFloat(f[2], 64)
			b.ReportMetric(v, f[1])
		} else if len(f) > 0 && f[0] == "kordon-log" {
			b.Log(strings.TrimPrefix(sc.Text(), "kordon-log "))
		}
	}
	b.ReportMetric(0, "ns/op")
	return true
}

func metric(name string, v float64) { fmt.Printf("kordon-metric %s %g\n", name, v) }
func logf(f string, a ...any)       { fmt.Printf("kordon-log "+f+"\n", a...) }

// benchSpan is a gateway span of n rules, rule i allowing TCP port 80
// from its own set of per addresses; the last rule's set holds last.
func benchSpan(n, per int, last netip.Addr) *realization.Span {
	return benchSpanPorts(n, per, last, func(int) uint16 { return 80 })
}

// benchSpanPorts is benchSpan with rule i allowing TCP port port(i).
func benchSpanPorts(n, per int, last netip.Addr, port func(i int) uint16) *realization.Span {
	s := &realization.Span{Point: "/infra/tier-1s/bench", Role: realization.RoleGateway, Revision: 1}
	h := realization.Hook{Name: realization.HookForward, AppStart: n}
	for i := range n {
		name := fmt.Sprintf("s%05d", i)
		var b netipx.IPSetBuilder
		for j := range per {
			b.Add(benchAddr(i*per + j))
		}
		if i == n-1 {
			b.Add(last)
		}
		set, _ := b.IPSet()
		s.Sets = append(s.Sets, realization.Set{Name: name, Names: []string{"/infra/domains/default/groups/g" + name}, Ranges: set.Ranges()})
		h.Rules = append(h.Rules, realization.Rule{Path: "/infra/domains/default/gateway-policies/bench/rules/r" + name, Policy: "/infra/domains/default/gateway-policies/bench",
			Action: policy.ActionAllow, V4: true, V6: true, Src: realization.Endpoint{Set: name}, Dst: realization.Endpoint{Any: true},
			Services: []realization.Service{{Proto: address.TCP, DstPorts: []address.PortRange{{From: port(i), To: port(i)}}}}})
	}
	s.Hooks = []realization.Hook{h}
	s.Rehash()
	return s
}

// benchAddr is the k-th address of the benchmark's groups, 4 apart so
// that moving one by one never merges it with a neighbour.
func benchAddr(k int) netip.Addr {
	v := uint32(10<<24|128<<16) + uint32(k)*4
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// BenchmarkNFTables measures kordon's nftables realization with the real
// kernel: replacing the table with 10,000 rules over 100,000 set elements
// (and the same table as one set lookup per rule line, as kordon compiled
// it before class maps), one membership change as element operations, and
// the cost a new connection pays to cross a gateway with 1,000 and 10,000
// rules against a naive one-rule-per-line ruleset built in the same run.
//
//	go test ./test/e2e -run '^$' -bench NFTables -benchtime 1x
func BenchmarkNFTables(b *testing.B) {
	if inPrivateNetNS(b, "BenchmarkNFTables") {
		return
	}
	ctx := context.Background()
	exec.Command("ip", "link", "set", "lo", "up").Run()
	client := netip.MustParseAddr("10.1.0.2")

	// 1. The whole table: 10,000 rules, 100,000 elements, through the
	// agent's nftables (elements many to an nft command) and through
	// knftables' own one element to a command.
	n, err := nft.New("kbench")
	if err != nil {
		b.Fatal(err)
	}
	one, err := knftables.New(knftables.InetFamily, "kbench")
	if err != nil {
		b.Fatal(err)
	}
	big := benchSpan(10000, 10, client)
	replace := func(n knftables.Interface, opt nft.Options) (time.Duration, int) {
		var took []time.Duration
		var ops int
		for range 3 {
			a := nft.NewApplierWith(n, opt)
			start := time.Now()
			res, err := a.Apply(ctx, big)
			if err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
			ops = res.Ops
		}
		slices.Sort(took)
		return took[1], ops
	}
	full, ops := replace(n, nft.Options{})
	oneEach, _ := replace(one, nft.Options{})
	rules, elements := big.Count()
	metric("full-apply-s", full.Seconds())
	metric("full-apply-one-element-a-command-s", oneEach.Seconds())
	metric("full-apply-ops", float64(ops))
	logf("replacing the table: %d rules, %d elements, %d operations in one transaction: median %s of 3 (one element to an nft command: %s, %.2fx)", rules, elements, ops, full.Round(time.Millisecond), oneEach.Round(time.Millisecond), float64(oneEach)/float64(full))
	// The same span as kordon compiled it before class maps: a set per
	// rule, looked up line by line.
	lines, linesOps := replace(n, nft.Options{NoClassMaps: true})
	metric("full-apply-lines-s", lines.Seconds())
	metric("x-install-faster", float64(lines)/float64(full))
	logf("the same as one set lookup per rule line (before class maps): %d operations, median %s of 3 (class maps install %.1fx faster)", linesOps, lines.Round(time.Millisecond), float64(lines)/float64(full))

	// 2. One membership change: an address of one group moves, through
	// nft (the agent's table would take it through netlink: see
	// BenchmarkNFTablesDelta).
	a := nft.NewApplier(one)
	if _, err := a.Apply(ctx, big); err != nil {
		b.Fatal(err)
	}
	var small []time.Duration
	cur := big
	for i := range 20 {
		next := moveOne(cur, i)
		start := time.Now()
		res, err := a.Apply(ctx, next)
		if err != nil {
			b.Fatal(err)
		}
		small = append(small, time.Since(start))
		if res.Full || res.Ops != 2 {
			b.Fatalf("a membership change gave %+v, want 2 element operations", res)
		}
		cur = next
	}
	slices.Sort(small)
	metric("member-change-ms", float64(small[10].Microseconds())/1000)
	metric("member-change-ops", 2)
	metric("x-cheaper-than-full", float64(full)/float64(small[10]))
	logf("one membership change: 2 element operations, median %s of 20 (%.0fx cheaper than replacing the table)", small[10].Round(time.Microsecond), float64(full)/float64(small[10]))
	if err := nft.Uninstall(ctx, n); err != nil {
		b.Fatal(err)
	}

	// 3. First-packet cost through a gateway (this namespace routes
	// between a client and a server namespace).
	cl, sv := gatewayLab(b)
	sv.serveTCP(b, 80, 20999, 29999)
	var connectTo func(port int) time.Duration
	connect := func() time.Duration { return connectTo(80) }
	connectTo = func(port int) time.Duration {
		const tries = 400
		var d []time.Duration
		for range tries {
			var c net.Conn
			start := time.Now()
			err := cl.in(func() (err error) {
				c, err = net.DialTimeout("tcp", fmt.Sprintf("10.2.0.2:%d", port), 2*time.Second)
				return
			})
			if err != nil {
				b.Fatalf("connecting through the gateway: %v", err)
			}
			d = append(d, time.Since(start))
			c.Close()
		}
		slices.Sort(d)
		return d[tries/2]
	}
	none := connect()
	metric("connect-no-rules-us", float64(none.Microseconds()))
	logf("connect through the gateway with no ruleset: median %s of 400", none)
	for _, size := range []int{1000, 10000} {
		a := nft.NewApplier(n)
		if _, err := a.Apply(ctx, benchSpan(size, 10, client)); err != nil {
			b.Fatal(err)
		}
		k := connect()
		if err := nft.Uninstall(ctx, n); err != nil {
			b.Fatal(err)
		}
		naive(b, n, size, 10, client)
		nv := connect()
		if err := nft.Uninstall(ctx, n); err != nil {
			b.Fatal(err)
		}
		metric(fmt.Sprintf("connect-kordon-%d-us", size), float64(k.Microseconds()))
		metric(fmt.Sprintf("connect-naive-%d-us", size), float64(nv.Microseconds()))
		logf("%d rules, the connection matching the last: kordon median %s, naive one-line-per-rule median %s (kordon/naive %.2f; over no rules: kordon +%s, naive +%s)",
			size, k, nv, float64(k)/float64(nv), k-none, nv-none)
	}
	// The same with each rule on its own port: kordon classes the rules
	// by source address (each class chain is one rule's line), the naive
	// list walks them.
	for _, size := range []int{1000, 10000} {
		port := func(i int) uint16 { return uint16(20000 + i) }
		last := int(port(size - 1))
		a := nft.NewApplier(n)
		start := time.Now()
		if _, err := a.Apply(ctx, benchSpanPorts(size, 10, client, port)); err != nil {
			b.Fatal(err)
		}
		install := time.Since(start)
		k := connectTo(last)
		if err := nft.Uninstall(ctx, n); err != nil {
			b.Fatal(err)
		}
		naivePorts(b, n, size, 10, client, port)
		nv := connectTo(last)
		if err := nft.Uninstall(ctx, n); err != nil {
			b.Fatal(err)
		}
		metric(fmt.Sprintf("connect-kordon-ports-%d-us", size), float64(k.Microseconds()))
		metric(fmt.Sprintf("connect-naive-ports-%d-us", size), float64(nv.Microseconds()))
		logf("%d rules on %d ports (installed in %s), the connection matching the last: kordon median %s, naive median %s (naive/kordon %.2f; over no rules: kordon +%s, naive +%s)",
			size, size, install.Round(time.Millisecond), k, nv, float64(nv)/float64(k), k-none, nv-none)
	}
}

// gatewayLab makes the namespace of the calling benchmark a gateway
// between a client namespace (10.1.0.2) and a server namespace
// (10.2.0.2).
func gatewayLab(b *testing.B) (client, server *netNS) {
	exec.Command("ip", "link", "set", "lo", "up").Run()
	p := fmt.Sprintf("kb%d", os.Getpid()%100000)
	cl, sv := newNetNS(b, p+"-c"), newNetNS(b, p+"-s")
	for _, c := range [][]string{
		{"link", "add", "c0", "type", "veth", "peer", "name", "e0", "netns", cl.name},
		{"link", "add", "s0", "type", "veth", "peer", "name", "e0", "netns", sv.name},
		{"addr", "add", "10.1.0.1/24", "dev", "c0"}, {"addr", "add", "10.2.0.1/24", "dev", "s0"},
		{"link", "set", "c0", "up"}, {"link", "set", "s0", "up"},
		{"-n", cl.name, "addr", "add", "10.1.0.2/24", "dev", "e0"}, {"-n", cl.name, "link", "set", "e0", "up"},
		{"-n", cl.name, "route", "add", "default", "via", "10.1.0.1"},
		{"-n", sv.name, "addr", "add", "10.2.0.2/24", "dev", "e0"}, {"-n", sv.name, "link", "set", "e0", "up"},
		{"-n", sv.name, "route", "add", "default", "via", "10.2.0.1"},
	} {
		ipCmd(b, c...)
	}
	if out, err := exec.Command("sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	return cl, sv
}

// moveOne moves one address of set i (mod the sets) by one.
func moveOne(s *realization.Span, i int) *realization.Span {
	t := *s
	t.Sets = slices.Clone(s.Sets)
	st := t.Sets[i%len(t.Sets)]
	r := slices.Clone(st.Ranges)
	r[0] = netipx.IPRangeFrom(r[0].From().Next(), r[0].To().Next())
	st.Ranges = r
	t.Sets[i%len(t.Sets)] = st
	t.Revision++
	t.Rehash()
	return &t
}

// naive installs the same decisions as benchSpan as a plain list: one
// line per rule with its addresses inline, no named sets.
func naive(b *testing.B, n knftables.Interface, rules, per int, last netip.Addr) {
	naivePorts(b, n, rules, per, last, func(int) uint16 { return 80 })
}

// naivePorts is naive for benchSpanPorts.
func naivePorts(b *testing.B, n knftables.Interface, rules, per int, last netip.Addr, port func(int) uint16) {
	tx := n.NewTransaction()
	tx.Add(&knftables.Table{})
	tx.Add(&knftables.Chain{Name: "forward", Type: knftables.PtrTo(knftables.FilterType), Hook: knftables.PtrTo(knftables.ForwardHook),
		Priority: knftables.PtrTo(knftables.FilterPriority), Policy: knftables.PtrTo(knftables.AcceptPolicy)})
	tx.Add(&knftables.Rule{Chain: "forward", Rule: "ct state established,related accept"})
	for i := range rules {
		addrs := make([]string, 0, per+1)
		for j := range per {
			addrs = append(addrs, benchAddr(i*per+j).String())
		}
		if i == rules-1 {
			addrs = append(addrs, last.String())
		}
		tx.Add(&knftables.Rule{Chain: "forward", Rule: "ip saddr { " + strings.Join(addrs, ", ") + " } tcp dport " + strconv.Itoa(int(port(i))) + " counter accept"})
	}
	if err := n.Run(context.Background(), tx); err != nil {
		b.Fatal(err)
	}
}

// familySpan is benchSpanPorts with sets that are IPv4 only but for one
// in every tenth, which also holds an IPv6 address: mostly IPv4 groups.
func familySpan(n, per int, last netip.Addr) *realization.Span {
	s := benchSpanPorts(n, per, last, func(i int) uint16 { return uint16(20000 + i%500) })
	for i := range s.Sets {
		if i%10 != 0 {
			continue
		}
		st := &s.Sets[i]
		st.Ranges = append(slices.Clone(st.Ranges), netipx.IPRangeFrom(v6Addr(i), v6Addr(i)))
	}
	s.Rehash()
	return s
}

func v6Addr(i int) netip.Addr {
	return netip.AddrFrom16([16]byte{0: 0xfd, 1: 0x00, 14: byte(i >> 8), 15: byte(i)})
}

// withTwins is the program kordon compiled before a family set with no
// element was left out: every set exists in both families, and each
// line that names a set of one family has its twin of the other after
// it (for these spans, where only sources name sets).
func withTwins(p *nft.Program) *nft.Program {
	q := *p
	q.Sets = map[string]bool{}
	for _, s := range p.Span.Sets {
		q.Sets[s.Name+"_4"], q.Sets[s.Name+"_6"] = true, true
	}
	q.Chains = nil
	for _, c := range p.Chains {
		out := nft.Chain{Name: c.Name, Hook: c.Hook}
		for i, l := range c.Lines {
			out.Lines = append(out.Lines, l)
			if l.Family != 4 || slices.IndexFunc(l.Conds, func(c nft.Cond) bool { return c.Kind == nft.CondAddr }) < 0 {
				continue
			}
			if i+1 < len(c.Lines) && c.Lines[i+1].Family == 6 && c.Lines[i+1].Rule == l.Rule {
				continue // the set has IPv6 elements: the twin line is there
			}
			twin := l
			twin.Family = 6
			out.Lines = append(out.Lines, twin)
		}
		q.Chains = append(q.Chains, out)
	}
	return &q
}

// BenchmarkNFTablesInstall measures replacing the table with 2,000 rules
// whose groups are mostly IPv4 only (one in ten also has an IPv6
// address), on the real kernel: kordon's program (class maps where they
// pay, only the sets a line looks up), against the same span as one set
// lookup per rule line, as kordon compiled it before class maps, and that
// with every empty twin set and its lines, as it compiled it before that
// (same run).
//
//	go test ./test/e2e -run '^$' -bench NFTablesInstall -benchtime 1x
func BenchmarkNFTablesInstall(b *testing.B) {
	if inPrivateNetNS(b, "BenchmarkNFTablesInstall") {
		return
	}
	ctx := context.Background()
	n, err := knftables.New(knftables.InetFamily, "kbench")
	if err != nil {
		b.Fatal(err)
	}
	span := familySpan(2000, 5, netip.MustParseAddr("10.1.0.2"))
	now := nft.Compile(span)
	// Before class maps, and before that with the empty twin sets.
	lines := nft.CompileWith(span, nft.Options{NoClassMaps: true})
	before := withTwins(lines)
	install := func(p *nft.Program) (time.Duration, int) {
		tx := n.NewTransaction()
		nft.Render(tx, p)
		start := time.Now()
		if err := n.Run(ctx, tx); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		if err := nft.Uninstall(ctx, n); err != nil {
			b.Fatal(err)
		}
		return d, tx.NumOperations()
	}
	var tNow, tLines, tBefore []time.Duration
	var opsNow, opsLines, opsBefore int
	for range 3 {
		var d time.Duration
		d, opsBefore = install(before)
		tBefore = append(tBefore, d)
		d, opsLines = install(lines)
		tLines = append(tLines, d)
		d, opsNow = install(now)
		tNow = append(tNow, d)
	}
	slices.Sort(tNow)
	slices.Sort(tLines)
	slices.Sort(tBefore)
	rules, elements := span.Count()
	metric("install-s", tNow[1].Seconds())
	metric("install-lines-s", tLines[1].Seconds())
	metric("install-with-empty-sets-s", tBefore[1].Seconds())
	metric("x-faster-than-lines", float64(tLines[1])/float64(tNow[1]))
	metric("x-faster", float64(tBefore[1])/float64(tNow[1]))
	logf("%d rules, %d elements: %d sets, %d class maps, %d operations in %s; one set lookup per rule line (%d sets, %d operations) %s; that with the empty twin sets (%d sets, %d operations) %s; %.2fx and %.2fx faster (medians of 3)",
		rules, elements, len(now.Sets), len(now.ClassMaps), opsNow, tNow[1].Round(time.Millisecond), len(lines.Sets), opsLines, tLines[1].Round(time.Millisecond),
		len(before.Sets), opsBefore, tBefore[1].Round(time.Millisecond), float64(tLines[1])/float64(tNow[1]), float64(tBefore[1])/float64(tNow[1]))
}

// TestEnforceFamilyTransition applies deltas on the real kernel that give
// a set its first IPv6 address and take it away again: the applier
// replaces the table each time (the IPv6 set and its lines appear or go),
// and the kernel's table is what a fresh install of the span gives.
// Other deltas stay element changes.
func TestEnforceFamilyTransition(t *testing.T) {
	needNFTables(t)
	ns := newNetNS(t, fmt.Sprintf("kf%d", os.Getpid()%100000))
	s1 := benchSpan(4, 2, netip.MustParseAddr("10.1.0.2"))
	set := s1.Sets[1]
	with := func(s *realization.Span, r []netipx.IPRange) (*realization.Span, *realization.Delta) {
		st := set
		st.Ranges = r
		next, d := s.WithSets([]realization.Set{st}, s.Revision+1)
		if d == nil {
			t.Fatal("no change")
		}
		return next, d
	}
	v6 := netipx.IPRangeFrom(v6Addr(1), v6Addr(1))
	err := ns.in(func() error {
		ctx := context.Background()
		n, err := knftables.New(knftables.InetFamily, nft.DefaultTable)
		if err != nil {
			return err
		}
		ft, err := newFreshTable(t)
		if err != nil {
			return err
		}
		a := nft.NewApplier(n)
		if _, err := a.Apply(ctx, s1); err != nil {
			return err
		}
		cur := s1
		six := set.Name + "_6"
		for _, step := range []struct {
			name   string
			ranges []netipx.IPRange
			full   bool
			has6   bool
		}{
			{"first IPv6 address", append(slices.Clone(set.Ranges), v6), true, true},
			{"an IPv4 address moves", append([]netipx.IPRange{netipx.IPRangeFrom(set.Ranges[0].From().Next(), set.Ranges[0].From().Next())}, set.Ranges[1:]...), true, false},
			{"the IPv4 address moves back", slices.Clone(set.Ranges), false, false},
			{"IPv6 again", append(slices.Clone(set.Ranges), v6), true, true},
			{"IPv6 address moves", append(slices.Clone(set.Ranges), netipx.IPRangeFrom(v6Addr(2), v6Addr(2))), false, true},
			{"last IPv6 address goes", slices.Clone(set.Ranges), true, false},
		} {
			next, d := with(cur, step.ranges)
			res, err := a.ApplyDelta(ctx, d, nil)
			if err != nil {
				return fmt.Errorf("%s: %w", step.name, err)
			}
			if res.Full != step.full {
				t.Errorf("%s: %+v, want full replacement %v", step.name, res, step.full)
			}
			if got := ft.list(nft.DefaultTable); strings.Contains(got, "set "+six+" ") != step.has6 {
				t.Errorf("%s: set %s in the table: %v, want %v:\n%s", step.name, six, !step.has6, step.has6, got)
			}
			ft.check(ctx, step.name, next)
			cur = next
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sortElements sorts the elements of each set in an nft listing, which
// the kernel lists in an order that depends on their history.
func sortElements(listing string) string {
	var b strings.Builder
	for {
		i := strings.Index(listing, "elements = {")
		if i < 0 {
			b.WriteString(listing)
			return b.String()
		}
		j := strings.Index(listing[i:], "}")
		b.WriteString(listing[:i+len("elements = {")])
		els := strings.Split(listing[i+len("elements = {"):i+j], ",")
		for k := range els {
			els[k] = strings.TrimSpace(els[k])
		}
		slices.Sort(els)
		b.WriteString(" " + strings.Join(els, ", ") + " }")
		listing = listing[i+j+1:]
	}
}

// freshTable compares kordon's table with a fresh install of the same
// span in a second table of the current network namespace: whatever an
// agent did incrementally must leave exactly what installing anew gives.
type freshTable struct {
	t     testing.TB
	fresh *knftables.Interface
}

// newFreshTable installs through knftables itself, one element to a
// command, where kordon's applier (nft.New) writes elements many to a
// command: each check also compares the two.
func newFreshTable(t testing.TB) (*freshTable, error) {
	fresh, err := knftables.New(knftables.InetFamily, "kfresh")
	if err != nil {
		return nil, err
	}
	return &freshTable{t: t, fresh: &fresh}, nil
}

// list lists a table of the namespace with its elements sorted and its
// name left out, so two tables compare.
func (f *freshTable) list(table string) string {
	f.t.Helper()
	out, err := exec.Command("nft", "list", "table", "inet", table).CombinedOutput()
	if err != nil {
		f.t.Fatalf("nft list: %v\n%s", err, out)
	}
	return sortElements(strings.ReplaceAll(string(out), "table inet "+table+" {", "table {"))
}

// check installs s fresh and fails the test unless kordon's table equals
// it.
func (f *freshTable) check(ctx context.Context, step string, s *realization.Span) {
	f.t.Helper()
	if _, err := nft.NewApplier(*f.fresh).Apply(ctx, s); err != nil {
		f.t.Fatalf("%s: fresh install: %v", step, err)
	}
	if got, want := f.list(nft.DefaultTable), f.list("kfresh"); got != want {
		f.t.Fatalf("%s: the table differs from a fresh install:\n%s\nwant:\n%s", step, got, want)
	}
}

// installChecked installs s in kordon's table of the current network
// namespace through the real applier and checks it against a fresh
// install; check does the same for each later step.
func installChecked(ctx context.Context, t *testing.T, s *realization.Span) (*nft.Applier, func(string, *realization.Span), error) {
	t.Helper()
	n, err := nft.New(nft.DefaultTable)
	if err != nil {
		return nil, nil, err
	}
	ft, err := newFreshTable(t)
	if err != nil {
		return nil, nil, err
	}
	check := func(step string, s *realization.Span) { t.Helper(); ft.check(ctx, step, s) }
	a := nft.NewApplier(n)
	if _, err := a.Apply(ctx, s); err != nil {
		return nil, nil, err
	}
	check("install", s)
	return a, check, nil
}

// BenchmarkNFTablesDelta measures one membership change (an address of
// one group moves: two element operations, Applier.ApplyDelta) on a
// table of 10,000 rules over 100,000 set elements, through nft, which
// reads the table back for each transaction, and as one netlink batch,
// alternately in the same run; and apart, computing the delta from the
// spans (realization.Diff), which Apply does first either way.
//
//	go test ./test/e2e -run '^$' -bench NFTablesDelta -benchtime 1x
func BenchmarkNFTablesDelta(b *testing.B) {
	if inPrivateNetNS(b, "BenchmarkNFTablesDelta") {
		return
	}
	ctx := context.Background()
	n, err := nft.New("kbench")
	if err != nil {
		b.Fatal(err)
	}
	big := benchSpan(10000, 10, netip.MustParseAddr("10.1.0.2"))
	a := nft.NewApplier(n)
	if _, err := a.Apply(ctx, big); err != nil {
		b.Fatal(err)
	}
	var viaNFT, viaNetlink, diff []time.Duration
	cur := big
	for i := range 40 {
		useNetlink := i%2 == 1
		if useNetlink {
			a.UseNetlink("kbench")
		} else {
			a.UseNetlink("")
		}
		next := moveOne(cur, i)
		start := time.Now()
		delta, ok := realization.Diff(cur, next)
		if !ok {
			b.Fatal("no delta")
		}
		diff = append(diff, time.Since(start))
		start = time.Now()
		res, err := a.ApplyDelta(ctx, delta, next)
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		if res.Full || res.Ops != 2 || res.Netlink != useNetlink || res.Fallback != nil {
			b.Fatalf("a membership change gave %+v, want 2 element operations (netlink %v)", res, useNetlink)
		}
		if useNetlink {
			viaNetlink = append(viaNetlink, d)
		} else {
			viaNFT = append(viaNFT, d)
		}
		cur = next
	}
	slices.Sort(viaNFT)
	slices.Sort(viaNetlink)
	slices.Sort(diff)
	rules, elements := big.Count()
	metric("member-change-nft-ms", float64(viaNFT[10].Microseconds())/1000)
	metric("member-change-netlink-ms", float64(viaNetlink[10].Microseconds())/1000)
	metric("x-faster", float64(viaNFT[10])/float64(viaNetlink[10]))
	metric("span-diff-ms", float64(diff[20].Microseconds())/1000)
	logf("%d rules, %d elements, one membership change (2 element operations, ApplyDelta): nft median %s, netlink median %s of 20 each (%.1fx faster); computing the delta (realization.Diff, either way) median %s of 40",
		rules, elements, viaNFT[10].Round(time.Microsecond), viaNetlink[10].Round(time.Microsecond), float64(viaNFT[10])/float64(viaNetlink[10]), diff[20].Round(time.Microsecond))
	// Where the netlink batch's time goes: the kernel validates the whole
	// table (every verdict element of every map a base chain reaches, and
	// the chain it names) when a batch adds an element with a goto or
	// jump verdict, and not for an element without one; a batch that
	// deletes an element pays its own cost, whatever the set.
	gotoEl, plainEl, delEl := kernelElementCosts(b, "kbench", cur)
	metric("kernel-goto-element-ms", float64(gotoEl.Microseconds())/1000)
	metric("kernel-plain-element-ms", float64(plainEl.Microseconds())/1000)
	metric("kernel-delete-element-ms", float64(delEl.Microseconds())/1000)
	emptyDel := emptyTableDelete(b)
	metric("kernel-delete-empty-table-ms", float64(emptyDel.Microseconds())/1000)
	logf("deleting the one element of a one-element set in a table of its own: median %s of 21", emptyDel.Round(time.Microsecond))
	logf("one element added through netlink to that table: with a goto verdict (a class map) median %s, without (a plain set) median %s of 21 each (%.0fx); one plain element deleted: median %s",
		gotoEl.Round(time.Microsecond), plainEl.Round(time.Microsecond), float64(gotoEl)/float64(plainEl), delEl.Round(time.Microsecond))
	if err := nft.Uninstall(ctx, n); err != nil {
		b.Fatal(err)
	}
}

// TestEnforceNetlinkDeltas applies random deltas on the real kernel
// through netlink (IPv4 and IPv6 ranges, prefixes and single addresses,
// address.protocol.port members) and checks after each that the table is
// what a fresh install of the span through nft gives. Then a batch that
// the kernel refuses falls back to nft.
func TestEnforceNetlinkDeltas(t *testing.T) {
	needNFTables(t)
	rnd := seeded(t)

	// Pools of members the sets draw from, so that members come and go.
	var v4, v6 []netipx.IPRange
	for i := range 24 {
		base := netip.AddrFrom4([4]byte{10, 50, byte(i), 0})
		switch i % 4 {
		case 0: // a /24
			v4 = append(v4, netipx.RangeOfPrefix(netip.PrefixFrom(base, 24)))
		case 1: // a /28 inside
			v4 = append(v4, netipx.RangeOfPrefix(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 50, byte(i), 32}), 28)))
		case 2: // an arbitrary range
			v4 = append(v4, netipx.IPRangeFrom(netip.AddrFrom4([4]byte{10, 50, byte(i), 3}), netip.AddrFrom4([4]byte{10, 50, byte(i + 1), 77})))
		default: // single addresses
			v4 = append(v4, netipx.IPRangeFrom(netip.AddrFrom4([4]byte{10, 50, byte(i), 9}), netip.AddrFrom4([4]byte{10, 50, byte(i), 9})))
		}
		p := netip.AddrFrom16([16]byte{0: 0xfd, 1: 0x50, 5: byte(i)})
		switch i % 4 {
		case 0:
			v6 = append(v6, netipx.RangeOfPrefix(netip.PrefixFrom(p, 48)))
		case 1:
			v6 = append(v6, netipx.RangeOfPrefix(netip.PrefixFrom(p, 120)))
		case 2:
			v6 = append(v6, netipx.IPRangeFrom(p.Next().Next(), netip.AddrFrom16([16]byte{0: 0xfd, 1: 0x50, 5: byte(i), 9: 7, 15: 1})))
		default:
			v6 = append(v6, netipx.IPRangeFrom(v6Addr(1000+i), v6Addr(1000+i)))
		}
	}
	var ipPorts []address.IPPort
	for i := range 30 {
		a := netip.AddrFrom4([4]byte{10, 200, byte(i / 10), byte(i)})
		if i%2 == 1 {
			a = netip.AddrFrom16([16]byte{0: 0xfd, 1: 0x20, 15: byte(i)})
		}
		proto := []address.Proto{address.TCP, address.UDP, address.SCTP, 47}[i%4]
		ipPorts = append(ipPorts, address.IPPort{Addr: a, Proto: proto, Port: uint16(rnd.IntN(65536))})
	}
	// Each set keeps an IPv4 and an IPv6 address, so that no delta
	// changes a set's families (that replaces the table).
	draw := func(i int) realization.Set {
		var sb netipx.IPSetBuilder
		sb.Add(netip.AddrFrom4([4]byte{10, 9, 0, byte(i)}))
		sb.Add(v6Addr(500 + i))
		for _, r := range v4 {
			if rnd.IntN(3) == 0 {
				sb.AddRange(r)
			}
		}
		for _, r := range v6 {
			if rnd.IntN(3) == 0 {
				sb.AddRange(r)
			}
		}
		ips, _ := sb.IPSet()
		var ms []address.IPPort
		for _, m := range ipPorts {
			if rnd.IntN(3) == 0 {
				ms = append(ms, m)
			}
		}
		slices.SortFunc(ms, func(a, b address.IPPort) int {
			switch {
			case a.Less(b):
				return -1
			case b.Less(a):
				return 1
			}
			return 0
		})
		return realization.Set{Ranges: ips.Ranges(), IPPorts: ms}
	}
	s1 := benchSpan(4, 2, netip.MustParseAddr("10.1.0.2"))
	for i := range s1.Sets {
		d := draw(i)
		s1.Sets[i].Ranges, s1.Sets[i].IPPorts = d.Ranges, d.IPPorts
	}
	s1.Rehash()

	ns := newNetNS(t, fmt.Sprintf("kn%d", os.Getpid()%100000))
	err := ns.in(func() error {
		ctx := context.Background()
		a, check, err := installChecked(ctx, t, s1)
		if err != nil {
			return err
		}
		cur := s1
		ops := 0
		for step := range 40 {
			var sets []realization.Set
			for i, st := range cur.Sets {
				if rnd.IntN(2) == 0 && step > 0 {
					continue
				}
				d := draw(i)
				st.Ranges, st.IPPorts = d.Ranges, d.IPPorts
				sets = append(sets, st)
			}
			next, d := cur.WithSets(sets, cur.Revision+1)
			if d == nil {
				continue
			}
			res, err := a.ApplyDelta(ctx, d, nil)
			if err != nil {
				return fmt.Errorf("step %d: %w", step, err)
			}
			if res.Full || !res.Netlink || res.Fallback != nil {
				t.Fatalf("step %d: %+v, want element changes through netlink", step, res)
			}
			ops += res.Ops
			check(fmt.Sprintf("step %d (%d element changes)", step, res.Ops), next)
			cur = next
		}
		t.Logf("%d element changes through netlink", ops)

		// A batch the kernel refuses (no such table) changes nothing;
		// the changes then go through nft.
		a.UseNetlink("nosuchtable")
		st := cur.Sets[0]
		st.Ranges = append([]netipx.IPRange{netipx.IPRangeFrom(netip.MustParseAddr("10.8.0.1"), netip.MustParseAddr("10.8.0.1"))}, st.Ranges...)
		next, d := cur.WithSets([]realization.Set{st}, cur.Revision+1)
		res, err := a.ApplyDelta(ctx, d, nil)
		if err != nil {
			return fmt.Errorf("fallback: %w", err)
		}
		if res.Netlink || res.Fallback == nil || res.Ops != 1 {
			t.Fatalf("fallback: %+v, want one change through nft after a failed netlink batch", res)
		}
		t.Logf("fallback: %v", res.Fallback)
		check("fallback", next)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// kernelElementCosts adds single elements through netlink to table, which
// holds span s, one batch each: to a class map, with a goto to one of its
// class chains, and to a plain set created for the purpose, then deletes
// the plain set's; it returns the median of each.
func kernelElementCosts(b *testing.B, table string, s *realization.Span) (withGoto, plain, deletion time.Duration) {
	b.Helper()
	p := nft.Compile(s)
	if len(p.ClassMaps) == 0 || len(p.ClassMaps[0].Elements) == 0 {
		b.Fatal("the span has no class map")
	}
	m := p.ClassMaps[0]
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	c, err := nftables.New()
	if err != nil {
		b.Fatal(err)
	}
	set := &nftables.Set{Table: t, Name: "kplain", KeyType: nftables.TypeIPAddr}
	if err := c.AddSet(set, nil); err != nil {
		b.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		b.Fatal(err)
	}
	add := func(set *nftables.Set, e nftables.SetElement) time.Duration {
		start := time.Now()
		if err := c.SetAddElements(set, []nftables.SetElement{e}); err != nil {
			b.Fatal(err)
		}
		if err := c.Flush(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var g, pl []time.Duration
	for i := range 21 {
		k := []byte{172, 16, 0, byte(i)} // in no group of the span
		g = append(g, add(&nftables.Set{Table: t, Name: m.AddrName()}, nftables.SetElement{Key: k, VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: m.Elements[0].Chain}}))
		pl = append(pl, add(set, nftables.SetElement{Key: k}))
	}
	var del []time.Duration
	for i := range 21 {
		start := time.Now()
		if err := c.SetDeleteElements(set, []nftables.SetElement{{Key: []byte{172, 16, 0, byte(i)}}}); err != nil {
			b.Fatal(err)
		}
		if err := c.Flush(); err != nil {
			b.Fatal(err)
		}
		del = append(del, time.Since(start))
	}
	slices.Sort(g)
	slices.Sort(pl)
	slices.Sort(del)
	return g[10], pl[10], del[10]
}

// emptyTableDelete deletes, 21 times, the one element of a one-element
// set in a table of its own, and returns the median: what a deletion
// costs the kernel whatever the ruleset.
func emptyTableDelete(b *testing.B) time.Duration {
	b.Helper()
	c, err := nftables.New()
	if err != nil {
		b.Fatal(err)
	}
	t := c.AddTable(&nftables.Table{Name: "kempty", Family: nftables.TableFamilyINet})
	set := &nftables.Set{Table: t, Name: "one", KeyType: nftables.TypeIPAddr}
	if err := c.AddSet(set, nil); err != nil {
		b.Fatal(err)
	}
	flush := func() {
		if err := c.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	flush()
	var del []time.Duration
	for i := range 21 {
		k := []byte{172, 17, 0, byte(i)}
		if err := c.SetAddElements(set, []nftables.SetElement{{Key: k}}); err != nil {
			b.Fatal(err)
		}
		flush()
		start := time.Now()
		if err := c.SetDeleteElements(set, []nftables.SetElement{{Key: k}}); err != nil {
			b.Fatal(err)
		}
		flush()
		del = append(del, time.Since(start))
	}
	c.DelTable(t)
	flush()
	slices.Sort(del)
	return del[10]
}

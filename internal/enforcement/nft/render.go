package nft

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/realization"
)

// Render adds to tx everything that replaces the table with the program:
// the table is created if missing, deleted and created again, so the
// whole change is one atomic transaction that leaves nothing stale.
// Each element is an operation of its own, as knftables writes them.
func Render(tx *knftables.Transaction, p *Program) { _ = render(tx, p, 1) }

// elementsPerCommand is how many elements the applier writes in one nft
// command when it replaces the table. nft evaluates each command on its
// own: 100,001 class-map elements took 2.2 s of nft as one command each
// and 1.2 s in commands of many (measured with nft 1.0.6 on this
// project's machine), and the elements are most of a large table.
const elementsPerCommand = 4096

// render is Render with the elements of each set and map written chunk to
// a command (1: each its own). It returns how many elements share a
// command with another before them: the operations are the transaction's
// plus those.
func render(tx *knftables.Transaction, p *Program, chunk int) (merged int) {
	tx.Add(&knftables.Table{})
	tx.Delete(&knftables.Table{})
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("kordon agent: generated, do not edit")})
	for _, s := range p.Span.Sets {
		// Only the family sets with elements exist (Program.Sets).
		if !p.Sets[setName(s.Name, 4)] && !p.Sets[setName(s.Name, 6)] {
			continue // decided by class maps alone, or empty
		}
		comment := Text(strings.Join(s.Names, ", "), maxComment)
		for _, fam := range []int{4, 6} {
			if !p.Sets[setName(s.Name, fam)] {
				continue
			}
			addr := "ipv4_addr"
			if fam == 6 {
				addr = "ipv6_addr"
			}
			tx.Add(&knftables.Set{Name: setName(s.Name, fam), Type: addr + " . inet_proto . inet_service", Flags: []knftables.SetFlag{knftables.IntervalFlag}, Comment: knftables.PtrTo(comment)})
		}
		els := Elements(&s)
		for _, name := range sortedKeys(els) {
			if p.Sets[name] {
				merged += addElements(tx, chunk, name, "", els[name], nil)
			}
		}
	}
	counters := make([]string, 0, len(p.Counters))
	for c := range p.Counters {
		counters = append(counters, c)
	}
	sort.Strings(counters)
	for _, c := range counters {
		tx.Add(&knftables.Counter{Name: c, Comment: knftables.PtrTo(TextTail(p.Counters[c].Rule, maxComment))})
	}
	for _, c := range p.Chains {
		ch := &knftables.Chain{Name: c.Name}
		if c.Hook != "" {
			ch.Type = knftables.PtrTo(knftables.FilterType)
			ch.Hook = knftables.PtrTo(knftables.BaseChainHook(c.Hook))
			ch.Priority = knftables.PtrTo(knftables.FilterPriority)
			ch.Policy = knftables.PtrTo(knftables.AcceptPolicy)
		}
		tx.Add(ch)
	}
	for _, m := range p.Maps {
		tx.Add(&knftables.Map{Name: m.Name, Type: "inet_proto . inet_service : verdict", Flags: []knftables.SetFlag{knftables.IntervalFlag},
			Comment: knftables.PtrTo("dispatch on protocol and destination port")})
		for i := range m.Elements {
			e := &m.Elements[i]
			tx.Add(&knftables.Element{Map: m.Name, Key: e.keyText(), Value: []string{"jump " + e.Chain}})
		}
	}
	for _, m := range p.ClassMaps {
		addr := "ipv4_addr"
		if m.Family == 6 {
			addr = "ipv6_addr"
		}
		side := "destination"
		if m.Src {
			side = "source"
		}
		tx.Add(&knftables.Map{Name: m.AddrName(), Type: addr + " : verdict",
			Comment: knftables.PtrTo("address classes of the " + side + ": single addresses")})
		tx.Add(&knftables.Map{Name: m.Name, Type: addr + " : verdict", Flags: []knftables.SetFlag{knftables.IntervalFlag},
			Comment: knftables.PtrTo("address classes of the " + side + ": ranges")})
		var singles, ranges [][]string
		var toSingle, toRange []string
		for i := range m.Elements {
			e := &m.Elements[i]
			if e.Single() {
				singles, toSingle = append(singles, []string{rangeKey(e.Range)}), append(toSingle, "goto "+e.Chain)
			} else {
				ranges, toRange = append(ranges, []string{rangeKey(e.Range)}), append(toRange, "goto "+e.Chain)
			}
		}
		merged += addElements(tx, chunk, "", m.AddrName(), singles, toSingle)
		merged += addElements(tx, chunk, "", m.Name, ranges, toRange)
	}
	for _, c := range p.Chains {
		for i := range c.Lines {
			l := &c.Lines[i]
			r := &knftables.Rule{Chain: c.Name, Rule: l.Text()}
			if l.Rule != "" {
				r.Comment = knftables.PtrTo(TextTail(l.Rule, maxComment))
			}
			tx.Add(r)
		}
	}
	return merged
}

// addElements adds the elements keys (each its fields) to the set, or
// with values to the map, chunk to an nft command. knftables writes one
// element to a command, so a chunk's elements before its last are its
// key's text: every key and value is written by this package (addresses
// by net/netip, numbers, chain names of hex digits), none holds a brace
// or a comma of its own.
func addElements(tx *knftables.Transaction, chunk int, set, vmap string, keys [][]string, values []string) (merged int) {
	for len(keys) > 0 {
		n := max(1, min(chunk, len(keys)))
		merged += n - 1
		var b strings.Builder
		for i, k := range keys[:n-1] {
			b.WriteString(strings.Join(k, " . "))
			if values != nil {
				b.WriteString(" : ")
				b.WriteString(values[i])
			}
			b.WriteString(", ")
		}
		key := keys[n-1]
		if n > 1 {
			b.WriteString(strings.Join(key, " . "))
			key = []string{b.String()}
		}
		e := &knftables.Element{Set: set, Map: vmap, Key: key}
		if values != nil {
			e.Value = []string{values[n-1]}
			values = values[n:]
		}
		tx.Add(e)
		keys = keys[n:]
	}
	return merged
}

// RenderDelta adds the element changes that lead from program from to
// program to, of the same structure (the programs of the spans before
// and after d, which differ only in set elements): removals first, as an
// interval set refuses an element that overlaps one still present. A
// set's changes are written only where the table has that set.
func RenderDelta(tx *knftables.Transaction, d *realization.Delta, from, to *Program) {
	renderDelta(tx, d, to.Sets, classDelta(from, to))
}

func renderDelta(tx *knftables.Transaction, d *realization.Delta, sets map[string]bool, classes []classChange) {
	for _, c := range d.Changes {
		rm := map[string][][]string{}
		addRanges(rm, c.Set, c.RemovedRanges)
		addIPPorts(rm, c.Set, c.RemovedIPPorts)
		for _, name := range sortedKeys(rm) {
			if !sets[name] {
				continue
			}
			for _, k := range rm[name] {
				tx.Delete(&knftables.Element{Set: name, Key: k})
			}
		}
	}
	for _, c := range classes {
		for i := range c.Removed {
			e := &c.Removed[i]
			tx.Delete(&knftables.Element{Map: c.Map.mapOf(e), Key: []string{rangeKey(e.Range)}})
		}
	}
	for _, c := range d.Changes {
		add := map[string][][]string{}
		addRanges(add, c.Set, c.AddedRanges)
		addIPPorts(add, c.Set, c.AddedIPPorts)
		for _, name := range sortedKeys(add) {
			if !sets[name] {
				continue
			}
			for _, k := range add[name] {
				tx.Add(&knftables.Element{Set: name, Key: k})
			}
		}
	}
	for _, c := range classes {
		for i := range c.Added {
			e := &c.Added[i]
			tx.Add(&knftables.Element{Map: c.Map.mapOf(e), Key: []string{rangeKey(e.Range)}, Value: []string{"goto " + e.Chain}})
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Text writes the line in nft syntax.
func (l *Line) Text() string {
	if l.Raw != "" {
		return l.Raw
	}
	var b []string
	ip := "ip"
	if l.Family == 6 {
		ip = "ip6"
	}
	addrConds := false
	for _, c := range l.Conds {
		if c.Kind == CondAddr {
			addrConds = true
		}
	}
	if l.Verdict == VerdictClassSrc || l.Verdict == VerdictClassDst {
		addrConds = true // the lookup reads an address of the family
	}
	if l.Family != 0 && !addrConds {
		b = append(b, "meta nfproto ipv"+strconv.Itoa(l.Family))
	}
	for _, c := range l.Conds {
		b = append(b, c.text(ip, l.Family))
	}
	if l.Counter != "" {
		b = append(b, "counter name "+strconv.Quote(l.Counter))
	}
	if l.Log != "" {
		b = append(b, `log prefix "`+Text(l.Log, maxLogPrefix)+`"`)
	}
	switch l.Verdict {
	case VerdictAccept:
		b = append(b, "accept")
	case VerdictDrop:
		b = append(b, "drop")
	case VerdictRejectTCP:
		b = append(b, "reject with tcp reset")
	case VerdictReject:
		b = append(b, "reject with icmpx admin-prohibited")
	case VerdictReturn:
		b = append(b, "return")
	case VerdictJump:
		b = append(b, "jump "+l.Jump)
	case VerdictDispatch:
		b = append(b, "meta l4proto . th dport vmap @"+l.Jump)
	case VerdictClassSrc:
		b = append(b, ip+" saddr vmap @"+l.Jump)
	case VerdictClassDst:
		b = append(b, ip+" daddr vmap @"+l.Jump)
	case VerdictGoto:
		b = append(b, "goto "+l.Jump)
	}
	return strings.Join(b, " ")
}

func (c *Cond) text(ip string, family int) string {
	dir := "daddr"
	port := "dport"
	if c.Src {
		dir, port = "saddr", "sport"
	}
	op := " "
	if c.Negate {
		op = " != "
	}
	switch c.Kind {
	case CondAddr:
		// th reads the first bytes of the transport header: the ports
		// of TCP, UDP and SCTP, other protocols' first bytes, which
		// plain address elements match whatever they are.
		return ip + " " + dir + " . meta l4proto . th " + port + op + "@" + setName(c.Set, family)
	case CondProto:
		switch c.Proto {
		case address.TCP:
			return "meta l4proto tcp"
		case address.UDP:
			return "meta l4proto udp"
		case address.SCTP:
			return "meta l4proto sctp"
		case address.ICMP:
			return "meta l4proto icmp"
		case address.ICMPv6:
			return "meta l4proto ipv6-icmp"
		}
		return "meta l4proto " + strconv.Itoa(int(c.Proto))
	case CondPorts:
		return portMatch(c, port) + " " + portList(c.Ports)
	}
	panic(fmt.Sprintf("nft: unknown condition kind %d", c.Kind))
}

func portMatch(c *Cond, port string) string {
	switch c.Proto {
	case address.TCP:
		return "tcp " + port
	case address.UDP:
		return "udp " + port
	case address.SCTP:
		return "sctp " + port
	case address.ICMP:
		if c.Src {
			return "icmp code"
		}
		return "icmp type"
	case address.ICMPv6:
		if c.Src {
			return "icmpv6 code"
		}
		return "icmpv6 type"
	}
	return "th " + port
}

func portList(rs []address.PortRange) string {
	if len(rs) == 0 {
		return "{ }"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		if r.From == r.To {
			parts[i] = strconv.Itoa(int(r.From))
		} else {
			parts[i] = strconv.Itoa(int(r.From)) + "-" + strconv.Itoa(int(r.To))
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

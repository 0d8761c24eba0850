package nft

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kordon-dev/kordon/internal/address"
)

// VMap is a verdict map that dispatches a packet on its layer-4 protocol
// and destination port to the chain holding only the lines, of one run
// of lines, that can match them.
type VMap struct {
	Name     string
	Elements []VMapElement
}

// VMapElement sends packets of protocols ProtoFrom..ProtoTo (inclusive)
// and destination ports PortFrom..PortTo to Chain. The chain is jumped
// to: when it decides nothing, evaluation goes on after the map's line.
type VMapElement struct {
	ProtoFrom, ProtoTo uint8
	PortFrom, PortTo   uint16
	Chain              string
}

// Dispatch limits: a run shorter than minRunLines is left in place (a
// lookup costs about what a few lines do); a run is dispatched only when
// its largest bucket holds at most 3/4 of its lines, so that it pays, and
// its buckets together at most maxCopies times its lines (plus slack),
// since a line that many ports can match is copied into each of their
// buckets.
const (
	minRunLines = 16
	maxCopies   = 4
	copySlack   = 256
)

// portProtos are the protocols whose packets carry ports (th dport).
var portProtos = []address.Proto{address.TCP, address.UDP, address.SCTP}

// bucket is a (protocol range, port range) cell of the dispatch key.
type bucket struct {
	protoFrom, protoTo uint8
	portFrom, portTo   uint16
	lines              []int
}

// dispatchChain cuts a chain of rule lines into runs of lines that name
// a protocol, separated by the lines that do not (any service) and by
// JUMP_TO_APPLICATION lines, and replaces each long run by one line that
// looks the packet up in a verdict map, followed by the run's lines that
// can match a packet whose transport header cannot be read (then the
// lookup fails). It returns the new chain, the bucket chains and the maps.
//
// Order is kept: a packet meets the lines before the run, then, in its
// bucket, every line of the run it can match, in order and with all
// their conditions, then the lines after the run. A bucket holds no
// JUMP_TO_APPLICATION line, whose return must leave the calling chain.
func dispatchChain(c Chain) (Chain, []Chain, []VMap) {
	out := Chain{Name: c.Name, Hook: c.Hook}
	var chains []Chain
	var maps []VMap
	var run []Line
	flush := func() {
		if len(run) >= minRunLines {
			name := c.Name + "_d" + strconv.Itoa(len(maps))
			if bs, m, ok := dispatchRun(name, run); ok {
				chains = append(chains, bs...)
				maps = append(maps, *m)
				out.Lines = append(out.Lines, Line{Verdict: VerdictDispatch, Jump: m.Name})
				for _, l := range run {
					if !needsTransportHeader(&l) {
						out.Lines = append(out.Lines, l)
					}
				}
				run = nil
				return
			}
		}
		out.Lines = append(out.Lines, run...)
		run = nil
	}
	for _, l := range c.Lines {
		if _, ok := lineProto(&l); ok && l.Verdict != VerdictReturn && l.Raw == "" {
			run = append(run, l)
			continue
		}
		flush()
		out.Lines = append(out.Lines, l)
	}
	flush()
	return out, chains, maps
}

// dispatchRun builds the map and bucket chains of one run, or says it
// would not pay.
func dispatchRun(name string, run []Line) ([]Chain, *VMap, bool) {
	cells := cellsOf(run)
	total, largest := 0, 0
	for i := range cells {
		for j := range run {
			if canMatch(&run[j], &cells[i]) {
				cells[i].lines = append(cells[i].lines, j)
			}
		}
		total += len(cells[i].lines)
		largest = max(largest, len(cells[i].lines))
	}
	if largest*4 > len(run)*3 || total > maxCopies*len(run)+copySlack {
		return nil, nil, false
	}
	// Cells no line can match get no element (the lookup misses and
	// nothing of the run applies); adjacent cells with the same lines
	// become one element; cells with the same lines share a chain.
	m := &VMap{Name: name}
	chainOf := map[string]string{}
	var chains []Chain
	for i := range cells {
		b := &cells[i]
		if len(b.lines) == 0 {
			continue
		}
		sig := signature(b.lines)
		chain, ok := chainOf[sig]
		if !ok {
			chain = name + "_b" + strconv.Itoa(len(chains))
			chainOf[sig] = chain
			ch := Chain{Name: chain}
			for _, j := range b.lines {
				ch.Lines = append(ch.Lines, run[j])
			}
			chains = append(chains, ch)
		}
		if n := len(m.Elements); n > 0 {
			last := &m.Elements[n-1]
			if last.Chain == chain && last.ProtoFrom == b.protoFrom && last.ProtoTo == b.protoTo && last.PortTo+1 == b.portFrom {
				last.PortTo = b.portTo
				continue
			}
		}
		m.Elements = append(m.Elements, VMapElement{ProtoFrom: b.protoFrom, ProtoTo: b.protoTo, PortFrom: b.portFrom, PortTo: b.portTo, Chain: chain})
	}
	return chains, m, true
}

func signature(lines []int) string {
	var b strings.Builder
	for _, j := range lines {
		b.WriteString(strconv.Itoa(j))
		b.WriteByte(',')
	}
	return b.String()
}

// cellsOf cuts the (protocol, port) space into the cells no line's
// protocol or destination-port condition splits: each protocol a line
// names is its own protocol range (the ones between share a cell), and
// for TCP, UDP and SCTP the ports are cut at every boundary of a
// destination-port condition that can apply to them.
func cellsOf(lines []Line) []bucket {
	named := map[address.Proto]bool{}
	cuts := map[address.Proto][]int{}
	for _, p := range portProtos {
		named[p] = true
	}
	for i := range lines {
		l := &lines[i]
		proto, hasProto := lineProto(l)
		if hasProto {
			named[proto] = true
		}
		for _, c := range l.Conds {
			if c.Kind != CondPorts || c.Src {
				continue
			}
			// A port condition on a protocol reads its ports; one
			// without (any protocol) reads th dport, the same bytes
			// for TCP, UDP and SCTP.
			targets := portProtos
			if c.Proto != 0 {
				targets = []address.Proto{c.Proto}
			}
			for _, p := range targets {
				if !slices.Contains(portProtos, p) {
					continue
				}
				for _, r := range c.Ports {
					cuts[p] = append(cuts[p], int(r.From), int(r.To)+1)
				}
			}
		}
	}
	var out []bucket
	start := 0
	for p := 0; p <= 255; p++ {
		if !named[address.Proto(p)] {
			continue
		}
		if start < p {
			out = append(out, bucket{protoFrom: uint8(start), protoTo: uint8(p - 1), portTo: 65535})
		}
		out = append(out, portCells(uint8(p), cuts[address.Proto(p)])...)
		start = p + 1
	}
	if start <= 255 {
		out = append(out, bucket{protoFrom: uint8(start), protoTo: 255, portTo: 65535})
	}
	return out
}

func portCells(p uint8, cuts []int) []bucket {
	bounds := append([]int{0, 65536}, cuts...)
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	var out []bucket
	for i := 0; i+1 < len(bounds); i++ {
		if bounds[i] > 65535 {
			break
		}
		out = append(out, bucket{protoFrom: p, protoTo: p, portFrom: uint16(bounds[i]), portTo: uint16(min(bounds[i+1]-1, 65535))})
	}
	return out
}

// lineProto returns the protocol a line requires, if it requires one.
func lineProto(l *Line) (address.Proto, bool) {
	for _, c := range l.Conds {
		if c.Kind == CondProto {
			return c.Proto, true
		}
	}
	return 0, false
}

// canMatch reports whether some packet of the cell can meet the line's
// protocol and destination-port conditions. Cells never straddle a
// boundary of those conditions, so testing the cell's first port is
// exact.
func canMatch(l *Line, b *bucket) bool {
	if p, ok := lineProto(l); ok && (uint8(p) < b.protoFrom || uint8(p) > b.protoTo) {
		return false
	}
	portCell := b.protoFrom == b.protoTo && slices.Contains(portProtos, address.Proto(b.protoFrom))
	for _, c := range l.Conds {
		if c.Kind != CondPorts || c.Src || !portCell {
			continue
		}
		if c.Proto != 0 && uint8(c.Proto) != b.protoFrom {
			continue
		}
		in := false
		for _, r := range c.Ports {
			if r.Contains(b.portFrom) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	return true
}

// needsTransportHeader reports whether the line reads the transport
// header (an address-set lookup includes th, port conditions read it).
func needsTransportHeader(l *Line) bool {
	for _, c := range l.Conds {
		if c.Kind == CondAddr || c.Kind == CondPorts {
			return true
		}
	}
	return false
}

// keyText writes an element key of the map.
func (e *VMapElement) keyText() []string {
	return []string{rangeText(int(e.ProtoFrom), int(e.ProtoTo)), rangeText(int(e.PortFrom), int(e.PortTo))}
}

func rangeText(from, to int) string {
	if from == to {
		return strconv.Itoa(from)
	}
	return fmt.Sprintf("%d-%d", from, to)
}

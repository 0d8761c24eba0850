package e2e

import (
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/internal/enforcement/nft"
)

// synFlood sends n TCP SYNs from the client namespace (10.1.0.2, source
// ports from first on) to 10.2.0.2:port through a raw socket and returns
// the time it took. Each SYN is the first packet of a new connection, so
// the gateway's conntrack sends each through its rules; a veth delivers
// in the sender's softirq, so the time includes the gateway's work.
func synFlood(ns *netNS, n int, first uint16, port uint16) (time.Duration, error) {
	var d time.Duration
	err := ns.in(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		src, dst := [4]byte{10, 1, 0, 2}, [4]byte{10, 2, 0, 2}
		to := &unix.SockaddrInet4{Addr: dst}
		pkt := make([]byte, 40)
		start := time.Now()
		for i := range n {
			synPacket(pkt, src, dst, first+uint16(i), port, uint32(i)*7919+1)
			if err := unix.Sendto(fd, pkt, 0, to); err != nil {
				return err
			}
		}
		d = time.Since(start)
		return nil
	})
	return d, err
}

// synPacket writes an IPv4 TCP SYN; the kernel fills the IP checksum,
// length and id of a raw IPPROTO_RAW packet, the TCP checksum is ours.
func synPacket(b []byte, src, dst [4]byte, sport, dport uint16, seq uint32) {
	clear(b)
	b[0], b[8], b[9] = 0x45, 64, unix.IPPROTO_TCP
	binary.BigEndian.PutUint16(b[2:], 40)
	copy(b[12:16], src[:])
	copy(b[16:20], dst[:])
	t := b[20:]
	binary.BigEndian.PutUint16(t[0:], sport)
	binary.BigEndian.PutUint16(t[2:], dport)
	binary.BigEndian.PutUint32(t[4:], seq)
	t[12], t[13] = 5<<4, 0x02 // header length, SYN
	binary.BigEndian.PutUint16(t[14:], 64240)
	sum := uint32(0)
	for i := 0; i < 4; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(src[i:])) + uint32(binary.BigEndian.Uint16(dst[i:]))
	}
	sum += unix.IPPROTO_TCP + 20
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(t[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(t[16:], ^uint16(sum))
}

// BenchmarkNFTablesPacket measures what one packet costs through the
// gateway's table: SYNs, each the first packet of a new connection,
// matching the last of 1,000 and of 10,000 rules that differ only by
// source group (all TCP 80), against kordon's table with no rule (and no
// table at all), and against the table kordon compiled before class maps
// (a set lookup per rule, in order), all in the same run. Per-packet time is that of sending a flood of
// SYNs (the median of 7 rounds of about 200 ms each), which includes the
// stack's own work: the rules' cost is the difference to the empty table.
//
//	go test ./test/e2e -run '^$' -bench NFTablesPacket -benchtime 1x
func BenchmarkNFTablesPacket(b *testing.B) {
	if inPrivateNetNS(b, "BenchmarkNFTablesPacket") {
		return
	}
	ctx := context.Background()
	cl, sv := gatewayLab(b)
	sv.serveTCP(b, 80)
	n, err := knftables.New(knftables.InetFamily, "kbench")
	if err != nil {
		b.Fatal(err)
	}
	client := netip.MustParseAddr("10.1.0.2")
	const rounds = 7
	sport := uint16(1024)
	sent := 0
	// Each round sends as many SYNs as take about 200 ms (at most
	// 20,000): a table that costs milliseconds a packet gets fewer.
	measure := func() time.Duration {
		var per []time.Duration
		flood := 200
		for r := range rounds + 1 {
			d, err := synFlood(cl, flood, sport, 80)
			if err != nil {
				b.Fatal(err)
			}
			sent += flood
			sport += uint16(flood)
			if sport < 1024 || sport > 60000 {
				sport = 1024
			}
			if r > 0 { // the first round sizes the others
				per = append(per, d/time.Duration(flood))
			}
			flood = int(min(20000, max(50, int64(200*time.Millisecond)/max(1, int64(d)/int64(flood)))))
			time.Sleep(50 * time.Millisecond)
		}
		slices.Sort(per)
		return per[rounds/2]
	}
	type config struct {
		name    string
		rules   int
		classes bool
	}
	results := map[string]time.Duration{}
	none := measure()
	results["none"] = none
	// "empty" is kordon's table with no rule: its skeleton, and the
	// connection tracking its first line turns on, which no table at all
	// does not pay. It is measured before and after kordon's tables (the
	// first connections tracked also grow conntrack's tables), and the
	// lower is the baseline.
	for _, c := range []config{{"empty", 0, true}, {"kordon-1000", 1000, true}, {"kordon-10000", 10000, true}, {"empty-again", 0, true},
		{"lines-1000", 1000, false}, {"lines-10000", 10000, false}} {
		span := benchSpan(c.rules, 10, client)
		a := nft.NewApplierWith(n, nft.Options{NoClassMaps: !c.classes})
		start := time.Now()
		if _, err := a.Apply(ctx, span); err != nil {
			b.Fatal(err)
		}
		install := time.Since(start)
		sent = 0
		per := measure()
		counts, err := a.Counters(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if c.rules > 0 {
			last := span.Hooks[0].Rules[c.rules-1].Path
			if got := counts[last].Packets; got < uint64(sent)/2 {
				b.Fatalf("%s: the last rule counted %d packets of %d", c.name, got, sent)
			}
		}
		if err := nft.Uninstall(ctx, n); err != nil {
			b.Fatal(err)
		}
		results[c.name] = per
		metric(c.name+"-ns", float64(per.Nanoseconds()))
		metric(c.name+"-install-s", install.Seconds())
		logf("%s: %d rules (class maps %v), the packet matching the last: median %s per packet over %d rounds (%d SYNs; +%s over no table); installed in %s",
			c.name, c.rules, c.classes, per, rounds, sent, per-none, install.Round(time.Millisecond))
	}
	metric("none-ns", float64(none.Nanoseconds()))
	metric("baseline-empty-ns", float64(min(results["empty"], results["empty-again"]).Nanoseconds()))
	empty, k1, k10 := min(results["empty"], results["empty-again"]), results["kordon-1000"], results["kordon-10000"]
	metric("x-10000-over-1000", float64(k10)/float64(k1))
	metric("over-empty-10000-ns", float64((k10 - empty).Nanoseconds()))
	metric("over-empty-1000-ns", float64((k1 - empty).Nanoseconds()))
	metric("x-lines-over-kordon-10000", float64(results["lines-10000"])/float64(k10))
	logf("no table: %s per packet, kordon's empty table %s; kordon 10,000 rules / 1,000 rules: %.2f; over the empty table: +%s (1,000) / +%s (10,000); the per-rule lines at 10,000 rules: %.1fx kordon's",
		none, empty, float64(k10)/float64(k1), k1-empty, k10-empty, float64(results["lines-10000"])/float64(k10))
}

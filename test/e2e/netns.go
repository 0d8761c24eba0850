package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/enforcement/nft"
	"github.com/kordon-dev/kordon/internal/realization"
	"golang.org/x/sys/unix"
)

// netNS is a named network namespace the test made (ip netns add).
type netNS struct {
	name string
	path string
}

// ipCmd runs ip(8) and fails the test on error.
func ipCmd(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func newNetNS(t testing.TB, name string) *netNS {
	t.Helper()
	ipCmd(t, "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	ipCmd(t, "-n", name, "link", "set", "lo", "up")
	return &netNS{name: name, path: "/run/netns/" + name}
}

// in runs f on a thread moved into the namespace: sockets f creates
// belong to the namespace for their whole life, whichever thread uses
// them later.
func (n *netNS) in(f func() error) error {
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer self.Close()
	target, err := os.Open(n.path)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering %s: %w", n.name, err)
	}
	ferr := f()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays in the wrong namespace: keep it locked so
		// that it dies with this goroutine.
		return fmt.Errorf("leaving %s: %w", n.name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// serveTCP accepts on every address of the namespace and answers "ok".
func (n *netNS) serveTCP(t testing.TB, ports ...int) {
	t.Helper()
	for _, p := range ports {
		var l net.Listener
		if err := n.in(func() (err error) { l, err = net.Listen("tcp", fmt.Sprintf(":%d", p)); return }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("ok"))
				c.Close()
			}
		}()
	}
}

// serveUDP echoes datagrams on every address of the namespace.
func (n *netNS) serveUDP(t testing.TB, ports ...int) {
	t.Helper()
	for _, p := range ports {
		var c net.PacketConn
		if err := n.in(func() (err error) { c, err = net.ListenPacket("udp", fmt.Sprintf(":%d", p)); return }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		go func() {
			buf := make([]byte, 64)
			for {
				k, a, err := c.ReadFrom(buf)
				if err != nil {
					return
				}
				c.WriteTo(buf[:k], a)
			}
		}()
	}
}

// Outcomes of a probe.
const (
	allowed  = "ALLOWED"
	dropped  = "DROPPED"
	rejected = "REJECTED"
)

// probe opens a connection (TCP) or exchanges a datagram (UDP) from src
// to dst:port in the namespace and says what happened: an answer, a
// timeout (dropped), or a reset or ICMP error (rejected).
func (n *netNS) probe(src, dst, proto string, port int) (string, error) {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	const timeout = 700 * time.Millisecond
	var conn net.Conn
	err := n.in(func() (err error) {
		switch proto {
		case "tcp":
			dl := net.Dialer{Timeout: timeout, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(s, 0))}
			conn, err = dl.Dial("tcp", netip.AddrPortFrom(d, uint16(port)).String())
		case "udp":
			conn, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(s, 0)), net.UDPAddrFromAddrPort(netip.AddrPortFrom(d, uint16(port))))
		}
		return err
	})
	if err != nil {
		return classify(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	if proto == "udp" {
		if _, err := conn.Write([]byte("hi")); err != nil {
			return classify(err)
		}
	}
	buf := make([]byte, 8)
	if _, err := io.ReadAtLeast(conn, buf, 2); err != nil {
		return classify(err)
	}
	return allowed, nil
}

func classify(err error) (string, error) {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return dropped, nil
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return rejected, nil
	}
	return "", err
}

// install applies span to kordon's table in the namespace through the
// agent's nftables (the nft commands it runs inherit the namespace of
// the thread that starts them), and returns the applier and the table as
// nft lists it; a failure ends the test with the listing.
func (n *netNS) install(t testing.TB, span *realization.Span) (*nft.Applier, string) {
	t.Helper()
	var a *nft.Applier
	var listing string
	if err := n.in(func() error {
		k, err := nft.New(nft.DefaultTable)
		if err != nil {
			return err
		}
		a = nft.NewApplier(k)
		if _, err := a.Apply(context.Background(), span); err != nil {
			return err
		}
		out, err := exec.Command("nft", "list", "table", "inet", nft.DefaultTable).CombinedOutput()
		listing = string(out)
		return err
	}); err != nil {
		t.Fatalf("installing the ruleset: %v\n%s", err, listing)
	}
	return a, listing
}

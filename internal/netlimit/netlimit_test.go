package netlimit

import (
	"context"
	"net"
	"testing"
	"time"
)

// dial opens n connections to l and returns them.
func dial(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	var out []net.Conn
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// closedByServer reports whether the server closed c (a read sees EOF).
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestBudgetAndReserve(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listen(inner, Options{Max: 10, Reserve: 4})
	defer l.Close()
	accepted := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	// Six unauthenticated connections fill the part without the reserve;
	// a seventh is refused.
	clients := dial(t, inner.Addr().String(), 7)
	var server []net.Conn
	for range 6 {
		server = append(server, <-accepted)
	}
	if !closedByServer(clients[6]) {
		t.Fatal("the seventh unauthenticated connection was kept")
	}
	if s := l.Stats(); s.Open != 6 || s.Unauthenticated != 6 || s.Refused != 1 {
		t.Fatalf("stats %+v", s)
	}
	// Two authenticate: two more unauthenticated ones fit again.
	for _, c := range server[:2] {
		Authenticated(ConnContext(context.Background(), c))
		Authenticated(ConnContext(context.Background(), c)) // counted once
	}
	more := dial(t, inner.Addr().String(), 3)
	server = append(server, <-accepted, <-accepted)
	if !closedByServer(more[2]) {
		t.Fatal("an unauthenticated connection beyond the budget was kept")
	}
	// The reserve: with 8 open (2 authenticated), the total cap is 10.
	if s := l.Stats(); s.Open != 8 || s.Unauthenticated != 6 {
		t.Fatalf("stats %+v", s)
	}
	// Closing releases the budget, authenticated or not, once.
	server[0].Close()
	server[0].Close()
	server[2].Close()
	if s := l.Stats(); s.Open != 6 || s.Unauthenticated != 5 {
		t.Fatalf("after closing: %+v", s)
	}
	for _, c := range append(clients, more...) {
		c.Close()
	}
	for _, c := range server {
		c.Close()
	}
	if s := l.Stats(); s.Open != 0 || s.Unauthenticated != 0 {
		t.Fatalf("after closing all: %+v", s)
	}
}

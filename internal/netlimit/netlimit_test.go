package netlimit

import (
	"context"
	"fmt"
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
	l := Listen(inner, Options{Max: 10, Reserve: 4, PerPrincipal: 8})
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
	addr := inner.Addr().String()
	// Six unauthenticated connections fill the share without the
	// reserve; a seventh closes the oldest to make room.
	clients := dial(t, addr, 6)
	var server []net.Conn
	for range 6 {
		server = append(server, <-accepted)
	}
	seventh := dial(t, addr, 1)
	server = append(server, <-accepted)
	if !closedByServer(clients[0]) || closedByServer(seventh[0]) {
		t.Fatal("the oldest unauthenticated connection was not the one closed")
	}
	if s := l.Stats(); s.Open != 6 || s.Unauthenticated != 6 || s.Evicted != 1 {
		t.Fatalf("stats %+v", s)
	}
	// Authenticated connections are never closed to make room.
	for _, c := range server[1:5] {
		Authenticated(ConnContext(context.Background(), c), "admin")
		Authenticated(ConnContext(context.Background(), c), "admin") // counted once
	}
	if s := l.Stats(); s.Unauthenticated != 2 {
		t.Fatalf("after authenticating four: %+v", s)
	}
	more := dial(t, addr, 6)
	for range 6 {
		server = append(server, <-accepted)
	}
	for i, c := range clients[1:5] {
		if closedByServer(c) {
			t.Fatalf("authenticated connection %d was closed", i)
		}
	}
	if s := l.Stats(); s.Open != 10 || s.Unauthenticated != 6 {
		t.Fatalf("full: %+v", s)
	}
	// With every connection of the budget authenticated, a new one is
	// refused.
	for i, c := range server {
		Authenticated(ConnContext(context.Background(), c), fmt.Sprint("p", i))
	}
	refusedConn := dial(t, addr, 1)
	if !closedByServer(refusedConn[0]) || l.Stats().Refused != 1 {
		t.Fatalf("a connection beyond an authenticated budget: %+v", l.Stats())
	}
	// Closing releases the budget, once.
	for _, c := range server {
		c.Close()
		c.Close()
	}
	for _, c := range append(append(clients, more...), seventh...) {
		c.Close()
	}
	if s := l.Stats(); s.Open != 0 || s.Unauthenticated != 0 {
		t.Fatalf("after closing all: %+v", s)
	}
}

// TestOnePrincipalCannotFillTheBudget: a principal's connections beyond
// its share close its oldest, not anyone else's.
func TestOnePrincipalCannotFillTheBudget(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listen(inner, Options{Max: 100, PerPrincipal: 3})
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
	clients := dial(t, inner.Addr().String(), 5)
	var server []net.Conn
	for range 5 {
		server = append(server, <-accepted)
	}
	Authenticated(ConnContext(context.Background(), server[0]), "admin")
	for _, c := range server[1:] {
		Authenticated(ConnContext(context.Background(), c), "flooder")
	}
	if !closedByServer(clients[1]) || closedByServer(clients[2]) || closedByServer(clients[4]) || closedByServer(clients[0]) {
		t.Fatal("the flooder's oldest connection should be the one closed, and only it")
	}
	if s := l.Stats(); s.Open != 4 || s.Evicted != 1 {
		t.Fatalf("stats %+v", s)
	}
	for _, c := range append(clients, server...) {
		c.Close()
	}
}

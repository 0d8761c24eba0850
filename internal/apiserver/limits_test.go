package apiserver

import (
	"context"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/access"
)

// TestLimiterSlotBoundsComputation: a read that has computed its answer
// leaves its slot in all to others while it is written, and keeps its
// principal's slot: only that principal waits for its slow client.
func TestLimiterSlotBoundsComputation(t *testing.T) {
	l := newLimiter(1, 1)
	a, b := access.TokenPrincipal("a", access.ProjectReader, "p"), access.TokenPrincipal("b", access.Admin, "")
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	ha, err := l.acquire(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.acquire(short(), b); err == nil {
		t.Fatal("a second read computed while the only slot was taken")
	}
	ha.computed() // a's answer is rendered; a's client reads slowly
	hb, err := l.acquire(short(), b)
	if err != nil {
		t.Fatalf("another principal waits for a's answer to be written: %v", err)
	}
	hb.release()
	if _, err := l.acquire(short(), a); err == nil {
		t.Fatal("a read of a principal whose answer is still being written took a second slot of its one")
	}
	ha.release()
	ha2, err := l.acquire(short(), a)
	if err != nil {
		t.Fatal(err)
	}
	ha2.release()
	ha2.release() // releasing twice gives back nothing twice
	if len(l.slots) != 0 || len(l.per) != 0 {
		t.Errorf("slots left taken: %d in all, %d principals", len(l.slots), len(l.per))
	}
}

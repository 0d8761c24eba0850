package manager

import (
	"fmt"
	"sync"
	"time"
)

// Every byte a cluster or agent makes the store keep stays in etcd's
// history for an hour (the compaction retention), whatever is written over
// it: without a bound, one identity rewriting its objects fills the
// quota, after which etcd refuses every write of the installation. Each
// identity therefore spends from a bucket of bytes that refills at a
// steady rate; a write it cannot pay for is refused (429) and changes
// nothing.
const (
	defaultWriteBurst = 512 << 20 // bytes one identity may write at once (a full sync)
	defaultWriteRate  = 256 << 20 // bytes per hour it regains
)

type bucket struct {
	level float64
	at    time.Time
}

type budgets struct {
	mu          sync.Mutex
	burst, rate float64 // bytes, bytes per second
	b           map[string]*bucket
}

func newBudgets(burst, perHour int64) *budgets {
	if burst <= 0 {
		burst = defaultWriteBurst
	}
	if perHour <= 0 {
		perHour = defaultWriteRate
	}
	return &budgets{burst: float64(burst), rate: float64(perHour) / 3600, b: map[string]*bucket{}}
}

// spend takes n bytes from who's bucket, or reports false (and takes
// nothing) when it does not hold them.
func (b *budgets) spend(who string, n int, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := b.b[who]
	if k == nil {
		k = &bucket{level: b.burst, at: now}
		b.b[who] = k
	}
	if d := now.Sub(k.at).Seconds(); d > 0 {
		k.level = min(b.burst, k.level+d*b.rate)
		k.at = now
	}
	if float64(n) > k.level {
		return false
	}
	k.level -= float64(n)
	return true
}

// refund gives back n bytes spent on a write that was not stored.
func (b *budgets) refund(who string, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if k := b.b[who]; k != nil {
		k.level = min(b.burst, k.level+float64(n))
	}
}

// overBudget spends n bytes of who's budget, or says why it cannot.
func (m *Manager) overBudget(who string, n int) error {
	if m.writes.spend(who, n, m.now()) {
		return nil
	}
	return &WriteError{Kind: ErrTooFrequent, Message: fmt.Sprintf("%s has written more than its budget of %d MiB, regained at %d MiB an hour; this %d-byte write waits",
		who, int64(m.writes.burst)>>20, int64(m.writes.rate*3600)>>20, n)}
}

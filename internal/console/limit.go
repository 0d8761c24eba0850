package console

import (
	"context"
	"sync"
	"time"
)

// A page costs the server what its API reads cost, and it holds what it
// read (every group of a groups page, to filter and order them) until it
// is rendered. The API bounds each read, not how many pages one principal
// renders at once, so the console does: pagesPerPrincipal at a time,
// others waiting up to pageWait.
const pagesPerPrincipal = 4

// pageWait is how long a page waits for its principal's slot.
var pageWait = 10 * time.Second

// pageSlots holds each principal's page slots while it has pages.
type pageSlots struct {
	mu  sync.Mutex
	per map[string]*principalPages
}

type principalPages struct {
	ch    chan struct{}
	users int
}

// acquire takes a page slot of principal; release gives it back. ok is
// false when none came free in time.
func (s *pageSlots) acquire(ctx context.Context, principal string) (release func(), ok bool) {
	s.mu.Lock()
	if s.per == nil {
		s.per = map[string]*principalPages{}
	}
	pp := s.per[principal]
	if pp == nil {
		pp = &principalPages{ch: make(chan struct{}, pagesPerPrincipal)}
		s.per[principal] = pp
	}
	pp.users++
	s.mu.Unlock()
	leave := func() {
		s.mu.Lock()
		if pp.users--; pp.users == 0 {
			delete(s.per, principal)
		}
		s.mu.Unlock()
	}
	t := time.NewTimer(pageWait)
	defer t.Stop()
	select {
	case pp.ch <- struct{}{}:
		return func() { <-pp.ch; leave() }, true
	case <-t.C:
	case <-ctx.Done():
	}
	leave()
	return nil, false
}

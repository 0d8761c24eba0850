package console

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConsoleAttackPagesAtOnce: one principal opening page after page at
// once (over HTTP/2, hundreds on one connection) makes the console hold
// every page's reads in memory at the same time; the API bounds each
// read, not the pages. Pages beyond the principal's few wait, then are
// refused, before they read anything.
func TestConsoleAttackPagesAtOnce(t *testing.T) {
	defer func(w time.Duration) { pageWait = w }(pageWait)
	pageWait = 100 * time.Millisecond
	release := make(chan struct{})
	var reads atomic.Int32
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/policy/api/v1/kordon/session":
			_, _ = w.Write([]byte(`{"principal":"token:r","role":"reader","session":true,"csrf_token":"x"}`))
		default:
			reads.Add(1)
			<-release
			_, _ = w.Write([]byte(`{}`))
		}
	})
	c := New(Options{API: api})
	var wg sync.WaitGroup
	defer func() { close(release); wg.Wait() }()
	for range pagesPerPrincipal {
		wg.Go(func() { c.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)) })
	}
	for deadline := time.Now().Add(5 * time.Second); reads.Load() < pagesPerPrincipal; {
		if time.Now().After(deadline) {
			t.Fatalf("%d pages reading; want %d", reads.Load(), pagesPerPrincipal)
		}
		time.Sleep(time.Millisecond)
	}
	done := make(chan *httptest.ResponseRecorder, 1)
	wg.Go(func() {
		w := httptest.NewRecorder()
		c.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		done <- w
	})
	select {
	case w := <-done:
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
			t.Fatalf("one page more: %d", w.Code)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("one page more than the principal's slots was not refused: it reads and holds its answers too")
	}
	if n := reads.Load(); n != pagesPerPrincipal {
		t.Errorf("%d reads; the refused page read", n)
	}
}

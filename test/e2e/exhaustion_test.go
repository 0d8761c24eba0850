package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/client"
)

// addr is the manager's host:port.
func (s *server) addr(t testing.TB) string {
	t.Helper()
	c, err := client.ReadConfig(s.dir + "/kordon-data/client.yaml")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(c.Server)
	return u.Host
}

func (s *server) mustClient(t testing.TB) *client.Client {
	t.Helper()
	c, err := s.client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *server) alive(t testing.TB) {
	t.Helper()
	select {
	case <-s.done:
		t.Fatalf("kordon serve exited:\n%s", s.out)
	default:
	}
}

// TestIdleConnectionsCannotExhaust: with 256 file descriptors, thousands
// of idle connections neither crash the manager nor keep an administrator
// out: the oldest unauthenticated connections make room for new ones, and
// running out of descriptors only makes accepting wait.
func TestIdleConnectionsCannotExhaust(t *testing.T) {
	s := serveLimited(t, t.TempDir(), 256, "--no-demo")
	c := s.mustClient(t)
	addr := s.addr(t)
	var idle []net.Conn
	defer func() {
		for _, cn := range idle {
			cn.Close()
		}
	}()
	for range 3000 {
		cn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			continue // the backlog is full: that is the point
		}
		idle = append(idle, cn)
	}
	s.alive(t)
	for i := range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.Do(ctx, http.MethodPatch, fmt.Sprintf("/policy/api/v1/infra/domains/default/groups/g%d", i),
			[]byte(`{"expression":[{"resource_type":"IPAddressExpression","ip_addresses":["10.0.0.1"]}]}`), nil)
		cancel()
		if err != nil {
			t.Fatalf("an admin write with %d idle connections open: %v\n%s", len(idle), err, s.out)
		}
	}
	s.alive(t)
	var m strings.Builder
	if err := c.Do(context.Background(), http.MethodGet, "/metrics", nil, &m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.String(), "kordon_api_connections_evicted_total") {
		t.Fatal("no connection metrics")
	}
	t.Logf("%d idle connections dialled; %s", len(idle), grepLine(m.String(), "kordon_api_connections_evicted_total"))
}

func grepLine(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// TestSlowBodiesAreCut: a body sent a byte every two seconds is cut off
// when its route's time is up, and the manager goes on.
func TestSlowBodiesAreCut(t *testing.T) {
	s := serve(t, t.TempDir(), "--no-demo")
	cfg, _ := client.ReadConfig(s.dir + "/kordon-data/client.yaml")
	cn, err := tls.Dial("tcp", s.addr(t), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	fmt.Fprintf(cn, "POST /policy/api/v1/kordon/explain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n", cfg.Token)
	start := time.Now()
	cut := make(chan time.Duration, 1)
	go func() {
		b := make([]byte, 1)
		for time.Since(start) < 2*time.Minute {
			if _, err := cn.Write([]byte("{")); err != nil {
				break
			}
			cn.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := cn.Read(b); err != nil && !isTimeout(err) {
				break
			}
		}
		cut <- time.Since(start)
	}()
	select {
	case d := <-cut:
		if d > 90*time.Second {
			t.Fatalf("the slow body was held %s", d)
		}
		t.Logf("a body of one byte per 2s was cut after %s", d.Round(time.Second))
	case <-time.After(2 * time.Minute):
		t.Fatal("the slow body was never cut")
	}
	s.alive(t)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestInventedPathsDoNotGrowMetrics: metrics are labelled by route
// pattern, so requests to thousands of invented paths and methods add no
// series.
func TestInventedPathsDoNotGrowMetrics(t *testing.T) {
	s := serve(t, t.TempDir(), "--no-demo")
	c := s.mustClient(t)
	size := func() int {
		var b strings.Builder
		if err := c.Do(context.Background(), http.MethodGet, "/metrics", nil, &b); err != nil {
			t.Fatal(err)
		}
		return len(b.String())
	}
	warm := func(n int) {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		base := "https://" + s.addr(t)
		for i := range n {
			req, _ := http.NewRequest([]string{"GET", "BREW", "PROPFIND", "DELETE"}[i%4], fmt.Sprintf("%s/x%d/%d", base, i, i*7), nil)
			if i%2 == 0 {
				req.Header.Set("Authorization", "Bearer kdn_invented")
			}
			if resp, err := hc.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
	warm(20) // the unmatched series exist
	before := size()
	warm(3000)
	after := size()
	if after-before > 4096 {
		t.Fatalf("/metrics grew from %d to %d bytes with invented paths", before, after)
	}
	t.Logf("/metrics %d -> %d bytes after 3,000 invented paths", before, after)
}

// TestReadFloodLeavesWritesGoing: while 60 readers export the
// configuration (and list and read members) as fast as they can, an
// administrator's writes still go through. Their latency is measured and
// logged, not asserted: the benchmark BenchmarkWriteUnderReadFlood is the
// measure.
func TestReadFloodLeavesWritesGoing(t *testing.T) {
	s := serve(t, t.TempDir(), "--no-demo")
	c := s.mustClient(t)
	var doc strings.Builder
	doc.WriteString(`{"resource_type":"Infra","children":[{"resource_type":"ChildDomain","Domain":{"id":"default","children":[`)
	for i := range 2000 {
		if i > 0 {
			doc.WriteString(",")
		}
		fmt.Fprintf(&doc, `{"resource_type":"ChildGroup","Group":{"id":"g%d","description":"%s","expression":[{"resource_type":"IPAddressExpression","ip_addresses":["10.%d.%d.0/24"]}]}}`,
			i, strings.Repeat("d", 500), i/256, i%256)
	}
	doc.WriteString(`]}}]}`)
	if err := c.Do(context.Background(), http.MethodPatch, "/policy/api/v1/infra", []byte(doc.String()), nil); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for r := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := s.mustClient(t)
			paths := []string{"/policy/api/v1/infra", "/policy/api/v1/infra/domains/default/groups", "/policy/api/v1/infra/domains/default/groups/g1/members/effective"}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := rc.Do(ctx, http.MethodGet, paths[(r+i)%len(paths)], nil, io.Discard)
				cancel()
				key := "ok"
				if ce, ok := err.(*client.Error); ok {
					key = fmt.Sprint(ce.Status)
				} else if err != nil {
					key = "error"
				}
				mu.Lock()
				codes[key]++
				mu.Unlock()
			}
		}()
	}
	time.Sleep(time.Second)
	var lat []time.Duration
	for i := range 20 {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := c.Do(ctx, http.MethodPatch, fmt.Sprintf("/policy/api/v1/infra/domains/default/groups/w%d", i),
			[]byte(`{"expression":[{"resource_type":"IPAddressExpression","ip_addresses":["172.16.0.1"]}]}`), nil)
		cancel()
		if err != nil {
			t.Fatalf("a write under the read flood: %v", err)
		}
		lat = append(lat, time.Since(start))
	}
	close(stop)
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("writes under a flood of 60 readers: p50 %s, max %s; reads by outcome %v", lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), codes)
	s.alive(t)
}

package client

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/wire"
)

func TestConfigFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "config.yaml")
	want := Config{Server: "https://k:8443", CA: "-----BEGIN CERTIFICATE-----\n", Token: "kdn_x"}
	if err := WriteConfig(p, want); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v: a file holding a token must be private", st.Mode())
	}
	got, err := ReadConfig(p)
	if err != nil || got != want {
		t.Fatalf("ReadConfig = %+v %v", got, err)
	}
	t.Setenv("KORDON_CONFIG", p)
	if got, from, err := LoadConfig(); err != nil || from != p || got != want {
		t.Fatalf("LoadConfig = %+v %s %v", got, from, err)
	}
	os.WriteFile(p, []byte("server: x\ntokn: y\n"), 0o600)
	if _, err := ReadConfig(p); err == nil || !strings.Contains(err.Error(), "tokn") {
		t.Errorf("a misspelt field: %v", err)
	}
	t.Setenv("KORDON_CONFIG", filepath.Join(dir, "none.yaml"))
	t.Chdir(dir)
	t.Setenv("XDG_CONFIG_HOME", dir)
	if _, _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), "kordon login") {
		t.Errorf("no configuration anywhere: %v", err)
	}
}

// TestConfigPrecedence: $KORDON_CONFIG, then the data directory of a
// manager in the working directory, then the user's file; a
// $KORDON_CONFIG naming nothing is an error, not a reason to look
// elsewhere.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg"))
	t.Setenv("KORDON_CONFIG", "")
	user, _ := UserConfigPath()
	write := func(p, server string) {
		t.Helper()
		if err := WriteConfig(p, Config{Server: server, Token: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	load := func(want, wantFrom string) {
		t.Helper()
		c, from, err := LoadConfig()
		if err != nil || c.Server != want || from != wantFrom {
			t.Errorf("LoadConfig = %s from %s (%v), want %s from %s", c.Server, from, err, want, wantFrom)
		}
	}
	write(user, "https://user")
	load("https://user", user)
	write(filepath.Join(DefaultDataDir, "client.yaml"), "https://here")
	load("https://here", DataDirConfig)
	explicit := filepath.Join(dir, "explicit.yaml")
	write(explicit, "https://explicit")
	t.Setenv("KORDON_CONFIG", explicit)
	load("https://explicit", explicit)
	t.Setenv("KORDON_CONFIG", filepath.Join(dir, "none.yaml"))
	if _, _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), "KORDON_CONFIG names "+filepath.Join(dir, "none.yaml")+", which does not exist") {
		t.Errorf("a KORDON_CONFIG naming nothing: %v", err)
	}
	if p, _ := UserConfigPath(); p != filepath.Join(dir, "none.yaml") {
		t.Errorf("login writes %s, not $KORDON_CONFIG", p)
	}
	// What kordon serve says of the configuration it wrote.
	t.Setenv("KORDON_CONFIG", "")
	if h := DataDirHint(filepath.Join(DefaultDataDir, "client.yaml")); !strings.Contains(h, "commands run from "+dir+" use it") {
		t.Errorf("default data directory: %q", h)
	}
	other := filepath.Join(dir, "data", "client.yaml")
	if h := DataDirHint("data/client.yaml"); !strings.Contains(h, "give commands --config "+other) || !strings.Contains(h, "KORDON_CONFIG="+other) {
		t.Errorf("--data-dir data: %q", h)
	}
}

func TestErrors(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			w.WriteHeader(401)
			w.Write([]byte(`{"httpStatus":"UNAUTHORIZED","error_code":401001,"error_message":"the token is not valid"}`))
			return
		}
		if r.URL.Path == "/plain" {
			w.WriteHeader(502)
			w.Write([]byte("upstream down"))
			return
		}
		w.WriteHeader(400)
		w.Write([]byte(`{"error_message":"invalid","related_errors":[{"error_message":"a: b: c"}]}`))
	}))
	defer srv.Close()
	c, err := New(Config{Server: srv.URL, Token: "bad", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	var e *Error
	if err := c.Do(context.Background(), "GET", "/x", nil, nil); !errors.As(err, &e) || e.Status != 401 || e.Message != "the token is not valid" {
		t.Fatalf("401: %v", err)
	}
	c, _ = New(Config{Server: srv.URL, Token: "good", InsecureSkipVerify: true})
	if err := c.Do(context.Background(), "GET", "/x", nil, nil); !errors.As(err, &e) || e.Error() != "invalid:\n  a: b: c" {
		t.Fatalf("400: %v", err)
	}
	if err := c.Do(context.Background(), "GET", "/plain", nil, nil); !errors.As(err, &e) || !strings.Contains(e.Message, "upstream down") {
		t.Fatalf("502: %v", err)
	}
	if _, err := New(Config{Server: srv.URL, CA: "not a pem"}); err == nil {
		t.Error("a bad CA was accepted")
	}
	noCA, _ := New(Config{Server: srv.URL, Token: "good"})
	if err := noCA.Do(context.Background(), "GET", "/x", nil, nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an unknown CA must fail verification: %v", err)
	}
}

// quick retries, so the tests wait little.
var quick = Options{Retry: Retry{Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}}

// counting serves answer to every request and counts them.
func counting(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) (*Client, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(int(n.Add(1)), w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := NewWith(Config{Server: srv.URL, Token: "t", InsecureSkipVerify: true}, quick)
	if err != nil {
		t.Fatal(err)
	}
	return c, &n
}

func unavailable(w http.ResponseWriter) {
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write([]byte(`{"error_message":"the state is loading"}`))
}

func TestRetriesTransientFailures(t *testing.T) {
	ctx := context.Background()
	c, n := counting(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n < 3 {
			unavailable(w)
			return
		}
		w.Write([]byte(`{"ok": true}`))
	})
	var out struct{ OK bool }
	if err := c.Do(ctx, http.MethodGet, "/x", nil, &out); err != nil || !out.OK || n.Load() != 3 {
		t.Fatalf("a GET through two 503s: %v, %+v after %d tries", err, out, n.Load())
	}

	// A POST may have been done when a 503 came back: tried once, unless
	// the caller says it is idempotent.
	n.Store(0)
	var e *Error
	if err := c.Do(ctx, http.MethodPost, "/x", map[string]int{"a": 1}, nil); !errors.As(err, &e) || e.Status != 503 || n.Load() != 1 {
		t.Fatalf("a POST meeting a 503: %v after %d tries", err, n.Load())
	}
	n.Store(0)
	if err := c.Do(ctx, http.MethodPost, "/x", map[string]int{"a": 1}, nil, Idempotent()); err != nil || n.Load() != 3 {
		t.Fatalf("an idempotent POST through two 503s: %v after %d tries", err, n.Load())
	}
}

func TestRetriesAreBounded(t *testing.T) {
	ctx := context.Background()
	c, n := counting(t, func(_ int, w http.ResponseWriter, r *http.Request) { unavailable(w) })
	var e *Error
	if err := c.Do(ctx, http.MethodGet, "/x", nil, nil); !errors.As(err, &e) || e.Message != "the state is loading" || n.Load() != 4 {
		t.Fatalf("always 503: %v after %d tries, want the last answer after 4", err, n.Load())
	}

	// A Retry-After beyond the time retries may take: the 429 at once.
	c, n = counting(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	start := time.Now()
	if err := c.Do(ctx, http.MethodGet, "/x", nil, nil); !errors.As(err, &e) || e.Status != 429 || n.Load() != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("Retry-After: 3600: %v after %d tries and %s", err, n.Load(), time.Since(start))
	}

	// The caller's context ends the waiting.
	c, n = counting(t, func(_ int, w http.ResponseWriter, r *http.Request) { unavailable(w) })
	c.o.Retry = Retry{Attempts: 4, Within: 2 * time.Hour, Backoff: time.Hour, MaxBackoff: time.Hour}
	ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	if err := c.Do(ctx, http.MethodGet, "/x", nil, nil); !errors.As(err, &e) || n.Load() != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("a context that ends during the backoff: %v after %d tries and %s", err, n.Load(), time.Since(start))
	}
}

func TestTooManyRequestsHonoursRetryAfter(t *testing.T) {
	c, n := counting(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write([]byte(`{}`))
	})
	start := time.Now()
	// 429: the manager did nothing, so even a POST is sent again.
	if err := c.Do(context.Background(), http.MethodPost, "/x", []byte(`{}`), nil); err != nil || n.Load() != 2 {
		t.Fatalf("429 then 200: %v after %d tries", err, n.Load())
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("retried after %s; the manager asked for 1 s", d)
	}
}

func TestRetryableFailures(t *testing.T) {
	dial := &tryError{err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}
	read := &tryError{err: &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}}
	refused := &tryError{err: &net.OpError{Op: "remote error", Err: errors.New("tls: bad certificate")}}
	for _, tt := range []struct {
		name       string
		err        error
		idempotent bool
		want       bool
	}{
		{"dial, POST", dial, false, true},
		{"reset, POST", read, false, false},
		{"reset, GET", read, true, true},
		{"TLS alert, GET", refused, true, false},
		{"502, GET", &tryError{err: errors.New("x"), status: 502}, true, true},
		{"504, POST", &tryError{err: errors.New("x"), status: 504}, false, false},
		{"409, GET", &tryError{err: errors.New("x"), status: 409}, true, false},
		{"not modified", ErrNotModified, true, false},
	} {
		if _, got := retryable(tt.err, tt.idempotent); got != tt.want {
			t.Errorf("%s: retryable %v, want %v", tt.name, got, tt.want)
		}
	}
	for n := 1; n < 10; n++ {
		if d := backoff(quick.withDefaults().Retry, n); d < 0 || d > 4*time.Millisecond {
			t.Errorf("backoff %d: %s, beyond the bounds", n, d)
		}
	}
}

func TestNotModifiedAndGzip(t *testing.T) {
	c, _ := counting(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if r.Header.Get("Content-Encoding") != "gzip" {
			http.Error(w, "not gzipped", 400)
			return
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		io.Copy(w, zr)
	})
	if err := c.Do(context.Background(), http.MethodGet, "/span", nil, &struct{}{}); !errors.Is(err, ErrNotModified) {
		t.Fatalf("304: %v", err)
	}
	var out map[string]string
	if err := c.Do(context.Background(), http.MethodPost, "/report", map[string]string{"state": "success"}, &out, Gzip()); err != nil || out["state"] != "success" {
		t.Fatalf("a gzipped body: %v %v", err, out)
	}
}

// TestClientCertificate: a bundle's client authenticates with its
// certificate and sends no token.
func TestClientCertificate(t *testing.T) {
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	srvCert, _ := ca.IssueServer([]string{"127.0.0.1"})
	agentCert, _ := ca.IssueClient("a1", "agent", 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"cn": r.TLS.PeerCertificates[0].Subject.CommonName, "auth": r.Header.Get("Authorization")})
	}))
	cert, _ := srvCert.TLS()
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	srv.StartTLS()
	defer srv.Close()
	c, err := FromBundle(wire.Bundle{Agent: "a1", Server: srv.URL, CA: string(ca.CertPEM), Cert: string(agentCert.CertPEM), Key: string(agentCert.KeyPEM)}, quick)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	if err := c.Do(context.Background(), http.MethodGet, "/", nil, &out); err != nil || out["cn"] != "a1" || out["auth"] != "" {
		t.Fatalf("mTLS: %v %v", err, out)
	}
	if _, err := FromBundle(wire.Bundle{Server: srv.URL, CA: string(ca.CertPEM), Cert: "no", Key: "no"}, quick); err == nil {
		t.Error("a bundle without a certificate made a client")
	}
}

// TestTimeouts: Timeout bounds a call, but only the start of a stream.
func TestTimeouts(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for range 5 {
			time.Sleep(100 * time.Millisecond)
			w.Write([]byte("{}\n"))
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	o := quick
	o.Timeout = 200 * time.Millisecond
	c, _ := NewWith(Config{Server: srv.URL, InsecureSkipVerify: true}, o)
	if err := c.Do(context.Background(), http.MethodGet, "/", nil, io.Discard); err == nil {
		t.Error("a call longer than its timeout succeeded")
	}
	resp, err := c.Stream(context.Background(), http.MethodGet, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || strings.Count(string(b), "{}") != 5 {
		t.Fatalf("a stream outliving the timeout: %q %v", b, err)
	}
}

// Package client owns talking to a kordon manager over HTTPS, for the
// command line, a cluster's adapter and an enforcement agent alike: where
// the manager is and who speaks (a token from the client configuration
// file, or the client certificate of a cluster's or agent's bundle), and
// calls that turn the API's NSX-shaped errors into Go errors, compress
// bodies when asked, surface 304 Not Modified, and retry what is safe to
// retry, a bounded number of times within a bounded time.
package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/wire"
)

// Config says how to reach a manager.
type Config struct {
	Server string `json:"server"`
	// CA is the PEM certificate of the manager's CA.
	CA    string `json:"ca,omitempty"`
	Token string `json:"token"`
	// InsecureSkipVerify disables server certificate checks (tests only).
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
}

// DefaultDataDir is where `kordon serve` keeps its state by default; its
// client.yaml is found from the same working directory.
const DefaultDataDir = "kordon-data"

// DataDirConfig is the client configuration a manager started in the
// working directory with the default data directory wrote.
var DataDirConfig = filepath.Join(DefaultDataDir, "client.yaml")

// ConfigPaths lists where a client configuration is looked for, in order
// (the first that exists is used): $KORDON_CONFIG when set (then nothing
// else), the data directory of a manager started in the working directory
// (./kordon-data/client.yaml), then the user's file that `kordon login`
// writes (~/.config/kordon/config.yaml). The data directory comes before
// the user's file so that commands run beside a manager talk to it,
// whatever the user logged in to elsewhere.
func ConfigPaths() []string {
	if p := os.Getenv("KORDON_CONFIG"); p != "" {
		return []string{p}
	}
	out := []string{DataDirConfig}
	if d, err := os.UserConfigDir(); err == nil {
		out = append(out, filepath.Join(d, "kordon", "config.yaml"))
	}
	return out
}

// UserConfigPath is where `kordon login` writes: $KORDON_CONFIG when set,
// else the user's file.
func UserConfigPath() (string, error) {
	if p := os.Getenv("KORDON_CONFIG"); p != "" {
		return p, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "kordon", "config.yaml"), nil
}

// ReadConfig reads one configuration file.
func ReadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// LoadConfig reads the first configuration file of ConfigPaths that
// exists, and says which it read. A $KORDON_CONFIG that names no file is
// an error, not a reason to look elsewhere.
func LoadConfig() (Config, string, error) {
	if p := os.Getenv("KORDON_CONFIG"); p != "" {
		c, err := ReadConfig(p)
		if errors.Is(err, os.ErrNotExist) {
			return c, p, fmt.Errorf("KORDON_CONFIG names %s, which does not exist (run `kordon login`, which writes it, or unset KORDON_CONFIG)", p)
		}
		return c, p, err
	}
	for _, p := range ConfigPaths() {
		c, err := ReadConfig(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		return c, p, err
	}
	return Config{}, "", fmt.Errorf("no client configuration: run `kordon login --server URL --token TOKEN`, run commands where `kordon serve` keeps %s, or give --config FILE (looked in %s)", DefaultDataDir, strings.Join(ConfigPaths(), ", "))
}

// DataDirHint says how commands find the client configuration a manager
// wrote at cfgPath (DATA-DIR/client.yaml), for the message `kordon serve`
// prints: from the working directory when DATA-DIR is ./kordon-data, else
// only when named.
func DataDirHint(cfgPath string) string {
	abs, err := filepath.Abs(cfgPath)
	if err != nil {
		abs = cfgPath
	}
	here, _ := filepath.Abs(DataDirConfig)
	if abs != here {
		return fmt.Sprintf("give commands --config %s (or KORDON_CONFIG=%s): by themselves they find ./%s, not this one", abs, abs, DataDirConfig)
	}
	hint := fmt.Sprintf("commands run from %s use it (before the file `kordon login` writes)", filepath.Dir(filepath.Dir(abs)))
	if env := os.Getenv("KORDON_CONFIG"); env != "" {
		hint += fmt.Sprintf(", unless KORDON_CONFIG is set, as it is here (%s)", env)
	}
	return hint
}

// WriteConfig writes a configuration readable only by its owner.
func WriteConfig(path string, c Config) error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// Client calls a manager's API.
type Client struct {
	server string
	token  string
	http   *http.Client
	o      Options
}

// Options tune how a client calls; zero values take the defaults.
type Options struct {
	// Timeout bounds one try of a call, from sending it to reading its
	// answer (default 5 min): a long poll needs more than its wait. For
	// Stream it bounds only the wait for the answer's headers, so a
	// stream lasts as long as its context.
	Timeout time.Duration
	Retry   Retry
}

// Retry bounds the retries of transient failures: a connection that
// could not be made, 429 Too Many Requests (the manager did nothing; its
// Retry-After is honoured) and, for idempotent calls, a connection lost
// on the way and 502, 503 and 504.
type Retry struct {
	// Attempts is how often a call is tried in all (default 4; 1 never
	// retries).
	Attempts int
	// Within bounds the time from a call's first try to the start of its
	// last (default 30 s): a retry that would start later is not made,
	// and the last failure is returned.
	Within time.Duration
	// Backoff is the wait before the first retry (default 250 ms),
	// doubled for each next one up to MaxBackoff (default 5 s); every
	// wait is jittered so clients refused together do not return
	// together.
	Backoff, MaxBackoff time.Duration
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	r := &o.Retry
	if r.Attempts <= 0 {
		r.Attempts = 4
	}
	if r.Within <= 0 {
		r.Within = 30 * time.Second
	}
	if r.Backoff <= 0 {
		r.Backoff = 250 * time.Millisecond
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 5 * time.Second
	}
	return o
}

// New returns a client for the configuration, authenticating with its
// token.
func New(cfg Config) (*Client, error) { return NewWith(cfg, Options{}) }

// NewWith is New with options.
func NewWith(cfg Config, o Options) (*Client, error) {
	if cfg.Server == "" {
		return nil, errors.New("the client configuration has no server")
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}
	if cfg.CA != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(cfg.CA)) {
			return nil, errors.New("the client configuration's CA is not a PEM certificate")
		}
		tc.RootCAs = pool
	}
	return newClient(cfg.Server, cfg.Token, tc, o), nil
}

// FromBundle returns a client that speaks for the bundle's cluster or
// agent, authenticating with its client certificate.
func FromBundle(b wire.Bundle, o Options) (*Client, error) {
	if b.Server == "" {
		return nil, errors.New("the bundle names no server")
	}
	tc, err := pki.ClientTLS([]byte(b.CA), []byte(b.Cert), []byte(b.Key))
	if err != nil {
		return nil, err
	}
	return newClient(b.Server, "", tc, o), nil
}

func newClient(server, token string, tc *tls.Config, o Options) *Client {
	// Timeouts are per try (see Options.Timeout), never on the
	// http.Client: that one would also cut streams that are meant to last.
	return &Client{server: strings.TrimSuffix(server, "/"), token: token, o: o.withDefaults(),
		http: &http.Client{Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}}
}

// Server returns the manager's URL.
func (c *Client) Server() string { return c.server }

// Error is an error the API returned.
type Error struct {
	Status  int
	Message string
	Related []string
}

func (e *Error) Error() string {
	if len(e.Related) == 0 {
		return e.Message
	}
	return e.Message + ":\n  " + strings.Join(e.Related, "\n  ")
}

// ErrNotModified: the manager answered 304 Not Modified, as a long poll
// does when its wait ends with nothing new.
var ErrNotModified = errors.New("not modified")

// CallOption changes one call.
type CallOption func(*call)

type call struct {
	gzip, idempotent bool
}

// Gzip sends the request body compressed: the manager takes gzip, and
// inventories and reports shrink several times.
func Gzip() CallOption { return func(c *call) { c.gzip = true } }

// Idempotent marks a call that may be sent twice with the effect of once
// (a write conditioned on a revision, a report of the latest state), so
// it is retried after failures that leave unknown whether it was done.
// Reads (GET, HEAD, OPTIONS) are retried so without it; writes are not,
// even PUT and DELETE: done twice, the second would answer 404 or 412
// for the first's success.
func Idempotent() CallOption { return func(c *call) { c.idempotent = true } }

// Do sends a request; body (if not nil) is encoded as JSON unless it is
// []byte, and a JSON answer is decoded into out (if not nil; an
// io.Writer gets the answer as it is).
func (c *Client) Do(ctx context.Context, method, path string, body, out any, opts ...CallOption) error {
	resp, err := c.send(ctx, method, path, body, false, opts)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if w, ok := out.(io.Writer); ok {
		_, err := io.Copy(w, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("the answer of kordon manager at %s cannot be read: %w", c.server, err)
	}
	return nil
}

// Stream sends a request and returns the open response of a successful
// one (the caller closes its body); failures become *Error.
func (c *Client) Stream(ctx context.Context, method, path string, body any, opts ...CallOption) (*http.Response, error) {
	return c.send(ctx, method, path, body, true, opts)
}

func (c *Client) send(ctx context.Context, method, path string, body any, stream bool, opts []CallOption) (*http.Response, error) {
	var cl call
	for _, o := range opts {
		o(&cl)
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		cl.idempotent = true
	}
	payload, err := encode(body, cl.gzip)
	if err != nil {
		return nil, err
	}
	r := c.o.Retry
	start := time.Now()
	for attempt := 1; ; attempt++ {
		resp, err := c.try(ctx, method, path, payload, body != nil, cl.gzip, stream)
		if err == nil {
			return resp, nil
		}
		wait, retry := retryable(err, cl.idempotent)
		if !retry || attempt >= r.Attempts || ctx.Err() != nil {
			return nil, plain(err)
		}
		if wait == 0 {
			wait = backoff(r, attempt)
		}
		if time.Since(start)+wait > r.Within {
			return nil, plain(err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, plain(err)
		case <-t.C:
		}
	}
}

// plain is the error a caller sees: what failed, without the retry
// bookkeeping.
func plain(err error) error {
	var te *tryError
	if errors.As(err, &te) {
		return te.err
	}
	return err
}

// encode makes the body once, so that every try sends the same bytes.
func encode(body any, gz bool) ([]byte, error) {
	var b []byte
	switch v := body.(type) {
	case nil:
		return nil, nil
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	if !gz {
		return b, nil
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tryError is a failed try, with what decides whether to try again.
type tryError struct {
	err error
	// status is the answer's, 0 when there was none; retryAfter what it
	// asked to wait.
	status     int
	retryAfter time.Duration
}

func (e *tryError) Error() string { return e.err.Error() }
func (e *tryError) Unwrap() error { return e.err }

// try sends one request. The answer of a successful one stays open; its
// body's Close ends the try's context.
func (c *Client) try(ctx context.Context, method, path string, payload []byte, hasBody, gz, stream bool) (*http.Response, error) {
	var cancel context.CancelFunc
	var headers *time.Timer
	if stream {
		ctx, cancel = context.WithCancel(ctx)
		headers = time.AfterFunc(c.o.Timeout, cancel)
	} else {
		ctx, cancel = context.WithTimeout(ctx, c.o.Timeout)
	}
	var rd io.Reader
	if hasBody {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, rd)
	if err != nil {
		cancel()
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
	}
	resp, err := c.http.Do(req)
	if headers != nil {
		headers.Stop()
	}
	if err != nil {
		cancel()
		return nil, &tryError{err: fmt.Errorf("kordon manager at %s: %w", c.server, err)}
	}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		resp.Body.Close()
		cancel()
		return nil, ErrNotModified
	case resp.StatusCode < 300:
		resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
		return resp, nil
	}
	defer cancel()
	defer resp.Body.Close()
	return nil, &tryError{err: apiError(resp), status: resp.StatusCode, retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// apiError reads a failed answer: the API's NSX-shaped error when it is
// one, else the status and what the body says (a proxy's page).
func apiError(resp *http.Response) *Error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var apiErr struct {
		Message string `json:"error_message"`
		Related []struct {
			Message string `json:"error_message"`
		} `json:"related_errors"`
	}
	e := &Error{Status: resp.StatusCode}
	if json.Unmarshal(b, &apiErr) == nil && apiErr.Message != "" {
		e.Message = apiErr.Message
		for _, r := range apiErr.Related {
			e.Related = append(e.Related, r.Message)
		}
	} else {
		e.Message = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return e
}

// retryable says whether a failed try may be tried again, and after how
// long the manager asked (0: no say).
func retryable(err error, idempotent bool) (time.Duration, bool) {
	var te *tryError
	if !errors.As(err, &te) {
		return 0, false // not modified, or a request that cannot be built
	}
	switch te.status {
	case 0:
		if permanent(te.err) {
			return 0, false
		}
		// A request that never left may be sent again whatever it is; one
		// that failed later may have been done.
		return 0, idempotent || notSent(te.err)
	case http.StatusTooManyRequests:
		// The manager refuses before doing anything: always safe.
		return te.retryAfter, true
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		// A proxy's or the manager's "not now"; the request may still
		// have reached the store (503 when it answered too late).
		return te.retryAfter, idempotent
	}
	return 0, false
}

// permanent: failures that trying again cannot mend (a certificate that
// does not verify, the manager's TLS alert refusing ours, a server that
// does not speak TLS, a context that ended).
func permanent(err error) bool {
	var (
		verify  *tls.CertificateVerificationError
		record  tls.RecordHeaderError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		op      *net.OpError
	)
	return errors.As(err, &verify) || errors.As(err, &record) || errors.As(err, &unknown) || errors.As(err, &host) ||
		errors.As(err, &invalid) || errors.As(err, &op) && op.Op == "remote error" ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// notSent: the connection could not be made, so the manager saw nothing.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// backoff is the wait before retry n (1 for the first): exponential,
// capped, with the upper half jittered.
func backoff(r Retry, n int) time.Duration {
	d := r.Backoff
	for i := 1; i < n && d < r.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

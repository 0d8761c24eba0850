// Package client owns talking to a kordon manager: where it is and how to
// authenticate (the client configuration file), and HTTP calls that turn
// the API's NSX-shaped errors into Go errors.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
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

// ConfigPaths lists where a client configuration is looked for, in order:
// $KORDON_CONFIG, the user's config file, then the data directory of a
// manager started in the working directory.
func ConfigPaths() []string {
	var out []string
	if p := os.Getenv("KORDON_CONFIG"); p != "" {
		out = append(out, p)
	}
	if d, err := os.UserConfigDir(); err == nil {
		out = append(out, filepath.Join(d, "kordon", "config.yaml"))
	}
	return append(out, filepath.Join(DefaultDataDir, "client.yaml"))
}

// UserConfigPath is where `kordon login` writes.
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

// LoadConfig reads the first configuration file that exists.
func LoadConfig() (Config, string, error) {
	for _, p := range ConfigPaths() {
		c, err := ReadConfig(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		return c, p, err
	}
	return Config{}, "", fmt.Errorf("no client configuration: run `kordon login --server URL --token TOKEN`, or run commands where `kordon serve` keeps %s (looked in %s)", DefaultDataDir, strings.Join(ConfigPaths(), ", "))
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
	cfg  Config
	http *http.Client
}

// New returns a client for the configuration.
func New(cfg Config) (*Client, error) {
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
	return &Client{cfg: cfg, http: &http.Client{Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}, Timeout: 5 * time.Minute}}, nil
}

// Server returns the manager's URL.
func (c *Client) Server() string { return c.cfg.Server }

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

// Do sends a request; body (if not nil) is encoded as JSON unless it is
// []byte, and a JSON answer is decoded into out (if not nil).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.Stream(ctx, method, path, body)
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
	return json.NewDecoder(resp.Body).Decode(out)
}

// Stream sends a request and returns the open response of a successful
// one (the caller closes its body); failures become *Error.
func (c *Client) Stream(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.cfg.Server, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kordon manager at %s: %w", c.cfg.Server, err)
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
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
	return nil, e
}

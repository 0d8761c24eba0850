// Package serve owns the manager process: it opens the store, initializes
// a new installation, starts the manager and its inventory sources (the
// demo, or a directory of kubectl dumps), and serves the API over HTTPS
// until asked to stop. It is `kordon serve`.
package serve

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kordon-dev/kordon/internal/apiserver"
	"github.com/kordon-dev/kordon/internal/client"
	"github.com/kordon-dev/kordon/internal/license"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/store"
)

// Options configure the manager process.
type Options struct {
	DataDir string
	Listen  string
	// External etcd; empty runs the embedded one in DataDir.
	EtcdEndpoints             []string
	EtcdCA, EtcdCert, EtcdKey string
	TLSCert, TLSKey           string
	TLSSANs                   []string
	InventoryDir              string
	// Clusters are NAME=KUBECONFIG pairs watched by adapters in this
	// process.
	Clusters []string
	// Heartbeat is the in-process adapters' heartbeat interval.
	Heartbeat time.Duration
	// Version is reported by in-process adapters.
	Version      string
	NoDemo       bool
	LicenseTrust []string
	Logger       *slog.Logger
	// Out receives the messages a person starting the manager must see
	// (the admin token on first start).
	Out io.Writer
	// UnsafeNoFsync is for tests only.
	UnsafeNoFsync bool
	// Ready, if set, receives the API's address once it serves.
	Ready func(addr string)
}

// Run serves until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.DataDir == "" {
		o.DataDir = client.DefaultDataDir
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	trust, err := readTrust(o.LicenseTrust)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, store.Options{DataDir: o.DataDir, Endpoints: o.EtcdEndpoints, CAFile: o.EtcdCA, CertFile: o.EtcdCert,
		KeyFile: o.EtcdKey, UnsafeNoFsync: o.UnsafeNoFsync, Logger: o.Logger})
	if err != nil {
		return err
	}
	defer st.Close()
	boot, err := manager.Initialize(ctx, st, time.Now())
	if err != nil {
		return fmt.Errorf("initializing: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := manager.New(manager.Options{Store: st, Logger: o.Logger, Trust: trust, Registerer: reg})
	mctx, stopManager := context.WithCancel(ctx)
	defer stopManager()
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(mctx) }()
	if err := waitReady(ctx, m, runErr); err != nil {
		return err
	}
	tlsCfg, err := serverTLS(o, boot.CA)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", o.Listen, err)
	}
	url := "https://" + clientAddr(ln.Addr().(*net.TCPAddr))
	if err := writeDataDir(o, boot, url); err != nil {
		ln.Close()
		return err
	}
	if err := sources(ctx, o, m); err != nil {
		ln.Close()
		return err
	}
	api := apiserver.New(apiserver.Options{Manager: m, Logger: o.Logger, Gatherer: reg, Registerer: reg, CA: boot.CA.CertPEM})
	srv := &http.Server{Handler: api, TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	o.Logger.Info("serving the kordon API", "url", url, "store", storeKind(st), "data_dir", o.DataDir)
	if o.Ready != nil {
		o.Ready(ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("API server: %w", err)
	case err := <-runErr:
		if err != nil {
			return err
		}
	}
	o.Logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	stopManager()
	return nil
}

func storeKind(st *store.Store) string {
	if st.Embedded() {
		return "embedded etcd"
	}
	return "external etcd"
}

func waitReady(ctx context.Context, m *manager.Manager, runErr chan error) error {
	for !m.Ready() {
		select {
		case err := <-runErr:
			if err == nil {
				err = errors.New("the manager stopped while loading")
			}
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func readTrust(files []string) ([]ed25519.PublicKey, error) {
	var out []ed25519.PublicKey
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--license-trust: %w", err)
		}
		k, err := license.ParsePublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("--license-trust %s: %w", f, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// clientAddr is the address a local client reaches a listener at.
func clientAddr(a *net.TCPAddr) string {
	if a.IP.IsUnspecified() {
		if a.IP.To4() != nil {
			return fmt.Sprintf("127.0.0.1:%d", a.Port)
		}
		return fmt.Sprintf("[::1]:%d", a.Port)
	}
	return a.String()
}

// serverTLS uses the operator's certificate, or issues one from the
// installation's CA for the local names and addresses.
func serverTLS(o Options, ca pki.CA) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	if o.TLSCert != "" || o.TLSKey != "" {
		cert, err = tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
	} else {
		hosts := append([]string{"localhost", "127.0.0.1", "::1"}, o.TLSSANs...)
		if h, err := os.Hostname(); err == nil {
			hosts = append(hosts, h)
		}
		if host, _, err := net.SplitHostPort(o.Listen); err == nil && host != "" {
			hosts = append(hosts, host)
		}
		issued, err := ca.IssueServer(hosts)
		if err != nil {
			return nil, err
		}
		if cert, err = issued.TLS(); err != nil {
			return nil, err
		}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert},
		ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()}, nil
}

// writeDataDir keeps the CA certificate and, on the first start, the
// admin token and a client configuration in the data directory.
func writeDataDir(o Options, boot manager.Bootstrap, url string) error {
	if err := os.WriteFile(filepath.Join(o.DataDir, "ca.crt"), boot.CA.CertPEM, 0o644); err != nil {
		return err
	}
	cfgPath := filepath.Join(o.DataDir, "client.yaml")
	if boot.Created {
		if err := os.WriteFile(filepath.Join(o.DataDir, "admin.token"), []byte(boot.AdminToken+"\n"), 0o600); err != nil {
			return err
		}
		if err := client.WriteConfig(cfgPath, client.Config{Server: url, CA: string(boot.CA.CertPEM), Token: boot.AdminToken}); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "kordon: new installation. Admin token (shown once, also in %s):\n\n    %s\n\n", filepath.Join(o.DataDir, "admin.token"), boot.AdminToken)
		fmt.Fprintf(o.Out, "kordon: a client configuration is in %s; commands run from this directory use it.\n", cfgPath)
		return nil
	}
	// The port may change between starts: keep the client configuration
	// pointing at this one.
	if c, err := client.ReadConfig(cfgPath); err == nil && c.Server != url {
		c.Server = url
		return client.WriteConfig(cfgPath, c)
	}
	return nil
}

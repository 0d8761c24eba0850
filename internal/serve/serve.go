// Package serve owns the manager process: it takes the data directory's
// lock, opens the store, creates or opens the installation (the CA sealed
// with the seal key, the admin token written to a file before the
// installation is stored), starts the manager and its inventory sources
// (the demo, a directory of kubectl dumps, in-process adapters), and
// serves the API over HTTPS within a connection budget until asked to
// stop, then joins everything it started before it closes the store. It
// is `kordon serve`.
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
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kordon-dev/kordon/internal/apiserver"
	"github.com/kordon-dev/kordon/internal/client"
	"github.com/kordon-dev/kordon/internal/console"
	"github.com/kordon-dev/kordon/internal/license"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/netlimit"
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
	// EtcdQuota is the external etcd's backend quota, for the usage
	// metrics and the warning before it is reached.
	EtcdQuota       int64
	TLSCert, TLSKey string
	TLSSANs         []string
	InventoryDir    string
	// Clusters are NAME=KUBECONFIG pairs watched by adapters in this
	// process.
	Clusters []string
	// Heartbeat is the in-process adapters' heartbeat interval.
	Heartbeat time.Duration
	// Version is reported by in-process adapters.
	Version      string
	NoDemo       bool
	LicenseTrust []string
	// SealKeys are the seal key files (the first seals the CA's key);
	// default DataDir/seal.key, created with a new installation.
	SealKeys []string
	// MaxConnections caps the API's open connections (default 4096, and
	// never more than the file descriptors allow).
	MaxConnections int
	// MaxClusterObjects is each cluster's inventory quota.
	MaxClusterObjects int
	// WriteBurstMiB and WriteRateMiB bound what one cluster or agent makes
	// the store keep: at once, and regained per hour.
	WriteBurstMiB, WriteRateMiB int64
	Logger                      *slog.Logger
	// Out receives the messages a person starting the manager must see.
	Out io.Writer
	// UnsafeNoFsync is for tests only.
	UnsafeNoFsync bool
	// Ready, if set, receives the API's address once it serves.
	Ready func(addr string)
}

// startTimeout bounds how long the store may take to start.
const startTimeout = 2 * time.Minute

// Run serves until ctx ends, then shuts down gracefully: everything it
// started has ended when it returns.
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
	dd, err := lockDataDir(o.DataDir)
	if err != nil {
		return err
	}
	defer dd.unlock()
	trust, err := readTrust(o.LicenseTrust)
	if err != nil {
		return err
	}
	// The port first: a start that cannot serve must not create anything.
	rawLn, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", o.Listen, err)
	}
	budget := connectionBudget(o.MaxConnections)
	ln := netlimit.Listen(rawLn, netlimit.Options{Max: budget, Logger: o.Logger})
	defer ln.Close()
	st, err := openStore(ctx, o, dd)
	if err != nil {
		return err
	}
	defer st.Close()
	boot, err := bootstrap(ctx, o, dd, st)
	if err != nil {
		return err
	}
	url := "https://" + clientAddr(rawLn.Addr().(*net.TCPAddr))
	if err := writeDataDir(o, dd, boot, url); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), ln.Collector())
	mon := store.NewMonitor(st, o.Logger)
	reg.MustRegister(mon)
	m := manager.New(manager.Options{Store: st, Logger: o.Logger, Trust: trust, Registerer: reg, Seal: boot.Ring, MaxClusterObjects: o.MaxClusterObjects,
		WriteBurst: o.WriteBurstMiB << 20, WriteRate: o.WriteRateMiB << 20})

	var wg sync.WaitGroup
	defer wg.Wait()
	mctx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	wg.Go(func() { runErr <- m.Run(mctx) })
	wg.Go(func() { mon.Run(mctx, time.Minute) })
	select {
	case <-m.ReadyC():
	case err := <-runErr:
		if err == nil {
			err = errors.New("the manager stopped while loading")
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
	tlsCfg, err := serverTLS(o, boot.CA)
	if err != nil {
		return err
	}
	if err := sources(mctx, o, m, &wg); err != nil {
		return err
	}
	api := apiserver.New(apiserver.Options{Manager: m, Logger: o.Logger, Gatherer: reg, Registerer: reg, CA: boot.CA.CertPEM})
	srv := &http.Server{Handler: Handler(api, o.Logger), TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10, ConnContext: netlimit.ConnContext,
		// Handshake failures of scanners and port probes are not the
		// operator's concern; they stay at debug.
		ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug)}
	served := make(chan error, 1)
	wg.Go(func() { served <- srv.ServeTLS(ln, "", "") })
	o.Logger.Info("serving the kordon API and console", "url", url, "store", storeKind(st), "data_dir", dd.path, "max_connections", budget)
	if o.Ready != nil {
		o.Ready(rawLn.Addr().String())
	}
	var result error
	select {
	case <-ctx.Done():
	case err := <-served:
		result = fmt.Errorf("API server: %w", err)
	case err := <-runErr:
		result = err
		if result == nil {
			result = errors.New("the manager stopped")
		}
	}
	o.Logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	stop()
	return result
}

// connectionBudget is the connection cap: as asked (default 4096), and
// below the process's file descriptor limit, keeping 256 for the store
// and everything else.
func connectionBudget(want int) int {
	if want <= 0 {
		want = 4096
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur > 0 {
		if room := int(lim.Cur) - 256; room < want {
			want = max(room, 16)
		}
	}
	return want
}

// openStore opens the store, refusing a data directory that holds part
// of an installation without its database.
func openStore(ctx context.Context, o Options, dd *dataDir) (*store.Store, error) {
	if len(o.EtcdEndpoints) == 0 && !dd.exists(etcdDir) && dd.exists(caFile) {
		return nil, fmt.Errorf("data directory %s holds %s of an installation but no %s/ database: restore %s/ from a backup, or move the directory away to start a new installation",
			dd.path, caFile, etcdDir, etcdDir)
	}
	type result struct {
		st  *store.Store
		err error
	}
	// etcd may block while it reads a damaged data directory; the start
	// is bounded, and a signal ends it.
	done := make(chan result, 1)
	go func() {
		st, err := store.Open(ctx, store.Options{DataDir: dd.path, Endpoints: o.EtcdEndpoints, CAFile: o.EtcdCA, CertFile: o.EtcdCert,
			KeyFile: o.EtcdKey, UnsafeNoFsync: o.UnsafeNoFsync, Logger: o.Logger, QuotaBytes: o.EtcdQuota})
		done <- result{st, err}
	}()
	select {
	case r := <-done:
		return r.st, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("stopped while the store was starting: %w", ctx.Err())
	case <-time.After(startTimeout):
		return nil, fmt.Errorf("the store did not start within %s (data directory %s)", startTimeout, filepath.Join(dd.path, etcdDir))
	}
}

// booted is the installation as this process opened it.
type booted struct {
	manager.Bootstrap
	Ring pki.Keyring
}

// bootstrap opens the installation, or creates it. A new installation's
// seal key and admin token are written to the data directory before the
// installation is stored, so a first start that fails later can simply be
// run again (its token file is rewritten); a store without an
// installation next to a data directory that had one is refused.
func bootstrap(ctx context.Context, o Options, dd *dataDir, st *store.Store) (booted, error) {
	installed, err := manager.Installed(ctx, st)
	if err != nil {
		return booted{}, err
	}
	if installed {
		ring, err := readSealKeys(dd, o.SealKeys, false)
		if err != nil {
			return booted{}, err
		}
		if len(ring) == 0 {
			// An earlier version's installation, whose CA key is not
			// sealed yet: Open seals it with a new key.
			if ring, err = readSealKeys(dd, nil, true); err != nil {
				return booted{}, err
			}
		}
		b, err := manager.Open(ctx, st, ring)
		if errors.Is(err, pki.ErrNoSealKey) {
			return booted{}, fmt.Errorf("%w: give the installation's seal key with --seal-key (or copy seal.key from another manager of the installation into %s)", err, dd.path)
		}
		if err != nil {
			return booted{}, err
		}
		if b.Resealed != "" {
			o.Logger.Warn("the CA's key is now sealed with seal key "+b.Resealed+"; seal keys not given with --seal-key can be retired once every manager has restarted", "seal_key", b.Resealed)
		}
		return booted{b, ring}, nil
	}
	if dd.exists(caFile) {
		return booted{}, fmt.Errorf("the store holds no installation, but data directory %s has %s of one: its store was lost or this is the wrong store (--etcd-endpoints); restore the store, or move the directory away to start a new installation",
			dd.path, caFile)
	}
	ring, err := readSealKeys(dd, o.SealKeys, true)
	if err != nil {
		return booted{}, err
	}
	p, err := manager.Prepare(time.Now(), ring)
	if err != nil {
		return booted{}, err
	}
	if err := writeFile(dd.file(tokenFile), []byte(p.AdminToken+"\n"), 0o600); err != nil {
		return booted{}, fmt.Errorf("writing the admin token: %w", err)
	}
	err = p.Commit(ctx, st)
	if errors.Is(err, manager.ErrInstalled) {
		// Another manager created the installation first.
		_ = os.Remove(dd.file(tokenFile))
		b, err := manager.Open(ctx, st, ring)
		return booted{b, ring}, err
	}
	if err != nil {
		return booted{}, fmt.Errorf("storing the new installation: %w", err)
	}
	return booted{p.Bootstrap, ring}, nil
}

func storeKind(st *store.Store) string {
	if st.Embedded() {
		return "embedded etcd"
	}
	return "external etcd"
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
// installation's CA for the local names and addresses. TLS 1.3 is
// preferred; TLS 1.2 is offered with forward-secret AEAD suites only.
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
	cfg := pki.ServerTLS(cert)
	cfg.ClientAuth, cfg.ClientCAs = tls.VerifyClientCertIfGiven, ca.Pool()
	return cfg, nil
}

// writeDataDir keeps the CA certificate and, on the first start, a client
// configuration in the data directory. The admin token is in its file
// already; it is never printed.
func writeDataDir(o Options, dd *dataDir, boot booted, url string) error {
	if err := writeFile(dd.file(caFile), boot.CA.CertPEM, 0o644); err != nil {
		return err
	}
	cfgPath := dd.file(clientFile)
	if boot.Created {
		if err := client.WriteConfig(cfgPath, client.Config{Server: url, CA: string(boot.CA.CertPEM), Token: boot.AdminToken}); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "kordon: new installation. The admin token is in %s (readable only by you; it is not shown anywhere else).\n", dd.file(tokenFile))
		fmt.Fprintf(o.Out, "kordon: a client configuration is in %s; %s.\n", cfgPath, client.DataDirHint(cfgPath))
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

// Handler is what kordon serves on its one port: the console at / and
// /ui/, the API everywhere else. The console reads through the API, with
// each request's own credentials.
func Handler(api http.Handler, log *slog.Logger) http.Handler {
	con := console.New(console.Options{API: api, Logger: log})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if console.Owns(r.URL.Path) {
			con.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/client"
	"github.com/kordon-dev/kordon/internal/serve"
)

func newServeCmd() *cobra.Command {
	var o serve.Options
	var logLevel, logFormat string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the manager: the REST API in NSX Policy shapes, over HTTPS, with an etcd store",
		Long: `serve runs the kordon manager. By default it keeps its state in an embedded
etcd in --data-dir; --etcd-endpoints uses an external etcd cluster instead (run
several managers against one cluster for high availability).

On the first start it creates a CA (its key sealed with DATA-DIR/seal.key, see
'kordon seal'), a server certificate, an admin token (written to
DATA-DIR/admin.token only, never printed) and a client configuration
(DATA-DIR/client.yaml), and installs a 60-day evaluation license. Commands run
from the directory holding the default ./kordon-data use that configuration
(before the one 'kordon login' writes); with another --data-dir, give them
--config DATA-DIR/client.yaml (or KORDON_CONFIG=DATA-DIR/client.yaml). Only one manager runs on a data
directory at a time; a data directory with part of an installation is refused,
never initialized again.

With no cluster registered and no --inventory it loads the example clusters and
policy as a demo. --cluster NAME=KUBECONFIG watches a cluster with an adapter
inside this process (small installs; larger ones run 'kordon adapter' in each
cluster, see 'kordon cluster'). --inventory DIR serves a directory of kubectl dumps
(DIR/<cluster>/*.yaml|json) and reloads it when its files change.`,
		Example: `  kordon serve
  kordon serve --inventory examples/inventory --listen 0.0.0.0:8443
  kordon serve --cluster prod-east=$HOME/.kube/prod-east.yaml
  kordon serve --etcd-endpoints https://etcd-1:2379,https://etcd-2:2379 --etcd-ca ca.pem --etcd-cert c.pem --etcd-key c.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return failf(2, "--log-level: %v", err)
			}
			hopts := &slog.HandlerOptions{Level: level}
			o.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), hopts))
			if logFormat == "json" {
				o.Logger = slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), hopts))
			}
			o.Out, o.Version = cmd.OutOrStdout(), buildVersion().Short()
			ctx, stop := stopOnSignal(cmd.Context(), cmd.ErrOrStderr(), shutdownGrace)
			defer stop()
			return serve.Run(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.DataDir, "data-dir", client.DefaultDataDir, "directory for the embedded etcd, the CA certificate and the client configuration")
	f.StringVar(&o.Listen, "listen", "127.0.0.1:8443", "address to serve HTTPS on (0.0.0.0:8443 to reach it from adapters and agents)")
	f.StringSliceVar(&o.EtcdEndpoints, "etcd-endpoints", nil, "external etcd cluster (comma-separated); default: embedded etcd")
	f.StringVar(&o.EtcdCA, "etcd-ca", "", "CA of the external etcd")
	f.StringVar(&o.EtcdCert, "etcd-cert", "", "client certificate for the external etcd")
	f.StringVar(&o.EtcdKey, "etcd-key", "", "client key for the external etcd")
	f.StringVar(&o.TLSCert, "tls-cert", "", "serve with this certificate instead of one from kordon's CA")
	f.StringVar(&o.TLSKey, "tls-key", "", "key of --tls-cert")
	f.StringSliceVar(&o.TLSSANs, "tls-san", nil, "extra names or addresses for the generated server certificate")
	f.StringVar(&o.InventoryDir, "inventory", "", "serve a directory of kubectl dumps (DIR/<cluster>/...) as inventory, reloaded on change")
	f.StringArrayVar(&o.Clusters, "cluster", nil, "watch a cluster from this process: NAME=KUBECONFIG (repeatable; registers NAME on first use)")
	f.DurationVar(&o.Heartbeat, "cluster-heartbeat", 10*time.Second, "heartbeat interval of the --cluster adapters")
	f.BoolVar(&o.NoDemo, "no-demo", false, "do not load the demo when no cluster is registered")
	f.StringArrayVar(&o.LicenseTrust, "license-trust", nil, "PEM public key whose signed licenses are trusted (repeatable)")
	f.StringArrayVar(&o.SealKeys, "seal-key", nil, "seal key file (repeatable; the first seals the CA's key, the others only open it); default DATA-DIR/seal.key")
	f.IntVar(&o.MaxClusterObjects, "max-cluster-objects", 500000, "most inventory objects one cluster may hold")
	f.Int64Var(&o.WriteBurstMiB, "identity-write-burst-mib", 512, "MiB one cluster or agent may make the store keep at once (etcd keeps every version for an hour)")
	f.Int64Var(&o.WriteRateMiB, "identity-write-rate-mib", 256, "MiB per hour a cluster or agent regains of that budget")
	f.IntVar(&o.MaxConnections, "max-connections", 4096, "most API connections open at once (a tenth kept for authenticated callers)")
	f.Int64Var(&o.EtcdQuota, "etcd-quota-bytes", 2<<30, "the external etcd's backend quota (--quota-backend-bytes), for the usage metrics and warnings")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "text or json")
	return cmd
}

// shutdownGrace is how long a stopping manager may take before it is
// ended anyway.
const shutdownGrace = 30 * time.Second

// stopOnSignal returns a context ended by SIGINT or SIGTERM. A process
// that has not ended grace after the signal, or gets a second one, exits
// at once with status 1: a signal always ends the manager, whatever it
// is stuck in. Nothing acknowledged is lost by that: every write the
// manager acknowledged is in the store's log.
func stopOnSignal(parent context.Context, stderr io.Writer, grace time.Duration) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			fmt.Fprintf(stderr, "kordon: %s: stopping\n", sig)
			cancel()
		case <-done:
			return
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case sig := <-ch:
			fmt.Fprintf(stderr, "kordon: %s again: exiting now\n", sig)
		case <-t.C:
			fmt.Fprintf(stderr, "kordon: still stopping after %s: exiting now\n", grace)
		case <-done:
			return
		}
		os.Exit(1)
	}()
	return ctx, func() { signal.Stop(ch); close(done); cancel() }
}

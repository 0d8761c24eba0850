package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/adapter"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/wire"
)

const clustersAPI = "/policy/api/v1/kordon/clusters"

func newClusterCmd(conn *connFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Register Kubernetes clusters, deploy their adapters, see their health, deregister them",
		Long: `A registered cluster has its own identity (a client certificate with the
cluster's name, signed by the manager's CA) with which its adapter reports the
cluster's inventory and health; it can report nothing else.

  kordon cluster register prod-east --bundle-out prod-east.bundle
  kordon cluster manifests --bundle prod-east.bundle --image registry.example/kordon:v1 | kubectl apply -f -
  kordon cluster list`,
	}
	cmd.AddCommand(newClusterRegisterCmd(conn), newClusterManifestsCmd(), newClusterRotateCmd(conn), newClusterListCmd(conn),
		newClusterShowCmd(conn), newClusterDeregisterCmd(conn))
	return cmd
}

func newClusterRegisterCmd(conn *connFlags) *cobra.Command {
	var managerURL, bundleOut string
	cmd := &cobra.Command{
		Use:   "register NAME --bundle-out FILE",
		Short: "Register a cluster and issue its identity",
		Long: `register creates the cluster and its identity; the bundle holds the
cluster's private key and is written once, to --bundle-out: the manager keeps no
copy (a lost bundle is replaced with 'kordon cluster rotate'). Deploy its
adapter with 'kordon cluster manifests --bundle FILE | kubectl apply -f -', or
run 'kordon adapter --bundle FILE' outside the cluster.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if bundleOut == "" {
				return failf(2, "--bundle-out: the file to write the cluster's bundle (its identity) to; the manager keeps no copy of its key")
			}
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var out struct {
				Cluster manager.Cluster `json:"cluster"`
				Bundle  wire.Bundle     `json:"bundle"`
			}
			if err := c.Do(cmd.Context(), http.MethodPost, clustersAPI, map[string]string{"name": args[0], "server": managerURL}, &out); err != nil {
				return remoteErr(err)
			}
			w := messages(cmd, bundleOut)
			fmt.Fprintf(w, "cluster %s registered (id %s); its adapter will report to %s\n", oneLine(out.Cluster.Name), oneLine(out.Cluster.ID), oneLine(out.Bundle.Server))
			if err := writeBundle(cmd, bundleOut, out.Bundle, "cluster"); err != nil {
				return err
			}
			fmt.Fprintf(w, "next: kordon cluster manifests --bundle %s --image IMAGE | kubectl apply -f -   (or: kordon adapter --bundle %s --kubeconfig KUBECONFIG)\n", bundleName(bundleOut), bundleName(bundleOut))
			return nil
		},
	}
	cmd.Flags().StringVar(&managerURL, "manager-url", "", "URL the adapter reaches the manager at (default: the URL this command uses)")
	cmd.Flags().StringVar(&bundleOut, "bundle-out", "", "write the adapter's bundle to this file (- for standard output)")
	return cmd
}

func newClusterManifestsCmd() *cobra.Command {
	var o adapter.ManifestOptions
	var bundle string
	cmd := &cobra.Command{
		Use:   "manifests --bundle FILE --image IMAGE",
		Short: "Print the Kubernetes objects that run a registered cluster's adapter",
		Long: `manifests prints, for 'kubectl apply -f -' in the cluster: the namespace, a
ServiceAccount, a ClusterRole allowing get, list and watch on exactly the kinds
kordon reports (and its binding), a Secret with the adapter's bundle (manager
URL, CA, the cluster's certificate and key) and a Deployment running
'kordon adapter'. The bundle is the one 'kordon cluster register NAME
--bundle-out FILE' (or 'kordon cluster rotate') wrote: the manager keeps no copy
of the cluster's key. The output holds that key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Image == "" {
				return failf(2, "--image: name the kordon image the cluster can pull (build it with the Dockerfile at the repository root)")
			}
			if bundle == "" {
				return failf(2, "--bundle: the cluster's bundle, as 'kordon cluster register NAME --bundle-out FILE' wrote it")
			}
			b, err := wire.ReadBundle(bundle, wire.ClusterIdentity)
			if err != nil {
				return failf(2, "--bundle: %v", err)
			}
			o.Bundle = b
			out, err := adapter.Manifests(o)
			if err != nil {
				return failf(1, "%v", err)
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&bundle, "bundle", "", "the cluster's bundle file")
	cmd.Flags().StringVar(&o.Image, "image", "", "kordon container image to run")
	cmd.Flags().StringVar(&o.Namespace, "namespace", "kordon-system", "namespace of the adapter")
	return cmd
}

func newClusterRotateCmd(conn *connFlags) *cobra.Command {
	var managerURL, bundleOut string
	cmd := &cobra.Command{
		Use:   "rotate NAME --bundle-out FILE",
		Short: "Issue a cluster's adapter a new identity (its old bundle is refused from now on)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if bundleOut == "" {
				return failf(2, "--bundle-out: the file to write the cluster's new bundle to")
			}
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var out struct {
				Bundle wire.Bundle `json:"bundle"`
			}
			if err := c.Do(cmd.Context(), http.MethodPost, clustersAPI+"/"+url.PathEscape(args[0])+"/rotate", map[string]string{"server": managerURL}, &out); err != nil {
				return remoteErr(err)
			}
			w := messages(cmd, bundleOut)
			fmt.Fprintf(w, "cluster %s has a new identity; its previous bundle is refused from now on\n", args[0])
			if err := writeBundle(cmd, bundleOut, out.Bundle, "cluster"); err != nil {
				return err
			}
			fmt.Fprintf(w, "next: kordon cluster manifests --bundle %s --image IMAGE | kubectl apply -f -\n", bundleName(bundleOut))
			return nil
		},
	}
	cmd.Flags().StringVar(&managerURL, "manager-url", "", "URL the adapter reaches the manager at (default: the URL this command uses)")
	cmd.Flags().StringVar(&bundleOut, "bundle-out", "", "write the cluster's new bundle to this file (- for standard output)")
	return cmd
}

func getClusters(ctx context.Context, conn *connFlags) ([]manager.ClusterStatus, error) {
	c, err := conn.connect()
	if err != nil {
		return nil, err
	}
	var out struct {
		Results []manager.ClusterStatus `json:"results"`
	}
	if err := c.Do(ctx, http.MethodGet, clustersAPI, nil, &out); err != nil {
		return nil, remoteErr(err)
	}
	return out.Results, nil
}

func ago(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

func objectSummary(counts map[string]int) string {
	total := 0
	for _, n := range counts {
		total += n
	}
	return fmt.Sprint(total)
}

func newClusterListCmd(conn *connFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List clusters with their state (Up, Down, Unknown), last sync, object counts and versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, err := getClusters(cmd.Context(), conn)
			if err != nil {
				return err
			}
			if done, err := printStructured(cmd.OutOrStdout(), format, cs); err != nil || done {
				return err
			}
			now := time.Now()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATE\tSINCE\tSOURCE\tLAST SYNC\tOBJECTS\tKUBERNETES")
			for _, c := range cs {
				lastSync, kube := time.Time{}, ""
				if c.Heartbeat != nil {
					lastSync, kube = c.Heartbeat.LastSync, c.Heartbeat.Kubernetes
				}
				// The Kubernetes version is what the cluster's adapter says.
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(c.Name), oneLine(c.State), ago(c.Since, now), oneLine(c.Source), ago(lastSync, now),
					objectSummary(c.Objects), orNone(oneLine(kube)))
			}
			return tw.Flush()
		},
	}
	outputFlag(cmd, &format)
	return cmd
}

func newClusterShowCmd(conn *connFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a cluster's state, heartbeat, object counts and the API versions its adapter watches",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var st manager.ClusterStatus
			if err := c.Do(cmd.Context(), http.MethodGet, clustersAPI+"/"+url.PathEscape(args[0]), nil, &st); err != nil {
				return remoteErr(err)
			}
			if done, err := printStructured(cmd.OutOrStdout(), format, st); err != nil || done {
				return err
			}
			printClusterStatus(cmd.OutOrStdout(), st, time.Now())
			return nil
		},
	}
	outputFlag(cmd, &format)
	return cmd
}

// printClusterStatus prints a cluster's status. Its reason, versions and
// API names are what the cluster's adapter reported (an error over
// several lines, say): one line each.
func printClusterStatus(w io.Writer, st manager.ClusterStatus, now time.Time) {
	fmt.Fprintf(w, "cluster      %s (id %s)\n", oneLine(st.Name), oneLine(st.ID))
	fmt.Fprintf(w, "state        %s since %s (%s)\n", oneLine(st.State), st.Since.Format(time.RFC3339), ago(st.Since, now))
	if st.Reason != "" {
		fmt.Fprintf(w, "reason       %s\n", oneLine(st.Reason))
	}
	fmt.Fprintf(w, "source       %s, registered %s\n", oneLine(st.Source), st.Registered.Format(time.RFC3339))
	if hb := st.Heartbeat; hb != nil {
		fmt.Fprintf(w, "heartbeat    %s (every %s)\n", ago(hb.Time, now), hb.Interval)
		fmt.Fprintf(w, "last sync    %s\n", ago(hb.LastSync, now))
		fmt.Fprintf(w, "kubernetes   %s, adapter %s\n", orNone(oneLine(hb.Kubernetes)), orNone(oneLine(hb.Adapter)))
		kinds := make([]string, 0, len(hb.APIs))
		for k := range hb.APIs {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			fmt.Fprintf(w, "watching     %-16s %-34s %d in the cluster\n", oneLine(k), oneLine(hb.APIs[k]), hb.Counts[k])
		}
	}
	kinds := make([]string, 0, len(st.Objects))
	for k := range st.Objects {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", oneLine(k), st.Objects[k]))
	}
	fmt.Fprintf(w, "inventory    %s\n", orNone(strings.Join(parts, ", ")))
}

func newClusterDeregisterCmd(conn *connFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "deregister NAME",
		Short: "Remove a cluster: its members leave every group at once, and its identity is revoked",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.connect()
			if err != nil {
				return err
			}
			var rep manager.DeregisterReport
			if err := c.Do(cmd.Context(), http.MethodDelete, clustersAPI+"/"+url.PathEscape(args[0]), nil, &rep); err != nil {
				return remoteErr(err)
			}
			if done, err := printStructured(cmd.OutOrStdout(), format, rep); err != nil || done {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "cluster %s deregistered at revision %d: its inventory is gone and its identity revoked\n", oneLine(rep.Cluster), rep.Revision)
			if len(rep.Groups) == 0 {
				fmt.Fprintln(w, "no group referenced it")
				return nil
			}
			fmt.Fprintf(w, "%s referenced it:\n", plural(len(rep.Groups), "group"))
			for _, g := range rep.Groups {
				fmt.Fprintf(w, "  %s\n", oneLine(g))
			}
			if len(rep.Rules) > 0 {
				fmt.Fprintf(w, "%s use those groups:\n", plural(len(rep.Rules), "rule"))
				for _, r := range rep.Rules {
					fmt.Fprintf(w, "  %s\n", oneLine(r))
				}
			}
			return nil
		},
	}
	outputFlag(cmd, &format)
	return cmd
}

func newAdapterCmd() *cobra.Command {
	var bundle, kubeconfig, logLevel string
	var o adapter.Options
	cmd := &cobra.Command{
		Use:   "adapter --bundle FILE [--kubeconfig FILE]",
		Short: "Watch a Kubernetes cluster and keep its inventory in the manager current",
		Long: `adapter watches a registered cluster with client-go informers (Nodes,
Namespaces, Services, Pods, Ingresses, Gateway API Gateways, Antrea Egresses,
ExternalIPPools and IPPools; CRDs installed later are noticed) and reports it
to the manager with the cluster's identity from the bundle: a full
synchronisation, then batched changes, and a heartbeat.

Inside the cluster it uses its service account; outside, --kubeconfig (or
$KUBECONFIG, ~/.kube/config).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return failf(2, "--log-level: %v", err)
			}
			o.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if o.Heartbeat < time.Second || o.Heartbeat > time.Hour {
				return failf(2, "--heartbeat: between 1s and 1h")
			}
			if bundle == "" {
				return failf(2, "--bundle is required (kordon cluster register NAME --bundle-out FILE writes one)")
			}
			b, err := wire.ReadBundle(bundle, wire.ClusterIdentity)
			if err != nil {
				return failf(2, "--bundle: %v", err)
			}
			sink, err := adapter.NewHTTPSink(b)
			if err != nil {
				return failf(2, "--bundle %s: %v", bundle, err)
			}
			cfg, err := adapter.RestConfig(kubeconfig)
			if err != nil {
				return failf(2, "%v", err)
			}
			if err := o.WithClients(cfg); err != nil {
				return failf(2, "%v", err)
			}
			o.Cluster, o.Sink, o.Version = b.Cluster, sink, buildVersion().Short()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Logger.Info("adapter starting", "cluster", b.Cluster, "manager", b.Server, "kubernetes", cfg.Host)
			if err := adapter.New(o).Run(ctx); err != nil {
				if errors.Is(err, adapter.ErrRevoked) {
					return failf(4, "%v", err)
				}
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&bundle, "bundle", "", "the cluster's bundle (manager URL, CA, certificate and key)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: in-cluster, else $KUBECONFIG or ~/.kube/config)")
	f.DurationVar(&o.Heartbeat, "heartbeat", 10*time.Second, "heartbeat interval; the cluster becomes Unknown after 3 missed")
	f.DurationVar(&o.Batch, "batch", 100*time.Millisecond, "how long changes are collected before they are sent")
	f.DurationVar(&o.Rediscover, "rediscover", 30*time.Second, "how often to look for CRDs installed or removed")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

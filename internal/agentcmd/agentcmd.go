// Package agentcmd is the agent's command line, written once for both
// binaries that run it: 'kordon agent run|uninstall' and the agent's own
// binary, 'kordon-agent run|uninstall'. It imports only what runs on the
// agent's host (enforcement, the client, the wire shapes), never the
// manager, so kordon-agent links neither it nor etcd.
package agentcmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/cmdutil"
	"github.com/kordon-dev/kordon/internal/enforcement"
	"github.com/kordon-dev/kordon/internal/enforcement/nft"
	"github.com/kordon-dev/kordon/internal/wire"
)

// Run is the command that runs the agent on its host: 'kordon agent run'
// and 'kordon-agent run' are this one command.
func Run() *cobra.Command {
	var bundle, table, logLevel, osName string
	var addrs, tags []string
	var o enforcement.Options
	cmd := &cobra.Command{
		Use:   "run --bundle FILE",
		Short: "Enforce this host's rules with nftables, following the manager",
		Long: `run keeps one nftables table (inet kordon) equal to this enforcement point's
span: it replaces the table in one transaction when rules change, and changes
only set elements when group members change. If the manager cannot be reached
it keeps enforcing what it has. It needs root (CAP_NET_ADMIN) and the nft
command. A VM's agent reports the VM's addresses (every global address of its
interfaces, or --address); what selects the VM into groups (its tags, OS and
computer name) is set on the manager ('kordon agent register|update').`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return cmdutil.Failf(2, "--log-level: %v", err)
			}
			o.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if bundle == "" {
				return cmdutil.Failf(2, "--bundle is required (kordon agent register NAME --bundle-out FILE writes one)")
			}
			b, err := wire.ReadBundle(bundle, wire.AgentIdentity)
			if err != nil {
				return cmdutil.Failf(2, "--bundle: %v", err)
			}
			if o.Report < time.Second || o.Report > time.Hour {
				return cmdutil.Failf(2, "--report: between 1s and 1h")
			}
			if len(tags) > 0 {
				return cmdutil.Failf(2, "--tag: an agent does not choose its tags; set them on the manager: kordon agent update %s --tag scope|tag", b.Agent)
			}
			vm, err := vmFacts(addrs, osName)
			if err != nil {
				return err
			}
			n, err := nft.New(table)
			if err != nil {
				return cmdutil.Failf(1, "nftables: %v (the agent needs the nft command and CAP_NET_ADMIN)", err)
			}
			if o.Manager, err = managerAddrs(cmd.Context(), b.Server); err != nil {
				return cmdutil.Failf(2, "--bundle %s: %v", bundle, err)
			}
			o.Bundle, o.NFT, o.VM = b, n, vm
			a, err := enforcement.New(o)
			if err != nil {
				return cmdutil.Failf(2, "--bundle %s: %v", bundle, err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Logger.Info("agent starting", "agent", b.Agent, "manager", b.Server, "table", "inet "+table, "addresses", vm.Addresses)
			if err := a.Run(ctx); err != nil {
				if errors.Is(err, enforcement.ErrRevoked) {
					return cmdutil.Failf(4, "%v (the rules in place stay; %s removes them)", err, sibling(cmd, "uninstall"))
				}
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&bundle, "bundle", "", "the agent's bundle (manager URL, CA, certificate and key)")
	f.StringVar(&table, "table", nft.DefaultTable, "the nftables table (inet family) the agent owns")
	f.StringSliceVar(&addrs, "address", nil, "the VM's addresses (default: every global address of its interfaces)")
	f.StringSliceVar(&tags, "tag", nil, "refused: tags are set on the manager (kordon agent update NAME --tag scope|tag)")
	_ = f.MarkHidden("tag")
	f.StringVar(&osName, "os-name", "", "the OS name to report, for display (default: PRETTY_NAME of /etc/os-release)")
	f.StringVar(&o.FailMode, "fail-mode", "", "what the host enforces before the first span is applied when no earlier table is in place: closed (drop new connections; the default for gateways) or open (nothing; the default for VMs)")
	f.DurationVar(&o.Report, "report", 10*time.Second, "how often the agent reports its state and counters")
	f.DurationVar(&o.Wait, "wait", 30*time.Second, "how long one request for changes waits")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// managerAddrs resolves where the agent's manager is, so that the host's
// connections to it are exempt from the rules it enforces. A name is
// resolved once, at start; a manager URL with an IP address needs no
// name service at all.
func managerAddrs(ctx context.Context, server string) ([]netip.AddrPort, error) {
	u, err := url.Parse(server)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("server %q is not a URL", server)
	}
	port := uint16(443)
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("server %q: bad port", server)
		}
		port = uint16(n)
	}
	if a, err := netip.ParseAddr(u.Hostname()); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(a.Unmap(), port)}, nil
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", u.Hostname())
	if err != nil {
		return nil, fmt.Errorf("resolving the manager %s: %w", u.Hostname(), err)
	}
	var out []netip.AddrPort
	for _, a := range addrs {
		out = append(out, netip.AddrPortFrom(a.Unmap(), port))
	}
	return out, nil
}

// vmFacts gathers what a VM's agent reports; a gateway's agent sends the
// same, and the manager keeps it only for VMs.
func vmFacts(addrs []string, osName string) (*wire.VMFacts, error) {
	f := &wire.VMFacts{OSName: osName}
	for _, s := range addrs {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Is4In6() || a.Zone() != "" {
			return nil, cmdutil.Failf(2, "--address %q: not an IPv4 or IPv6 address", s)
		}
		f.Addresses = append(f.Addresses, a)
	}
	if len(addrs) == 0 {
		ifaddrs, err := net.InterfaceAddrs()
		if err != nil {
			return nil, cmdutil.Failf(1, "listing the host's addresses: %v", err)
		}
		for _, ia := range ifaddrs {
			if p, err := netip.ParsePrefix(ia.String()); err == nil && p.Addr().IsGlobalUnicast() && !p.Addr().Is4In6() && len(f.Addresses) < wire.MaxVMAddresses {
				f.Addresses = append(f.Addresses, p.Addr())
			}
		}
	}
	if f.OSName == "" {
		f.OSName = osRelease()
	}
	f.ComputerName, _ = os.Hostname()
	return f, nil
}

func osRelease() string {
	fh, err := os.Open("/etc/os-release")
	if err != nil {
		return ""
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// Uninstall is the command that deletes the agent's table: 'kordon agent
// uninstall' and 'kordon-agent uninstall'.
func Uninstall() *cobra.Command {
	var table string
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Delete the agent's nftables table from this host (everything the agent created)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := nft.New(table)
			if err != nil {
				return cmdutil.Failf(1, "nftables: %v", err)
			}
			if err := nft.Uninstall(cmd.Context(), n); err != nil {
				return cmdutil.Failf(1, "deleting table inet %s: %v", table, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "table inet %s deleted\n", table)
			return nil
		},
	}
	cmd.Flags().StringVar(&table, "table", nft.DefaultTable, "the table the agent owns")
	return cmd
}

// sibling names another subcommand of cmd's parent as the user types it,
// which differs between the two binaries that hold these commands.
func sibling(cmd *cobra.Command, name string) string {
	if p := cmd.Parent(); p != nil {
		return p.CommandPath() + " " + name
	}
	return name
}

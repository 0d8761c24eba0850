package cli

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/cmdutil"
)

// Version is the release, set at build time with -ldflags "-X
// github.com/kordon-dev/kordon/internal/cli.Version=v1.2.3"; Commit may be
// set the same way. When they are not, the version of the main module and
// the VCS revision the go command stamped in the binary are used.
var (
	Version = "dev"
	Commit  = ""
)

// NewRoot builds the kordon command tree. Output goes to out, diagnostics
// to errOut.
func NewRoot(out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "kordon",
		Short: "Firewall policies between Kubernetes (Antrea) clusters and VMs, in NSX Policy API shapes",
		Long: `kordon turns Kubernetes objects into the addresses firewalls speak: generic
groups with Kubernetes member types (Services, Ingresses, Gateways, Nodes,
Antrea Egresses and IP pools) resolve to IPs and IP+port members, and
distributed and gateway firewall policies over them decide every flow.

Commands that talk to a manager read the client configuration given with
--config, else the first of $KORDON_CONFIG, ./kordon-data/client.yaml (a
'kordon serve' started in this directory writes it) and
~/.config/kordon/config.yaml ('kordon login' writes it).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion().String(),
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetVersionTemplate("kordon {{.Version}}\n")
	conn := &connFlags{}
	conn.add(root)
	root.AddCommand(newServeCmd(), newLoginCmd(conn), newApplyCmd(conn), newGetCmd(conn), newDeleteCmd(conn), newStatusCmd(conn),
		newWatchCmd(conn), newLicenseCmd(conn), newProjectCmd(conn), newTokenCmd(conn), newSealCmd(), newCACmd(), newValidateCmd(), newMembersCmd(conn),
		newExplainCmd(conn), newTraceCmd(conn), newAdviseCmd(conn), newDiffCmd(), newBenchCmd(), newClusterCmd(conn), newAdapterCmd(), newAgentCmd(conn),
		newVersionCmd())
	conn.wrapErrors(root)
	return root
}

func failf(code int, format string, args ...any) error { return cmdutil.Failf(code, format, args...) }

// versionInfo is what `kordon version` prints (cmdutil.VersionInfo).
type versionInfo = cmdutil.VersionInfo

func buildVersion() versionInfo { return cmdutil.BuildVersion(Version, Commit) }

func versionOf(version, commit string, bi *debug.BuildInfo) versionInfo {
	return cmdutil.VersionOf(version, commit, bi)
}

func newVersionCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print kordon's version and the commit it was built from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := buildVersion()
			if done, err := printStructured(cmd.OutOrStdout(), format, v); err != nil || done {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "kordon %s\n", v)
			fmt.Fprintf(cmd.OutOrStdout(), "go     %s\n", v.Go)
			return nil
		},
	}
	outputFlag(cmd, &format)
	return cmd
}

package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/cmdutil"
)

// Version is set at build time.
var Version = "dev"

// NewRoot builds the kordon command tree. Output goes to out, diagnostics
// to errOut.
func NewRoot(out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "kordon",
		Short: "Firewall policies between Kubernetes (Antrea) clusters and VMs, in NSX Policy API shapes",
		Long: `kordon turns Kubernetes objects into the addresses firewalls speak: generic
groups with Kubernetes member types (Services, Ingresses, Gateways, Nodes,
Antrea Egresses and IP pools) resolve to IPs and IP+port members, and
distributed and gateway firewall policies over them decide every flow.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	conn := &connFlags{}
	conn.add(root)
	root.AddCommand(newServeCmd(), newLoginCmd(conn), newApplyCmd(conn), newGetCmd(conn), newDeleteCmd(conn), newStatusCmd(conn),
		newWatchCmd(conn), newLicenseCmd(conn), newProjectCmd(conn), newTokenCmd(conn), newSealCmd(), newValidateCmd(), newMembersCmd(conn),
		newExplainCmd(conn), newTraceCmd(conn), newAdviseCmd(conn), newDiffCmd(), newBenchCmd(), newClusterCmd(conn), newAdapterCmd(), newAgentCmd(conn))
	return root
}

func failf(code int, format string, args ...any) error { return cmdutil.Failf(code, format, args...) }

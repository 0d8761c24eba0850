package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Version is set at build time.
var Version = "dev"

// ExitError carries a process exit code for failures that were already
// reported (such as a list of validation errors).
type ExitError struct {
	Code int
	Err  error
}

// Error is what kordon prints when it fails. Its text may quote what a
// manager, a tenant's file or a cluster's dump holds: every line of it is
// shown as oneLine shows text, so only the error's own line breaks are
// kept.
func (e *ExitError) Error() string {
	lines := strings.Split(e.Err.Error(), "\n")
	for i, l := range lines {
		lines[i] = oneLine(l)
	}
	return strings.Join(lines, "\n")
}
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode returns the exit code for an error returned by a command.
func ExitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 1
}

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

func failf(code int, format string, args ...any) error {
	return &ExitError{Code: code, Err: fmt.Errorf(format, args...)}
}

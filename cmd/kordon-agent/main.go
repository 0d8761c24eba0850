// Command kordon-agent is the enforcement agent alone: 'kordon-agent run'
// is 'kordon agent run' (the same command, from internal/agentcmd) in a
// binary that links neither the manager nor etcd nor client-go, for the
// hosts it runs on.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/agentcmd"
	"github.com/kordon-dev/kordon/internal/cmdutil"
)

// Version and Commit are set at build time (-ldflags "-X
// main.Version=..."); without them the go command's build stamp is used.
var Version, Commit string

func main() {
	root := &cobra.Command{
		Use:   "kordon-agent",
		Short: "kordon's enforcement agent: keeps this host's nftables table equal to its span",
		Long: `kordon-agent enforces on a Linux host, with nftables, the rules the kordon
manager computes for it (a VM's distributed firewall rules, or a gateway's).
Register the agent on the manager first ('kordon agent register NAME
--bundle-out FILE'), then, as root: kordon-agent run --bundle FILE`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       cmdutil.BuildVersion(Version, Commit).String(),
	}
	root.AddCommand(agentcmd.Run(), agentcmd.Uninstall())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kordon-agent:", err)
		os.Exit(cmdutil.ExitCode(err))
	}
}

// Command kordon is kordon's binary: the manager, the adapter, the agent
// and the command line. cmd/kordon-agent is the agent alone.
package main

import (
	"fmt"
	"os"

	"github.com/kordon-dev/kordon/internal/cli"
	"github.com/kordon-dev/kordon/internal/cmdutil"
)

func main() {
	if err := cli.NewRoot(os.Stdout, os.Stderr).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kordon:", err)
		os.Exit(cmdutil.ExitCode(err))
	}
}

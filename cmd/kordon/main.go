// Command kordon is the single kordon binary: the manager, the agents and
// the command line.
package main

import (
	"fmt"
	"os"

	"github.com/kordon-dev/kordon/internal/cli"
)

func main() {
	if err := cli.NewRoot(os.Stdout, os.Stderr).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kordon:", err)
		os.Exit(cli.ExitCode(err))
	}
}

package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/kordon-dev/kordon/internal/classbench"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure kordon's engines against a baseline run in the same process",
	}
	cmd.AddCommand(newBenchClassbenchCmd())
	return cmd
}

func newBenchClassbenchCmd() *cobra.Command {
	var flows int
	var seed uint64
	var minTime time.Duration
	var format string
	cmd := &cobra.Command{
		Use:   "classbench FILE",
		Short: "Convert a ClassBench filter set into DFW rules and race the classifier against a linear scan",
		Long: `classbench turns a ClassBench filter set into a DFW policy (a group per
prefix, a service per protocol and port ranges, one rule per filter), generates
a trace of flows, checks that the classifier and a linear scan of the rules
pick the same rule for every flow, and prints both decision rates and their
ratio, measured in this run on one goroutine.`,
		Example: `  kordon bench classbench internal/classbench/testdata/fw1_10k`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return failf(2, "%v", err)
			}
			defer f.Close()
			rules, err := classbench.Parse(f)
			if err != nil {
				return failf(2, "%s: %v", args[0], err)
			}
			c, err := classbench.Compile(rules)
			if err != nil {
				return failf(1, "%s: %v", args[0], err)
			}
			res := c.Measure(classbench.Flows(rules, flows, seed), minTime)
			rep := map[string]any{
				"file": args[0], "rules": res.Rules, "flows": res.Flows, "mismatches": res.Mismatches,
				"linear_decisions_per_sec": int64(res.LinearPerSec), "classifier_decisions_per_sec": int64(res.ClassifierPerSec),
				"ratio": res.Ratio(), "verdicts": res.Verdicts,
				"build_ms": map[string]float64{"config_and_groups": ms(c.ConfigTime), "ruleset": ms(c.CompileTime), "classifier": ms(c.ClassifierTime)},
			}
			if done, err := printStructured(cmd.OutOrStdout(), format, rep); err != nil || done {
				return mismatchErr(res, err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s: %d rules, %d flows (verdicts: %d ALLOW, %d DROP, %d REJECT)\n", args[0], res.Rules, res.Flows,
				res.Verdicts["ALLOW"], res.Verdicts["DROP"], res.Verdicts["REJECT"])
			fmt.Fprintf(w, "build: config+groups %.0f ms, ruleset %.0f ms, classifier %.0f ms\n", ms(c.ConfigTime), ms(c.CompileTime), ms(c.ClassifierTime))
			fmt.Fprintf(w, "linear scan:  %12.0f decisions/s\n", res.LinearPerSec)
			fmt.Fprintf(w, "classifier:   %12.0f decisions/s\n", res.ClassifierPerSec)
			fmt.Fprintf(w, "ratio:        %12.1fx\n", res.Ratio())
			fmt.Fprintf(w, "agreement:    %d of %d flows decided by the same rule\n", res.Flows-res.Mismatches, res.Flows)
			return mismatchErr(res, nil)
		},
	}
	cmd.Flags().IntVar(&flows, "flows", 20000, "number of flows in the trace")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the flow generator")
	cmd.Flags().DurationVar(&minTime, "time", 2*time.Second, "minimum time to run each of the two measurements")
	outputFlag(cmd, &format)
	return cmd
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mismatchErr(res classbench.Result, err error) error {
	if err != nil {
		return err
	}
	if res.Mismatches > 0 {
		return failf(1, "%d flows decided differently; first: %s", res.Mismatches, res.FirstMismatch)
	}
	return nil
}

package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kordon-dev/kordon/internal/cmdutil"
)

// outputFlag adds -o/--output to a command.
func outputFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVarP(dst, "output", "o", "table", "output format: table, json or yaml")
}

// printStructured writes v as JSON or YAML; it reports false for "table".
func printStructured(w io.Writer, format string, v any) (bool, error) {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return true, enc.Encode(v)
	case "yaml":
		b, err := json.Marshal(v)
		if err != nil {
			return true, err
		}
		y, err := yaml.JSONToYAML(b)
		if err != nil {
			return true, err
		}
		_, err = w.Write(y)
		return true, err
	case "table", "":
		return false, nil
	}
	return true, failf(2, "unknown output format %q (table, json or yaml)", format)
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, word[:len(word)-1])
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// oneLine and oneLineMax are cmdutil's, short for the many tables here.
func oneLine(s string) string { return cmdutil.OneLine(s) }

func oneLineMax(s string, width int) string { return cmdutil.OneLineMax(s, width) }

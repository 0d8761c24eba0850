package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
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

// oneLine renders text that came from outside this process (an agent's
// or an adapter's report, a tenant's object, a manager's answer or error,
// a file being checked) as one line that a terminal prints as it is. Line
// breaks and tabs are shown as \n, \r and \t; other control characters
// (C0, DEL, C1), format characters (bidirectional controls, zero-width
// characters, tag characters), line and paragraph separators as \u
// escapes (\u001b, \u202e); bytes that are not UTF-8 as \x escapes.
// Printed raw, an agent's error with "\r" or "\n" overwrites or forges
// rows of a table, a tab shifts its columns, and an escape sequence
// drives the terminal. Structured output (-o json, -o yaml) stays exact:
// its encoders escape what they must.
func oneLine(s string) string { return oneLineMax(s, 0) }

// oneLineMax is oneLine cut to at most width characters, escapes
// included, ending in "…" when something was cut; width 0 cuts nothing.
// An escape is never cut in the middle.
func oneLineMax(s string, width int) string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		clean := true
		for i, r := range s {
			if escapeRune(r, s[i:]) != "" {
				clean = false
				break
			}
		}
		if clean {
			return s
		}
	}
	var b strings.Builder
	n, cut := 0, -1
	for i, r := range s {
		piece := escapeRune(r, s[i:])
		if piece == "" {
			piece = string(r)
		}
		pn := utf8.RuneCountInString(piece)
		if width > 0 && cut < 0 && n+pn > width-1 {
			cut = b.Len() // where "…" goes if the whole does not fit
		}
		if width > 0 && n+pn > width {
			return b.String()[:cut] + "…"
		}
		b.WriteString(piece)
		n += pn
	}
	return b.String()
}

// escapeRune is how oneLine shows r, the first rune of rest, or "" when
// it is shown as it is.
func escapeRune(r rune, rest string) string {
	switch {
	case r == utf8.RuneError:
		if _, size := utf8.DecodeRuneInString(rest); size == 1 {
			return fmt.Sprintf(`\x%02x`, rest[0])
		}
		return ""
	case r == '\n':
		return `\n`
	case r == '\r':
		return `\r`
	case r == '\t':
		return `\t`
	case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp):
		if r > 0xffff {
			return fmt.Sprintf(`\U%08x`, r)
		}
		return fmt.Sprintf(`\u%04x`, r)
	}
	return ""
}

// Package cmdutil holds what kordon's commands share, in the kordon
// binary and in the agent's own: exit codes, and printing text that came
// from outside the process so that it cannot forge lines or drive the
// terminal.
package cmdutil

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ExitError carries a process exit code for failures that were already
// reported (such as a list of validation errors).
type ExitError struct {
	Code int
	Err  error
}

// Error is what a command prints when it fails. Its text may quote what a
// manager, a tenant's file or a cluster's dump holds: every line of it is
// shown as OneLine shows text, so only the error's own line breaks are
// kept.
func (e *ExitError) Error() string {
	lines := strings.Split(e.Err.Error(), "\n")
	for i, l := range lines {
		lines[i] = OneLine(l)
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

// Failf is an ExitError with a formatted message.
func Failf(code int, format string, args ...any) error {
	return &ExitError{Code: code, Err: fmt.Errorf(format, args...)}
}

// OneLine renders text that came from outside this process (an agent's
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
func OneLine(s string) string { return OneLineMax(s, 0) }

// OneLineMax is OneLine cut to at most width characters, escapes
// included, ending in "…" when something was cut; width 0 cuts nothing.
// An escape is never cut in the middle.
func OneLineMax(s string, width int) string {
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

// escapeRune is how OneLine shows r, the first rune of rest, or "" when
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

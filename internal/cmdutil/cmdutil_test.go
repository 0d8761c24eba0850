package cmdutil

import "testing"

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "",
		"plain text, café ✓":      "plain text, café ✓",
		`C:\path`:                 `C:\path`,
		"a\nb\r\tc":               `a\nb\r\tc`,
		"\x1b[2Jclear":            `\u001b[2Jclear`,
		"del\x7f":                 `del\u007f`,
		"c1 \u009b31m":            `c1 \u009b31m`,
		"abc\u202edcba":           `abc\u202edcba`,
		"zero\u200bwidth\ufeff":   `zero\u200bwidth\ufeff`,
		"line\u2028para\u2029":    `line\u2028para\u2029`,
		"tag\U000e0041":           `tag\U000e0041`,
		"bad \xff\xc3 utf-8":      `bad \xff\xc3 utf-8`,
		"\ufffd is a real U+FFFD": "\ufffd is a real U+FFFD",
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tt := range []struct {
		in    string
		width int
		want  string
	}{
		{"abcd", 4, "abcd"},
		{"abcdef", 4, "abc…"},
		{"a\nbcdef", 4, `a\n…`},
		{"ab\x1b", 4, "ab…"},
		{"ab\x1b", 8, `ab\u001b`},
		{"ééééé", 3, "éé…"},
		{"anything", 0, "anything"},
	} {
		if got := OneLineMax(tt.in, tt.width); got != tt.want {
			t.Errorf("OneLineMax(%q, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
		}
	}
}

package nft

import "strings"

// Limits of nftables strings: a comment holds 128 bytes, a log prefix
// 127 (the kernel's 128 with its terminating NUL).
const (
	maxComment   = 128
	maxLogPrefix = 127
)

// Text makes s safe to write inside an nftables string, whatever it
// holds: nft reads a quoted string up to the next '"' and knows no escapes,
// so a '"' would end it early and anything after would be read as nft
// syntax. Every byte outside printable ASCII, and '"' and '\\', becomes
// '_'; a string longer than max is cut, ending in "...". What kordon
// accepts is already within this alphabet (ids, paths and addresses are);
// Text keeps the ruleset valid even if it were not.
func Text(s string, max int) string {
	out := clean(s)
	if len(out) > max {
		out = out[:max-3] + "..."
	}
	return out
}

// TextTail is Text keeping the end of a long string (a path's end names
// the rule).
func TextTail(s string, max int) string {
	out := clean(s)
	if len(out) > max {
		out = "..." + out[len(out)-(max-3):]
	}
	return out
}

func clean(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			c = '_'
		}
		b.WriteByte(c)
	}
	return b.String()
}

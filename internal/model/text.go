package model

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Limits on the free text an object may carry. They follow NSX's where
// NSX states one (display_name 255, description 1024, tag scope 128 and
// tag 256, rule notes 2048, rule tag 32); the rest keep a stored object
// small enough that no single string dominates a document.
const (
	MaxIDLength       = 255
	MaxDisplayName    = 255
	MaxDescription    = 1024
	MaxTagScope       = 128
	MaxTagValue       = 256
	MaxTags           = 30
	MaxNotes          = 2048
	MaxComments       = 2048
	MaxRuleTag        = 32
	MaxConditionValue = 1024
	MaxTextField      = 255 // any other single-line field
)

// CheckText says what is wrong with a free-text value, or nil: it must be
// valid UTF-8, at most max bytes, and free of control characters (tab
// and newlines only where multiline) and of the Unicode formatting
// characters that reorder or hide text on a terminal (bidirectional
// overrides and isolates, zero-width joiners). Such text is refused rather
// than escaped: whatever kordon accepts can be printed, logged and
// rendered as it is.
func CheckText(s string, max int, multiline bool) error {
	if len(s) > max {
		return fmt.Errorf("%d bytes; at most %d", len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("not valid UTF-8")
	}
	for i, r := range s {
		if multiline && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if bad, name := forbiddenRune(r); bad {
			return fmt.Errorf("holds %s (U+%04X) at byte %d", name, r, i)
		}
	}
	return nil
}

func forbiddenRune(r rune) (bool, string) {
	switch {
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
		return true, "a control character"
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true, "a bidirectional formatting character"
	case r == 0x200b || r == 0x200c || r == 0x200d || r == 0x2060 || r == 0xfeff:
		return true, "an invisible formatting character"
	case unicode.Is(unicode.Co, r) || unicode.Is(unicode.Cs, r) || r == utf8.RuneError:
		return true, "a private-use or invalid character"
	}
	return false, ""
}

// ValidID reports whether s can be an object id: 1-255 characters from
// letters, digits, '_', '-', '.' and ':', starting with a letter, digit
// or '_'. So an id is always one path segment, is never "." or "..", and
// reads the same in a URL, an etcd key, a terminal and an nftables
// comment.
func ValidID(s string) bool {
	if s == "" || len(s) > MaxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case (c == '-' || c == '.' || c == ':') && i > 0:
		default:
			return false
		}
	}
	return true
}

// IDRule says, for error messages, what ValidID accepts.
const IDRule = "an id is 1-255 letters, digits, '_', '-', '.' or ':', starting with a letter, digit or '_'"

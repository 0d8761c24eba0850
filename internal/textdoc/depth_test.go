package textdoc

import (
	"strings"
	"testing"
)

func TestDepth(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{`1`, 0},
		{`"[[["`, 0},
		{`[]`, 1},
		{`{"a":[{"b":{}}]}`, 4},
		{`["[{", {"k\"[": ["]"]}]`, 3},
		{`["\\", [[]]]`, 3},
		{`[[], [[]], []]`, 3},
		{strings.Repeat("[", 100000) + strings.Repeat("]", 100000), 100000},
	} {
		if got := Depth([]byte(tc.in)); got != tc.want {
			t.Errorf("Depth(%.40q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// Split measures each document's depth as it checks it: on its light
// scan, on the slower check of what that scan is unsure of (a key with
// an escape), and for YAML.
func TestSplitDepth(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{`{"a":[{"b":{}}]}`, 4},
		{`{"a\u0062":[[1]]}`, 3},
		{"a:\n  b:\n  - c: 1\n", 4},
		{"---\n[1]\n", 1},
	} {
		docs, errs := Split("doc", []byte(tc.in))
		if len(errs) > 0 || len(docs) != 1 || docs[0].Depth != tc.want {
			t.Errorf("Split(%q): %+v %v, want depth %d", tc.in, docs, errs, tc.want)
		}
	}
}

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

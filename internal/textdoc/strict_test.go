package textdoc

import (
	"strings"
	"testing"
)

func TestCheckJSON(t *testing.T) {
	for _, tt := range []struct {
		in, bad string
	}{
		{`{"a":1,"b":[{"c":2},{"c":3}]}`, ""},
		{`[]`, ""},
		{`"text"`, ""},
		{`{"a":1,"a":2}`, `the document: key "a" is given twice`},
		{`{"children":[{"x":1},{"Group":{"id":"g","id":"h"}}]}`, `children[1].Group: key "id" is given twice`},
		{`null`, "null"},
		{" null\n", "null"},
		{"{\"a\":\"\xff\"}", "UTF-8 (at byte 6)"},
		{`{"a":1} {"b":2}`, "more than one"},
		{`{"a":`, "EOF"},
	} {
		err := CheckJSON([]byte(tt.in))
		if tt.bad == "" && err != nil || tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)) {
			t.Errorf("CheckJSON(%q) = %v, want %q", tt.in, err, tt.bad)
		}
	}
}

func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `[{"x":[1,2,{"y":null}]}]`, "null", `"\u00e9"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = CheckJSON(b) // must not panic or hang
	})
}

package textdoc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
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
	for _, s := range []string{`-0.5e+10`, `01`, `1.`, `[1,]`, `{"a":1,}`, `"\u00zz"`, `"\x"`, "\"\t\"", `[tru]`, `{"a" 1}`, ` [ ] `, `{}{}`, `{"a\u0062":1,"ab":2}`} {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"a":{"b":1},"c":[{"b":2,"b\u0000":3}],"d":{"0":0,"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"10":10,"11":11,"12":12,"13":13,"14":14,"15":15,"16":16,"3":3}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := CheckJSON(b) // must not panic or hang
		// The light scan agrees with the decoder's walk.
		if !utf8.Valid(b) || bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
			return
		}
		if want := checkSlow(b); fmt.Sprint(err) != fmt.Sprint(want) {
			t.Fatalf("CheckJSON(%q) = %v, the decoder's walk says %v", b, err, want)
		}
		if validDistinct(b) && (!json.Valid(b) || checkSlow(b) != nil) {
			t.Fatalf("the light scan accepts %q, json.Valid says %v, the decoder's walk %v", b, json.Valid(b), checkSlow(b))
		}
	})
}

package inventory

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzSniff checks the loader's light scan against encoding/json: on
// valid JSON, whatever it reads is what decoding gives.
func FuzzSniff(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `[{}, 1, "a", [2]]`, `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"x","namespace":"y"}}`,
		`{"kind":"List","items":[{"kind":"Pod"},{"kind":"Node","metadata":{"name":"n"}}]}`,
		`{"Kind":"Pod"}`, `{"kind":"Pod","kind":"Node"}`, `{"k\u0069nd":"Pod"}`, `{"kind":null}`, `{"kind":5}`,
		`{"metadata":"x"}`, `{"metadata":{"name":"a\"b"}}`, `{"items":{"a":1}}`, ` { "kind" : "Pod" , "x" : [ "]" , "}" ] } `,
		`{"metadata":{"NAME":"x"}}`, `{"items":null,"kind":"PodList"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		data := []byte(s)
		if !json.Valid(data) {
			return
		}
		if h, sn, ok := sniffHeader(data); ok {
			var want header
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatalf("sniffed %+v from %q, which does not decode: %v", h, s, err)
			}
			if h != want {
				t.Fatalf("sniffed %+v from %q, decoded %+v", h, s, want)
			}
			var items struct {
				Items json.RawMessage `json:"items"`
			}
			if err := json.Unmarshal(data, &items); err == nil && !bytes.Equal(items.Items, sn.items) {
				t.Fatalf("items %q from %q, decoded %q", sn.items, s, items.Items)
			}
		}
		if elems, ok := sniffArray(data); ok {
			var want []json.RawMessage
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatalf("sniffed an array from %q, which does not decode: %v", s, err)
			}
			if len(elems) != len(want) {
				t.Fatalf("%d elements from %q, decoded %d", len(elems), s, len(want))
			}
			for i := range want {
				if !bytes.Equal(elems[i], want[i]) {
					t.Fatalf("element %d %q from %q, decoded %q", i, elems[i], s, want[i])
				}
			}
		}
	})
}

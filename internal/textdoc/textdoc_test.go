package textdoc

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// doc is the part of a Document a test compares; JSON is compared by
// meaning, not bytes.
type doc struct {
	Where string
	Line  int
	JSON  string
}

func checkSplit(t *testing.T, name, in string, wantDocs []doc, wantErrs []Error) {
	t.Helper()
	docs, errs := Split(name, []byte(in))
	if len(docs) != len(wantDocs) {
		t.Errorf("Split returned %d documents, want %d:", len(docs), len(wantDocs))
		for _, d := range docs {
			t.Errorf("  got %q line %d: %s", d.Where, d.Line, d.JSON)
		}
	} else {
		for i, d := range docs {
			w := wantDocs[i]
			if d.Where != w.Where || d.Line != w.Line {
				t.Errorf("document %d: Where, Line = %q, %d; want %q, %d", i, d.Where, d.Line, w.Where, w.Line)
			}
			if !jsonEqual(t, d.JSON, []byte(w.JSON)) {
				t.Errorf("document %d (%s): JSON = %s, want %s", i, d.Where, d.JSON, w.JSON)
			}
			if !json.Valid(d.JSON) {
				t.Errorf("document %d (%s): JSON is not valid: %s", i, d.Where, d.JSON)
			}
		}
	}
	var got []Error
	for _, e := range errs {
		got = append(got, *e)
	}
	if !reflect.DeepEqual(got, wantErrs) {
		t.Errorf("Split errors:\n got  %q\n want %q", got, wantErrs)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Errorf("invalid JSON %s: %v", a, err)
		return false
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("bad test: invalid JSON %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func TestSplitJSON(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantDocs []doc
		wantErrs []Error
	}{
		{
			name:     "object",
			in:       `{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}`,
			wantDocs: []doc{{"f.json", 1, `{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}`}},
		},
		{
			name:     "indented object with trailing newline",
			in:       "{\n  \"kind\": \"List\",\n  \"items\": []\n}\n",
			wantDocs: []doc{{"f.json", 1, `{"kind":"List","items":[]}`}},
		},
		{
			name:     "array",
			in:       `[{"kind":"Node"},{"kind":"Pod"}]`,
			wantDocs: []doc{{"f.json", 1, `[{"kind":"Node"},{"kind":"Pod"}]`}},
		},
		{
			name:     "empty array",
			in:       `[]`,
			wantDocs: []doc{{"f.json", 1, `[]`}},
		},
		{
			name:     "leading blank lines",
			in:       "\n\n  {\"kind\":\"Node\"}",
			wantDocs: []doc{{"f.json", 3, `{"kind":"Node"}`}},
		},
		{
			name:     "bad value",
			in:       `{"a":}`,
			wantErrs: []Error{{"f.json", `invalid JSON at line 1, column 6: invalid character '}' looking for beginning of value`}},
		},
		{
			name:     "bad value on a later line",
			in:       "{\n  \"a\": 1,\n  \"b\": x\n}\n",
			wantErrs: []Error{{"f.json", `invalid JSON at line 3, column 8: invalid character 'x' looking for beginning of value`}},
		},
		{
			name:     "missing comma",
			in:       "[\n  {\"a\": 1}\n  {\"b\": 2}\n]",
			wantErrs: []Error{{"f.json", `invalid JSON at line 3, column 3: invalid character '{' after array element`}},
		},
		{
			name:     "trailing comma",
			in:       `[1,2,]`,
			wantErrs: []Error{{"f.json", `invalid JSON at line 1, column 6: invalid character ']' looking for beginning of value`}},
		},
		{
			name:     "truncated",
			in:       "{\"a\":\n  [1,",
			wantErrs: []Error{{"f.json", `invalid JSON at line 2, column 6: unexpected end of JSON input`}},
		},
		{
			name:     "two objects",
			in:       "{\"a\":1}\n{\"b\":2}",
			wantErrs: []Error{{"f.json", `invalid JSON at line 2, column 1: invalid character '{' after top-level value`}},
		},
		{
			name:     "error after leading blank lines",
			in:       "\n\n{\"a\":}",
			wantErrs: []Error{{"f.json", `invalid JSON at line 3, column 6: invalid character '}' looking for beginning of value`}},
		},
		{
			name:     "error after leading spaces",
			in:       "   {\"a\":}",
			wantErrs: []Error{{"f.json", `invalid JSON at line 1, column 9: invalid character '}' looking for beginning of value`}},
		},
		{
			name:     "unquoted keys are not JSON",
			in:       `{kind: Node}`,
			wantErrs: []Error{{"f.json", `invalid JSON at line 1, column 2: invalid character 'k' looking for beginning of object key string`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkSplit(t, "f.json", tt.in, tt.wantDocs, tt.wantErrs)
		})
	}
}

func TestSplitYAML(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantDocs []doc
	}{
		{
			name:     "single document",
			in:       "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n",
			wantDocs: []doc{{"f.yaml", 1, `{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}`}},
		},
		{
			name:     "leading comment",
			in:       "# kubectl get nodes -o yaml\nkind: Node\n",
			wantDocs: []doc{{"f.yaml", 1, `{"kind":"Node"}`}},
		},
		{
			name:     "kind List",
			in:       "apiVersion: v1\nkind: List\nitems:\n- {kind: Node, metadata: {name: n1}}\n- kind: Pod\n",
			wantDocs: []doc{{"f.yaml", 1, `{"apiVersion":"v1","kind":"List","items":[{"kind":"Node","metadata":{"name":"n1"}},{"kind":"Pod"}]}`}},
		},
		{
			name: "three documents",
			in:   "kind: A\n---\nkind: B\nx: 1\n---\nkind: C\n",
			wantDocs: []doc{
				{"f.yaml (document 1, line 1)", 1, `{"kind":"A"}`},
				{"f.yaml (document 2, line 3)", 3, `{"kind":"B","x":1}`},
				{"f.yaml (document 3, line 6)", 6, `{"kind":"C"}`},
			},
		},
		{
			name: "leading separator",
			in:   "---\nkind: A\n---\nkind: B\n",
			wantDocs: []doc{
				{"f.yaml (document 1, line 2)", 2, `{"kind":"A"}`},
				{"f.yaml (document 2, line 4)", 4, `{"kind":"B"}`},
			},
		},
		{
			name:     "header comment and separator before a single document",
			in:       "# generated\n---\nkind: A\n",
			wantDocs: []doc{{"f.yaml", 3, `{"kind":"A"}`}},
		},
		{
			name: "trailing separator",
			in:   "kind: A\n---\n",
			wantDocs: []doc{
				{"f.yaml (document 1, line 1)", 1, `{"kind":"A"}`},
			},
		},
		{
			name: "empty and comment-only documents are skipped but counted",
			in:   "kind: A\n---\n# nothing here\n  # indented comment\n---\n\n\n---\n---\nkind: B\n",
			wantDocs: []doc{
				{"f.yaml (document 1, line 1)", 1, `{"kind":"A"}`},
				{"f.yaml (document 5, line 10)", 10, `{"kind":"B"}`},
			},
		},
		{
			name: "separator with a trailing comment",
			in:   "kind: A\n--- # next\nkind: B\n",
			wantDocs: []doc{
				{"f.yaml (document 1, line 1)", 1, `{"kind":"A"}`},
				{"f.yaml (document 2, line 3)", 3, `{"kind":"B"}`},
			},
		},
		{
			name: "document end markers",
			in:   "kind: A\n...\n---\nkind: B\n...\n---\n...\n",
			wantDocs: []doc{
				{"f.yaml (document 1, line 1)", 1, `{"kind":"A"}`},
				{"f.yaml (document 2, line 4)", 4, `{"kind":"B"}`},
			},
		},
		{
			name: "CRLF line ends",
			in:   "kind: A\r\n---\r\nkind: B\r\n",
			wantDocs: []doc{
				{"f.yaml (document 1, line 1)", 1, `{"kind":"A"}`},
				{"f.yaml (document 2, line 3)", 3, `{"kind":"B"}`},
			},
		},
		{
			name:     "dashes that are not a separator",
			in:       "kind: A\nnote: ---\nline: '----'\n",
			wantDocs: []doc{{"f.yaml", 1, `{"kind":"A","note":"---","line":"----"}`}},
		},
		{
			name:     "no trailing newline",
			in:       "kind: A",
			wantDocs: []doc{{"f.yaml", 1, `{"kind":"A"}`}},
		},
		{
			name:     "null document",
			in:       "~\n",
			wantDocs: []doc{{"f.yaml", 1, `null`}},
		},
		{
			name:     "scalar document",
			in:       "hello\n",
			wantDocs: []doc{{"f.yaml", 1, `"hello"`}},
		},
		{
			name:     "quoted numbers stay strings, bare ones are numbers",
			in:       "a: \"true\"\nb: 8080\nc: 'fd00::1'\n",
			wantDocs: []doc{{"f.yaml", 1, `{"a":"true","b":8080,"c":"fd00::1"}`}},
		},
		{
			name:     "top-level sequence",
			in:       "- kind: A\n- kind: B\n",
			wantDocs: []doc{{"f.yaml", 1, `[{"kind":"A"},{"kind":"B"}]`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkSplit(t, "f.yaml", tt.in, tt.wantDocs, nil)
		})
	}
}

func TestSplitNothing(t *testing.T) {
	for _, tt := range []struct{ name, in string }{
		{"empty", ""},
		{"spaces and newlines", "  \n\n\t\n"},
		{"comments only", "# just a comment\n  # another\n"},
		{"separators only", "---\n---\n"},
		{"comments and separators", "# a\n---\n# b\n---\n...\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			docs, errs := Split("f.yaml", []byte(tt.in))
			if len(docs) != 0 || len(errs) != 0 {
				t.Errorf("Split(%q) = %d documents, %d errors; want none", tt.in, len(docs), len(errs))
			}
		})
	}
}

func TestSplitYAMLErrors(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantDocs []doc
		wantErrs []Error
	}{
		{
			name:     "tab indentation",
			in:       "a:\n\tb: 1\n",
			wantErrs: []Error{{"f.yaml", "invalid YAML: yaml: line 2: found character that cannot start any token"}},
		},
		{
			name:     "bad indentation in the first document",
			in:       "kind: A\nmetadata:\n  name: a\n    labels: x\n---\nkind: B\n",
			wantDocs: []doc{{"f.yaml (document 2, line 6)", 6, `{"kind":"B"}`}},
			wantErrs: []Error{{"f.yaml", "invalid YAML: yaml: line 4: mapping values are not allowed in this context"}},
		},
		{
			name:     "line translated to the file in a later document",
			in:       "kind: A\n---\n# two\nkind: B\nmetadata:\n  name: b\n    labels: x\n",
			wantDocs: []doc{{"f.yaml (document 1, line 1)", 1, `{"kind":"A"}`}},
			wantErrs: []Error{{"f.yaml", "invalid YAML: yaml: line 7: mapping values are not allowed in this context"}},
		},
		{
			name: "every bad document is reported",
			in:   "a:\n\tb: 1\n---\nkind: OK\n---\nc: 1\n  d: 2\n",
			wantDocs: []doc{
				{"f.yaml (document 2, line 4)", 4, `{"kind":"OK"}`},
			},
			wantErrs: []Error{
				{"f.yaml", "invalid YAML: yaml: line 2: found character that cannot start any token"},
				{"f.yaml", "invalid YAML: yaml: line 7: mapping values are not allowed in this context"},
			},
		},
		{
			name:     "tab in the tenth line of a later document",
			in:       "kind: A\n---\n" + strings.Repeat("# c\n", 8) + "a:\n\tb: 1\n",
			wantDocs: []doc{{"f.yaml (document 1, line 1)", 1, `{"kind":"A"}`}},
			wantErrs: []Error{{"f.yaml", "invalid YAML: yaml: line 12: found character that cannot start any token"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkSplit(t, "f.yaml", tt.in, tt.wantDocs, tt.wantErrs)
		})
	}
}

// The document's JSON must not alias the caller's buffer in a way that
// lets a later edit of the input change it.
func TestSplitYAMLDoesNotAliasInput(t *testing.T) {
	in := []byte("kind: A\n---\nkind: B\n")
	docs, _ := Split("f.yaml", in)
	if len(docs) != 2 {
		t.Fatalf("got %d documents, want 2", len(docs))
	}
	before := string(docs[1].JSON)
	copy(in, bytes.Repeat([]byte("x"), len(in)))
	if string(docs[1].JSON) != before {
		t.Errorf("document changed with the input: %s, was %s", docs[1].JSON, before)
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Where: "dir/f.yaml", Reason: "invalid YAML: yaml: line 3: oops"}
	if got, want := e.Error(), "dir/f.yaml: invalid YAML: yaml: line 3: oops"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		"",
		"# comment only\n",
		"apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n",
		"kind: A\n---\nkind: B\n---\n# c\n---\n",
		"---\nkind: A\n...\n",
		"kind: A\r\n---\r\nkind: B\r\n",
		"a:\n\tb: 1\n",
		"kind: A\n---\nb: [\n",
		"{\"kind\":\"Node\",\"metadata\":{\"name\":\"n\"}}",
		"[{\"kind\":\"Node\"}]",
		"\n\n{\"a\":}",
		"{\"a\":",
		"- a\n- b: {c: d}\n",
		"x: &a [1]\ny: *a\n",
		"a: !!binary aGVsbG8=\n",
		"--- |\n  text\n",
		"? complex\n: key\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		docs, errs := Split("in.yaml", []byte(s))
		lines := strings.Count(s, "\n") + 1
		for _, d := range docs {
			if !json.Valid(d.JSON) {
				t.Fatalf("document %s is not valid JSON: %q", d.Where, d.JSON)
			}
			if d.Line < 1 || d.Line > lines {
				t.Fatalf("document %s starts on line %d; the input has %d lines", d.Where, d.Line, lines)
			}
			if !strings.HasPrefix(d.Where, "in.yaml") {
				t.Fatalf("document Where %q does not name the file", d.Where)
			}
		}
		for _, e := range errs {
			if e.Where != "in.yaml" || e.Reason == "" {
				t.Fatalf("bad error %+v", e)
			}
		}
	})
}

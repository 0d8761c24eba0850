// Package textdoc owns reading configuration files as documents: it tells
// JSON from YAML, cuts multi-document YAML streams at "---", converts each
// document to JSON, and reports syntax errors with the file, document and
// line they are at. Policy documents and kubectl dumps both come in this
// way.
package textdoc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// Document is one document of a file, as JSON.
type Document struct {
	// Where names the document for messages: the file name, plus the
	// document number and first line when the file holds several.
	Where string
	// Line is the 1-based line the document starts on.
	Line int
	JSON []byte
	// Depth is how deeply JSON's arrays and objects nest (0 for a
	// scalar), which Split measures as it checks the document.
	Depth int
}

// Error is a syntax error in a file.
type Error struct {
	Where  string
	Reason string
}

func (e *Error) Error() string { return e.Where + ": " + e.Reason }

var yamlLine = regexp.MustCompile(`line (\d+)`)

// Split reads a file's content as JSON (when it starts with '{' or '[') or
// as a YAML stream. Documents that are empty or only comments are
// skipped. Every document that fails to parse is reported; the others are
// returned.
func Split(name string, data []byte) ([]Document, []*Error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, nil
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		// Positions count from the file's start, not the trimmed text.
		lead := data[:len(data)-len(bytes.TrimLeftFunc(data, unicode.IsSpace))]
		// One light scan accepts most files; the others are checked
		// as before, to name their problem.
		depth, ok := 0, utf8.Valid(trimmed) && !bytes.Equal(trimmed, []byte("null"))
		if ok {
			depth, ok = scanDistinct(trimmed)
		}
		if !ok {
			if !json.Valid(trimmed) {
				return nil, []*Error{{Where: name, Reason: jsonSyntax(lead, trimmed)}}
			}
			if err := CheckJSON(trimmed); err != nil {
				return nil, []*Error{{Where: name, Reason: err.Error()}}
			}
			depth = Depth(trimmed)
		}
		return []Document{{Where: name, Line: 1 + bytes.Count(lead, []byte("\n")), JSON: trimmed, Depth: depth}}, nil
	}
	var docs []Document
	var errs []*Error
	parts, starts := splitYAML(data)
	if len(parts) > 1 && !hasContent(parts[0]) {
		// Blank lines or comments before the first "---" are not a
		// document: the one after it is document 1.
		parts, starts = parts[1:], starts[1:]
	}
	for i, part := range parts {
		if !hasContent(part) {
			continue
		}
		where := name
		if len(parts) > 1 {
			where = fmt.Sprintf("%s (document %d, line %d)", name, i+1, starts[i])
		}
		j, err := yaml.YAMLToJSON(part)
		if err != nil {
			msg := yamlLine.ReplaceAllStringFunc(err.Error(), func(m string) string {
				n, _ := strconv.Atoi(m[len("line "):])
				return fmt.Sprintf("line %d", n+starts[i]-1)
			})
			errs = append(errs, &Error{Where: name, Reason: "invalid YAML: " + strings.TrimPrefix(msg, "error converting YAML to JSON: ")})
			continue
		}
		docs = append(docs, Document{Where: where, Line: starts[i], JSON: j, Depth: Depth(j)})
	}
	return docs, errs
}

// splitYAML cuts a stream at "---" lines, returning the documents and the
// 1-based line each starts on.
func splitYAML(data []byte) ([][]byte, []int) {
	var parts [][]byte
	var starts []int
	cur, start := []byte(nil), 1
	for i, l := range bytes.SplitAfter(data, []byte("\n")) {
		t := bytes.TrimRight(l, "\r\n")
		if bytes.Equal(t, []byte("---")) || bytes.HasPrefix(t, []byte("--- ")) {
			parts, starts = append(parts, cur), append(starts, start)
			cur, start = nil, i+2
			continue
		}
		cur = append(cur, l...)
	}
	return append(parts, cur), append(starts, start)
}

func hasContent(b []byte) bool {
	for _, l := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' && !bytes.Equal(t, []byte("...")) {
			return true
		}
	}
	return false
}

// jsonSyntax describes the syntax error in data, which follows lead in
// the file, with the 1-based line and column it is at.
func jsonSyntax(lead, data []byte) string {
	var v any
	err := json.Unmarshal(data, &v)
	se, ok := err.(*json.SyntaxError)
	if !ok {
		return "invalid JSON"
	}
	// Offset counts the offending byte; at the end of the input there is
	// none, and the position is just after the last byte.
	off := int(se.Offset)
	if off > 0 && off <= len(data) && se.Error() != "unexpected end of JSON input" {
		off--
	}
	line, col := 1, 1
	for _, c := range slices.Concat(lead, data[:min(off, len(data))]) {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("invalid JSON at line %d, column %d: %s", line, col, se.Error())
}

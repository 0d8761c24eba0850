package inventory

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// The loader reads a document's kind, name and items with one light scan
// of JSON that is already known to be valid (textdoc.Split checked it,
// or produced it from YAML), instead of decoding it with encoding/json
// once for its header, once for its items and once more per item. It
// gives up on anything unusual (a key with an escape, or spelled in
// another case, that encoding/json might match; a field that is not a
// string; a key given twice); the loader then decodes as before, so that
// results and messages are the same.

// sniffed is what the scan found: the raw values of the fields it reads.
type sniffed struct {
	apiVersion, kind, metadata, items []byte
}

// sniffObject reads the top-level fields of a JSON object.
func sniffObject(data []byte, names ...string) (map[string][]byte, bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, false
	}
	out := make(map[string][]byte, len(names))
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return out, true
	}
	for i < len(data) {
		if data[i] != '"' {
			return nil, false
		}
		end := skipString(data, i)
		if end < 0 {
			return nil, false
		}
		key := data[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return nil, false
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return nil, false
		}
		i = skipSpace(data, i+1)
		vend := skipValue(data, i)
		if vend < 0 {
			return nil, false
		}
		for _, n := range names {
			if string(key) == n {
				if _, dup := out[n]; dup {
					return nil, false
				}
				out[n] = data[i:vend]
			} else if strings.EqualFold(string(key), n) {
				return nil, false
			}
		}
		i = skipSpace(data, vend)
		if i >= len(data) {
			return nil, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return out, true
		default:
			return nil, false
		}
	}
	return nil, false
}

// sniffHeader reads an object's header as the header type decodes it.
func sniffHeader(data []byte) (h header, s sniffed, ok bool) {
	f, ok := sniffObject(data, "apiVersion", "kind", "metadata", "items")
	if !ok {
		return h, s, false
	}
	s = sniffed{apiVersion: f["apiVersion"], kind: f["kind"], metadata: f["metadata"], items: f["items"]}
	if h.APIVersion, ok = plainString(s.apiVersion); !ok {
		return h, s, false
	}
	if h.Kind, ok = plainString(s.kind); !ok {
		return h, s, false
	}
	if s.metadata != nil {
		m, ok := sniffObject(s.metadata, "name", "namespace")
		if !ok {
			return h, s, false
		}
		if h.Metadata.Name, ok = plainString(m["name"]); !ok {
			return h, s, false
		}
		if h.Metadata.Namespace, ok = plainString(m["namespace"]); !ok {
			return h, s, false
		}
	}
	return h, s, true
}

// plainString is a JSON string without escapes, in valid UTF-8 (which
// encoding/json would change); absent is "".
func plainString(v []byte) (string, bool) {
	if v == nil {
		return "", true
	}
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' || bytes.IndexByte(v[1:len(v)-1], '\\') >= 0 || !utf8.Valid(v) {
		return "", false
	}
	return string(v[1 : len(v)-1]), true
}

// sniffArray returns the elements of a JSON array.
func sniffArray(data []byte) ([][]byte, bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, false
	}
	var out [][]byte
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return out, true
	}
	for i < len(data) {
		end := skipValue(data, i)
		if end < 0 {
			return nil, false
		}
		out = append(out, data[i:end])
		i = skipSpace(data, end)
		if i >= len(data) {
			return nil, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			return out, true
		default:
			return nil, false
		}
	}
	return nil, false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the string starting at data[i].
func skipString(data []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(data[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		// The quote ends the string unless an odd number of
		// backslashes escapes it.
		n := 0
		for b := j - 1; b > i && data[b] == '\\'; b-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
}

// structural marks the bytes skipValue stops at inside a container.
var structural = [256]bool{'"': true, '{': true, '[': true, '}': true, ']': true}

// skipValue returns the index after the value starting at data[i], or
// -1.
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			c := data[j]
			if !structural[c] {
				continue
			}
			switch c {
			case '"':
				end := skipString(data, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			default:
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(data) {
		switch data[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
		j++
	}
	return j
}

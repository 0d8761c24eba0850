package textdoc

import "bytes"

// validDistinct reports that data is one JSON value, as json.Valid
// accepts it, in which no object gives a key twice. It answers false
// whenever it is not sure (a key with an escape, which may spell another
// key; nesting deeper than encoding/json allows), for the caller to
// decode and name the problem: it is the fast path of CheckJSON and
// Split, one pass over the bytes instead of a validation and a decoder's
// walk.
func validDistinct(data []byte) bool {
	_, ok := scanDistinct(data)
	return ok
}

// scanDistinct is validDistinct, with how deeply the value nests.
func scanDistinct(data []byte) (depth int, ok bool) {
	s := scanner{data: data}
	i, ok := s.value(s.space(0), 0)
	return s.deepest, ok && s.space(i) == len(data)
}

type scanner struct {
	data []byte
	// keys holds the keys of the objects open; an object's own start
	// where its caller left it.
	keys [][]byte
	// deepest is how deeply the values scanned so far nest.
	deepest int
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

func (s *scanner) space(i int) int {
	for i < len(s.data) {
		switch s.data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func (s *scanner) value(i, depth int) (int, bool) {
	d := s.data
	if i >= len(d) {
		return i, false
	}
	switch c := d[i]; {
	case c == '{':
		return s.object(i+1, depth+1)
	case c == '[':
		return s.array(i+1, depth+1)
	case c == '"':
		end, _, ok := s.str(i)
		return end, ok
	case c == 't':
		return i + 4, bytes.HasPrefix(d[i:], []byte("true"))
	case c == 'f':
		return i + 5, bytes.HasPrefix(d[i:], []byte("false"))
	case c == 'n':
		return i + 4, bytes.HasPrefix(d[i:], []byte("null"))
	case c == '-' || c >= '0' && c <= '9':
		return s.number(i)
	}
	return i, false
}

func digits(d []byte, i int) int {
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number(i int) (int, bool) {
	d := s.data
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		i = digits(d, i+1)
	default:
		return i, false
	}
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			return i, false
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return i, false
		}
		i = j
	}
	return i, true
}

func hex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// str reads the string at d[i] ('"'), returning the index after it and
// whether it holds an escape.
func (s *scanner) str(i int) (end int, escaped, ok bool) {
	d := s.data
	for j := i + 1; j < len(d); j++ {
		switch c := d[j]; {
		case c == '"':
			return j + 1, escaped, true
		case c == '\\':
			escaped = true
			if j+1 >= len(d) {
				return j, escaped, false
			}
			switch d[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+5 >= len(d) || !hex(d[j+2]) || !hex(d[j+3]) || !hex(d[j+4]) || !hex(d[j+5]) {
					return j, escaped, false
				}
				j += 5
			default:
				return j, escaped, false
			}
		case c < 0x20:
			return j, escaped, false
		}
	}
	return len(d), escaped, false
}

func (s *scanner) object(i, depth int) (int, bool) {
	if depth > maxDepth {
		return i, false
	}
	s.deepest = max(s.deepest, depth)
	d := s.data
	start := len(s.keys)
	defer func() { s.keys = s.keys[:start] }()
	var set map[string]bool // the keys, once there are many
	i = s.space(i)
	if i < len(d) && d[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return i, false
		}
		end, escaped, ok := s.str(i)
		if !ok || escaped {
			return i, false
		}
		key := d[i+1 : end-1]
		switch own := s.keys[start:]; {
		case set != nil:
			if set[string(key)] {
				return i, false
			}
			set[string(key)] = true
		case len(own) >= 16:
			set = make(map[string]bool, 2*len(own))
			for _, k := range own {
				set[string(k)] = true
			}
			if set[string(key)] {
				return i, false
			}
			set[string(key)] = true
		default:
			for _, k := range own {
				if bytes.Equal(k, key) {
					return i, false
				}
			}
			s.keys = append(s.keys, key)
		}
		i = s.space(end)
		if i >= len(d) || d[i] != ':' {
			return i, false
		}
		if i, ok = s.value(s.space(i+1), depth); !ok {
			return i, false
		}
		i = s.space(i)
		if i >= len(d) {
			return i, false
		}
		switch d[i] {
		case ',':
			i = s.space(i + 1)
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

func (s *scanner) array(i, depth int) (int, bool) {
	if depth > maxDepth {
		return i, false
	}
	s.deepest = max(s.deepest, depth)
	d := s.data
	i = s.space(i)
	if i < len(d) && d[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = s.value(i, depth); !ok {
			return i, false
		}
		i = s.space(i)
		if i >= len(d) {
			return i, false
		}
		switch d[i] {
		case ',':
			i = s.space(i + 1)
		case ']':
			return i + 1, true
		default:
			return i, false
		}
	}
}

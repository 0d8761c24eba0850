package textdoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CheckJSON refuses what encoding/json accepts silently: invalid UTF-8
// (it would become U+FFFD), a key given twice in one object (the last
// would win, unseen), a document that is only null, and anything after
// the document. It names where the problem is.
func CheckJSON(data []byte) error {
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return fmt.Errorf("not valid UTF-8 (at byte %d)", off)
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return errors.New("the document is null")
	}
	// Most documents are fine: one light scan says so; the decoder below
	// finds and names the problem otherwise.
	if validDistinct(data) {
		return nil
	}
	return checkSlow(data)
}

func checkSlow(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walk(dec, nil); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value")
	}
	return nil
}

// walk reads one value, checking each object's keys.
func walk(dec *json.Decoder, path []string) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := t.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := k.(string)
			if seen[key] {
				return fmt.Errorf("%s: key %q is given twice", where(path), key)
			}
			seen[key] = true
			if err := walk(dec, append(path, key)); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := walk(dec, append(path, "["+strconv.Itoa(i)+"]")); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

func where(path []string) string {
	if len(path) == 0 {
		return "the document"
	}
	var b strings.Builder
	for _, p := range path {
		if !strings.HasPrefix(p, "[") && b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

package model

import (
	"sort"
	"strings"
)

// Error is one problem found while decoding or validating: the object it
// concerns (its policy path, or the document location when the path is not
// known yet), the field inside it, and why.
type Error struct {
	Path   string `json:"path,omitempty"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

func (e Error) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Errors is a list of problems, reported together.
type Errors []Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

func (es Errors) orNil() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Sort orders the problems by path, then field, so output is stable.
func (es Errors) Sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Path != es[j].Path {
			return es[i].Path < es[j].Path
		}
		return es[i].Field < es[j].Field
	})
}

// AsErrors turns any error into Errors, keeping the structure of Errors
// and wrapping anything else as one reason.
func AsErrors(err error) Errors {
	if err == nil {
		return nil
	}
	if es, ok := err.(Errors); ok {
		return es
	}
	if e, ok := err.(Error); ok {
		return Errors{e}
	}
	return Errors{{Reason: err.Error()}}
}

// joinField composes a field path: "expression" + "[2]" gives
// "expression[2]", "expression[2]" + "value" gives "expression[2].value".
func joinField(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	case strings.HasPrefix(field, "["):
		return prefix + field
	}
	return prefix + "." + field
}

// prefixErrors puts prefix in front of the field of every problem in err.
func prefixErrors(prefix string, err error) Errors {
	es := AsErrors(humanize(err))
	out := make(Errors, len(es))
	for i, e := range es {
		e.Field = joinField(prefix, e.Field)
		out[i] = e
	}
	return out
}

// withPath sets the object path of every problem that has none.
func withPath(path string, err error) Errors {
	es := AsErrors(err)
	out := make(Errors, len(es))
	for i, e := range es {
		if e.Path == "" {
			e.Path = path
		}
		out[i] = e
	}
	return out
}

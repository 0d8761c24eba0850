package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
)

// readOnlyFields are fields NSX prints on objects and expressions that
// kordon either maintains itself or does not use. Documents may carry them
// (they come from NSX exports); a struct that models one of them decodes it
// like any other field, the others drop it.
var readOnlyFields = map[string]bool{
	"_create_time": true, "_create_user": true, "_last_modified_time": true,
	"_last_modified_user": true, "_links": true, "_protection": true,
	"_schema": true, "_self": true, "_system_owned": true, "_revision": true,
	"_permission": true, "unique_id": true, "realization_id": true,
	"owner_id": true, "origin_site_id": true, "overridden": true,
	"remote_path": true, "relative_path": true, "parent_path": true,
	"path": true, "marked_for_delete": true, "resource_type": true,
	"display_name": true, "description": true, "tags": true,
	"mark_for_override": true, "request_parameter": true,
}

// unmarshalStrict decodes a JSON object into v (a pointer to a struct),
// refusing fields the struct does not define (other than readOnlyFields).
// Every bad field is reported, each with its path.
func unmarshalStrict(data []byte, v any) error {
	_, _, err := unmarshalObject(data, v, false, nil)
	return err
}

// unmarshalLenient decodes like unmarshalStrict but returns unknown fields
// instead of refusing them.
func unmarshalLenient(data []byte, v any) (map[string]json.RawMessage, error) {
	extra, _, err := unmarshalObject(data, v, true, nil)
	return extra, err
}

// unmarshalObject decodes an object strictly (lenient: returning unknown
// fields in extra) and says which of its free-text fields text it was
// given as "" (Meta.EmptyText), from the same parse.
func unmarshalObject(data []byte, v any, lenient bool, text []string) (extra map[string]json.RawMessage, empty []string, err error) {
	raw, err := objectFields(data)
	if err != nil {
		return nil, nil, err
	}
	extra, err = decodeFields(raw, v, lenient)
	return extra, emptyText(raw, text), err
}

func decodeFields(raw map[string]json.RawMessage, v any, lenient bool) (map[string]json.RawMessage, error) {
	rv := reflect.ValueOf(v).Elem()
	fields := jsonFields(rv.Type())
	var extra map[string]json.RawMessage
	var errs Errors
	for _, k := range sortedKeys(raw) {
		idx, ok := fields[k]
		if !ok {
			switch {
			case readOnlyFields[k]:
			case lenient:
				if extra == nil {
					extra = map[string]json.RawMessage{}
				}
				extra[k] = raw[k]
			default:
				errs = append(errs, Error{Field: k, Reason: "unknown field" + suggest(k, fields)})
			}
			continue
		}
		if err := decodeValue(raw[k], rv.FieldByIndex(idx)); err != nil {
			errs = append(errs, prefixErrors(k, err)...)
		}
	}
	return extra, errs.orNil()
}

// objectFields splits a JSON object into its fields.
func objectFields(data []byte) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, Errors{{Reason: "expected an object, got " + te.Value}}
		}
		return nil, humanize(err)
	}
	return raw, nil
}

// decodeValue decodes one field. Lists are decoded element by element so a
// problem names the index it is at.
func decodeValue(raw json.RawMessage, fv reflect.Value) error {
	t := fv.Type()
	trimmed := bytes.TrimSpace(raw)
	isList := t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8 &&
		!reflect.PointerTo(t).Implements(unmarshalerType)
	if !isList || len(trimmed) == 0 || trimmed[0] != '[' {
		return humanize(json.Unmarshal(raw, fv.Addr().Interface()))
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return humanize(err)
	}
	out := reflect.MakeSlice(t, len(elems), len(elems))
	var errs Errors
	for i, e := range elems {
		if err := json.Unmarshal(e, out.Index(i).Addr().Interface()); err != nil {
			errs = append(errs, prefixErrors(fmt.Sprintf("[%d]", i), err)...)
		}
	}
	fv.Set(out)
	return errs.orNil()
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

var fieldCache sync.Map // reflect.Type -> map[string][]int

// jsonFields maps the JSON names of a struct's fields (embedded structs
// flattened, as encoding/json does) to their index paths.
func jsonFields(t reflect.Type) map[string][]int {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string][]int)
	}
	out := map[string][]int{}
	collectFields(t, nil, out)
	fieldCache.Store(t, out)
	return out
}

func collectFields(t reflect.Type, prefix []int, out map[string][]int) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		idx := append(append([]int(nil), prefix...), i)
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			collectFields(f.Type, idx, out)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = idx
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// suggest names the closest known field when one is near enough to be a
// likely typo.
func suggest(name string, fields map[string][]int) string {
	best, bestD := "", 3
	for f := range fields {
		if d := editDistance(strings.ToLower(name), strings.ToLower(f)); d < bestD || (d == bestD && best != "" && f < best) {
			best, bestD = f, d
		}
	}
	if best == "" || bestD > 2 {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// humanize rewrites encoding/json's errors into a reason a user can act on.
func humanize(err error) error {
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return Errors{{Field: te.Field, Reason: fmt.Sprintf("expected %s, got %s", describeType(te.Type), te.Value)}}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return Errors{{Reason: fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())}}
	}
	return err
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return "an object"
}

// resourceType reads the resource_type discriminator of a JSON object.
func resourceType(raw json.RawMessage) (string, error) {
	fields, err := objectFields(raw)
	if err != nil {
		return "", err
	}
	rt, ok := fields["resource_type"]
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(rt, &s); err != nil {
		return "", Errors{{Field: "resource_type", Reason: "expected a string"}}
	}
	return s, nil
}

// marshalTyped encodes v and sets its resource_type.
func marshalTyped(rt string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["resource_type"], _ = json.Marshal(rt)
	return json.Marshal(m)
}

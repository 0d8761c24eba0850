package model

import (
	"bytes"
	"encoding/json"
)

// The free-text fields whose emptiness is kept (Meta.EmptyText), by kind
// of object: every object's description, a policy's comments, a rule's
// notes and its log label (tag). NSX returns such a field when it was
// given, even as "", and omits it when it was not; clients such as the
// Terraform provider send them as "" and compare what they read back.
var (
	metaText   = []string{"description"}
	policyText = []string{"description", "comments"}
	ruleText   = []string{"description", "notes", "tag"}
)

// emptyText returns which of the fields names an object's fields raw give
// as "" (nil when none, so that objects without any compare equal however
// they were made).
func emptyText(raw map[string]json.RawMessage, names []string) []string {
	var out []string
	for _, n := range names {
		if v, ok := raw[n]; ok && string(bytes.TrimSpace(v)) == `""` {
			out = append(out, n)
		}
	}
	return out
}

// marshalObject encodes v (an object as its plain type), adding the
// fields of extra it does not set and, as "", the fields of empty it
// leaves out (omitempty drops an empty string).
func marshalObject(v any, empty []string, extra map[string]json.RawMessage) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || (len(empty) == 0 && len(extra) == 0) {
		return b, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for _, k := range empty {
		if _, ok := m[k]; !ok {
			m[k] = json.RawMessage(`""`)
		}
	}
	for k, v := range extra {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

package model

import (
	"encoding/json"
	"fmt"
)

// maxExtraBytes bounds the fields kordon keeps but does not model (a
// gateway's routing configuration): a gateway is an identity to kordon.
const maxExtraBytes = 64 << 10

func (v *validator) text(p, field, s string, max int, multiline bool) {
	if s == "" {
		return
	}
	if err := CheckText(s, max, multiline); err != nil {
		v.fail(p, field, "%v", err)
	}
}

// CheckMeta checks the free text of an object kept outside the
// configuration (a project, say) as an object's is checked.
func CheckMeta(path string, m *Meta) Errors {
	v := &validator{}
	v.meta(path, m)
	return v.errs
}

// meta checks the fields every object carries.
func (v *validator) meta(p string, m *Meta) {
	v.text(p, "display_name", m.DisplayName, MaxDisplayName, false)
	v.text(p, "description", m.Description, MaxDescription, true)
	if len(m.Tags) > MaxTags {
		v.fail(p, "tags", "%d tags; at most %d", len(m.Tags), MaxTags)
	}
	for i, t := range m.Tags {
		v.text(p, fmt.Sprintf("tags[%d].scope", i), t.Scope, MaxTagScope, false)
		v.text(p, fmt.Sprintf("tags[%d].tag", i), t.Tag, MaxTagValue, false)
	}
}

func (v *validator) policyText(p string, pol *Policy) {
	v.text(p, "comments", pol.Comments, MaxComments, true)
	v.text(p, "lock_modified_by", pol.LockModifiedBy, MaxTextField, false)
}

func (v *validator) extra(p string, extra map[string]json.RawMessage) {
	n := 0
	for k, raw := range extra {
		n += len(k) + len(raw)
	}
	if n > maxExtraBytes {
		v.fail(p, "", "%d bytes of fields kordon does not model; at most %d", n, maxExtraBytes)
	}
}

// Each calls fn for every object of the configuration, in no order.
func (c *Config) Each(fn func(path string, o Object)) {
	for p, o := range c.Domains {
		fn(p, o)
	}
	for p, o := range c.Groups {
		fn(p, o)
	}
	for p, o := range c.Services {
		fn(p, o)
	}
	for p, o := range c.SecurityPolicies {
		fn(p, o)
	}
	for p, o := range c.GatewayPolicies {
		fn(p, o)
	}
	for p, o := range c.Rules {
		fn(p, o)
	}
	for p, o := range c.Tier0s {
		fn(p, o)
	}
	for p, o := range c.Tier1s {
		fn(p, o)
	}
}

package inventory

import (
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"unicode/utf8"
)

// Limits on what one inventory object may hold. Kubernetes' own are
// smaller (names of 253 bytes, label values of 63); these only keep a
// hostile adapter from sending objects no cluster has.
const (
	maxLabels      = 256
	maxLabelKey    = 317 // a 253-byte prefix, '/', a 63-byte name
	maxLabelValue  = 63
	maxTextBytes   = 1024
	maxListEntries = 4096
)

var (
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
)

// Validate checks an object as it comes from a cluster: names as
// Kubernetes allows them, labels within Kubernetes' limits, every text
// field short and free of control characters, every address a plain IPv4
// or IPv6 address (no zones; IPv4-mapped IPv6 refused, as it would widen
// to IPv4), ranges in order, lists bounded. Objects kordon does not
// take from clusters (VMs) are refused.
func Validate(o Object) error {
	if o.Kind() == KindVirtualMachine {
		return fmt.Errorf("%s objects come from enforcement agents, not from clusters", KindVirtualMachine)
	}
	m := o.GetMeta()
	if !dnsSubdomain.MatchString(m.Name) {
		return fmt.Errorf("name %q is not a Kubernetes object name (lower-case letters, digits, '-' and '.', at most 253)", m.Name)
	}
	if o.Kind().Namespaced() && !dnsLabel.MatchString(m.Namespace) {
		return fmt.Errorf("namespace %q is not a Kubernetes namespace name", m.Namespace)
	}
	if !o.Kind().Namespaced() && m.Namespace != "" {
		return fmt.Errorf("a %s has no namespace, got %q", o.Kind(), m.Namespace)
	}
	if len(m.Labels) > maxLabels {
		return fmt.Errorf("%d labels; at most %d", len(m.Labels), maxLabels)
	}
	for k, v := range m.Labels {
		if k == "" || len(k) > maxLabelKey || !printable(k) {
			return fmt.Errorf("label key %q is not a Kubernetes label key", k)
		}
		if len(v) > maxLabelValue || !printable(v) {
			return fmt.Errorf("label %s: value %q is not a Kubernetes label value", k, v)
		}
	}
	return walk(reflect.ValueOf(o).Elem(), "")
}

// walk checks every string, address, prefix and list of a value.
func walk(v reflect.Value, field string) error {
	switch x := v.Interface().(type) {
	case netip.Addr:
		return checkAddr(field, x)
	case netip.Prefix:
		if x.IsValid() {
			return checkAddr(field, x.Addr())
		}
		return nil
	case IPRange:
		if x.Start.IsValid() != x.End.IsValid() || x.Start.IsValid() && (x.Start.Is4() != x.End.Is4() || x.End.Less(x.Start)) {
			return fmt.Errorf("%s: range %s-%s is not from a start to a later end of one family", field, x.Start, x.End)
		}
	}
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); len(s) > maxTextBytes || !printable(s) {
			return fmt.Errorf("%s: %q is not short printable text", field, trunc(s))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			return walk(v.Elem(), field)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range v.NumField() {
			if !t.Field(i).IsExported() {
				continue
			}
			if err := walk(v.Field(i), join(field, t.Field(i).Name)); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Len() > maxListEntries {
			return fmt.Errorf("%s: %d entries; at most %d", field, v.Len(), maxListEntries)
		}
		for i := range v.Len() {
			if err := walk(v.Index(i), fmt.Sprintf("%s[%d]", field, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if v.Len() > maxListEntries {
			return fmt.Errorf("%s: %d entries; at most %d", field, v.Len(), maxListEntries)
		}
		it := v.MapRange()
		for it.Next() {
			if err := walk(it.Key(), field+" key"); err != nil {
				return err
			}
			if err := walk(it.Value(), field); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkAddr(field string, a netip.Addr) error {
	switch {
	case !a.IsValid():
		return nil // absent
	case a.Is4In6():
		return fmt.Errorf("%s: %s is an IPv4-mapped IPv6 address", field, a)
	case a.Zone() != "":
		return fmt.Errorf("%s: %s has a zone", field, a)
	}
	return nil
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// printable: valid UTF-8 without control or bidirectional formatting
// characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f {
			return false
		}
	}
	return true
}

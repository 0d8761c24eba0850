package model

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Service is a named set of service entries (protocols and ports).
type Service struct {
	Meta
	ServiceEntries ServiceEntryList `json:"service_entries,omitempty"`
	ServiceType    string           `json:"service_type,omitempty"`
	IsDefault      bool             `json:"is_default,omitempty"`
	Children       ChildList        `json:"children,omitempty"`
}

// Kind implements Object.
func (*Service) Kind() Kind { return KindService }

// UnmarshalJSON decodes strictly.
func (s *Service) UnmarshalJSON(b []byte) error {
	type plain Service
	_, empty, err := unmarshalObject(b, (*plain)(s), false, metaText)
	s.EmptyText = empty
	return err
}

// MarshalJSON writes the empty text fields the service was given.
func (s Service) MarshalJSON() ([]byte, error) {
	type plain Service
	return marshalObject(plain(s), s.EmptyText, nil)
}

// ServiceEntry is one element of a service or of a rule's service_entries.
type ServiceEntry interface {
	EntryType() string
	EntryMeta() *Meta
}

// L4PortSetServiceEntry matches TCP or UDP by source and destination ports.
// An empty port list matches any port.
type L4PortSetServiceEntry struct {
	Meta
	L4Protocol       string   `json:"l4_protocol,omitempty"`
	SourcePorts      PortList `json:"source_ports,omitempty"`
	DestinationPorts PortList `json:"destination_ports,omitempty"`
}

// ICMPTypeServiceEntry matches ICMPv4 or ICMPv6 by type and code; absent
// type or code matches any.
type ICMPTypeServiceEntry struct {
	Meta
	Protocol string `json:"protocol,omitempty"`
	ICMPType *int   `json:"icmp_type,omitempty"`
	ICMPCode *int   `json:"icmp_code,omitempty"`
}

// IPProtocolServiceEntry matches an IP protocol number.
type IPProtocolServiceEntry struct {
	Meta
	ProtocolNumber *int `json:"protocol_number,omitempty"`
}

// IGMPTypeServiceEntry matches IGMP (IP protocol 2).
type IGMPTypeServiceEntry struct {
	Meta
}

// NestedServiceServiceEntry includes another service.
type NestedServiceServiceEntry struct {
	Meta
	NestedServicePath string `json:"nested_service_path,omitempty"`
}

// UnsupportedServiceEntry keeps an entry type kordon cannot enforce
// (EtherType at layer 2, ALG) so validation can name it.
type UnsupportedServiceEntry struct {
	Meta
	Type string          `json:"-"`
	Raw  json.RawMessage `json:"-"`
}

// EntryType implements ServiceEntry.
func (*L4PortSetServiceEntry) EntryType() string { return "L4PortSetServiceEntry" }

// EntryType implements ServiceEntry.
func (*ICMPTypeServiceEntry) EntryType() string { return "ICMPTypeServiceEntry" }

// EntryType implements ServiceEntry.
func (*IPProtocolServiceEntry) EntryType() string { return "IPProtocolServiceEntry" }

// EntryType implements ServiceEntry.
func (*IGMPTypeServiceEntry) EntryType() string { return "IGMPTypeServiceEntry" }

// EntryType implements ServiceEntry.
func (*NestedServiceServiceEntry) EntryType() string { return "NestedServiceServiceEntry" }

// EntryType implements ServiceEntry.
func (u *UnsupportedServiceEntry) EntryType() string { return u.Type }

// EntryMeta implements ServiceEntry.
func (e *L4PortSetServiceEntry) EntryMeta() *Meta { return &e.Meta }

// EntryMeta implements ServiceEntry.
func (e *ICMPTypeServiceEntry) EntryMeta() *Meta { return &e.Meta }

// EntryMeta implements ServiceEntry.
func (e *IPProtocolServiceEntry) EntryMeta() *Meta { return &e.Meta }

// EntryMeta implements ServiceEntry.
func (e *IGMPTypeServiceEntry) EntryMeta() *Meta { return &e.Meta }

// EntryMeta implements ServiceEntry.
func (e *NestedServiceServiceEntry) EntryMeta() *Meta { return &e.Meta }

// EntryMeta implements ServiceEntry.
func (u *UnsupportedServiceEntry) EntryMeta() *Meta { return &u.Meta }

// MarshalJSON writes the entry as it was given.
func (u *UnsupportedServiceEntry) MarshalJSON() ([]byte, error) { return u.Raw, nil }

var unsupportedEntryTypes = map[string]bool{
	"EtherTypeServiceEntry": true,
	"ALGTypeServiceEntry":   true,
}

// ServiceEntryList is a polymorphic list discriminated by resource_type.
type ServiceEntryList []ServiceEntry

// UnmarshalJSON decodes each element by its resource_type, strictly.
func (l *ServiceEntryList) UnmarshalJSON(b []byte) error {
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return humanize(err)
	}
	out := make(ServiceEntryList, 0, len(raws))
	var errs Errors
	for i, raw := range raws {
		e, err := decodeServiceEntry(raw)
		if err != nil {
			errs = append(errs, prefixErrors(fmt.Sprintf("[%d]", i), err)...)
			continue
		}
		out = append(out, e)
	}
	*l = out
	return errs.orNil()
}

func decodeServiceEntry(raw json.RawMessage) (ServiceEntry, error) {
	rt, err := resourceType(raw)
	if err != nil {
		return nil, err
	}
	var e ServiceEntry
	switch rt {
	case "L4PortSetServiceEntry":
		e = &L4PortSetServiceEntry{}
	case "ICMPTypeServiceEntry":
		e = &ICMPTypeServiceEntry{}
	case "IPProtocolServiceEntry":
		e = &IPProtocolServiceEntry{}
	case "IGMPTypeServiceEntry":
		e = &IGMPTypeServiceEntry{}
	case "NestedServiceServiceEntry":
		e = &NestedServiceServiceEntry{}
	case "":
		return nil, Errors{{Field: "resource_type", Reason: "missing: a service entry needs resource_type (L4PortSetServiceEntry, ICMPTypeServiceEntry, IPProtocolServiceEntry, IGMPTypeServiceEntry or NestedServiceServiceEntry)"}}
	default:
		if unsupportedEntryTypes[rt] {
			u := &UnsupportedServiceEntry{Type: rt, Raw: append(json.RawMessage(nil), raw...)}
			if _, err := unmarshalLenient(raw, &u.Meta); err != nil {
				return nil, err
			}
			return u, nil
		}
		return nil, Errors{{Field: "resource_type", Reason: fmt.Sprintf("unknown service entry type %q", rt)}}
	}
	if err := unmarshalStrict(raw, e); err != nil {
		return nil, err
	}
	e.EntryMeta().ResourceType = rt
	return e, nil
}

// MarshalJSON writes each element with its resource_type.
func (l ServiceEntryList) MarshalJSON() ([]byte, error) {
	out := make([]json.RawMessage, 0, len(l))
	for _, e := range l {
		if u, ok := e.(*UnsupportedServiceEntry); ok {
			out = append(out, u.Raw)
			continue
		}
		b, err := marshalTyped(e.EntryType(), e)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return json.Marshal(out)
}

// PortList is a list of ports or port ranges ("80", "8000-8080"). NSX
// sends strings; YAML authors often write bare numbers, which are
// accepted too.
type PortList []string

// UnmarshalJSON accepts strings and integers.
func (p *PortList) UnmarshalJSON(b []byte) error {
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return humanize(err)
	}
	out := make(PortList, 0, len(raws))
	var errs Errors
	for i, raw := range raws {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			out = append(out, s)
			continue
		}
		var n json.Number
		if err := json.Unmarshal(raw, &n); err == nil {
			if _, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
				out = append(out, n.String())
				continue
			}
		}
		errs = append(errs, Error{Field: fmt.Sprintf("[%d]", i), Reason: "expected a port or port range such as \"443\" or \"8000-8080\", got " + string(raw)})
	}
	*p = out
	return errs.orNil()
}

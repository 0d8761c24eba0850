package model

import (
	"strconv"
	"testing"
)

func TestPredefinedServices(t *testing.T) {
	port := func(proto, p string) string { return proto + "/" + p }
	icmp := func(proto string, typ int) string {
		if typ < 0 {
			return proto + "/any"
		}
		return proto + "/" + strconv.Itoa(typ)
	}
	want := map[string]string{
		"HTTP":                port("TCP", "80"),
		"HTTPS":               port("TCP", "443"),
		"SSH":                 port("TCP", "22"),
		"DNS":                 port("TCP", "53"),
		"DNS-UDP":             port("UDP", "53"),
		"NTP":                 port("UDP", "123"),
		"SMTP":                port("TCP", "25"),
		"RDP":                 port("TCP", "3389"),
		"MySQL":               port("TCP", "3306"),
		"LDAP":                port("TCP", "389"),
		"LDAP-over-SSL":       port("TCP", "636"),
		"ICMP-ALL":            icmp("ICMPv4", -1),
		"ICMPv6-ALL":          icmp("ICMPv6", -1),
		"ICMP_Echo_Request":   icmp("ICMPv4", 8),
		"ICMP_Echo_Reply":     icmp("ICMPv4", 0),
		"ICMPv6_Echo_Request": icmp("ICMPv6", 128),
		"ICMPv6_Echo_Reply":   icmp("ICMPv6", 129),
	}
	paths := PredefinedServices()
	if len(paths) != len(want) {
		t.Errorf("%d predefined services, want %d: %q", len(paths), len(want), paths)
	}
	for i := 1; i < len(paths); i++ {
		if paths[i-1] >= paths[i] {
			t.Errorf("PredefinedServices not sorted: %q", paths)
		}
	}
	c := NewConfig()
	for id, entry := range want {
		t.Run(id, func(t *testing.T) {
			p := "/infra/services/" + id
			if !IsPredefinedService(p) {
				t.Fatalf("IsPredefinedService(%q) = false", p)
			}
			s, ok := c.Service(p)
			if !ok {
				t.Fatalf("Config.Service(%q) not found", p)
			}
			if o, ok := c.Object(p); !ok || o != Object(s) {
				t.Errorf("Config.Object(%q) = %v, %v", p, o, ok)
			}
			if _, ok := c.Services[p]; ok {
				t.Errorf("predefined service stored in Config.Services")
			}
			if s.ID != id || s.Path != p || s.ParentPath != "/infra" || s.ResourceType != "Service" || !s.IsDefault || !s.SystemOwned || s.DisplayName != id {
				t.Errorf("service meta %+v", s.Meta)
			}
			if len(s.ServiceEntries) != 1 {
				t.Fatalf("%d entries", len(s.ServiceEntries))
			}
			var got string
			switch e := s.ServiceEntries[0].(type) {
			case *L4PortSetServiceEntry:
				if len(e.DestinationPorts) != 1 || len(e.SourcePorts) != 0 {
					t.Errorf("ports %q / %q", e.DestinationPorts, e.SourcePorts)
				}
				got = port(e.L4Protocol, e.DestinationPorts[0])
			case *ICMPTypeServiceEntry:
				typ := -1
				if e.ICMPType != nil {
					typ = *e.ICMPType
				}
				if e.ICMPCode != nil {
					t.Errorf("icmp_code set")
				}
				got = icmp(e.Protocol, typ)
			default:
				t.Fatalf("entry %T", e)
			}
			if got != entry {
				t.Errorf("entry %s, want %s", got, entry)
			}
			m := s.ServiceEntries[0].EntryMeta()
			if m.ID != id || m.Path != p+"/service-entries/"+id || m.ParentPath != p || m.ResourceType != s.ServiceEntries[0].EntryType() {
				t.Errorf("entry meta %+v", m)
			}
		})
	}
	for _, p := range []string{"/infra/services/http", "/infra/services/HTTP/", "/orgs/default/projects/dev/infra/services/HTTP", "/infra/services/Kerberos"} {
		if IsPredefinedService(p) {
			t.Errorf("IsPredefinedService(%q) = true", p)
		}
	}
	// Predefined services validate cleanly, too.
	var v validator
	v.cfg = c
	for _, p := range paths {
		v.service("/infra/services/x", predefinedServices[p])
	}
	if len(v.errs) != 0 {
		t.Errorf("predefined services do not validate: %v", v.errs)
	}
}

func TestRulesUsePredefinedServices(t *testing.T) {
	services := PredefinedServices()
	c := configOf(t, `{"resource_type":"SecurityPolicy","id":"p","rules":[{"id":"r","services":`+jsonList(services...)+`,
		"service_entries":[{"resource_type":"NestedServiceServiceEntry","id":"n","nested_service_path":"/infra/services/DNS-UDP"}]}]}`,
		`{"resource_type":"Service","id":"web-and-ssh","service_entries":[
			{"resource_type":"NestedServiceServiceEntry","id":"a","nested_service_path":"/infra/services/HTTPS"},
			{"resource_type":"NestedServiceServiceEntry","id":"b","nested_service_path":"/infra/services/SSH"}]}`)
	if errs := c.Validate(); len(errs) != 0 {
		t.Fatalf("Validate: %v", errs)
	}
	if len(c.Services) != 1 {
		t.Errorf("Config.Services holds %d services, want only the declared one", len(c.Services))
	}
}

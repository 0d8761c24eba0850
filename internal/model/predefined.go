package model

// predefinedServices are the services NSX ships, at the same paths, so
// documents written for NSX can reference them without declaring them.
var predefinedServices = map[string]*Service{}

func init() {
	l4 := func(proto string, ports ...string) ServiceEntry {
		return &L4PortSetServiceEntry{L4Protocol: proto, DestinationPorts: ports}
	}
	icmp := func(proto string, typ *int) ServiceEntry {
		return &ICMPTypeServiceEntry{Protocol: proto, ICMPType: typ}
	}
	n := func(v int) *int { return &v }
	for id, entries := range map[string][]ServiceEntry{
		"HTTP":                {l4("TCP", "80")},
		"HTTPS":               {l4("TCP", "443")},
		"SSH":                 {l4("TCP", "22")},
		"DNS":                 {l4("TCP", "53")},
		"DNS-UDP":             {l4("UDP", "53")},
		"NTP":                 {l4("UDP", "123")},
		"SMTP":                {l4("TCP", "25")},
		"RDP":                 {l4("TCP", "3389")},
		"MySQL":               {l4("TCP", "3306")},
		"LDAP":                {l4("TCP", "389")},
		"LDAP-over-SSL":       {l4("TCP", "636")},
		"ICMP-ALL":            {icmp("ICMPv4", nil)},
		"ICMPv6-ALL":          {icmp("ICMPv6", nil)},
		"ICMP_Echo_Request":   {icmp("ICMPv4", n(8))},
		"ICMP_Echo_Reply":     {icmp("ICMPv4", n(0))},
		"ICMPv6_Echo_Request": {icmp("ICMPv6", n(128))},
		"ICMPv6_Echo_Reply":   {icmp("ICMPv6", n(129))},
	} {
		s := &Service{ServiceEntries: entries, IsDefault: true}
		ref := Ref{Kind: KindService, ID: id}
		s.ID, s.DisplayName, s.SystemOwned = id, id, true
		stamp(&s.Meta, KindService, ref)
		for i, e := range entries {
			m := e.EntryMeta()
			m.ResourceType = e.EntryType()
			m.ID = id
			if len(entries) > 1 {
				m.ID = id + "-" + string(rune('a'+i))
			}
			m.DisplayName = m.ID
			m.Path = s.Path + "/service-entries/" + m.ID
			m.ParentPath = s.Path
		}
		predefinedServices[s.Path] = s
	}
}

// PredefinedServices returns the paths of the services NSX ships, sorted.
func PredefinedServices() []string { return sortedKeys(predefinedServices) }

// IsPredefinedService reports whether path names a service NSX ships.
func IsPredefinedService(path string) bool {
	_, ok := predefinedServices[path]
	return ok
}

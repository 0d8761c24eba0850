package address

import (
	"fmt"
	"strconv"
	"strings"
)

// Proto is an IP protocol number.
type Proto uint8

// The protocols kordon names.
const (
	ICMP   Proto = 1
	IGMP   Proto = 2
	TCP    Proto = 6
	UDP    Proto = 17
	ICMPv6 Proto = 58
	SCTP   Proto = 132
)

var protoNames = map[Proto]string{ICMP: "ICMP", IGMP: "IGMP", TCP: "TCP", UDP: "UDP", ICMPv6: "ICMPv6", SCTP: "SCTP"}

func (p Proto) String() string {
	if n, ok := protoNames[p]; ok {
		return n
	}
	return strconv.Itoa(int(p))
}

// HasPorts reports whether flows of this protocol carry ports.
func (p Proto) HasPorts() bool { return p == TCP || p == UDP || p == SCTP }

// ParseProto parses a protocol name (TCP, UDP, SCTP, ICMP, ICMPv4,
// ICMPv6, IGMP; any case) or number.
func ParseProto(s string) (Proto, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "TCP":
		return TCP, nil
	case "UDP":
		return UDP, nil
	case "SCTP":
		return SCTP, nil
	case "ICMP", "ICMPV4":
		return ICMP, nil
	case "ICMPV6", "IPV6-ICMP":
		return ICMPv6, nil
	case "IGMP":
		return IGMP, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 8)
	if err != nil {
		return 0, fmt.Errorf("unknown protocol %q (use TCP, UDP, SCTP, ICMPv4, ICMPv6 or a number 0-255)", s)
	}
	return Proto(n), nil
}

// PortRange is an inclusive range of ports.
type PortRange struct{ From, To uint16 }

// Contains reports whether p is in the range.
func (r PortRange) Contains(p uint16) bool { return r.From <= p && p <= r.To }

func (r PortRange) String() string {
	if r.From == r.To {
		return strconv.Itoa(int(r.From))
	}
	return fmt.Sprintf("%d-%d", r.From, r.To)
}

// AllPorts is the range every port is in.
var AllPorts = PortRange{0, 65535}

// ParsePortRange parses "443" or "8000-8080" (ports 1 to 65535, as NSX
// accepts them).
func ParsePortRange(s string) (PortRange, error) {
	s = strings.TrimSpace(s)
	from, to, isRange := strings.Cut(s, "-")
	a, err := parsePort(from)
	if err != nil {
		return PortRange{}, fmt.Errorf("%q: %v", s, err)
	}
	if !isRange {
		return PortRange{a, a}, nil
	}
	b, err := parsePort(to)
	if err != nil {
		return PortRange{}, fmt.Errorf("%q: %v", s, err)
	}
	if b < a {
		return PortRange{}, fmt.Errorf("%q: range ends before it starts", s)
	}
	return PortRange{a, b}, nil
}

func parsePort(s string) (uint16, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || s == "" {
		return 0, fmt.Errorf("not a port number")
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %d out of range 1-65535", n)
	}
	return uint16(n), nil
}

// MaxPortValues is NSX's limit on a source or destination port list: 15
// values, where a range counts as two.
const MaxPortValues = 15

// ParsePortList parses an NSX port list. An empty list means any port and
// returns nil.
func ParsePortList(list []string) ([]PortRange, error) {
	var out []PortRange
	weight := 0
	for _, s := range list {
		r, err := ParsePortRange(s)
		if err != nil {
			return nil, err
		}
		if r.From == r.To {
			weight++
		} else {
			weight += 2
		}
		out = append(out, r)
	}
	if weight > MaxPortValues {
		return nil, fmt.Errorf("%d port values (a range counts as 2); NSX allows at most %d", weight, MaxPortValues)
	}
	return out, nil
}

// MarshalText writes the protocol's name.
func (p Proto) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses a protocol name or number.
func (p *Proto) UnmarshalText(b []byte) error {
	v, err := ParseProto(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

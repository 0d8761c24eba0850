package address

import (
	"fmt"
	"net/netip"
	"strings"

	"go4.org/netipx"
)

// ParseRange parses an IPv4 or IPv6 address, CIDR or "first-last" range,
// as NSX accepts them in groups and rules. Zones are refused: a firewall
// address never has one. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are
// refused too: read as IPv4 they would change the meaning of a prefix
// (::ffff:0.0.0.0/96 is all of IPv4), read as IPv6 they match no packet.
func ParseRange(s string) (netipx.IPRange, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netipx.IPRange{}, fmt.Errorf("empty address")
	}
	if strings.Contains(s, "%") {
		return netipx.IPRange{}, fmt.Errorf("%q: addresses with a zone are not allowed", s)
	}
	if from, to, ok := strings.Cut(s, "-"); ok {
		a, err := netip.ParseAddr(strings.TrimSpace(from))
		if err != nil {
			return netipx.IPRange{}, fmt.Errorf("%q: invalid range start: %v", s, cause(err))
		}
		b, err := netip.ParseAddr(strings.TrimSpace(to))
		if err != nil {
			return netipx.IPRange{}, fmt.Errorf("%q: invalid range end: %v", s, cause(err))
		}
		if a.Is4In6() || b.Is4In6() {
			return netipx.IPRange{}, mapped(s)
		}
		if a.Is4() != b.Is4() {
			return netipx.IPRange{}, fmt.Errorf("%q: range mixes IPv4 and IPv6", s)
		}
		if b.Less(a) {
			return netipx.IPRange{}, fmt.Errorf("%q: range ends before it starts", s)
		}
		return netipx.IPRangeFrom(a, b), nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netipx.IPRange{}, fmt.Errorf("%q: invalid CIDR: %v", s, cause(err))
		}
		if p.Addr().Is4In6() {
			return netipx.IPRange{}, mapped(s)
		}
		return netipx.RangeOfPrefix(p.Masked()), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netipx.IPRange{}, fmt.Errorf("%q: not an IP address, CIDR or range: %v", s, cause(err))
	}
	if a.Is4In6() {
		return netipx.IPRange{}, mapped(s)
	}
	return netipx.IPRangeFrom(a, a), nil
}

func mapped(s string) error {
	return fmt.Errorf("%q: IPv4-mapped IPv6 addresses are not accepted; write the IPv4 address or prefix", s)
}

func cause(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// FormatRange prints a range the way NSX does: a single address, a CIDR
// when the range is exactly one prefix, otherwise "first-last".
func FormatRange(r netipx.IPRange) string {
	if r.From() == r.To() {
		return r.From().String()
	}
	if p, ok := r.Prefix(); ok {
		return p.String()
	}
	return r.From().String() + "-" + r.To().String()
}

// Single returns the range holding only a.
func Single(a netip.Addr) netipx.IPRange { return netipx.IPRangeFrom(a, a) }

// Merge returns the smallest sorted list of non-overlapping ranges that
// covers the given ones, split by address family (IPv4 first).
func Merge(ranges []netipx.IPRange) []netipx.IPRange {
	var b netipx.IPSetBuilder
	for _, r := range ranges {
		b.AddRange(r)
	}
	s, _ := b.IPSet()
	return s.Ranges()
}

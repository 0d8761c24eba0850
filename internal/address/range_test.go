package address

import (
	"net/netip"
	"strings"
	"testing"

	"go4.org/netipx"
)

// rng builds a range from two address literals.
func rng(from, to string) netipx.IPRange {
	return netipx.IPRangeFrom(netip.MustParseAddr(from), netip.MustParseAddr(to))
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want netipx.IPRange
	}{
		{"ipv4 single", "10.0.0.1", rng("10.0.0.1", "10.0.0.1")},
		{"ipv4 single with spaces", "  10.0.0.1\t", rng("10.0.0.1", "10.0.0.1")},
		{"ipv4 zero address", "0.0.0.0", rng("0.0.0.0", "0.0.0.0")},
		{"ipv6 single", "2001:db8::1", rng("2001:db8::1", "2001:db8::1")},
		{"ipv6 single upper case", "2001:DB8::A", rng("2001:db8::a", "2001:db8::a")},
		{"ipv6 unspecified", "::", rng("::", "::")},
		{"ipv4 cidr", "10.0.0.0/24", rng("10.0.0.0", "10.0.0.255")},
		{"ipv4 cidr with host bits", "10.0.0.77/24", rng("10.0.0.0", "10.0.0.255")},
		{"ipv4 cidr /32", "10.1.2.3/32", rng("10.1.2.3", "10.1.2.3")},
		{"ipv4 cidr /31", "10.1.2.3/31", rng("10.1.2.2", "10.1.2.3")},
		{"ipv4 cidr /0", "0.0.0.0/0", rng("0.0.0.0", "255.255.255.255")},
		{"ipv4 cidr /0 with host bits", "192.168.1.1/0", rng("0.0.0.0", "255.255.255.255")},
		{"ipv4 cidr with spaces", " 172.16.0.0/12 ", rng("172.16.0.0", "172.31.255.255")},
		{"ipv6 cidr", "2001:db8::/64", rng("2001:db8::", "2001:db8::ffff:ffff:ffff:ffff")},
		{"ipv6 cidr with host bits", "2001:db8::1234/120", rng("2001:db8::1200", "2001:db8::12ff")},
		{"ipv6 cidr /128", "2001:db8::1/128", rng("2001:db8::1", "2001:db8::1")},
		{"ipv6 cidr /0", "::/0", rng("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")},
		{"ipv4 range", "10.0.0.1-10.0.0.9", rng("10.0.0.1", "10.0.0.9")},
		{"ipv4 range with spaces", " 10.0.0.1 - 10.0.0.9 ", rng("10.0.0.1", "10.0.0.9")},
		{"ipv4 range of one", "10.0.0.5-10.0.0.5", rng("10.0.0.5", "10.0.0.5")},
		{"ipv4 range across octets", "10.0.0.250-10.0.1.5", rng("10.0.0.250", "10.0.1.5")},
		{"ipv6 range", "2001:db8::1-2001:db8::ff", rng("2001:db8::1", "2001:db8::ff")},
		{"ipv6 range with spaces", "2001:db8::1 -\t2001:db8::ff", rng("2001:db8::1", "2001:db8::ff")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRange(tt.in)
			if err != nil {
				t.Fatalf("ParseRange(%q): unexpected error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseRange(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if !got.IsValid() {
				t.Errorf("ParseRange(%q) = %v is not a valid range", tt.in, got)
			}
		})
	}
}

func TestParseRangeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		// wantErr is the exact message, or its beginning when it ends in
		// ": " (the rest is net/netip's reason, which varies by Go version).
		wantErr string
	}{
		{"empty", "", "empty address"},
		{"only spaces", " \t ", "empty address"},
		{"zone on address", "fe80::1%eth0", `"fe80::1%eth0": addresses with a zone are not allowed`},
		{"zone on cidr", "fe80::1%eth0/64", `"fe80::1%eth0/64": addresses with a zone are not allowed`},
		{"zone in range", "fe80::1%eth0-fe80::9", `"fe80::1%eth0-fe80::9": addresses with a zone are not allowed`},
		{"reversed ipv4 range", "10.0.0.9-10.0.0.1", `"10.0.0.9-10.0.0.1": range ends before it starts`},
		{"reversed ipv6 range", "2001:db8::9-2001:db8::1", `"2001:db8::9-2001:db8::1": range ends before it starts`},
		{"mixed families v4-v6", "10.0.0.1-2001:db8::1", `"10.0.0.1-2001:db8::1": range mixes IPv4 and IPv6`},
		{"mixed families v6-v4", "::1-10.0.0.1", `"::1-10.0.0.1": range mixes IPv4 and IPv6`},
		{"range without end", "10.0.0.1-", `"10.0.0.1-": invalid range end: `},
		{"range without start", "-10.0.0.1", `"-10.0.0.1": invalid range start: `},
		{"range of three", "10.0.0.1-10.0.0.2-10.0.0.3", `"10.0.0.1-10.0.0.2-10.0.0.3": invalid range end: `},
		{"range of cidrs", "10.0.0.0/24-10.0.1.0/24", `"10.0.0.0/24-10.0.1.0/24": invalid range start: `},
		{"cidr prefix too long v4", "10.0.0.0/33", `"10.0.0.0/33": invalid CIDR: `},
		{"cidr prefix too long v6", "2001:db8::/129", `"2001:db8::/129": invalid CIDR: `},
		{"cidr without bits", "10.0.0.0/", `"10.0.0.0/": invalid CIDR: `},
		{"cidr with two slashes", "10.0.0.0/8/8", `"10.0.0.0/8/8": invalid CIDR: `},
		{"ipv4-mapped cidr shorter than /96", "::ffff:0.0.0.0/90", `"::ffff:0.0.0.0/90": IPv4-mapped IPv6 addresses are not accepted; write the IPv4 address or prefix`},
		{"ipv4-mapped single", "::ffff:10.0.0.1", `"::ffff:10.0.0.1": IPv4-mapped IPv6 addresses are not accepted; write the IPv4 address or prefix`},
		{"ipv4-mapped cidr /96 would be all of ipv4", "::ffff:0.0.0.0/96", `"::ffff:0.0.0.0/96": IPv4-mapped IPv6 addresses are not accepted; write the IPv4 address or prefix`},
		{"ipv4-mapped cidr", "::ffff:10.0.0.0/120", `"::ffff:10.0.0.0/120": IPv4-mapped IPv6 addresses are not accepted; write the IPv4 address or prefix`},
		{"ipv4-mapped range", "::ffff:10.0.0.1-::ffff:10.0.0.9", `"::ffff:10.0.0.1-::ffff:10.0.0.9": IPv4-mapped IPv6 addresses are not accepted; write the IPv4 address or prefix`},
		{"ipv4-mapped start with ipv4 end", "::ffff:10.0.0.1-10.0.0.9", `"::ffff:10.0.0.1-10.0.0.9": IPv4-mapped IPv6 addresses are not accepted; write the IPv4 address or prefix`},
		{"ipv4 start with ipv4-mapped end", "10.0.0.1-::ffff:10.0.0.9", `"10.0.0.1-::ffff:10.0.0.9": IPv4-mapped IPv6 addresses are not accepted; write the IPv4 address or prefix`},
		{"octet too large", "10.0.0.256", `"10.0.0.256": not an IP address, CIDR or range: `},
		{"leading zero", "010.0.0.1", `"010.0.0.1": not an IP address, CIDR or range: `},
		{"word", "hello", `"hello": not an IP address, CIDR or range: `},
		{"comma list", "10.0.0.1,10.0.0.2", `"10.0.0.1,10.0.0.2": not an IP address, CIDR or range: `},
		{"bracketed ipv6", "[2001:db8::1]", `"[2001:db8::1]": not an IP address, CIDR or range: `},
		{"address with port", "10.0.0.1:80", `"10.0.0.1:80": not an IP address, CIDR or range: `},
		{"truncated ipv4", "10.0.0", `"10.0.0": not an IP address, CIDR or range: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRange(tt.in)
			if err == nil {
				t.Fatalf("ParseRange(%q) = %v, want error %q", tt.in, got, tt.wantErr)
			}
			if prefix, ok := strings.CutSuffix(tt.wantErr, ": "); ok {
				if !strings.HasPrefix(err.Error(), tt.wantErr) || len(err.Error()) == len(tt.wantErr) {
					t.Errorf("ParseRange(%q) error = %q, want %q followed by a reason", tt.in, err, prefix)
				}
			} else if err.Error() != tt.wantErr {
				t.Errorf("ParseRange(%q) error = %q, want %q", tt.in, err, tt.wantErr)
			}
			if got != (netipx.IPRange{}) {
				t.Errorf("ParseRange(%q) returned %v with the error, want the zero range", tt.in, got)
			}
		})
	}
}

func TestFormatRange(t *testing.T) {
	tests := []struct {
		name string
		in   netipx.IPRange
		want string
	}{
		{"ipv4 single", rng("10.0.0.1", "10.0.0.1"), "10.0.0.1"},
		{"ipv6 single", rng("2001:db8::1", "2001:db8::1"), "2001:db8::1"},
		{"ipv4 /24", rng("10.0.0.0", "10.0.0.255"), "10.0.0.0/24"},
		{"ipv4 /23", rng("10.0.0.0", "10.0.1.255"), "10.0.0.0/23"},
		{"ipv4 /31", rng("10.0.0.0", "10.0.0.1"), "10.0.0.0/31"},
		{"ipv4 all", rng("0.0.0.0", "255.255.255.255"), "0.0.0.0/0"},
		{"ipv4 unaligned pair", rng("10.0.0.1", "10.0.0.2"), "10.0.0.1-10.0.0.2"},
		{"ipv4 prefix minus one address", rng("10.0.0.1", "10.0.0.255"), "10.0.0.1-10.0.0.255"},
		{"ipv4 three /24s", rng("10.0.0.0", "10.0.2.255"), "10.0.0.0-10.0.2.255"},
		{"ipv6 /120", rng("2001:db8::", "2001:db8::ff"), "2001:db8::/120"},
		{"ipv6 /64", rng("2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"), "2001:db8::/64"},
		{"ipv6 all", rng("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "::/0"},
		{"ipv6 range", rng("2001:db8::1", "2001:db8::ff"), "2001:db8::1-2001:db8::ff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FormatRange(tt.in)
			if got != tt.want {
				t.Errorf("FormatRange(%v) = %q, want %q", tt.in, got, tt.want)
			}
			back, err := ParseRange(got)
			if err != nil || back != tt.in {
				t.Errorf("ParseRange(FormatRange(%v)) = %v, %v; want the range back", tt.in, back, err)
			}
		})
	}
}

func TestSingle(t *testing.T) {
	for _, s := range []string{"10.0.0.1", "2001:db8::1"} {
		t.Run(s, func(t *testing.T) {
			a := netip.MustParseAddr(s)
			r := Single(a)
			if r.From() != a || r.To() != a {
				t.Errorf("Single(%s) = %v, want %s-%s", a, r, a, a)
			}
			if got := FormatRange(r); got != s {
				t.Errorf("FormatRange(Single(%s)) = %q, want %q", a, got, s)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name string
		in   []string // ParseRange syntax
		want []string // FormatRange syntax
	}{
		{"nothing", nil, nil},
		{"one range", []string{"10.0.0.1"}, []string{"10.0.0.1"}},
		{"duplicates", []string{"10.0.0.1", "10.0.0.1"}, []string{"10.0.0.1"}},
		{"overlap", []string{"10.0.0.0/24", "10.0.0.128-10.0.1.10"}, []string{"10.0.0.0-10.0.1.10"}},
		{"contained", []string{"10.0.0.0/16", "10.0.5.0/24", "10.0.9.9"}, []string{"10.0.0.0/16"}},
		{"adjacent ranges join", []string{"10.0.0.0-10.0.0.9", "10.0.0.10-10.0.0.20"}, []string{"10.0.0.0-10.0.0.20"}},
		{"adjacent addresses join into a prefix", []string{"10.0.0.1", "10.0.0.0", "10.0.0.3", "10.0.0.2"}, []string{"10.0.0.0/30"}},
		{"adjacent cidrs join", []string{"10.0.1.0/24", "10.0.0.0/24"}, []string{"10.0.0.0/23"}},
		{"gap of one address stays split", []string{"10.0.0.0-10.0.0.9", "10.0.0.11-10.0.0.20"}, []string{"10.0.0.0-10.0.0.9", "10.0.0.11-10.0.0.20"}},
		{"sorted", []string{"10.0.0.9", "10.0.0.1", "10.0.0.5"}, []string{"10.0.0.1", "10.0.0.5", "10.0.0.9"}},
		{"ipv6 overlap", []string{"2001:db8::/120", "2001:db8::80-2001:db8::1ff"}, []string{"2001:db8::/119"}},
		{"ipv6 adjacent", []string{"2001:db8::1-2001:db8::2", "2001:db8::3"}, []string{"2001:db8::1-2001:db8::3"}},
		{"families kept apart, ipv4 first", []string{"2001:db8::1", "10.0.0.2", "::", "10.0.0.1"}, []string{"10.0.0.1-10.0.0.2", "::", "2001:db8::1"}},
		{"ipv4 all and ipv6 all", []string{"::/0", "0.0.0.0/0", "10.0.0.0/8"}, []string{"0.0.0.0/0", "::/0"}},
		{"end of ipv4 space does not join ipv6", []string{"255.255.255.255", "::"}, []string{"255.255.255.255", "::"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []netipx.IPRange
			for _, s := range tt.in {
				r, err := ParseRange(s)
				if err != nil {
					t.Fatalf("ParseRange(%q): %v", s, err)
				}
				in = append(in, r)
			}
			var got []string
			for _, r := range Merge(in) {
				got = append(got, FormatRange(r))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") || len(got) != len(tt.want) {
				t.Errorf("Merge(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMergeIgnoresInvalidRanges(t *testing.T) {
	got := Merge([]netipx.IPRange{{}, rng("10.0.0.1", "10.0.0.1")})
	if len(got) != 1 || got[0] != rng("10.0.0.1", "10.0.0.1") {
		t.Errorf("Merge with a zero range = %v, want [10.0.0.1-10.0.0.1]", got)
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{
		"10.0.0.1", " 10.0.0.1 ", "2001:db8::1", "::", "0.0.0.0/0", "::/0",
		"10.0.0.0/24", "10.0.0.77/24", "2001:db8::1234/120", "10.0.0.1-10.0.0.9",
		"10.0.0.1 - 10.0.0.9", "2001:db8::1-2001:db8::ff", "10.0.0.9-10.0.0.1",
		"10.0.0.1-2001:db8::1", "::ffff:10.0.0.1", "::ffff:10.0.0.0/120",
		"::ffff:0.0.0.0/90", "::ffff:10.0.0.1-10.0.0.9", "fe80::1%eth0", "10.0.0.0/33",
		"10.0.0.1-", "-", "/", "", "hello", "1.2.3.4/0", "::ffff:1.2.3.4/128",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRange(s)
		if err != nil {
			if r != (netipx.IPRange{}) {
				t.Fatalf("ParseRange(%q) returned %v with error %v", s, r, err)
			}
			return
		}
		if !r.IsValid() {
			t.Fatalf("ParseRange(%q) = %v, not a valid range", s, r)
		}
		if r.From().Is4In6() || r.To().Is4In6() || r.From().Zone() != "" || r.To().Zone() != "" {
			t.Fatalf("ParseRange(%q) = %v, want unmapped addresses without zone", s, r)
		}
		text := FormatRange(r)
		back, err := ParseRange(text)
		if err != nil {
			t.Fatalf("ParseRange(%q) = %v, formatted as %q, which does not parse: %v", s, r, text, err)
		}
		if back != r {
			t.Fatalf("ParseRange(%q) = %v, formatted as %q, parses back as %v", s, r, text, back)
		}
		if again := FormatRange(back); again != text {
			t.Fatalf("FormatRange is not stable: %q then %q", text, again)
		}
	})
}

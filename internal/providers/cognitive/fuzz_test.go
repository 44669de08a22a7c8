package cognitive

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzParseIPRule: whatever the input, an accepted rule is a canonical
// public IPv4 address or a /0-/30 range without host bits, outside every
// refused range; a refused one has a code and a message naming the input.
func FuzzParseIPRule(f *testing.F) {
	for _, s := range []string{
		"124.56.78.91", "124.56.78.0/24", "10.0.0.1", "0.0.0.0/0", "1.2.3.4/32", "1.2.3.4/31", "::1", "::ffff:1.2.3.4",
		"fe80::1%eth0", "01.2.3.4", "1.2.3.4/024", "203.0.113.0/24", "255.255.255.255", "1.2.3.4/ 8", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		got, bad := parseIPRule(value)
		if bad != nil {
			if got != "" || bad.code == "" || !strings.Contains(bad.message, value) {
				t.Fatalf("refusal of %q: %q %+v", value, got, bad)
			}
			return
		}
		var p netip.Prefix
		if strings.Contains(got, "/") {
			var err error
			if p, err = netip.ParsePrefix(got); err != nil || p.Bits() > 30 || p.Masked() != p {
				t.Fatalf("accepted %q as %q: not a /0-/30 range without host bits (%v)", value, got, err)
			}
		} else {
			a, err := netip.ParseAddr(got)
			if err != nil {
				t.Fatalf("accepted %q as %q: %v", value, got, err)
			}
			p = netip.PrefixFrom(a, 32)
		}
		if !p.Addr().Is4() || p.String() != got && p.Addr().String() != got {
			t.Fatalf("accepted %q as non-canonical or non-IPv4 %q", value, got)
		}
		for _, r := range nonPublicRanges() {
			if p.Overlaps(r.prefix) {
				t.Fatalf("accepted %q, which overlaps %s", value, r.prefix)
			}
		}
		if again, bad := parseIPRule(got); bad != nil || again != got {
			t.Fatalf("canonical form %q of %q does not parse to itself: %q %+v", got, value, again, bad)
		}
	})
}

// FuzzSubdomain: an accepted subdomain is a valid DNS label.
func FuzzSubdomain(f *testing.F) {
	for _, s := range []string{"contoso-ai", "a", "-x", "x-", "UPPER", "under_score", "ünïcode", strings.Repeat("a", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if subdomainProblem(name) != "" {
			return
		}
		if len(name) < 2 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
			t.Fatalf("accepted %q", name)
		}
		for _, c := range []byte(name) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				t.Fatalf("accepted %q with %q", name, c)
			}
		}
	})
}

// FuzzFQDN: an accepted allowedFqdnList entry is a dotted host name.
func FuzzFQDN(f *testing.F) {
	for _, s := range []string{"contoso.blob.core.windows.net", "*.x.com", "1.2.3.4", "a..b", "-a.b", "a.b-", "localhost"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if fqdnProblem(name) != "" {
			return
		}
		if len(name) > 253 || !strings.Contains(name, ".") || strings.Contains(name, "..") || strings.ContainsAny(name, "*_ ") {
			t.Fatalf("accepted %q", name)
		}
		if _, err := netip.ParseAddr(name); err == nil {
			t.Fatalf("accepted the address %q", name)
		}
	})
}

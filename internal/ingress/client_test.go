package ingress

import (
	"crypto/sha256"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/perimeterhq/perimeter/internal/accesslog"
)

func TestDecideClient(t *testing.T) {
	trusted, _ := normalizePrefixes([]netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::ffff:192.168.0.0/112"), netip.MustParsePrefix("fd00::/8"),
	})
	pp := func(src, subnet string) *proxyInfo {
		return &proxyInfo{Source: netip.MustParseAddrPort(src), SubnetID: subnet}
	}
	tests := []struct {
		name      string
		peer      string
		pp        *proxyInfo
		xff       []string
		addr, via string
		port      uint16
		subnet    string
	}{
		{"untrusted peer", "203.0.113.1:1000", nil, nil, "203.0.113.1", accesslog.ViaTCP, 1000, ""},
		{"untrusted peer, headers ignored", "203.0.113.1:1000", pp("198.51.100.1:1", subnetApps), []string{"198.51.100.2"}, "203.0.113.1", accesslog.ViaTCP, 1000, ""},
		{"mapped peer", "[::ffff:203.0.113.1]:1000", nil, nil, "203.0.113.1", accesslog.ViaTCP, 1000, ""},
		{"trusted peer alone", "10.0.0.1:1000", nil, nil, "10.0.0.1", accesslog.ViaTCP, 1000, ""},
		{"trusted mapped range", "192.168.3.4:1000", nil, []string{"198.51.100.2"}, "198.51.100.2", accesslog.ViaForwardedFor, 0, ""},
		{"PROXY source", "10.0.0.1:1000", pp("198.51.100.1:4000", subnetApps), nil, "198.51.100.1", accesslog.ViaProxyProtocol, 4000, subnetApps},
		{"PROXY mapped source", "10.0.0.1:1000", pp("[::ffff:198.51.100.1]:4000", ""), nil, "198.51.100.1", accesslog.ViaProxyProtocol, 4000, ""},
		{"untrusted PROXY source ends the walk", "10.0.0.1:1000", pp("198.51.100.1:4000", ""), []string{"203.0.113.5"}, "198.51.100.1", accesslog.ViaProxyProtocol, 4000, ""},
		{"trusted PROXY source, then XFF; the TLV no longer applies", "10.0.0.1:1000", pp("10.0.0.2:4000", subnetApps), []string{"203.0.113.5"}, "203.0.113.5", accesslog.ViaForwardedFor, 0, ""},
		{"rightmost untrusted", "10.0.0.1:1", nil, []string{"1.1.1.1, 2.2.2.2, 10.9.9.9"}, "2.2.2.2", accesslog.ViaForwardedFor, 0, ""},
		{"all trusted: the leftmost", "10.0.0.1:1", nil, []string{"10.1.1.1, 10.2.2.2"}, "10.1.1.1", accesslog.ViaForwardedFor, 0, ""},
		{"ports and brackets", "10.0.0.1:1", nil, []string{"[2001:db8::1]:443"}, "2001:db8::1", accesslog.ViaForwardedFor, 443, ""},
		{"bracketed v6", "10.0.0.1:1", nil, []string{"[2001:db8::2]"}, "2001:db8::2", accesslog.ViaForwardedFor, 0, ""},
		{"zone dropped", "10.0.0.1:1", nil, []string{"fe80::1%eth0"}, "fe80::1", accesslog.ViaForwardedFor, 0, ""},
		{"garbage fails closed", "10.0.0.1:1", nil, []string{"1.1.1.1, unknown"}, "", accesslog.ViaForwardedFor, 0, ""},
		{"empty hop fails closed", "10.0.0.1:1", nil, []string{"1.1.1.1,,10.0.0.3"}, "", accesslog.ViaForwardedFor, 0, ""},
		{"blank header is no header", "10.0.0.1:1", nil, []string{" "}, "10.0.0.1", accesslog.ViaTCP, 1, ""},
		{"bracketed v4 is not an address", "10.0.0.1:1", nil, []string{"[1.2.3.4]"}, "", accesslog.ViaForwardedFor, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := decideClient(netip.MustParseAddrPort(tc.peer), tc.pp, tc.xff, trusted)
			addr := ""
			if c.Addr.IsValid() {
				addr = c.Addr.String()
			}
			if addr != tc.addr || c.Via != tc.via || c.Port != tc.port || c.SubnetID != tc.subnet {
				t.Errorf("got %s via %s port %d subnet %q; want %s via %s port %d subnet %q", addr, c.Via, c.Port, c.SubnetID, tc.addr, tc.via, tc.port, tc.subnet)
			}
		})
	}
}

func TestForwardedHopsKeepsTheRightmost(t *testing.T) {
	long := strings.Repeat("1.1.1.1, ", 100) + "2.2.2.2"
	hops := forwardedHops([]string{long, "3.3.3.3, 4.4.4.4"}, 5)
	if want := []string{"1.1.1.1", "1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"}; !slices.Equal(hops, want) {
		t.Errorf("hops %q, want %q", hops, want)
	}
}

func TestKeyMatches(t *testing.T) {
	d := [2][32]byte{sha256.Sum256([]byte(key1)), sha256.Sum256([]byte(key2))}
	if !keyMatches(d, key1) || !keyMatches(d, key2) || keyMatches(d, "other") || keyMatches(d, "") {
		t.Error("key comparison")
	}
	if keyMatches([2][32]byte{}, key1) {
		t.Error("zero digests matched")
	}
}

func TestKnownAPIVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"2024-10-21": true, "2025-04-01-preview": true, "2022-12-01": true, "2025-09-01-preview": true, "2026-01-01": true,
		"2024-10-22": false, "2023-01-01-preview": false, "2025-02-30": false, "v1": false, "": false, "2025-04-01-previewx": false,
		"20250401": false, "2101-01-01": false,
	} {
		if got := knownAPIVersion(v); got != want {
			t.Errorf("knownAPIVersion(%q) = %v", v, got)
		}
	}
}

func TestHostName(t *testing.T) {
	for in, want := range map[string]string{
		"A.Cognitiveservices.Test:8444": "a.cognitiveservices.test", "a.test.": "a.test", "[::1]:443": "::1", "127.0.0.1": "127.0.0.1",
	} {
		if got := hostName(in); got != want {
			t.Errorf("hostName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseHop: any input either fails or yields a valid, unmapped,
// zone-less address.
func FuzzParseHop(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "1.2.3.4:80", "[::1]:443", "[::1]", "::ffff:1.2.3.4", "fe80::1%eth0", "", "unknown", "[1.2.3.4]", "1.2.3.4:99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ap, ok := parseHop(s)
		if !ok {
			return
		}
		a := ap.Addr()
		if !a.IsValid() || a.Is4In6() || a.Zone() != "" {
			t.Fatalf("parseHop(%q) = %v", s, ap)
		}
	})
}

// FuzzForwardedHops: hops are at most max, never contain a comma, and
// are the rightmost of the header.
func FuzzForwardedHops(f *testing.F) {
	f.Add("1.1.1.1, 2.2.2.2", "3.3.3.3", 2)
	f.Add(",,,", "", 32)
	f.Fuzz(func(t *testing.T, a, b string, max int) {
		max = max%40 + 1
		if max < 1 {
			max = -max + 1
		}
		hops := forwardedHops([]string{a, b}, max)
		if len(hops) > max {
			t.Fatalf("%d hops, max %d", len(hops), max)
		}
		all := strings.Split(a, ",")
		all = append(all, strings.Split(b, ",")...)
		tail := all[len(all)-len(hops):]
		for i, h := range hops {
			if strings.Contains(h, ",") || h != strings.TrimSpace(tail[i]) {
				t.Fatalf("hops %q are not the trimmed tail of %q", hops, all)
			}
		}
	})
}

// FuzzDecideClient: whatever the headers, an untrusted peer is the client;
// a decided address is unmapped; a non-peer address only comes from a
// trusted peer, and is never followed by trusting an untrusted hop.
func FuzzDecideClient(f *testing.F) {
	f.Add([]byte{127, 0, 0, 1}, uint16(1), "203.0.113.1, 10.0.0.2", "198.51.100.1:5", "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/a")
	f.Add([]byte{203, 0, 113, 1}, uint16(2), "10.0.0.1", "", "")
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 0, 0, 1}, uint16(3), "garbage", "[::ffff:10.0.0.9]:7", "")
	trusted, _ := normalizePrefixes([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")})
	f.Fuzz(func(t *testing.T, peerIP []byte, port uint16, xff, proxySrc, subnet string) {
		a, ok := netip.AddrFromSlice(peerIP)
		if !ok {
			return
		}
		peer := netip.AddrPortFrom(a, port)
		var pp *proxyInfo
		if src, err := netip.ParseAddrPort(proxySrc); err == nil {
			pp = &proxyInfo{Source: src, SubnetID: subnet}
		}
		c := decideClient(peer, pp, []string{xff}, trusted)
		if c.Addr.IsValid() && (c.Addr.Is4In6() || c.Addr.Zone() != "") {
			t.Fatalf("address not normalised: %v", c.Addr)
		}
		if !trusted.contains(a) {
			if c.Via != accesslog.ViaTCP || c.Addr != a.Unmap().WithZone("") || c.SubnetID != "" {
				t.Fatalf("an untrusted peer's headers were believed: %+v", c)
			}
			return
		}
		if c.SubnetID != "" && (c.Via != accesslog.ViaProxyProtocol || pp == nil || c.SubnetID != pp.SubnetID) {
			t.Fatalf("a subnet from nowhere: %+v", c)
		}
		if c.Via == accesslog.ViaForwardedFor && c.Addr.IsValid() {
			// The chosen hop is in the header, and every hop to its right
			// is a trusted proxy.
			hops := forwardedHops([]string{xff}, maxForwardedHops)
			i := len(hops) - 1
			for ; i >= 0; i-- {
				h, ok := parseHop(hops[i])
				if !ok {
					t.Fatalf("walked past an unreadable hop: %+v", c)
				}
				if h.Addr() == c.Addr {
					break
				}
				if !trusted.contains(h.Addr()) {
					t.Fatalf("walked past the untrusted hop %v to %v", h, c.Addr)
				}
			}
			if i < 0 {
				t.Fatalf("%v is not in %q", c.Addr, xff)
			}
		}
	})
}

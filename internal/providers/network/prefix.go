package network

import (
	"net/netip"
)

// Address-prefix rules shared by address spaces and subnets. The functions
// here decide; validate.go turns their verdicts into ARM errors.

// minIPv4SubnetBits is the longest IPv4 subnet prefix Azure accepts: a /29
// has eight addresses, five of which Azure reserves.
const minIPv4SubnetBits = 29

// ipv6SubnetBits is the only IPv6 subnet prefix length Azure accepts.
const ipv6SubnetBits = 64

// dockerBridge is Docker's default bridge network.
func dockerBridge() netip.Prefix { return netip.MustParsePrefix("172.17.0.0/16") }

// OverlapsDockerBridge reports whether prefix shares addresses with Docker's
// default bridge network (172.17.0.0/16). Workloads in such a subnet that
// run next to Docker on one host reach the bridge instead of each other, so
// the CLI warns about it; the API accepts it, as Azure does.
func OverlapsDockerBridge(prefix netip.Prefix) bool {
	return prefix.IsValid() && prefix.Masked().Overlaps(dockerBridge())
}

// reservedRanges are the ranges Azure does not allow in a virtual network:
// multicast, broadcast, loopback, link-local and the platform's own
// 168.63.129.16 (DNS, health probes), and their IPv6 counterparts.
func reservedRanges() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("224.0.0.0/4"),
		netip.MustParsePrefix("255.255.255.255/32"),
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("168.63.129.16/32"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("fe80::/10"),
		netip.MustParsePrefix("ff00::/8"),
	}
}

// reservedOverlap returns the reserved range p overlaps, if any.
func reservedOverlap(p netip.Prefix) (netip.Prefix, bool) {
	for _, r := range reservedRanges() {
		if p.Overlaps(r) {
			return r, true
		}
	}
	return netip.Prefix{}, false
}

// contains reports whether outer holds every address of inner.
func contains(outer, inner netip.Prefix) bool {
	return outer.Addr().Is4() == inner.Addr().Is4() && outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// containedInAny reports whether one of spaces holds every address of p.
func containedInAny(spaces []netip.Prefix, p netip.Prefix) bool {
	for _, s := range spaces {
		if contains(s, p) {
			return true
		}
	}
	return false
}

package cognitive

import (
	"fmt"
	"net/netip"
	"strings"
)

// Codes of refused IP rules. Each names one problem, so scripts can tell
// them apart; the message says what to send instead.
const (
	CodeInvalidIPRule       = "InvalidIpRule"
	CodeIPRuleIPv6          = "IpRuleIPv6NotSupported"
	CodeIPRulePrefixTooLong = "IpRulePrefixNotSupported"
	CodeIPRuleHostBits      = "IpRuleHostBitsSet"
	CodeIPRulePrivate       = "IpRulePrivateAddress"
	CodeIPRuleReserved      = "IpRuleReservedAddress"
	CodeDuplicateIPRule     = "DuplicateIpRule"
	CodeTooManyIPRules      = "TooManyIpRules"
)

// maxIPRules and maxVirtualNetworkRules are Azure's limits per account.
const (
	maxIPRules             = 100
	maxVirtualNetworkRules = 100
)

// nonPublicRange is an IPv4 range an IP rule may not name.
type nonPublicRange struct {
	prefix netip.Prefix
	code   string
	what   string
}

// nonPublicRanges are the ranges refused in IP rules. Azure accepts "only
// valid public IP (nonreserved) addresses": traffic from private networks
// reaches an account through virtual-network rules or private endpoints,
// never as a public source address, so a rule naming such a range either
// does nothing or, behind a gateway that sees private sources, would open a
// door the seeds keep shut.
//
// Refused: RFC 1918 private ranges, and every range IANA lists as not
// globally reachable except documentation — "this network" 0/8, shared
// CGNAT space 100.64/10 (a client behind it appears as the carrier's public
// address), loopback, link-local, IETF protocol assignments 192.0.0/24,
// benchmarking 198.18/15, multicast 224/4 and reserved 240/4 (which holds
// the broadcast address).
//
// Allowed although not routable: the documentation ranges 192.0.2.0/24,
// 198.51.100.0/24 and 203.0.113.0/24 (RFC 5737). Azure's own examples and
// the reference use them; a rule for them can never match real internet
// traffic, so accepting them grants nothing, and refusing them would break
// copied examples and tests for no safety gained.
func nonPublicRanges() []nonPublicRange {
	r := func(p, code, what string) nonPublicRange {
		return nonPublicRange{prefix: netip.MustParsePrefix(p), code: code, what: what}
	}
	return []nonPublicRange{
		r("10.0.0.0/8", CodeIPRulePrivate, "the private range 10.0.0.0/8 (RFC 1918)"),
		r("172.16.0.0/12", CodeIPRulePrivate, "the private range 172.16.0.0/12 (RFC 1918)"),
		r("192.168.0.0/16", CodeIPRulePrivate, "the private range 192.168.0.0/16 (RFC 1918)"),
		r("0.0.0.0/8", CodeIPRuleReserved, "the reserved range 0.0.0.0/8 ('this network')"),
		r("100.64.0.0/10", CodeIPRuleReserved, "the shared address space 100.64.0.0/10 (carrier-grade NAT, RFC 6598)"),
		r("127.0.0.0/8", CodeIPRuleReserved, "the loopback range 127.0.0.0/8"),
		r("169.254.0.0/16", CodeIPRuleReserved, "the link-local range 169.254.0.0/16"),
		r("192.0.0.0/24", CodeIPRuleReserved, "the reserved range 192.0.0.0/24 (IETF protocol assignments)"),
		r("198.18.0.0/15", CodeIPRuleReserved, "the benchmarking range 198.18.0.0/15 (RFC 2544)"),
		r("224.0.0.0/4", CodeIPRuleReserved, "the multicast range 224.0.0.0/4"),
		r("240.0.0.0/4", CodeIPRuleReserved, "the reserved range 240.0.0.0/4 (including the broadcast address 255.255.255.255)"),
	}
}

// ipRuleError is why one IP rule value is refused.
type ipRuleError struct {
	code    string
	message string
}

// parseIPRule checks the value of an IP rule and returns its canonical
// form: a public IPv4 address ("124.56.78.91") or a CIDR range of /30 or
// wider with no host bits set ("124.56.78.0/24").
func parseIPRule(value string) (string, *ipRuleError) {
	fail := func(code, format string, args ...any) (string, *ipRuleError) {
		return "", &ipRuleError{code: code, message: fmt.Sprintf(format, args...)}
	}
	if value == "" {
		return fail(CodeInvalidIPRule, "The IP rule value is empty. Use a public IPv4 address such as '124.56.78.91' or a CIDR range such as '124.56.78.0/24'.")
	}
	var prefix netip.Prefix
	single := !strings.Contains(value, "/")
	if single {
		addr, err := netip.ParseAddr(value)
		if err != nil {
			return fail(CodeInvalidIPRule, "The IP rule '%s' is not an IPv4 address or CIDR range. Use an address such as '124.56.78.91' or a range such as '124.56.78.0/24'.", value)
		}
		prefix = netip.PrefixFrom(addr, addr.BitLen())
	} else {
		p, err := netip.ParsePrefix(value)
		if err != nil {
			return fail(CodeInvalidIPRule, "The IP rule '%s' is not an IPv4 address or CIDR range. Use an address such as '124.56.78.91' or a range such as '124.56.78.0/24'.", value)
		}
		prefix = p
	}
	addr := prefix.Addr()
	if addr.Is6() {
		if addr.Is4In6() {
			return fail(CodeIPRuleIPv6, "The IP rule '%s' is an IPv4-mapped IPv6 address; only IPv4 is supported. Write it as '%s'.", value, addr.Unmap())
		}
		return fail(CodeIPRuleIPv6, "The IP rule '%s' is IPv6; IP rules support only IPv4 addresses and ranges.", value)
	}
	if !single {
		switch prefix.Bits() {
		case 32:
			return fail(CodeIPRulePrefixTooLong, "The IP rule '%s' uses a /32 range, which is not supported. Use the single address '%s' instead.", value, addr)
		case 31:
			first := prefix.Masked().Addr()
			return fail(CodeIPRulePrefixTooLong, "The IP rule '%s' uses a /31 range, which is not supported. Use two single-address rules instead: '%s' and '%s'.", value, first, first.Next())
		}
		if m := prefix.Masked(); m.Addr() != addr {
			return fail(CodeIPRuleHostBits, "The IP rule '%s' has host bits set: the /%d range starting at that address is '%s'. Use '%s' for the range, or '%s' alone for the single address.", value, prefix.Bits(), m, m, addr)
		}
	}
	for _, r := range nonPublicRanges() {
		if !prefix.Overlaps(r.prefix) {
			continue
		}
		verb := "is in"
		if !single && prefix.Bits() < r.prefix.Bits() {
			verb = "includes"
		}
		return fail(r.code, "The IP rule '%s' %s %s. IP rules allow only public internet addresses; reach the account from private networks through a virtual network rule or a private endpoint.", value, verb, r.what)
	}
	if single {
		return addr.String(), nil
	}
	return prefix.String(), nil
}

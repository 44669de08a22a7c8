package network

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
)

// Error codes. Azure's own where it has one for the problem; otherwise a
// code that names the problem.
const (
	codeInvalidPrefixFormat      = "InvalidAddressPrefixFormat"
	codeInvalidCIDRNotation      = "InvalidCIDRNotation"
	codeReservedPrefix           = "AddressPrefixInReservedRange"
	codeAddressSpaceMissing      = "VnetAddressSpaceMissing"
	codeAddressSpacesOverlap     = "VnetAddressSpacesOverlap"
	codeSubnetOutsideVnet        = "NetcfgSubnetRangeOutsideVnet"
	codeSubnetsOverlap           = "NetcfgSubnetRangesOverlap"
	codeSubnetTooSmall           = "SubnetAddressPrefixTooSmall"
	codeIPv6SubnetLength         = "InvalidIPv6SubnetPrefixLength"
	codeSubnetPrefixMissing      = "SubnetAddressPrefixMissing"
	codeSubnetPrefixConflict     = "SubnetAddressPrefixConflict"
	codeDuplicateName            = "DuplicateResourceName"
	codeInvalidSubnetID          = "InvalidSubnetId"
	codeInvalidServiceName       = "SubnetHasServiceEndpointWithInvalidServiceName"
	codeDuplicateServiceEndpoint = "DuplicateServiceEndpoint"
	codeInvalidEndpointLocation  = "InvalidServiceEndpointLocation"
	codeInvalidPENetworkPolicies = "InvalidPrivateEndpointNetworkPolicies"
	codeInvalidPLSNetworkPolicy  = "InvalidPrivateLinkServiceNetworkPolicies"
	codeInvalidDNSServer         = "InvalidDnsServerAddress"
	codeUnsupportedProperty      = "UnsupportedProperty"
)

// decodeAt decodes raw properties found at the JSON path at (such as
// "properties.subnets[2].properties"), reporting type errors with their
// full path.
func decodeAt(raw json.RawMessage, v any, at string) error {
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] != '{' && string(t) != "null" {
		return arm.InvalidProperty(arm.CodeInvalidRequestContent, at, "The property '%s' must be a JSON object.", at)
	}
	err := arm.DecodeProperties(raw, v)
	var ae *arm.Error
	if at == "properties" || !errors.As(err, &ae) || ae.Target == "" {
		return err
	}
	e := *ae
	e.Target = at + strings.TrimPrefix(ae.Target, "properties")
	e.Message = strings.Replace(ae.Message, "'properties.", "'"+at+".", 1)
	return &e
}

// parsePrefix parses one address prefix of the resource with id owner.
// Subnet prefixes must also respect Azure's subnet sizes.
func parsePrefix(text, target, owner string, subnet bool) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(text)
	if err != nil {
		return p, arm.InvalidProperty(codeInvalidPrefixFormat, target,
			"Address prefix '%s' of resource %s is not formatted correctly. It should follow CIDR notation, for example 10.0.0.0/24.", text, owner)
	}
	if m := p.Masked(); m != p {
		return p, arm.InvalidProperty(codeInvalidCIDRNotation, target,
			"The address prefix %s in resource %s has an invalid CIDR notation. For the given prefix length, the address prefix should be %s.", text, owner, m)
	}
	if r, ok := reservedOverlap(p); ok {
		return p, arm.InvalidProperty(codeReservedPrefix, target,
			"The address prefix %s of resource %s overlaps %s, which is reserved (multicast, broadcast, loopback, link-local or the platform address 168.63.129.16). Use a private range such as 10.0.0.0/16.", text, owner, r)
	}
	if !subnet {
		return p, nil
	}
	if p.Addr().Is4() && p.Bits() > minIPv4SubnetBits {
		return p, arm.InvalidProperty(codeSubnetTooSmall, target,
			"The address prefix %s of subnet %s is smaller than /%d, the smallest subnet allowed (five addresses of every subnet are reserved). Use a prefix length of %d or less, for example %s.",
			text, owner, minIPv4SubnetBits, minIPv4SubnetBits, netip.PrefixFrom(p.Addr(), minIPv4SubnetBits).Masked())
	}
	if p.Addr().Is6() && p.Bits() != ipv6SubnetBits {
		return p, arm.InvalidProperty(codeIPv6SubnetLength, target,
			"The address prefix %s of subnet %s is not a /%d; IPv6 subnets must be exactly /%d, for example %s.",
			text, owner, ipv6SubnetBits, ipv6SubnetBits, netip.PrefixFrom(p.Addr(), ipv6SubnetBits).Masked())
	}
	return p, nil
}

// parseAddressSpace checks a virtual network's address space.
func parseAddressSpace(in *addressSpace, vnetID string) ([]netip.Prefix, error) {
	const at = "properties.addressSpace.addressPrefixes"
	if in == nil || len(in.AddressPrefixes) == 0 {
		return nil, arm.InvalidProperty(codeAddressSpaceMissing, at,
			"A virtual network needs at least one address prefix. Set '%s', for example [\"10.0.0.0/16\"].", at)
	}
	out := make([]netip.Prefix, 0, len(in.AddressPrefixes))
	for i, text := range in.AddressPrefixes {
		target := fmt.Sprintf("%s[%d]", at, i)
		p, err := parsePrefix(text, target, vnetID, false)
		if err != nil {
			return nil, err
		}
		for j, q := range out {
			if p.Overlaps(q) {
				return nil, arm.InvalidProperty(codeAddressSpacesOverlap, target,
					"The address prefixes %s (%s[%d]) and %s (%s[%d]) of virtual network %s overlap. Remove one of them or use ranges that do not overlap.",
					text, at, i, in.AddressPrefixes[j], at, j, vnetID)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// parseDhcpOptions checks the DNS servers of a virtual network.
func parseDhcpOptions(in *dhcpOptions) (*dhcpOptions, error) {
	if in == nil {
		return nil, nil
	}
	out := &dhcpOptions{DNSServers: []string{}}
	for i, s := range in.DNSServers {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, arm.InvalidProperty(codeInvalidDNSServer, fmt.Sprintf("properties.dhcpOptions.dnsServers[%d]", i),
				"The DNS server '%s' is not an IP address. List DNS servers as IPv4 or IPv6 addresses, for example 10.0.0.4.", s)
		}
		out.DNSServers = append(out.DNSServers, a.String())
	}
	return out, nil
}

// unsupportedVnetFeatures refuses virtual network settings that refer to
// features Perimeter does not have.
func unsupportedVnetFeatures(in *vnetInput) error {
	switch {
	case isSet(in.DdosProtectionPlan):
		return unsupported("properties.ddosProtectionPlan", "DDoS protection plans")
	case in.EnableDdosProtection != nil && *in.EnableDdosProtection:
		return unsupported("properties.enableDdosProtection", "DDoS protection plans")
	case len(in.VirtualNetworkPeerings) > 0:
		return unsupported("properties.virtualNetworkPeerings", "virtual network peerings")
	}
	return nil
}

func unsupported(target, feature string) *arm.Error {
	return arm.InvalidProperty(codeUnsupportedProperty, target,
		"Perimeter does not provide %s. Remove '%s' from the request.", feature, target)
}

// checkLayout checks that every subnet lies inside the address space and
// that no two subnets overlap. An error names the later subnet of an
// overlapping pair, so callers list the subnets they did not change first.
func checkLayout(vnetName string, space []netip.Prefix, spaceTexts []string, subnets []parsedSubnet) error {
	for i, s := range subnets {
		for k, p := range s.prefixes {
			if !containedInAny(space, p) {
				return arm.InvalidProperty(codeSubnetOutsideVnet, s.targets[k],
					"Subnet '%s' is not valid because its IP address range %s is outside the IP address range of virtual network '%s' (%s). Use a range inside the address space, or add a prefix that contains it to the virtual network's addressSpace.addressPrefixes.",
					s.name, p, vnetName, strings.Join(spaceTexts, ", "))
			}
			for _, o := range subnets[:i] {
				for _, q := range o.prefixes {
					if p.Overlaps(q) {
						return arm.InvalidProperty(codeSubnetsOverlap, s.targets[k],
							"Subnet '%s' is not valid because its IP address range %s overlaps with that of subnet '%s' (%s) in virtual network '%s'. Choose a range that no other subnet uses.",
							s.name, p, o.name, q, vnetName)
					}
				}
			}
		}
	}
	return nil
}

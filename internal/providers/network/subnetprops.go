package network

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
)

// Checking one subnet's own properties: its prefixes, service endpoints and
// network policies. Where the subnet sits in its virtual network is
// checkLayout's business (validate.go).

// Allowed values of the subnet network-policy enums; the first is Azure's
// default.
func privateEndpointPolicies() []string {
	return []string{"Disabled", "Enabled", "NetworkSecurityGroupEnabled", "RouteTableEnabled"}
}

func privateLinkServicePolicies() []string { return []string{"Enabled", "Disabled"} }

// parsedSubnet is a subnet ready to be checked against its virtual network
// and stored.
type parsedSubnet struct {
	name     string
	id       string
	props    subnetProperties
	prefixes []netip.Prefix
	// targets are the JSON paths of the prefixes in the request; empty for
	// a stored subnet the request does not change.
	targets []string
}

// storedSubnet is a stored subnet as a parsedSubnet (its prefixes were
// checked when it was written).
func storedSubnet(name, id string, props subnetProperties) parsedSubnet {
	s := parsedSubnet{name: name, id: id, props: props}
	for _, text := range props.prefixTexts() {
		if p, err := netip.ParsePrefix(text); err == nil {
			s.prefixes = append(s.prefixes, p)
			s.targets = append(s.targets, "")
		}
	}
	return s
}

// subnetContext is what checking a subnet's own properties needs to know
// about its surroundings.
type subnetContext struct {
	vnetLocation string
	locations    []string // known location names
}

// parseSubnet checks a subnet's properties (raw, found at the JSON path at)
// and returns them normalised, with defaults filled in.
func parseSubnet(raw json.RawMessage, at, name, id string, sc subnetContext) (parsedSubnet, error) {
	var in subnetPropertiesInput
	if err := decodeAt(raw, &in, at); err != nil {
		return parsedSubnet{}, err
	}
	if err := unsupportedSubnetFeatures(&in, at); err != nil {
		return parsedSubnet{}, err
	}
	s := parsedSubnet{name: name, id: id, props: subnetProperties{ProvisioningState: "Succeeded"}}
	single := in.AddressPrefix != nil && *in.AddressPrefix != ""
	var texts []string
	switch {
	case len(in.AddressPrefixes) > 0 && single:
		if len(in.AddressPrefixes) != 1 || in.AddressPrefixes[0] != *in.AddressPrefix {
			return s, arm.InvalidProperty(codeSubnetPrefixConflict, at+".addressPrefix",
				"Subnet %s sets both addressPrefix (%s) and addressPrefixes (%s) to different ranges. Set only one of them.",
				id, *in.AddressPrefix, strings.Join(in.AddressPrefixes, ", "))
		}
		fallthrough
	case single:
		texts = []string{*in.AddressPrefix}
		s.targets = []string{at + ".addressPrefix"}
		s.props.AddressPrefix = *in.AddressPrefix
	case len(in.AddressPrefixes) > 0:
		texts = in.AddressPrefixes
		for i := range texts {
			s.targets = append(s.targets, fmt.Sprintf("%s.addressPrefixes[%d]", at, i))
		}
		s.props.AddressPrefixes = slices.Clone(in.AddressPrefixes)
	default:
		return s, arm.InvalidProperty(codeSubnetPrefixMissing, at+".addressPrefix",
			"Subnet %s has no address range. Set '%s.addressPrefix' (for example \"10.0.0.0/24\") or '%s.addressPrefixes'.", id, at, at)
	}
	for i, text := range texts {
		p, err := parsePrefix(text, s.targets[i], id, true)
		if err != nil {
			return s, err
		}
		for j, q := range s.prefixes {
			if p.Overlaps(q) {
				return s, arm.InvalidProperty(codeSubnetsOverlap, s.targets[i],
					"Subnet '%s' is not valid because its address prefixes %s and %s overlap. Use ranges that do not overlap.", name, texts[j], text)
			}
		}
		s.prefixes = append(s.prefixes, p)
	}
	var err error
	if s.props.ServiceEndpoints, err = parseServiceEndpoints(in.ServiceEndpoints, at, id, sc); err != nil {
		return s, err
	}
	if s.props.PrivateEndpointNetworkPolicies, err = parseEnum(in.PrivateEndpointNetworkPolicies, privateEndpointPolicies(),
		codeInvalidPENetworkPolicies, at+".privateEndpointNetworkPolicies"); err != nil {
		return s, err
	}
	if s.props.PrivateLinkServiceNetworkPolicies, err = parseEnum(in.PrivateLinkServiceNetworkPolicies, privateLinkServicePolicies(),
		codeInvalidPLSNetworkPolicy, at+".privateLinkServiceNetworkPolicies"); err != nil {
		return s, err
	}
	return s, nil
}

// unsupportedSubnetFeatures refuses subnet settings that refer to features
// Perimeter does not have: storing them would suggest a protection that
// does not exist.
func unsupportedSubnetFeatures(in *subnetPropertiesInput, at string) error {
	for _, f := range []struct {
		property, feature string
		set               bool
	}{
		{"networkSecurityGroup", "network security groups", isSet(in.NetworkSecurityGroup)},
		{"routeTable", "route tables", isSet(in.RouteTable)},
		{"natGateway", "NAT gateways", isSet(in.NatGateway)},
		{"delegations", "subnet delegations", len(in.Delegations) > 0},
		{"serviceEndpointPolicies", "service endpoint policies", len(in.ServiceEndpointPolicies) > 0},
	} {
		if f.set {
			return unsupported(at+"."+f.property, f.feature)
		}
	}
	return nil
}

// parseEnum matches an optional enum value case-insensitively and returns it
// in canonical casing; absent means the first (default) value.
func parseEnum(v *string, allowed []string, code, target string) (string, error) {
	if v == nil {
		return allowed[0], nil
	}
	for _, a := range allowed {
		if strings.EqualFold(a, *v) {
			return a, nil
		}
	}
	return "", arm.InvalidProperty(code, target, "The value '%s' of '%s' is not valid. Use one of: %s.", *v, target, strings.Join(allowed, ", "))
}

// parseServiceEndpoints checks a subnet's service endpoints.
func parseServiceEndpoints(in []serviceEndpointInput, at, id string, sc subnetContext) ([]serviceEndpoint, error) {
	out := make([]serviceEndpoint, 0, len(in))
	for i, se := range in {
		target := fmt.Sprintf("%s.serviceEndpoints[%d]", at, i)
		name, ok := canonicalService(se.Service)
		if !ok {
			what := fmt.Sprintf("an invalid service name '%s'", se.Service)
			if se.Service == "" {
				what = "no service name"
			}
			return nil, arm.InvalidProperty(codeInvalidServiceName, target+".service",
				"Subnet %s has a service endpoint with %s. Set 'service' to one of: %s.", id, what, strings.Join(serviceNames(), ", "))
		}
		if j := slices.IndexFunc(out, func(o serviceEndpoint) bool { return o.Service == name }); j >= 0 {
			return nil, arm.InvalidProperty(codeDuplicateServiceEndpoint, target+".service",
				"Subnet %s lists the service endpoint %s twice (serviceEndpoints[%d] and [%d]). List each service once.", id, name, j, i)
		}
		locs := defaultEndpointLocations(name, sc.vnetLocation)
		if len(se.Locations) > 0 {
			locs = make([]string, 0, len(se.Locations))
			for k, l := range se.Locations {
				n := arm.NormalizeLocation(l)
				if n != "*" && !slices.ContainsFunc(sc.locations, func(known string) bool { return arm.NormalizeLocation(known) == n }) {
					return nil, arm.InvalidProperty(codeInvalidEndpointLocation, fmt.Sprintf("%s.locations[%d]", target, k),
						"The location '%s' of the %s service endpoint is not known. Use \"*\" or one of: %s.", l, name, strings.Join(sc.locations, ", "))
				}
				if !slices.Contains(locs, n) {
					locs = append(locs, n)
				}
			}
		}
		out = append(out, serviceEndpoint{Service: name, Locations: locs, ProvisioningState: "Succeeded"})
	}
	return out, nil
}

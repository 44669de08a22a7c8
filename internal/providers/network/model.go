package network

import (
	"encoding/json"
)

// Stored and served shapes. The stored properties of both types are exactly
// what a GET returns; request bodies are decoded into the *Input types,
// which accept (and ignore) the read-only fields a client echoes back after
// a GET.

// vnetProperties are a virtual network's properties.
type vnetProperties struct {
	ProvisioningState      string            `json:"provisioningState,omitempty"`
	ResourceGUID           string            `json:"resourceGuid"`
	AddressSpace           addressSpace      `json:"addressSpace"`
	DhcpOptions            *dhcpOptions      `json:"dhcpOptions,omitempty"`
	Subnets                []inlineSubnet    `json:"subnets"`
	VirtualNetworkPeerings []json.RawMessage `json:"virtualNetworkPeerings"`
	EnableDdosProtection   bool              `json:"enableDdosProtection"`
}

type addressSpace struct {
	AddressPrefixes []string `json:"addressPrefixes"`
}

type dhcpOptions struct {
	DNSServers []string `json:"dnsServers"`
}

// inlineSubnet is a subnet as its virtual network shows it in
// properties.subnets: the child resource without systemData.
type inlineSubnet struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Type       string           `json:"type"`
	Properties subnetProperties `json:"properties"`
}

// subnetProperties are a subnet's properties.
type subnetProperties struct {
	ProvisioningState                 string            `json:"provisioningState,omitempty"`
	AddressPrefix                     string            `json:"addressPrefix,omitempty"`
	AddressPrefixes                   []string          `json:"addressPrefixes,omitempty"`
	ServiceEndpoints                  []serviceEndpoint `json:"serviceEndpoints"`
	PrivateEndpointNetworkPolicies    string            `json:"privateEndpointNetworkPolicies"`
	PrivateLinkServiceNetworkPolicies string            `json:"privateLinkServiceNetworkPolicies"`
}

// prefixTexts returns the subnet's prefixes, whichever property holds them.
func (p *subnetProperties) prefixTexts() []string {
	if len(p.AddressPrefixes) > 0 {
		return p.AddressPrefixes
	}
	if p.AddressPrefix != "" {
		return []string{p.AddressPrefix}
	}
	return nil
}

type serviceEndpoint struct {
	Service           string   `json:"service"`
	Locations         []string `json:"locations"`
	ProvisioningState string   `json:"provisioningState"`
}

// vnetInput is a virtual network's properties in a request.
type vnetInput struct {
	AddressSpace           *addressSpace     `json:"addressSpace"`
	DhcpOptions            *dhcpOptions      `json:"dhcpOptions"`
	Subnets                []subnetInput     `json:"subnets"`
	EnableDdosProtection   *bool             `json:"enableDdosProtection"`
	DdosProtectionPlan     json.RawMessage   `json:"ddosProtectionPlan"`
	VirtualNetworkPeerings []json.RawMessage `json:"virtualNetworkPeerings"`
}

// subnetInput is one element of properties.subnets in a virtual network
// request. Its properties stay raw so that errors inside them can name
// their full path.
type subnetInput struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Properties json.RawMessage `json:"properties"`
}

// subnetPropertiesInput are a subnet's properties in a request.
type subnetPropertiesInput struct {
	AddressPrefix                     *string                `json:"addressPrefix"`
	AddressPrefixes                   []string               `json:"addressPrefixes"`
	ServiceEndpoints                  []serviceEndpointInput `json:"serviceEndpoints"`
	PrivateEndpointNetworkPolicies    *string                `json:"privateEndpointNetworkPolicies"`
	PrivateLinkServiceNetworkPolicies *string                `json:"privateLinkServiceNetworkPolicies"`

	// Features Perimeter does not provide. A request that sets one is
	// refused rather than silently stored without effect.
	NetworkSecurityGroup    json.RawMessage   `json:"networkSecurityGroup"`
	RouteTable              json.RawMessage   `json:"routeTable"`
	NatGateway              json.RawMessage   `json:"natGateway"`
	Delegations             []json.RawMessage `json:"delegations"`
	ServiceEndpointPolicies []json.RawMessage `json:"serviceEndpointPolicies"`
}

type serviceEndpointInput struct {
	Service   string   `json:"service"`
	Locations []string `json:"locations"`
}

// isSet reports whether a raw optional value is present and not null.
func isSet(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

package network_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestRefusals checks every validation rule through the HTTP API: the
// status, the code, the JSON path in target, a message that says what to
// change, and that the store did not change at all.
func TestRefusals(t *testing.T) {
	e := newEnv(t)
	// "base" has 10.0.0.0/16 with subnets a (10.0.0.0/24) and b (10.0.1.0/24).
	baseBody := vnetBody([]string{"10.0.0.0/16"}, subnet("a", "10.0.0.0/24"), subnet("b", "10.0.1.0/24"))
	e.Must(http.StatusCreated, http.MethodPut, vnetID("base")+netAPI, baseBody)
	baseBefore := e.Must(http.StatusOK, http.MethodGet, vnetID("base")+netAPI, nil).Body

	v16 := []string{"10.0.0.0/16"}
	tests := []struct {
		name    string
		path    string // PUT target
		body    any
		status  int
		code    string
		target  string
		mention string // the message must say this
	}{
		// Address space.
		{"address space missing", vnetID("vn"), map[string]any{"location": "westeurope", "properties": map[string]any{}},
			400, "VnetAddressSpaceMissing", "properties.addressSpace.addressPrefixes", "10.0.0.0/16"},
		{"address space empty", vnetID("vn"), vnetBody([]string{}),
			400, "VnetAddressSpaceMissing", "properties.addressSpace.addressPrefixes", "at least one"},
		{"address prefix not CIDR", vnetID("vn"), vnetBody([]string{"10.0.0/16"}),
			400, "InvalidAddressPrefixFormat", "properties.addressSpace.addressPrefixes[0]", "CIDR notation"},
		{"address prefix length out of range", vnetID("vn"), vnetBody([]string{"10.0.0.0/16", "10.1.0.0/33"}),
			400, "InvalidAddressPrefixFormat", "properties.addressSpace.addressPrefixes[1]", "10.1.0.0/33"},
		{"address prefix with host bits", vnetID("vn"), vnetBody([]string{"10.0.0.1/16"}),
			400, "InvalidCIDRNotation", "properties.addressSpace.addressPrefixes[0]", "the address prefix should be 10.0.0.0/16"},
		{"IPv6 address prefix with host bits", vnetID("vn"), vnetBody([]string{"10.0.0.0/16", "fd00:db8::1/48"}),
			400, "InvalidCIDRNotation", "properties.addressSpace.addressPrefixes[1]", "fd00:db8::/48"},
		{"address spaces overlap", vnetID("vn"), vnetBody([]string{"10.0.0.0/16", "10.0.128.0/17"}),
			400, "VnetAddressSpacesOverlap", "properties.addressSpace.addressPrefixes[1]", "10.0.0.0/16"},
		{"reserved range", vnetID("vn"), vnetBody([]string{"127.0.0.0/8"}),
			400, "AddressPrefixInReservedRange", "properties.addressSpace.addressPrefixes[0]", "private range"},
		{"shrinking below an existing subnet", vnetID("base"), vnetBody([]string{"10.0.0.0/24"}, subnet("a", "10.0.0.0/24"), subnet("b", "10.0.1.0/24")),
			400, "NetcfgSubnetRangeOutsideVnet", "properties.addressSpace.addressPrefixes", "no longer contains subnet 'b'"},

		// Inline subnets.
		{"subnet outside the address space", vnetID("vn"), vnetBody(v16, subnet("a", "10.0.0.0/24"), subnet("b", "10.1.0.0/24")),
			400, "NetcfgSubnetRangeOutsideVnet", "properties.subnets[1].properties.addressPrefix", "outside the IP address range"},
		{"subnets overlap", vnetID("vn"), vnetBody(v16, subnet("a", "10.0.0.0/24"), subnet("b", "10.0.0.128/25")),
			400, "NetcfgSubnetRangesOverlap", "properties.subnets[1].properties.addressPrefix", "subnet 'a'"},
		{"subnet prefixes overlap each other", vnetID("vn"), vnetBody(v16, map[string]any{"name": "a", "properties": map[string]any{"addressPrefixes": []string{"10.0.0.0/24", "10.0.0.0/25"}}}),
			400, "NetcfgSubnetRangesOverlap", "properties.subnets[0].properties.addressPrefixes[1]", "overlap"},
		{"subnet smaller than /29", vnetID("vn"), vnetBody(v16, subnet("a", "10.0.0.0/30")),
			400, "SubnetAddressPrefixTooSmall", "properties.subnets[0].properties.addressPrefix", "10.0.0.0/29"},
		{"subnet prefix with host bits", vnetID("vn"), vnetBody(v16, subnet("a", "10.0.0.5/24")),
			400, "InvalidCIDRNotation", "properties.subnets[0].properties.addressPrefix", "should be 10.0.0.0/24"},
		{"IPv6 subnet not /64", vnetID("vn"), vnetBody([]string{"10.0.0.0/16", "fd00:db8::/48"},
			map[string]any{"name": "a", "properties": map[string]any{"addressPrefixes": []string{"10.0.0.0/24", "fd00:db8::/80"}}}),
			400, "InvalidIPv6SubnetPrefixLength", "properties.subnets[0].properties.addressPrefixes[1]", "fd00:db8::/64"},
		{"duplicate subnet names", vnetID("vn"), vnetBody(v16, subnet("web", "10.0.0.0/24"), subnet("WEB", "10.0.1.0/24")),
			400, "DuplicateResourceName", "properties.subnets[1].name", "unique name"},
		{"subnet without a name", vnetID("vn"), vnetBody(v16, subnet("", "10.0.0.0/24")),
			400, "InvalidResourceName", "properties.subnets[0].name", "no name"},
		{"invalid subnet name", vnetID("vn"), vnetBody(v16, subnet("-web", "10.0.0.0/24")),
			400, "InvalidResourceName", "properties.subnets[0].name", "1 to 80 characters"},
		{"subnet id of another network", vnetID("vn"), vnetBody(v16, map[string]any{"name": "a", "id": subnetID("base", "a"), "properties": map[string]any{"addressPrefix": "10.0.0.0/24"}}),
			400, "InvalidSubnetId", "properties.subnets[0].id", subnetID("vn", "a")},
		{"subnet without a prefix", vnetID("vn"), vnetBody(v16, map[string]any{"name": "a", "properties": map[string]any{}}),
			400, "SubnetAddressPrefixMissing", "properties.subnets[0].properties.addressPrefix", "addressPrefixes"},
		{"addressPrefix and addressPrefixes disagree", vnetID("vn"), vnetBody(v16, subnet("a", "10.0.0.0/24", map[string]any{"addressPrefixes": []string{"10.0.1.0/24"}})),
			400, "SubnetAddressPrefixConflict", "properties.subnets[0].properties.addressPrefix", "only one"},
		{"subnet prefix of the wrong JSON type", vnetID("vn"), vnetBody(v16, map[string]any{"name": "a", "properties": map[string]any{"addressPrefix": 24}}),
			400, "InvalidRequestContent", "properties.subnets[0].properties.addressPrefix", "a string"},
		{"subnet properties not an object", vnetID("vn"), vnetBody(v16, map[string]any{"name": "a", "properties": "10.0.0.0/24"}),
			400, "InvalidRequestContent", "properties.subnets[0].properties", "JSON object"},
		{"unknown service endpoint", vnetID("vn"), vnetBody(v16, subnet("a", "10.0.0.0/24", map[string]any{"serviceEndpoints": []any{map[string]any{"service": "Microsoft.Nope"}}})),
			400, "SubnetHasServiceEndpointWithInvalidServiceName", "properties.subnets[0].properties.serviceEndpoints[0].service", "Microsoft.CognitiveServices"},
		{"service endpoint without a service", vnetID("vn"), vnetBody(v16, subnet("a", "10.0.0.0/24", map[string]any{"serviceEndpoints": []any{map[string]any{}}})),
			400, "SubnetHasServiceEndpointWithInvalidServiceName", "properties.subnets[0].properties.serviceEndpoints[0].service", "no service name"},
		{"duplicate service endpoint", vnetID("vn"), vnetBody(v16, subnet("a", "10.0.0.0/24", map[string]any{"serviceEndpoints": []any{
			map[string]any{"service": "Microsoft.Storage"}, map[string]any{"service": "microsoft.storage"}}})),
			400, "DuplicateServiceEndpoint", "properties.subnets[0].properties.serviceEndpoints[1].service", "once"},
		{"unknown service endpoint location", vnetID("vn"), vnetBody(v16, subnet("a", "10.0.0.0/24", map[string]any{"serviceEndpoints": []any{
			map[string]any{"service": "Microsoft.Storage", "locations": []string{"westeurope", "atlantis"}}}})),
			400, "InvalidServiceEndpointLocation", "properties.subnets[0].properties.serviceEndpoints[0].locations[1]", "atlantis"},
		{"invalid privateEndpointNetworkPolicies", vnetID("vn"), vnetBody(v16, subnet("a", "10.0.0.0/24", map[string]any{"privateEndpointNetworkPolicies": "Sometimes"})),
			400, "InvalidPrivateEndpointNetworkPolicies", "properties.subnets[0].properties.privateEndpointNetworkPolicies", "NetworkSecurityGroupEnabled"},
		{"invalid privateLinkServiceNetworkPolicies", vnetID("vn"), vnetBody(v16, subnet("a", "10.0.0.0/24", map[string]any{"privateLinkServiceNetworkPolicies": "On"})),
			400, "InvalidPrivateLinkServiceNetworkPolicies", "properties.subnets[0].properties.privateLinkServiceNetworkPolicies", "Enabled, Disabled"},
		{"network security group", vnetID("vn"), vnetBody(v16, subnet("a", "10.0.0.0/24", map[string]any{"networkSecurityGroup": map[string]any{"id": "/x"}})),
			400, "UnsupportedProperty", "properties.subnets[0].properties.networkSecurityGroup", "network security groups"},
		{"DDoS protection", vnetID("vn"), map[string]any{"location": "westeurope", "properties": map[string]any{
			"addressSpace": map[string]any{"addressPrefixes": v16}, "enableDdosProtection": true}},
			400, "UnsupportedProperty", "properties.enableDdosProtection", "DDoS"},
		{"DNS server not an address", vnetID("vn"), map[string]any{"location": "westeurope", "properties": map[string]any{
			"addressSpace": map[string]any{"addressPrefixes": v16}, "dhcpOptions": map[string]any{"dnsServers": []string{"10.0.0.4", "dns.local"}}}},
			400, "InvalidDnsServerAddress", "properties.dhcpOptions.dnsServers[1]", "dns.local"},
		{"location missing", vnetID("vn"), map[string]any{"properties": map[string]any{"addressSpace": map[string]any{"addressPrefixes": v16}}},
			400, "LocationRequired", "location", "location"},
		{"invalid virtual network name", vnetID("vn!"), vnetBody(v16),
			400, "InvalidResourceName", "", "2 to 64 characters"},

		// Child subnets of "base".
		{"child subnet overlaps a sibling", subnetID("base", "c"), subnetBody("10.0.0.128/25"),
			400, "NetcfgSubnetRangesOverlap", "properties.addressPrefix", "subnet 'a'"},
		{"child subnet update overlaps a sibling", subnetID("base", "a"), subnetBody("10.0.1.0/24"),
			400, "NetcfgSubnetRangesOverlap", "properties.addressPrefix", "subnet 'b'"},
		{"child subnet outside the address space", subnetID("base", "c"), subnetBody("192.168.0.0/24"),
			400, "NetcfgSubnetRangeOutsideVnet", "properties.addressPrefix", "10.0.0.0/16"},
		{"child subnet with host bits", subnetID("base", "c"), subnetBody("10.0.2.1/24"),
			400, "InvalidCIDRNotation", "properties.addressPrefix", "should be 10.0.2.0/24"},
		{"child subnet smaller than /29", subnetID("base", "c"), subnetBody("10.0.2.0/32"),
			400, "SubnetAddressPrefixTooSmall", "properties.addressPrefix", "/29"},
		{"child subnet not CIDR", subnetID("base", "c"), subnetBody("ten.zero/24"),
			400, "InvalidAddressPrefixFormat", "properties.addressPrefix", "CIDR"},
		{"child subnet without a prefix", subnetID("base", "c"), map[string]any{"properties": map[string]any{}},
			400, "SubnetAddressPrefixMissing", "properties.addressPrefix", "addressPrefix"},
		{"child subnet with an unknown service endpoint", subnetID("base", "c"), subnetBody("10.0.2.0/24", map[string]any{"serviceEndpoints": []any{map[string]any{"service": "Microsoft.CognitiveService"}}}),
			400, "SubnetHasServiceEndpointWithInvalidServiceName", "properties.serviceEndpoints[0].service", "Microsoft.CognitiveService'"},
		{"child subnet with an invalid name", subnetID("base", "c-"), subnetBody("10.0.2.0/24"),
			400, "InvalidResourceName", "", "1 to 80 characters"},
		{"child subnet of a missing network", subnetID("nope", "c"), subnetBody("10.0.2.0/24"),
			404, "ParentResourceNotFound", "", "nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.Revision()
			r := e.Do(http.MethodPut, tc.path+netAPI, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			ae := r.ARMError(t)
			if ae.Code != tc.code || ae.Target != tc.target {
				t.Errorf("code %q target %q, want %q %q: %s", ae.Code, ae.Target, tc.code, tc.target, ae.Message)
			}
			if !strings.Contains(ae.Message, tc.mention) {
				t.Errorf("message %q does not mention %q", ae.Message, tc.mention)
			}
			if after := e.Revision(); after != before {
				t.Errorf("a refused request wrote to the store (revision %d -> %d)", before, after)
			}
		})
	}
	e.Must(http.StatusNotFound, http.MethodGet, vnetID("vn")+netAPI, nil)
	e.Must(http.StatusNotFound, http.MethodGet, subnetID("base", "c")+netAPI, nil)
	if after := e.Must(http.StatusOK, http.MethodGet, vnetID("base")+netAPI, nil).Body; string(after) != string(baseBefore) {
		t.Errorf("refused requests changed the network:\nbefore %s\nafter  %s", baseBefore, after)
	}
}

// TestAcceptedVariants covers what is valid although it looks unusual.
func TestAcceptedVariants(t *testing.T) {
	e := newEnv(t)
	// Dual stack, /29, both prefix properties agreeing, enum casing, and
	// 172.17.0.0/16 (only a CLI warning).
	r := e.Must(http.StatusCreated, http.MethodPut, vnetID("vn")+netAPI, vnetBody([]string{"10.0.0.0/16", "fd00:db8::/48", "172.17.0.0/16"},
		map[string]any{"name": "dual", "properties": map[string]any{"addressPrefixes": []string{"10.0.0.0/24", "fd00:db8::/64"}}},
		subnet("tiny", "10.0.1.0/29", map[string]any{"addressPrefixes": []string{"10.0.1.0/29"}, "privateEndpointNetworkPolicies": "enabled"}),
		subnet("docker", "172.17.0.0/24", map[string]any{"serviceEndpoints": []any{map[string]any{"service": "microsoft.cognitiveservices"}}}),
	))
	props := r.JSON(t)["properties"].(map[string]any)
	subnets := props["subnets"].([]any)
	if len(subnets) != 3 {
		t.Fatalf("subnets: %v", subnets)
	}
	tiny := subnets[1].(map[string]any)["properties"].(map[string]any)
	if tiny["privateEndpointNetworkPolicies"] != "Enabled" || tiny["privateLinkServiceNetworkPolicies"] != "Enabled" {
		t.Errorf("enum values not canonical or defaulted: %v", tiny)
	}
	docker := subnets[2].(map[string]any)["properties"].(map[string]any)
	se := docker["serviceEndpoints"].([]any)[0].(map[string]any)
	if se["service"] != "Microsoft.CognitiveServices" || se["provisioningState"] != "Succeeded" {
		t.Errorf("service endpoint: %v", se)
	}
	if locs := se["locations"].([]any); len(locs) != 1 || locs[0] != "*" {
		t.Errorf("default locations: %v", locs)
	}
	// Echoing a GET back (read-only fields included) is a valid PUT and
	// changes no subnet.
	got := e.Must(http.StatusOK, http.MethodGet, vnetID("vn")+netAPI, nil)
	etag := e.Must(http.StatusOK, http.MethodGet, subnetID("vn", "dual")+netAPI, nil).Header.Get("ETag")
	e.Must(http.StatusOK, http.MethodPut, vnetID("vn")+netAPI, string(got.Body))
	if again := e.Must(http.StatusOK, http.MethodGet, subnetID("vn", "dual")+netAPI, nil).Header.Get("ETag"); again != etag {
		t.Errorf("PUT of an unchanged network rewrote its subnet (ETag %s -> %s)", etag, again)
	}
	// Networks are listed by resource group and by subscription.
	for _, scope := range []string{"/subscriptions/" + sub + "/resourceGroups/" + group, "/subscriptions/" + sub} {
		var page struct{ Value []map[string]any }
		if err := json.Unmarshal(e.Must(http.StatusOK, http.MethodGet, scope+"/providers/Microsoft.Network/virtualNetworks"+netAPI, nil).Body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Value) != 1 || page.Value[0]["name"] != "vn" || page.Value[0]["etag"] == nil {
			t.Errorf("list under %s: %v", scope, page.Value)
		}
	}
	// Earlier api-versions are served with the same shape.
	e.Must(http.StatusOK, http.MethodGet, vnetID("vn")+"?api-version=2023-04-01", nil)
	e.Must(http.StatusOK, http.MethodGet, subnetID("vn", "tiny")+"?api-version=2024-07-01", nil)
	if code := e.Must(http.StatusBadRequest, http.MethodGet, vnetID("vn")+"?api-version=2099-01-01", nil).ARMError(t).Code; code != "InvalidApiVersionParameter" {
		t.Errorf("unknown api-version: %s", code)
	}
}

package cognitive_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/perimeterhq/perimeter/internal/arm"
)

func ipRules(values ...string) []map[string]any {
	out := []map[string]any{}
	for _, v := range values {
		out = append(out, map[string]any{"value": v})
	}
	return out
}

func denyWith(ips []map[string]any, vnets []map[string]any) map[string]any {
	acls := map[string]any{"defaultAction": "Deny"}
	if ips != nil {
		acls["ipRules"] = ips
	}
	if vnets != nil {
		acls["virtualNetworkRules"] = vnets
	}
	return map[string]any{"networkAcls": acls}
}

// refusal is a write that must be refused.
type refusal struct {
	status  int
	code    string
	target  string
	mention string // the message must say this (what to change)
}

// expectRefused sends a PUT and checks the refusal and that nothing was
// written: the store revision and the stored resource are unchanged.
func (e *env) expectRefused(path string, body any, want refusal) arm.Error {
	e.T.Helper()
	before := e.Revision()
	old := e.Do(http.MethodGet, path+api, nil)
	r := e.Do(http.MethodPut, path+api, body)
	if want.status == 0 {
		want.status = http.StatusBadRequest
	}
	if r.Status != want.status {
		e.T.Fatalf("status %d, want %d: %s", r.Status, want.status, r.Body)
	}
	got := r.ARMError(e.T)
	if got.Code != want.code {
		e.T.Errorf("code %s, want %s: %s", got.Code, want.code, r.Body)
	}
	if got.Target != want.target {
		e.T.Errorf("target %q, want %q: %s", got.Target, want.target, r.Body)
	}
	if !strings.Contains(got.Message, want.mention) {
		e.T.Errorf("message does not mention %q: %s", want.mention, got.Message)
	}
	if after := e.Revision(); after != before {
		e.T.Errorf("refused write changed the store (revision %d -> %d)", before, after)
	}
	if now := e.Do(http.MethodGet, path+api, nil); now.Status != old.Status || string(now.Body) != string(old.Body) {
		e.T.Errorf("refused write changed the resource:\nbefore %d %s\nafter  %d %s", old.Status, old.Body, now.Status, now.Body)
	}
	return got
}

func TestIPRules(t *testing.T) {
	e := newEnv(t)
	e.put(http.StatusCreated, acct("fw"), account("fw-test", nil))
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("20.%d.%d.0/24", i/200, i%200)
	}
	tests := []struct {
		name  string
		rules []string
		want  refusal
	}{
		{"private 10/8", []string{"124.56.78.91", "8.8.8.8", "10.1.2.3"}, refusal{code: "IpRulePrivateAddress", target: "properties.networkAcls.ipRules[2].value", mention: "10.0.0.0/8"}},
		{"private 172.16/12", []string{"172.20.1.1"}, refusal{code: "IpRulePrivateAddress", target: "properties.networkAcls.ipRules[0].value", mention: "172.16.0.0/12"}},
		{"private 192.168/16 range", []string{"192.168.1.0/24"}, refusal{code: "IpRulePrivateAddress", target: "properties.networkAcls.ipRules[0].value", mention: "192.168.0.0/16"}},
		{"range including a private range", []string{"8.0.0.0/6"}, refusal{code: "IpRulePrivateAddress", target: "properties.networkAcls.ipRules[0].value", mention: "includes"}},
		{"everything", []string{"0.0.0.0/0"}, refusal{code: "IpRulePrivateAddress", target: "properties.networkAcls.ipRules[0].value", mention: "public"}},
		{"/32", []string{"124.56.78.91/32"}, refusal{code: "IpRulePrefixNotSupported", target: "properties.networkAcls.ipRules[0].value", mention: "single address '124.56.78.91'"}},
		{"/31", []string{"124.56.78.90/31"}, refusal{code: "IpRulePrefixNotSupported", target: "properties.networkAcls.ipRules[0].value", mention: "'124.56.78.90' and '124.56.78.91'"}},
		{"IPv6", []string{"2001:db8::1"}, refusal{code: "IpRuleIPv6NotSupported", target: "properties.networkAcls.ipRules[0].value", mention: "IPv4"}},
		{"IPv6 range", []string{"2001:db8::/32"}, refusal{code: "IpRuleIPv6NotSupported", target: "properties.networkAcls.ipRules[0].value", mention: "IPv4"}},
		{"IPv4-mapped IPv6", []string{"::ffff:124.56.78.91"}, refusal{code: "IpRuleIPv6NotSupported", target: "properties.networkAcls.ipRules[0].value", mention: "'124.56.78.91'"}},
		{"loopback", []string{"127.0.0.1"}, refusal{code: "IpRuleReservedAddress", target: "properties.networkAcls.ipRules[0].value", mention: "loopback"}},
		{"link-local", []string{"169.254.169.254"}, refusal{code: "IpRuleReservedAddress", target: "properties.networkAcls.ipRules[0].value", mention: "link-local"}},
		{"CGNAT", []string{"100.64.1.1"}, refusal{code: "IpRuleReservedAddress", target: "properties.networkAcls.ipRules[0].value", mention: "carrier-grade NAT"}},
		{"this network", []string{"0.1.2.3"}, refusal{code: "IpRuleReservedAddress", target: "properties.networkAcls.ipRules[0].value", mention: "0.0.0.0/8"}},
		{"multicast", []string{"224.0.0.1"}, refusal{code: "IpRuleReservedAddress", target: "properties.networkAcls.ipRules[0].value", mention: "multicast"}},
		{"reserved 240/4", []string{"250.1.2.3"}, refusal{code: "IpRuleReservedAddress", target: "properties.networkAcls.ipRules[0].value", mention: "240.0.0.0/4"}},
		{"broadcast", []string{"255.255.255.255"}, refusal{code: "IpRuleReservedAddress", target: "properties.networkAcls.ipRules[0].value", mention: "broadcast"}},
		{"benchmarking", []string{"198.18.0.1"}, refusal{code: "IpRuleReservedAddress", target: "properties.networkAcls.ipRules[0].value", mention: "benchmarking"}},
		{"malformed", []string{"124.56.78"}, refusal{code: "InvalidIpRule", target: "properties.networkAcls.ipRules[0].value", mention: "'124.56.78' is not an IPv4 address"}},
		{"not an address", []string{"example.com"}, refusal{code: "InvalidIpRule", target: "properties.networkAcls.ipRules[0].value", mention: "example.com"}},
		{"prefix out of range", []string{"124.56.78.0/33"}, refusal{code: "InvalidIpRule", target: "properties.networkAcls.ipRules[0].value", mention: "CIDR"}},
		{"leading zeros", []string{"124.056.78.91"}, refusal{code: "InvalidIpRule", target: "properties.networkAcls.ipRules[0].value", mention: "124.056.78.91"}},
		{"empty", []string{""}, refusal{code: "InvalidIpRule", target: "properties.networkAcls.ipRules[0].value", mention: "empty"}},
		{"host bits set", []string{"124.56.78.91/24"}, refusal{code: "IpRuleHostBitsSet", target: "properties.networkAcls.ipRules[0].value", mention: "'124.56.78.0/24'"}},
		{"duplicate", []string{"124.56.78.0/24", "8.8.8.8", "124.56.78.0/24"}, refusal{code: "DuplicateIpRule", target: "properties.networkAcls.ipRules[2].value", mention: "ipRules[0]"}},
		{"101 rules", many, refusal{code: "TooManyIpRules", target: "properties.networkAcls.ipRules", mention: "at most 100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.T = t
			body := account("fw-test", denyWith(ipRules(tt.rules...), nil))
			e.expectRefused(acct("fw"), body, tt.want) // an update
			body = account("fw-new", denyWith(ipRules(tt.rules...), nil))
			e.expectRefused(acct("fw-new"), body, tt.want) // a create
		})
	}
	e.T = t

	// Every problem is listed in details, the first as the error.
	got := e.expectRefused(acct("fw"), account("fw-test", denyWith(ipRules("10.0.0.1", "8.8.8.8", "::1", "1.2.3.4/32"), nil)),
		refusal{code: "IpRulePrivateAddress", target: "properties.networkAcls.ipRules[0].value", mention: "2 more problems"})
	if len(got.Details) != 3 || got.Details[1].Target != "properties.networkAcls.ipRules[2].value" || got.Details[2].Code != "IpRulePrefixNotSupported" {
		t.Errorf("details = %+v", got.Details)
	}

	// Public addresses and ranges, /30 and wider, are accepted and stored
	// in canonical form; the documentation ranges are allowed (see
	// nonPublicRanges for why).
	many[100] = "203.0.113.0/24"
	r := e.put(http.StatusOK, acct("fw"), account("fw-test", denyWith(ipRules("124.56.78.91", "124.56.78.0/24", "8.8.8.0/30", "198.51.100.7"), nil)))
	acls := props(t, r)["networkAcls"].(map[string]any)
	if acls["defaultAction"] != "Deny" || acls["bypass"] != "None" || fmt.Sprint(acls["ipRules"]) != "[map[value:124.56.78.91] map[value:124.56.78.0/24] map[value:8.8.8.0/30] map[value:198.51.100.7]]" {
		t.Errorf("stored networkAcls = %v", acls)
	}
	e.put(http.StatusOK, acct("fw"), account("fw-test", denyWith(ipRules(many[1:]...), nil)))
}

func TestNetworkRuleEnums(t *testing.T) {
	e := newEnv(t)
	e.put(http.StatusCreated, acct("en"), account("en-test", nil))
	tests := []struct {
		name  string
		props map[string]any
		want  refusal
	}{
		{"defaultAction", map[string]any{"networkAcls": map[string]any{"defaultAction": "Block"}}, refusal{code: "InvalidDefaultAction", target: "properties.networkAcls.defaultAction", mention: "'Deny'"}},
		{"bypass", map[string]any{"networkAcls": map[string]any{"defaultAction": "Deny", "bypass": "Everything"}}, refusal{code: "InvalidBypass", target: "properties.networkAcls.bypass", mention: "'AzureServices'"}},
		{"publicNetworkAccess", map[string]any{"publicNetworkAccess": "Sometimes"}, refusal{code: "InvalidPublicNetworkAccess", target: "properties.publicNetworkAccess", mention: "'Disabled'"}},
		{"ipRules of the wrong type", map[string]any{"networkAcls": map[string]any{"ipRules": "1.2.3.4"}}, refusal{code: "InvalidRequestContent", target: "properties.networkAcls.ipRules", mention: "array"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.T = t
			e.expectRefused(acct("en"), account("en-test", tt.props), tt.want)
		})
	}
	e.T = t
	// Enums are case-insensitive and stored in their canonical spelling.
	r := e.put(http.StatusOK, acct("en"), account("en-test", map[string]any{
		"publicNetworkAccess": "disabled",
		"networkAcls":         map[string]any{"defaultAction": "deny", "bypass": "azureservices"},
	}))
	p := props(t, r)
	acls := p["networkAcls"].(map[string]any)
	if p["publicNetworkAccess"] != "Disabled" || acls["defaultAction"] != "Deny" || acls["bypass"] != "AzureServices" {
		t.Errorf("stored: %v", p)
	}
	// PATCH of one networkAcls field keeps the others (JSON merge patch).
	r = e.Must(http.StatusOK, http.MethodPatch, acct("en")+api, map[string]any{"properties": map[string]any{"networkAcls": map[string]any{"bypass": "None"}}})
	acls = props(t, r)["networkAcls"].(map[string]any)
	if acls["defaultAction"] != "Deny" || acls["bypass"] != "None" {
		t.Errorf("after PATCH: %v", acls)
	}
}

func TestVirtualNetworkRules(t *testing.T) {
	e := newEnv(t)
	e.put(http.StatusCreated, acct("vn"), account("vn-test", nil))
	withEndpoint := e.subnet(sub, "vnet1", "apps", true)
	without := e.subnet(sub, "vnet1", "plain", false)
	otherSub := e.subnet(sub2, "vnet2", "remote", true)
	rule := func(id string, ignore bool) map[string]any {
		return map[string]any{"id": id, "ignoreMissingVnetServiceEndpoint": ignore}
	}
	many := make([]map[string]any, 101)
	for i := range many {
		many[i] = rule(subnetPath(sub, "vnet1", fmt.Sprintf("s%d", i)), false)
	}
	tests := []struct {
		name  string
		rules []map[string]any
		want  refusal
	}{
		{"missing service endpoint", []map[string]any{rule(withEndpoint, false), rule(without, false)},
			refusal{code: "SubnetMissingServiceEndpoint", target: "properties.networkAcls.virtualNetworkRules[1].id", mention: "ignoreMissingVnetServiceEndpoint"}},
		{"missing subnet", []map[string]any{rule(subnetPath(sub, "vnet1", "nope"), true)},
			refusal{code: "LinkedInvalidPropertyId", target: "properties.networkAcls.virtualNetworkRules[0].id", mention: "Create the subnet first"}},
		{"not a subnet id", []map[string]any{rule("/subscriptions/"+sub+"/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet1", false)},
			refusal{code: "InvalidVirtualNetworkRuleId", target: "properties.networkAcls.virtualNetworkRules[0].id", mention: "/subnets/{subnet}"}},
		{"malformed id", []map[string]any{rule("subnet1", false)},
			refusal{code: "InvalidVirtualNetworkRuleId", target: "properties.networkAcls.virtualNetworkRules[0].id", mention: "not a subnet id"}},
		{"duplicate", []map[string]any{rule(withEndpoint, false), rule(strings.ToUpper(withEndpoint), false)},
			refusal{code: "DuplicateVirtualNetworkRule", target: "properties.networkAcls.virtualNetworkRules[1].id", mention: "Remove the duplicate"}},
		{"101 rules", many, refusal{code: "TooManyVirtualNetworkRules", target: "properties.networkAcls.virtualNetworkRules", mention: "at most 100"}},
		{"other subscription not registered", []map[string]any{rule(otherSub, false)},
			refusal{code: "SubnetSubscriptionNotRegistered", target: "properties.networkAcls.virtualNetworkRules[0].id", mention: "/subscriptions/" + sub2 + "/providers/Microsoft.CognitiveServices/register"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.T = t
			e.expectRefused(acct("vn"), account("vn-test", denyWith(nil, tt.rules)), tt.want)
		})
	}
	e.T = t

	// The endpoint present: Succeeded. Missing but ignored: kept, Failed.
	// Ids are stored in canonical casing.
	r := e.put(http.StatusOK, acct("vn"), account("vn-test", denyWith(nil, []map[string]any{rule(strings.ToLower(withEndpoint), false), rule(without, true)})))
	rules := props(t, r)["networkAcls"].(map[string]any)["virtualNetworkRules"].([]any)
	first, second := rules[0].(map[string]any), rules[1].(map[string]any)
	if first["id"] != withEndpoint || first["state"] != "Succeeded" {
		t.Errorf("rule with endpoint: %v", first)
	}
	if second["state"] != "Failed" || second["ignoreMissingVnetServiceEndpoint"] != true {
		t.Errorf("rule without endpoint: %v", second)
	}

	// A subnet in use by a rule cannot be deleted, nor its network.
	del := e.Must(http.StatusConflict, http.MethodDelete, withEndpoint+netAPI, nil).ARMError(t)
	if del.Code != "InUseSubnetCannotBeDeleted" || !strings.Contains(del.Message, "/accounts/vn") {
		t.Errorf("delete of a subnet in use: %+v", del)
	}
	users, err := e.Server.ReferencedBy(t.Context(), without)
	if err != nil || len(users) != 1 {
		t.Errorf("a rule with ignoreMissingVnetServiceEndpoint must reference its subnet too: %v %v", users, err)
	}

	// A subnet in another subscription of the installation, once that
	// subscription registered the provider.
	e.RegisterIn(sub2, "Microsoft.CognitiveServices")
	r = e.put(http.StatusOK, acct("vn"), account("vn-test", denyWith(nil, []map[string]any{rule(otherSub, false)})))
	if got := props(t, r)["networkAcls"].(map[string]any)["virtualNetworkRules"].([]any); len(got) != 1 || got[0].(map[string]any)["state"] != "Succeeded" {
		t.Errorf("cross-subscription rule: %v", got)
	}
	// Dropping the rules frees the subnets.
	e.Must(http.StatusOK, http.MethodDelete, withEndpoint+netAPI, nil)
	e.put(http.StatusOK, acct("vn"), account("vn-test", nil))
	e.Must(http.StatusOK, http.MethodDelete, otherSub+netAPI, nil)

	// Deleting the account releases its references.
	e.put(http.StatusOK, acct("vn"), account("vn-test", denyWith(nil, []map[string]any{rule(without, true)})))
	e.del(acct("vn"))
	e.Must(http.StatusOK, http.MethodDelete, without+netAPI, nil)
}

func TestNetworkRulesNeedCustomSubdomain(t *testing.T) {
	e := newEnv(t)
	classic := func(p map[string]any) map[string]any {
		return map[string]any{"location": "eastus", "kind": "CognitiveServices", "sku": map[string]any{"name": "S0"}, "properties": p}
	}
	// A classic kind without a subdomain is fine while it restricts nothing.
	r := e.put(http.StatusCreated, acct("classic"), classic(map[string]any{"networkAcls": map[string]any{"defaultAction": "Allow"}}))
	if _, has := props(t, r)["endpoint"]; has {
		t.Errorf("an account without a custom subdomain has no endpoint here: %s", r.Body)
	}
	e.expectRefused(acct("classic"), classic(denyWith(ipRules("124.56.78.91"), nil)),
		refusal{code: "CustomSubDomainNameRequired", target: "properties.customSubDomainName", mention: "Network rules"})
	e.expectRefused(acct("classic"), classic(map[string]any{"networkAcls": map[string]any{"defaultAction": "Deny"}}),
		refusal{code: "CustomSubDomainNameRequired", target: "properties.customSubDomainName", mention: "'classic'"})
}

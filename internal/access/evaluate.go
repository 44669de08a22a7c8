package access

import (
	"strings"

	"github.com/perimeterhq/perimeter/internal/snapshot"
)

// TrustedServiceType reports whether managed identities of resources of
// this type pass an account's firewall when its networkAcls.bypass is
// AzureServices: those of Azure AI services, Azure Machine Learning and
// Azure AI Search, as the seeds name them, and of the types nested in
// theirs (a Foundry project, Microsoft.CognitiveServices/accounts/projects,
// is part of the service). A user-assigned identity is a resource of its
// own type (Microsoft.ManagedIdentity/userAssignedIdentities) that any
// resource may carry, and is never a trusted service.
func TrustedServiceType(resourceType string) bool {
	for _, s := range [...]string{
		"Microsoft.CognitiveServices/accounts",
		"Microsoft.MachineLearningServices/workspaces",
		"Microsoft.Search/searchServices",
	} {
		t := resourceType
		if len(t) > len(s) && t[len(s)] == '/' {
			t = t[:len(s)]
		}
		if strings.EqualFold(t, s) {
			return true
		}
	}
	return false
}

// Evaluate decides whether an inbound request may reach the account at
// f.Host at the network layer, in the order the seeds give:
//
//  1. through a private endpoint: only an approved connection (none can be
//     approved yet, so such traffic is refused);
//  2. (network security perimeters land later);
//  3. the account's own settings: publicNetworkAccess Disabled refuses
//     (trusted services excepted with bypass AzureServices); defaultAction
//     Allow allows; otherwise a matching virtual-network rule (traffic
//     through that subnet's service endpoint), a matching IP rule (public
//     traffic), or a trusted service with bypass AzureServices allows, and
//     anything else is refused.
//
// Authentication and authorization come after, in the front door.
func Evaluate(s *snapshot.Snapshot, f Facts) Decision {
	if s == nil {
		return deny(0, "", LayerSystem, "", CodeNoSnapshot, "no configuration has been compiled yet; refusing until one is")
	}
	a := s.AccountByHost(f.Host)
	if a == nil {
		return deny(s.Revision, "", LayerResource, "", CodeUnknownHost, "no account is served at the requested host")
	}
	d := Decision{ResourceID: a.ID, Revision: s.Revision}
	if f.Path == PathPrivateEndpoint {
		return d.deny(LayerPrivateLink, "privateEndpointConnections", CodePrivateEndpointNotApproved,
			"the private endpoint has no approved connection to the account")
	}
	trusted := a.BypassAzureServices && trustedService(s, f.CallerObjectID)
	if !a.PublicNetworkAccess {
		if trusted {
			return d.allow(LayerTrustedService, "bypass: AzureServices", "a trusted service's managed identity passes with bypass AzureServices")
		}
		return d.deny(LayerPublicNetworkAccess, "publicNetworkAccess: Disabled", CodePublicNetworkAccessDisabled,
			"public network access is disabled and the request did not come through an approved private endpoint")
	}
	if a.DefaultAllow {
		return d.allow(LayerNetworkACLs, "defaultAction: Allow", "the account's firewall allows all networks")
	}
	if f.Path == PathServiceEndpoint && f.SubnetID != "" {
		if i, ok := a.VNetRules[strings.ToLower(f.SubnetID)]; ok {
			return d.allow(LayerNetworkACLs, a.VNetRuleNames[i], "the request came through the service endpoint of an allowed subnet")
		}
	}
	if f.Path == PathPublic && f.Source.IsValid() {
		if i, ok := a.IPRules.Lookup(f.Source.Unmap()); ok {
			return d.allow(LayerNetworkACLs, a.IPRuleNames[i], "the source address matches an IP rule")
		}
	}
	if trusted {
		return d.allow(LayerTrustedService, "bypass: AzureServices", "a trusted service's managed identity passes with bypass AzureServices")
	}
	return d.deny(LayerNetworkACLs, "defaultAction: Deny", CodeFirewallDenied, denyReason(f))
}

// denyReason is fixed text: the facts it would quote (source, subnet) are
// logged beside it, and a decision should not allocate.
func denyReason(f Facts) string {
	if f.Path == PathServiceEndpoint {
		return "the request came through a subnet that is not among the account's virtual-network rules, and the default action is Deny"
	}
	return "the source address matches no IP rule, and the default action is Deny"
}

func trustedService(s *snapshot.Snapshot, oid string) bool {
	if oid == "" {
		return false
	}
	return TrustedServiceType(s.ManagedIdentity(oid))
}

func deny(rev int64, resource, layer, rule, code, reason string) Decision {
	return Decision{Code: code, Reason: reason, Layer: layer, Rule: rule, ResourceID: resource, Revision: rev}
}

func (d Decision) allow(layer, rule, reason string) Decision {
	d.Allow, d.Code, d.Layer, d.Rule, d.Reason = true, CodeAllowed, layer, rule, reason
	return d
}

func (d Decision) deny(layer, rule, code, reason string) Decision {
	d.Allow, d.Code, d.Layer, d.Rule, d.Reason = false, code, layer, rule, reason
	return d
}

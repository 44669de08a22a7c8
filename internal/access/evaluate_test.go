package access

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/perimeterhq/perimeter/internal/snapshot"
)

const (
	acctID   = "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a"
	host     = "a.cognitiveservices.perimeter.localhost"
	allowed  = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/allowed"
	other    = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/other"
	trustedM = "11111111-0000-0000-0000-000000000001"
	someApp  = "22222222-0000-0000-0000-000000000002"
	project  = "44444444-0000-0000-0000-000000000004" // a Foundry project's identity
	search   = "55555555-0000-0000-0000-000000000005" // an AI Search service's
	userID   = "66666666-0000-0000-0000-000000000006" // a user-assigned identity
)

// build returns a snapshot with one account configured by edit.
func build(edit func(a *snapshot.Account)) *snapshot.Snapshot {
	b := snapshot.NewBuilder(42)
	a := snapshot.NewAccount(acctID, "a")
	a.Hosts = []string{host}
	edit(a)
	b.AddAccount(a)
	b.AddIdentity(trustedM, "Microsoft.CognitiveServices/accounts")
	b.AddIdentity(someApp, "Microsoft.Web/sites")
	b.AddIdentity(project, "Microsoft.CognitiveServices/accounts/projects")
	b.AddIdentity(search, "Microsoft.Search/searchServices")
	b.AddIdentity(userID, "Microsoft.ManagedIdentity/userAssignedIdentities")
	return b.Build()
}

func firewall(a *snapshot.Account) {
	a.DefaultAllow = false
	a.AddIPRule("203.0.113.0/24", netip.MustParsePrefix("203.0.113.0/24"))
	a.AddIPRule("198.51.100.7", netip.MustParsePrefix("198.51.100.7/32"))
	a.AddVNetRule(allowed)
}

func public(ip string) Facts {
	return Facts{Direction: Inbound, Source: netip.MustParseAddr(ip), SourceVia: "tcp", Path: PathPublic, Host: host}
}

func TestEvaluate(t *testing.T) {
	open := build(func(*snapshot.Account) {})
	fw := build(firewall)
	closed := build(func(a *snapshot.Account) { firewall(a); a.PublicNetworkAccess = false })
	bypass := build(func(a *snapshot.Account) { firewall(a); a.BypassAzureServices = true })
	closedBypass := build(func(a *snapshot.Account) { firewall(a); a.PublicNetworkAccess = false; a.BypassAzureServices = true })

	viaSubnet := func(id string) Facts {
		f := public("10.1.0.5")
		f.Path, f.SubnetID = PathServiceEndpoint, id
		return f
	}
	withCaller := func(f Facts, oid string) Facts { f.CallerObjectID = oid; return f }

	tests := []struct {
		name  string
		snap  *snapshot.Snapshot
		facts Facts
		allow bool
		code  string
		layer string
		rule  string
	}{
		{"no snapshot fails closed", nil, public("203.0.113.9"), false, CodeNoSnapshot, LayerSystem, ""},
		{"unknown host", open, Facts{Host: "b.cognitiveservices.perimeter.localhost", Source: netip.MustParseAddr("203.0.113.9"), Path: PathPublic}, false, CodeUnknownHost, LayerResource, ""},
		{"host with port and other casing", open, Facts{Host: "A.CognitiveServices.Perimeter.Localhost:8444", Source: netip.MustParseAddr("8.8.8.8"), Path: PathPublic}, true, CodeAllowed, LayerNetworkACLs, "defaultAction: Allow"},
		{"default allow", open, public("8.8.8.8"), true, CodeAllowed, LayerNetworkACLs, "defaultAction: Allow"},
		{"ip in a CIDR rule", fw, public("203.0.113.200"), true, CodeAllowed, LayerNetworkACLs, "ipRules[0]: 203.0.113.0/24"},
		{"ip equal to an address rule", fw, public("198.51.100.7"), true, CodeAllowed, LayerNetworkACLs, "ipRules[1]: 198.51.100.7"},
		{"ipv4-mapped ipv6 source matches", fw, Facts{Host: host, Source: netip.MustParseAddr("::ffff:203.0.113.1"), Path: PathPublic}, true, CodeAllowed, LayerNetworkACLs, "ipRules[0]: 203.0.113.0/24"},
		{"ip outside every rule", fw, public("198.51.100.8"), false, CodeFirewallDenied, LayerNetworkACLs, "defaultAction: Deny"},
		{"allowed subnet via service endpoint", fw, viaSubnet(allowed), true, CodeAllowed, LayerNetworkACLs, "virtualNetworkRules[0]: " + allowed},
		{"subnet id matched case-insensitively", fw, viaSubnet(strings.ToUpper(allowed)), true, CodeAllowed, LayerNetworkACLs, ""},
		{"other subnet", fw, viaSubnet(other), false, CodeFirewallDenied, LayerNetworkACLs, "defaultAction: Deny"},
		{"ip rules do not apply to service-endpoint traffic", fw, func() Facts { f := viaSubnet(other); f.Source = netip.MustParseAddr("203.0.113.1"); return f }(), false, CodeFirewallDenied, LayerNetworkACLs, ""},
		{"subnet rules do not apply to public traffic", fw, func() Facts { f := public("10.1.0.5"); f.SubnetID = allowed; return f }(), false, CodeFirewallDenied, LayerNetworkACLs, ""},
		{"public access disabled beats an ip rule", closed, public("203.0.113.5"), false, CodePublicNetworkAccessDisabled, LayerPublicNetworkAccess, "publicNetworkAccess: Disabled"},
		{"public access disabled beats a subnet rule", closed, viaSubnet(allowed), false, CodePublicNetworkAccessDisabled, LayerPublicNetworkAccess, ""},
		{"private endpoint without an approved connection", open, Facts{Host: host, Path: PathPrivateEndpoint, PrivateEndpointID: "/pe/x"}, false, CodePrivateEndpointNotApproved, LayerPrivateLink, ""},
		{"trusted service with bypass", bypass, withCaller(public("8.8.8.8"), trustedM), true, CodeAllowed, LayerTrustedService, "bypass: AzureServices"},
		{"trusted service with bypass, public access disabled", closedBypass, withCaller(public("8.8.8.8"), trustedM), true, CodeAllowed, LayerTrustedService, ""},
		{"trusted service without bypass", fw, withCaller(public("8.8.8.8"), trustedM), false, CodeFirewallDenied, LayerNetworkACLs, ""},
		{"a project's identity with bypass", bypass, withCaller(public("8.8.8.8"), project), true, CodeAllowed, LayerTrustedService, "bypass: AzureServices"},
		{"a search service's identity with bypass", bypass, withCaller(viaSubnet(other), search), true, CodeAllowed, LayerTrustedService, "bypass: AzureServices"},
		{"a user-assigned identity with bypass", bypass, withCaller(public("8.8.8.8"), userID), false, CodeFirewallDenied, LayerNetworkACLs, ""},
		{"a project's identity, public access disabled, no bypass", closed, withCaller(public("8.8.8.8"), project), false, CodePublicNetworkAccessDisabled, LayerPublicNetworkAccess, ""},
		{"untrusted identity with bypass", bypass, withCaller(public("8.8.8.8"), someApp), false, CodeFirewallDenied, LayerNetworkACLs, ""},
		{"unknown identity with bypass", bypass, withCaller(public("8.8.8.8"), "33333333-0000-0000-0000-000000000003"), false, CodeFirewallDenied, LayerNetworkACLs, ""},
		{"invalid source address", fw, Facts{Host: host, Path: PathPublic}, false, CodeFirewallDenied, LayerNetworkACLs, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Evaluate(tt.snap, tt.facts)
			if d.Allow != tt.allow || d.Code != tt.code || d.Layer != tt.layer || (tt.rule != "" && d.Rule != tt.rule) {
				t.Fatalf("got allow=%v code=%s layer=%s rule=%q (%s)", d.Allow, d.Code, d.Layer, d.Rule, d.Reason)
			}
			if d.Reason == "" {
				t.Error("decision without a reason")
			}
			if tt.snap != nil && d.Revision != tt.snap.Revision {
				t.Errorf("revision %d, want %d", d.Revision, tt.snap.Revision)
			}
			if tt.code != CodeUnknownHost && tt.code != CodeNoSnapshot && d.ResourceID != acctID {
				t.Errorf("resource %q", d.ResourceID)
			}
		})
	}
}

// FuzzEvaluate: any facts give a decision with a code, a layer and a
// reason; nothing is allowed without naming the rule that allowed it.
func FuzzEvaluate(f *testing.F) {
	snap := build(firewall)
	f.Add("203.0.113.4", host, "public", allowed, "")
	f.Add("::ffff:10.0.0.1", "A."+host, "serviceEndpoint", allowed, trustedM)
	f.Fuzz(func(t *testing.T, ip, h, path, subnet, oid string) {
		src, _ := netip.ParseAddr(ip)
		d := Evaluate(snap, Facts{Source: src, Host: h, Path: Path(path), SubnetID: subnet, CallerObjectID: oid})
		if d.Code == "" || d.Layer == "" || d.Reason == "" {
			t.Fatalf("incomplete decision %+v", d)
		}
		if d.Allow && d.Rule == "" {
			t.Fatalf("allowed without a rule: %+v", d)
		}
	})
}

// TestTrustedServiceType: the managed identities of Azure AI services,
// Azure Machine Learning and Azure AI Search resources, and of resources
// nested in them, are trusted services; nothing else is.
func TestTrustedServiceType(t *testing.T) {
	tests := []struct {
		typ     string
		trusted bool
	}{
		{"Microsoft.CognitiveServices/accounts", true},
		{"microsoft.cognitiveservices/ACCOUNTS", true},
		{"Microsoft.CognitiveServices/accounts/projects", true},
		{"Microsoft.MachineLearningServices/workspaces", true},
		{"Microsoft.MachineLearningServices/workspaces/onlineEndpoints", true},
		{"Microsoft.Search/searchServices", true},
		{"Microsoft.ManagedIdentity/userAssignedIdentities", false},
		{"Microsoft.Web/sites", false},
		{"Microsoft.CognitiveServices/accountsX", false},
		{"Microsoft.CognitiveServices/accounts/", true},
		{"Microsoft.CognitiveServices", false},
		{"Microsoft.MachineLearningServices/registries", false},
		{"Microsoft.Search/searchServicesX/x", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := TrustedServiceType(tt.typ); got != tt.trusted {
			t.Errorf("TrustedServiceType(%q) = %v, want %v", tt.typ, got, tt.trusted)
		}
	}
}

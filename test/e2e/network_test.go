package e2e

import (
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v11"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"
)

// TestNetworkWithAzureSDK drives virtual networks and subnets with the
// official armnetwork/v11 clients: long-running create and delete, get,
// list, child subnets, and a refusal surfacing as a ResponseError.
func TestNetworkWithAzureSDK(t *testing.T) {
	in := start(t, t.TempDir())
	ctx := t.Context()
	sub, cred, opts := in.admin.SubscriptionID, in.credential(), in.armOptions()
	poll := &runtime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond}

	groups, err := armresources.NewResourceGroupsClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := groups.CreateOrUpdate(ctx, "net-e2e", armresources.ResourceGroup{Location: to.Ptr("westeurope")}, nil); err != nil {
		t.Fatal(err)
	}
	vnets, err := armnetwork.NewVirtualNetworksClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	subnets, err := armnetwork.NewSubnetsClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}

	// Create with two inline subnets; the SDK registers Microsoft.Network
	// on the first MissingSubscriptionRegistration.
	poller, err := vnets.BeginCreateOrUpdate(ctx, "net-e2e", "vnet", armnetwork.VirtualNetwork{
		Location: to.Ptr("westeurope"),
		Properties: &armnetwork.VirtualNetworkPropertiesFormat{
			AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{to.Ptr("10.10.0.0/16")}},
			Subnets: []*armnetwork.Subnet{
				{Name: to.Ptr("apps"), Properties: &armnetwork.SubnetPropertiesFormat{
					AddressPrefix: to.Ptr("10.10.1.0/24"),
					ServiceEndpoints: []*armnetwork.ServiceEndpointPropertiesFormat{
						{Service: to.Ptr("Microsoft.CognitiveServices"), Locations: []*string{to.Ptr("*")}},
					},
				}},
				{Name: to.Ptr("endpoints"), Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: to.Ptr("10.10.2.0/24")}},
			},
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	created, err := poller.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatal(err)
	}
	if *created.Properties.ProvisioningState != armnetwork.ProvisioningStateSucceeded || len(created.Properties.Subnets) != 2 || created.Properties.ResourceGUID == nil {
		t.Fatalf("created network: %+v", created.Properties)
	}

	got, err := vnets.Get(ctx, "net-e2e", "vnet", nil)
	if err != nil {
		t.Fatal(err)
	}
	apps := got.Properties.Subnets[0]
	if *apps.Name != "apps" || *apps.ID != "/subscriptions/"+sub+"/resourceGroups/net-e2e/providers/Microsoft.Network/virtualNetworks/vnet/subnets/apps" ||
		*apps.Properties.ServiceEndpoints[0].Service != "Microsoft.CognitiveServices" || got.Etag == nil {
		t.Fatalf("get network: %+v", got.VirtualNetwork)
	}

	pager := vnets.NewListPager("net-e2e", nil)
	var listed []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Value {
			listed = append(listed, *v.Name)
		}
	}
	if !slices.Equal(listed, []string{"vnet"}) {
		t.Fatalf("listed networks %v", listed)
	}

	// A child subnet: create, get, list.
	sp, err := subnets.BeginCreateOrUpdate(ctx, "net-e2e", "vnet", "extra", armnetwork.Subnet{
		Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: to.Ptr("10.10.3.0/24")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	extra, err := sp.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatal(err)
	}
	if *extra.Properties.ProvisioningState != armnetwork.ProvisioningStateSucceeded ||
		*extra.Properties.PrivateEndpointNetworkPolicies != armnetwork.VirtualNetworkPrivateEndpointNetworkPoliciesDisabled {
		t.Fatalf("created subnet: %+v", extra.Properties)
	}
	if s, err := subnets.Get(ctx, "net-e2e", "vnet", "extra", nil); err != nil || *s.Properties.AddressPrefix != "10.10.3.0/24" {
		t.Fatalf("get subnet: %v %v", s, err)
	}
	var names []string
	for sp := subnets.NewListPager("net-e2e", "vnet", nil); sp.More(); {
		page, err := sp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Value {
			names = append(names, *s.Name)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"apps", "endpoints", "extra"}) {
		t.Fatalf("listed subnets %v", names)
	}
	if got, err := vnets.Get(ctx, "net-e2e", "vnet", nil); err != nil || len(got.Properties.Subnets) != 3 {
		t.Fatalf("network after child create: %v", err)
	}

	// An overlapping subnet is refused with Azure's code.
	_, err = subnets.BeginCreateOrUpdate(ctx, "net-e2e", "vnet", "clash", armnetwork.Subnet{
		Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: to.Ptr("10.10.1.128/25")},
	}, nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest || re.ErrorCode != "NetcfgSubnetRangesOverlap" {
		t.Fatalf("overlapping subnet: %v", err)
	}

	dp, err := subnets.BeginDelete(ctx, "net-e2e", "vnet", "extra", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.PollUntilDone(ctx, poll); err != nil {
		t.Fatal(err)
	}
	if _, err := subnets.Get(ctx, "net-e2e", "vnet", "extra", nil); !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
		t.Fatalf("get deleted subnet: %v", err)
	}

	vp, err := vnets.BeginDelete(ctx, "net-e2e", "vnet", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vp.PollUntilDone(ctx, poll); err != nil {
		t.Fatal(err)
	}
	if _, err := vnets.Get(ctx, "net-e2e", "vnet", nil); !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
		t.Fatalf("get deleted network: %v", err)
	}
}

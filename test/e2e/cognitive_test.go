package e2e

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	cs "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/cognitiveservices/armcognitiveservices/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v11"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"
)

// TestCognitiveAccountsWithAzureSDK drives AI services accounts, their
// keys, deployments, projects and the model catalog with the official
// armcognitiveservices/v2 SDK against the real binary: the SDK registers
// the namespace on its own (409 MissingSubscriptionRegistration), follows
// the long-running operations, and sees refusals as *azcore.ResponseError
// with Perimeter's codes.
func TestCognitiveAccountsWithAzureSDK(t *testing.T) {
	in := start(t, t.TempDir())
	ctx := t.Context()
	poll := &runtime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond}

	in.group("ai-rg", "eastus")
	factory := in.cognitive()
	accounts := factory.NewAccountsClient()

	// Create: the endpoint is the gateway's, on the port ready.json names.
	created, err := accounts.BeginCreate(ctx, "ai-rg", "foundry", cs.Account{
		Kind: to.Ptr("AIServices"), Location: to.Ptr("eastus"), SKU: &cs.SKU{Name: to.Ptr("S0")},
		Tags:     map[string]*string{"team": to.Ptr("ai")},
		Identity: &cs.Identity{Type: to.Ptr(cs.ResourceIdentityTypeSystemAssigned)},
		Properties: &cs.AccountProperties{
			CustomSubDomainName:    to.Ptr("e2e-foundry"),
			AllowProjectManagement: to.Ptr(true),
			PublicNetworkAccess:    to.Ptr(cs.PublicNetworkAccessEnabled),
			NetworkACLs: &cs.NetworkRuleSet{
				DefaultAction: to.Ptr(cs.NetworkRuleActionDeny),
				Bypass:        to.Ptr(cs.ByPassSelectionAzureServices),
				IPRules:       []*cs.IPRule{{Value: to.Ptr("203.0.113.0/24")}},
			},
		},
	}, nil)
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	res, err := created.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	gw, err := url.Parse(in.ready.Gateway)
	if err != nil {
		t.Fatal(err)
	}
	wantEndpoint := "https://e2e-foundry.cognitiveservices.perimeter.localhost:" + gw.Port() + "/"
	p := res.Properties
	if *p.ProvisioningState != cs.ProvisioningStateSucceeded || *p.Endpoint != wantEndpoint {
		t.Fatalf("created account: state %v, endpoint %v, want %s", *p.ProvisioningState, *p.Endpoint, wantEndpoint)
	}
	if *p.Endpoints["OpenAI Language Model Instance API"] != "https://e2e-foundry.openai.perimeter.localhost:"+gw.Port()+"/" {
		t.Errorf("endpoints: %v", p.Endpoints)
	}
	if res.Identity == nil || res.Identity.PrincipalID == nil || *res.Identity.TenantID != in.admin.TenantID {
		t.Errorf("identity: %+v", res.Identity)
	}
	principal := *res.Identity.PrincipalID

	got, err := accounts.Get(ctx, "ai-rg", "foundry", nil)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Properties.NetworkACLs.DefaultAction != cs.NetworkRuleActionDeny || *got.Properties.NetworkACLs.IPRules[0].Value != "203.0.113.0/24" || got.Etag == nil {
		t.Errorf("get: %+v", got.Properties.NetworkACLs)
	}

	// Update through PATCH; the identity keeps its principal.
	updated, err := accounts.BeginUpdate(ctx, "ai-rg", "foundry", cs.Account{
		Tags: map[string]*string{"team": to.Ptr("platform")},
		Properties: &cs.AccountProperties{NetworkACLs: &cs.NetworkRuleSet{
			DefaultAction: to.Ptr(cs.NetworkRuleActionDeny),
			IPRules:       []*cs.IPRule{{Value: to.Ptr("203.0.113.0/24")}, {Value: to.Ptr("124.56.78.91")}},
		}},
	}, nil)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	up, err := updated.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if len(up.Properties.NetworkACLs.IPRules) != 2 || *up.Tags["team"] != "platform" || *up.Identity.PrincipalID != principal {
		t.Errorf("updated account: %+v %+v", up.Properties.NetworkACLs, up.Tags)
	}

	// A refused IP rule: a 400 with the code naming the problem, nothing
	// changed.
	_, err = accounts.BeginUpdate(ctx, "ai-rg", "foundry", cs.Account{Properties: &cs.AccountProperties{
		NetworkACLs: &cs.NetworkRuleSet{IPRules: []*cs.IPRule{{Value: to.Ptr("124.56.78.91")}, {Value: to.Ptr("10.1.2.3")}}},
	}}, nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest || re.ErrorCode != "IpRulePrivateAddress" {
		t.Fatalf("private IP rule: %v", err)
	}
	if again, _ := accounts.Get(ctx, "ai-rg", "foundry", nil); len(again.Properties.NetworkACLs.IPRules) != 2 {
		t.Errorf("a refused update changed the rules: %+v", again.Properties.NetworkACLs.IPRules)
	}

	// Keys.
	k1, err := accounts.ListKeys(ctx, "ai-rg", "foundry", nil)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := accounts.ListKeys(ctx, "ai-rg", "foundry", nil)
	if err != nil || *k1.Key1 != *k2.Key1 || *k1.Key2 != *k2.Key2 {
		t.Fatalf("listKeys twice: %v", err)
	}
	regen, err := accounts.RegenerateKey(ctx, "ai-rg", "foundry", cs.RegenerateKeyParameters{KeyName: to.Ptr(cs.KeyNameKey2)}, nil)
	if err != nil || *regen.Key1 != *k1.Key1 || *regen.Key2 == *k1.Key2 {
		t.Fatalf("regenerateKey Key2: %v", err)
	}

	// Lists.
	found := false
	for pager := accounts.NewListByResourceGroupPager("ai-rg", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Value {
			found = found || *a.Name == "foundry"
		}
	}
	if !found {
		t.Error("the account is not listed in its group")
	}
	found = false
	for pager := accounts.NewListPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Value {
			found = found || *a.Name == "foundry"
		}
	}
	if !found {
		t.Error("the account is not listed in its subscription")
	}

	avail, err := factory.NewManagementClient().CheckDomainAvailability(ctx, cs.CheckDomainAvailabilityParameter{
		SubdomainName: to.Ptr("e2e-foundry"), Type: to.Ptr("Microsoft.CognitiveServices/accounts"),
	}, nil)
	if err != nil || *avail.IsSubdomainAvailable {
		t.Errorf("checkDomainAvailability of a taken name: %v %v", avail.IsSubdomainAvailable, err)
	}

	// The model catalog holds the mock, by location and by account.
	mock := false
	for pager := factory.NewModelsClient().NewListPager("eastus", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Value {
			mock = mock || (*m.Model.Format == "Perimeter" && *m.Model.Name == "mock" && *m.Model.Version == "1")
		}
	}
	if !mock {
		t.Error("the location's models do not list the mock")
	}
	mock = false
	for pager := accounts.NewListModelsPager("ai-rg", "foundry", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Value {
			mock = mock || (*m.Format == "Perimeter" && *m.Name == "mock")
		}
	}
	if !mock {
		t.Error("the account's models do not list the mock")
	}

	// Deployments of the mock; a model outside the catalog is refused.
	deployments := factory.NewDeploymentsClient()
	dp, err := deployments.BeginCreateOrUpdate(ctx, "ai-rg", "foundry", "chat", cs.Deployment{
		SKU:        &cs.SKU{Name: to.Ptr("Standard"), Capacity: to.Ptr[int32](10)},
		Properties: &cs.DeploymentProperties{Model: &cs.DeploymentModel{Format: to.Ptr("Perimeter"), Name: to.Ptr("mock"), Version: to.Ptr("1")}},
	}, nil)
	if err != nil {
		t.Fatalf("deploy the mock: %v", err)
	}
	dep, err := dp.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatalf("deploy the mock: %v", err)
	}
	if *dep.Properties.ProvisioningState != cs.DeploymentProvisioningStateSucceeded || *dep.SKU.Capacity != 10 || *dep.Properties.CurrentCapacity != 10 {
		t.Errorf("deployment: %+v %+v", dep.Properties, dep.SKU)
	}
	if _, err := deployments.Get(ctx, "ai-rg", "foundry", "chat", nil); err != nil {
		t.Fatal(err)
	}
	_, err = deployments.BeginCreateOrUpdate(ctx, "ai-rg", "foundry", "nope", cs.Deployment{
		SKU:        &cs.SKU{Name: to.Ptr("Standard"), Capacity: to.Ptr[int32](1)},
		Properties: &cs.DeploymentProperties{Model: &cs.DeploymentModel{Format: to.Ptr("OpenAI"), Name: to.Ptr("gpt-4o"), Version: to.Ptr("2024-08-06")}},
	}, nil)
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest || re.ErrorCode != "DeploymentModelNotSupported" {
		t.Fatalf("deploy a model outside the catalog: %v", err)
	}
	var names []string
	for pager := deployments.NewListPager("ai-rg", "foundry", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Value {
			names = append(names, *d.Name)
		}
	}
	if len(names) != 1 || names[0] != "chat" {
		t.Errorf("deployments listed: %v", names)
	}
	dd, err := deployments.BeginDelete(ctx, "ai-rg", "foundry", "chat", nil)
	if err != nil {
		t.Fatalf("delete deployment: %v", err)
	}
	if _, err := dd.PollUntilDone(ctx, poll); err != nil {
		t.Fatalf("delete deployment: %v", err)
	}
	if _, err := deployments.Get(ctx, "ai-rg", "foundry", "chat", nil); !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
		t.Fatalf("deployment after delete: %v", err)
	}

	// Projects.
	projects := factory.NewProjectsClient()
	pp, err := projects.BeginCreate(ctx, "ai-rg", "foundry", "proj", cs.Project{
		Location: to.Ptr("East US"), Identity: &cs.Identity{Type: to.Ptr(cs.ResourceIdentityTypeSystemAssigned)},
		Properties: &cs.ProjectProperties{DisplayName: to.Ptr("p1"), Description: to.Ptr("first project")},
	}, nil)
	if err != nil {
		t.Fatalf("create project: %v", err)
	}
	proj, err := pp.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatalf("create project: %v", err)
	}
	if !*proj.Properties.IsDefault || *proj.Properties.ProvisioningState != cs.ProvisioningStateSucceeded {
		t.Errorf("project: %+v", proj.Properties)
	}
	gotProject, err := projects.Get(ctx, "ai-rg", "foundry", "proj", nil)
	if err != nil || *gotProject.Properties.DisplayName != "p1" || gotProject.Properties.Endpoints == nil {
		t.Fatalf("get project: %+v %v", gotProject.Project, err)
	}
	pd, err := projects.BeginDelete(ctx, "ai-rg", "foundry", "proj", nil)
	if err != nil {
		t.Fatalf("delete project: %v", err)
	}
	if _, err := pd.PollUntilDone(ctx, poll); err != nil {
		t.Fatalf("delete project: %v", err)
	}

	// Delete the account: gone, and its subdomain free again.
	del, err := accounts.BeginDelete(ctx, "ai-rg", "foundry", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := del.PollUntilDone(ctx, poll); err != nil {
		t.Fatalf("delete account: %v", err)
	}
	_, err = accounts.Get(ctx, "ai-rg", "foundry", nil)
	if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
		t.Fatalf("get deleted account: %v", err)
	}
	avail, err = factory.NewManagementClient().CheckDomainAvailability(ctx, cs.CheckDomainAvailabilityParameter{
		SubdomainName: to.Ptr("e2e-foundry"), Type: to.Ptr("Microsoft.CognitiveServices/accounts"),
	}, nil)
	if err != nil || !*avail.IsSubdomainAvailable {
		t.Errorf("checkDomainAvailability after delete: %v %v", avail.IsSubdomainAvailable, err)
	}
}

// TestCognitiveVirtualNetworkRulesWithAzureSDK: an account's virtual
// network rule names a subnet made with armnetwork; the subnet needs the
// Microsoft.CognitiveServices service endpoint, and cannot be deleted while
// the rule uses it.
func TestCognitiveVirtualNetworkRulesWithAzureSDK(t *testing.T) {
	in := start(t, t.TempDir())
	ctx := t.Context()
	subID, cred, opts := in.admin.SubscriptionID, in.credential(), in.armOptions()
	poll := &runtime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond}
	groups, err := armresources.NewResourceGroupsClient(subID, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := groups.CreateOrUpdate(ctx, "ai-net", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	}
	vnets, err := armnetwork.NewVirtualNetworksClient(subID, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	vp, err := vnets.BeginCreateOrUpdate(ctx, "ai-net", "vnet", armnetwork.VirtualNetwork{
		Location: to.Ptr("eastus"),
		Properties: &armnetwork.VirtualNetworkPropertiesFormat{
			AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{to.Ptr("10.20.0.0/16")}},
			Subnets: []*armnetwork.Subnet{
				{Name: to.Ptr("apps"), Properties: &armnetwork.SubnetPropertiesFormat{
					AddressPrefix:    to.Ptr("10.20.1.0/24"),
					ServiceEndpoints: []*armnetwork.ServiceEndpointPropertiesFormat{{Service: to.Ptr("Microsoft.CognitiveServices")}},
				}},
				{Name: to.Ptr("plain"), Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: to.Ptr("10.20.2.0/24")}},
			},
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	vnet, err := vp.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatal(err)
	}
	apps, plain := *vnet.ID+"/subnets/apps", *vnet.ID+"/subnets/plain"

	accounts, err := cs.NewAccountsClient(subID, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	account := func(rules ...*cs.VirtualNetworkRule) cs.Account {
		return cs.Account{
			Kind: to.Ptr("AIServices"), Location: to.Ptr("eastus"), SKU: &cs.SKU{Name: to.Ptr("S0")},
			Properties: &cs.AccountProperties{
				CustomSubDomainName: to.Ptr("e2e-vnet"),
				NetworkACLs:         &cs.NetworkRuleSet{DefaultAction: to.Ptr(cs.NetworkRuleActionDeny), VirtualNetworkRules: rules},
			},
		}
	}
	_, err = accounts.BeginCreate(ctx, "ai-net", "guarded", account(&cs.VirtualNetworkRule{ID: to.Ptr(plain)}), nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest || re.ErrorCode != "SubnetMissingServiceEndpoint" {
		t.Fatalf("rule on a subnet without the service endpoint: %v", err)
	}
	ap, err := accounts.BeginCreate(ctx, "ai-net", "guarded", account(&cs.VirtualNetworkRule{ID: to.Ptr(apps)}), nil)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := ap.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatal(err)
	}
	if rules := acct.Properties.NetworkACLs.VirtualNetworkRules; len(rules) != 1 || *rules[0].State != "Succeeded" {
		t.Fatalf("virtual network rules: %+v", rules)
	}

	subnets, err := armnetwork.NewSubnetsClient(subID, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = subnets.BeginDelete(ctx, "ai-net", "vnet", "apps", nil)
	if !errors.As(err, &re) || re.StatusCode != http.StatusConflict || re.ErrorCode != "InUseSubnetCannotBeDeleted" {
		t.Fatalf("delete of a subnet an account uses: %v", err)
	}
	up, err := accounts.BeginCreate(ctx, "ai-net", "guarded", account(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.PollUntilDone(ctx, poll); err != nil {
		t.Fatal(err)
	}
	sd, err := subnets.BeginDelete(ctx, "ai-net", "vnet", "apps", nil)
	if err != nil {
		t.Fatalf("delete of a subnet no longer used: %v", err)
	}
	if _, err := sd.PollUntilDone(ctx, poll); err != nil {
		t.Fatal(err)
	}
}

// TestCognitiveEndpointsFollowTheGateway: a restart picks a new gateway
// port (port 0); accounts then report the URLs that answer now, not those
// of the previous run.
func TestCognitiveEndpointsFollowTheGateway(t *testing.T) {
	dir := t.TempDir()
	in := start(t, dir)
	ctx := t.Context()
	poll := &runtime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond}
	groups, err := armresources.NewResourceGroupsClient(in.admin.SubscriptionID, in.credential(), in.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := groups.CreateOrUpdate(ctx, "ai-restart", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatal(err)
	}
	accounts, err := cs.NewAccountsClient(in.admin.SubscriptionID, in.credential(), in.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	p, err := accounts.BeginCreate(ctx, "ai-restart", "moving", cs.Account{
		Kind: to.Ptr("AIServices"), Location: to.Ptr("eastus"), SKU: &cs.SKU{Name: to.Ptr("S0")},
		Properties: &cs.AccountProperties{CustomSubDomainName: to.Ptr("e2e-moving")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx, poll); err != nil {
		t.Fatal(err)
	}
	in.stop()

	in = start(t, dir)
	accounts, err = cs.NewAccountsClient(in.admin.SubscriptionID, in.credential(), in.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := accounts.Get(ctx, "ai-restart", "moving", nil)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := url.Parse(in.ready.Gateway)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://e2e-moving.cognitiveservices.perimeter.localhost:" + gw.Port() + "/"; *got.Properties.Endpoint != want {
		t.Fatalf("endpoint after restart %s, want %s (the gateway now listens on %s)", *got.Properties.Endpoint, want, in.ready.Gateway)
	}
}

package e2e

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	cs "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/cognitiveservices/armcognitiveservices/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"
)

// graph makes a Microsoft Graph-shaped request as the admin.
func (in *instance) graph(method, path string, body any) map[string]any {
	in.t.Helper()
	tok, err := in.token("https://graph.microsoft.com/.default")
	if err != nil {
		in.t.Fatal(err)
	}
	b, _ := json.Marshal(body)
	resp, out, err := in.call(in.t.Context(), method, path, tok, strings.NewReader(string(b)))
	if err != nil || resp.StatusCode/100 != 2 {
		in.t.Fatalf("%s %s: %v %s", method, path, err, out)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		in.t.Fatalf("%s %s: %s", method, path, out)
	}
	return v
}

// TestRBACServicePrincipal: a service principal made through the
// Graph-shaped API can do nothing until roles are assigned, then exactly
// what they allow, on both planes, through the official SDK clients.
func TestRBACServicePrincipal(t *testing.T) {
	in := start(t, t.TempDir())
	ctx := t.Context()
	in.group("rbac-rg", "eastus")
	accounts := in.cognitive().NewAccountsClient()
	poller, err := accounts.BeginCreate(ctx, "rbac-rg", "rbac", cs.Account{
		Kind: to.Ptr("AIServices"), Location: to.Ptr("eastus"), SKU: &cs.SKU{Name: to.Ptr("S0")},
		Properties: &cs.AccountProperties{CustomSubDomainName: to.Ptr("e2e-rbac")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := poller.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	dep, err := in.cognitive().NewDeploymentsClient().BeginCreateOrUpdate(ctx, "rbac-rg", "rbac", "chat", cs.Deployment{
		SKU:        &cs.SKU{Name: to.Ptr("Standard"), Capacity: to.Ptr[int32](1)},
		Properties: &cs.DeploymentProperties{Model: &cs.DeploymentModel{Format: to.Ptr("Perimeter"), Name: to.Ptr("mock"), Version: to.Ptr("1")}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dep.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}

	// An application, its service principal and a secret, as az ad sp
	// create-for-rbac does it.
	app := in.graph(http.MethodPost, "/v1.0/applications", map[string]string{"displayName": "rbac-e2e"})
	sp := in.graph(http.MethodPost, "/v1.0/servicePrincipals", map[string]string{"appId": app["appId"].(string)})
	secret := in.graph(http.MethodPost, "/v1.0/applications/"+app["id"].(string)+"/addPassword", map[string]any{"passwordCredential": map[string]string{"displayName": "e2e"}})
	cred, err := azidentity.NewClientSecretCredential(in.admin.TenantID, app["appId"].(string), secret["secretText"].(string),
		&azidentity.ClientSecretCredentialOptions{ClientOptions: azcore.ClientOptions{Cloud: in.cloud(), Transport: in.client}, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	spID := sp["id"].(string)
	if got := in.objectID(cred); got != spID {
		t.Fatalf("the service principal's token names %s, want its object id %s", got, spID)
	}
	groups, err := armresources.NewResourceGroupsClient(in.admin.SubscriptionID, cred, in.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	spAccounts, err := cs.NewAccountsClient(in.admin.SubscriptionID, cred, in.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	refused := func(what string, err error) {
		t.Helper()
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden || re.ErrorCode != "AuthorizationFailed" {
			t.Errorf("%s: %v, want 403 AuthorizationFailed", what, err)
		}
	}
	_, err = groups.Get(ctx, "rbac-rg", nil)
	refused("read before any role", err)

	in.assign((*acct.ID)[:strings.Index(*acct.ID, "/providers/")], "acdd72a7-3385-48ef-bd42-f606fba81ae7", spID) // Reader on the group
	if _, err := groups.Get(ctx, "rbac-rg", nil); err != nil {
		t.Errorf("Reader reads the group: %v", err)
	}
	if _, err := spAccounts.Get(ctx, "rbac-rg", "rbac", nil); err != nil {
		t.Errorf("Reader reads the account: %v", err)
	}
	_, err = spAccounts.ListKeys(ctx, "rbac-rg", "rbac", nil)
	refused("Reader lists keys", err)
	_, err = groups.CreateOrUpdate(ctx, "rbac-rg", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil)
	refused("Reader writes", err)

	// The data plane: a bearer token needs a data action.
	chat := openai.NewClient(azure.WithEndpoint(*acct.Properties.Endpoint, "2024-10-21"), azure.WithTokenCredential(cred),
		option.WithHTTPClient(gatewayClient(t, in)))
	params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	var denied *openai.Error
	if _, err := chat.Chat.Completions.New(ctx, params); !errors.As(err, &denied) || denied.StatusCode != http.StatusUnauthorized {
		t.Errorf("chat as Reader: %v, want 401", err)
	}
	in.assign(*acct.ID, "53ca6127-db72-4b80-b1b0-d745d6d5456d", spID) // Azure AI User on the account
	if err := eventually(func() error { _, err := chat.Chat.Completions.New(ctx, params); return err }); err != nil {
		t.Errorf("chat as Azure AI User: %v", err)
	}
}

package e2e

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"
	"github.com/google/uuid"
)

// TestManagedIdentityWorkload: a user-assigned identity made with the
// official armmsi client, given Reader on a group, is used by a workload
// through azidentity.ManagedIdentityCredential (IDENTITY_ENDPOINT and
// IDENTITY_HEADER, as on App Service): it reads the group and may not
// write it.
func TestManagedIdentityWorkload(t *testing.T) {
	in := start(t, t.TempDir())
	ctx := t.Context()
	in.group("msi-rg", "eastus")
	identities, err := armmsi.NewUserAssignedIdentitiesClient(in.admin.SubscriptionID, in.credential(), in.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	created, err := identities.CreateOrUpdate(ctx, "msi-rg", "workload", armmsi.Identity{Location: to.Ptr("eastus"), Tags: map[string]*string{"team": to.Ptr("ai")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := created.Properties
	if p == nil || p.PrincipalID == nil || p.ClientID == nil || p.TenantID == nil || *p.TenantID != in.admin.TenantID {
		t.Fatalf("created identity %+v", created.Identity)
	}
	principal, clientID := *p.PrincipalID, *p.ClientID
	got, err := identities.Get(ctx, "msi-rg", "workload", nil)
	if err != nil || *got.Properties.PrincipalID != principal || *got.Tags["team"] != "ai" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	pager := identities.NewListBySubscriptionPager(nil)
	found := false
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Value {
			found = found || *it.ID == *created.ID
		}
	}
	if !found {
		t.Error("the subscription's list does not show the identity")
	}

	in.assign("/subscriptions/"+in.admin.SubscriptionID+"/resourceGroups/msi-rg", "acdd72a7-3385-48ef-bd42-f606fba81ae7", principal) // Reader

	// The admin binds the identity to a workload; the workload gets the
	// two variables, and nothing else.
	tok, err := in.token("https://management.azure.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	resp, body, err := in.call(ctx, http.MethodPost, *created.ID+"/createWorkloadBinding?api-version=2023-01-31", tok, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("createWorkloadBinding: %v %s", err, body)
	}
	var binding struct{ IdentityEndpoint, IdentityHeader string }
	if err := json.Unmarshal(body, &binding); err != nil || !strings.HasPrefix(binding.IdentityEndpoint, in.ready.ARM+"/") || binding.IdentityHeader == "" {
		t.Fatalf("binding %s: %v", body, err)
	}
	t.Setenv("IDENTITY_ENDPOINT", binding.IdentityEndpoint)
	t.Setenv("IDENTITY_HEADER", binding.IdentityHeader)

	// The SDK's managed identity credential, told only the identity's
	// client id and the transport that trusts Perimeter's CA.
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: in.client}, ID: azidentity.ClientID(clientID),
	})
	if err != nil {
		t.Fatal(err)
	}
	if oid := in.objectID(cred); oid != principal {
		t.Fatalf("the workload's token names %s, want the identity's principal %s", oid, principal)
	}
	groups, err := armresources.NewResourceGroupsClient(in.admin.SubscriptionID, cred, in.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	if g, err := groups.Get(ctx, "msi-rg", nil); err != nil || *g.Name != "msi-rg" {
		t.Errorf("Reader reads its group: %v", err)
	}
	var re *azcore.ResponseError
	_, err = groups.CreateOrUpdate(ctx, "msi-rg", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil)
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden || re.ErrorCode != "AuthorizationFailed" {
		t.Errorf("Reader writes its group: %v, want 403 AuthorizationFailed", err)
	}

	// The header gets tokens for its own identity only.
	other, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: in.client}, ID: azidentity.ClientID(uuid.NewString()),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}}); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("a token for another identity with this header: %v, want a 400 refusal", err)
	}

	// Deleted with the SDK, the identity takes its principal with it.
	if _, err := identities.Delete(ctx, "msi-rg", "workload", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := identities.Get(ctx, "msi-rg", "workload", nil); !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
		t.Errorf("get after delete: %v", err)
	}
}

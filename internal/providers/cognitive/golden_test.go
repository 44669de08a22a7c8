package cognitive_test

import (
	"net/http"
	"testing"

	"github.com/perimeterhq/perimeter/internal/arm/armtest"
)

func TestGolden(t *testing.T) {
	// Times and generated principal ids differ between runs.
	volatile := armtest.MaskKeys("createdAt", "lastModifiedAt", "dateCreated", "principalId")
	e := newEnv(t)
	e.subnet(sub, "vnet1", "apps", true)
	body := map[string]any{
		"location": "eastus", "kind": "AIServices", "sku": map[string]any{"name": "S0"},
		"tags":     map[string]string{"env": "test"},
		"identity": map[string]any{"type": "SystemAssigned"},
		"properties": map[string]any{
			"customSubDomainName": "golden-ai",
			"networkAcls": map[string]any{"defaultAction": "Deny", "bypass": "AzureServices",
				"ipRules":             []map[string]any{{"value": "124.56.78.0/24"}},
				"virtualNetworkRules": []map[string]any{{"id": subnetPath(sub, "vnet1", "apps")}}},
			"restrictOutboundNetworkAccess": true,
			"allowedFqdnList":               []string{"contoso.blob.core.windows.net"},
			"allowProjectManagement":        true,
		},
	}
	armtest.Golden(t, "account", e.put(http.StatusCreated, acct("golden"), body).Body, volatile)
	armtest.Golden(t, "deployment", e.put(http.StatusCreated, acct("golden")+"/deployments/chat", deployment("Perimeter", "mock", "1", "Standard", 20)).Body, volatile)
	armtest.Golden(t, "project", e.put(http.StatusCreated, acct("golden")+"/projects/proj", map[string]any{
		"location": "eastus", "properties": map[string]any{"displayName": "Project", "description": "A project"},
	}).Body, volatile)
	armtest.Golden(t, "location_models", e.Must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.CognitiveServices/locations/eastus/models"+api, nil).Body, volatile)
	armtest.Golden(t, "account_models", e.Must(http.StatusOK, http.MethodGet, acct("golden")+"/models"+api, nil).Body, volatile)
}

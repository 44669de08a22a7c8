package network_test

import (
	"net/http"
	"testing"

	"github.com/perimeterhq/perimeter/internal/arm/armtest"
)

// TestGoldenGET records the JSON a GET returns for each type.
func TestGoldenGET(t *testing.T) {
	e := newEnv(t)
	e.Must(http.StatusCreated, http.MethodPut, vnetID("golden-vnet")+netAPI, map[string]any{
		"location": "westeurope",
		"tags":     map[string]string{"env": "test"},
		"properties": map[string]any{
			"addressSpace": map[string]any{"addressPrefixes": []string{"10.20.0.0/16"}},
			"dhcpOptions":  map[string]any{"dnsServers": []string{"10.20.0.4"}},
			"subnets": []any{
				subnet("apps", "10.20.1.0/24", map[string]any{"serviceEndpoints": []any{map[string]any{"service": "Microsoft.CognitiveServices"}}}),
				subnet("endpoints", "10.20.2.0/24", map[string]any{"privateEndpointNetworkPolicies": "Enabled"}),
			},
		},
	})
	// The generated resourceGuid differs between runs; the test server's
	// clock is fixed, so systemData times stay as they are.
	guid := armtest.Mask("resourceGuid", "<guid>")
	vnet := e.Must(http.StatusOK, http.MethodGet, vnetID("golden-vnet")+netAPI, nil)
	armtest.Golden(t, "vnet", vnet.Body, guid)
	sn := e.Must(http.StatusOK, http.MethodGet, subnetID("golden-vnet", "apps")+netAPI, nil)
	armtest.Golden(t, "subnet", sn.Body, guid)

	// The body's etag is the ETag header, and the GUID is a GUID.
	for _, r := range []armtest.Response{vnet, sn} {
		if got := r.JSON(t)["etag"]; got != r.Header.Get("ETag") || got == "" {
			t.Errorf("body etag %v, header %q", got, r.Header.Get("ETag"))
		}
	}
	if g, _ := vnet.JSON(t)["properties"].(map[string]any)["resourceGuid"].(string); len(g) != 36 {
		t.Errorf("resourceGuid %q", g)
	}
}

package cognitive_test

import (
	"net/http"
	"testing"

	"github.com/perimeterhq/perimeter/internal/providers/cognitive"
)

// TestRefreshEndpoints: after a restart on another gateway port or base
// domain, stored endpoints are brought up to date, once.
func TestRefreshEndpoints(t *testing.T) {
	e := newEnv(t)
	e.put(http.StatusCreated, acct("moving"), account("moving", map[string]any{"allowProjectManagement": true}))
	e.put(http.StatusCreated, acct("moving")+"/projects/p1", map[string]any{"location": "eastus"})
	e.put(http.StatusCreated, acct("classic"), map[string]any{"location": "eastus", "kind": "Face", "sku": map[string]any{"name": "F0"}})

	n, err := cognitive.RefreshEndpoints(t.Context(), e.Store, cognitive.Config{BaseDomain: "ai.example.net", GatewayPort: 443})
	if err != nil || n != 2 {
		t.Fatalf("refreshed %d (want the account and its project): %v", n, err)
	}
	a := props(t, e.Must(http.StatusOK, http.MethodGet, acct("moving")+api, nil))
	if a["endpoint"] != "https://moving.cognitiveservices.ai.example.net/" || a["endpoints"].(map[string]any)["AI Foundry API"] != "https://moving.services.ai.ai.example.net/" {
		t.Errorf("account after refresh: %v", a)
	}
	p := props(t, e.Must(http.StatusOK, http.MethodGet, acct("moving")+"/projects/p1"+api, nil))
	if p["endpoints"].(map[string]any)["AI Foundry API"] != "https://moving.services.ai.ai.example.net/api/projects/p1" {
		t.Errorf("project after refresh: %v", p)
	}
	if _, has := props(t, e.Must(http.StatusOK, http.MethodGet, acct("classic")+api, nil))["endpoint"]; has {
		t.Error("an account without a subdomain gained an endpoint")
	}
	before := e.Revision()
	if n, err := cognitive.RefreshEndpoints(t.Context(), e.Store, cognitive.Config{BaseDomain: "ai.example.net", GatewayPort: 443}); err != nil || n != 0 || e.Revision() != before {
		t.Errorf("second refresh rewrote %d documents: %v", n, err)
	}
}

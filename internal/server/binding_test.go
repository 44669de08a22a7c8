package server

import (
	"net/http"
	"testing"

	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/identity"
)

// TestSystemAssignedBindingNeedsMoreThanAccountWrite: binding an account's
// system-assigned identity to a workload hands out that identity's tokens
// (its roles elsewhere, its trusted-service bypass), so a Cognitive
// Services Contributor, who may change the account, may not; a
// Contributor may. Listing the bindings needs only the account's read.
func TestSystemAssignedBindingNeedsMoreThanAccountWrite(t *testing.T) {
	s := newStack(t)
	rg := s.sub() + "/resourceGroups/bind"
	acct := rg + "/providers/Microsoft.CognitiveServices/accounts/bind"
	s.must(s.admin, http.StatusCreated, http.MethodPut, rg+rgAPI, map[string]any{"location": "eastus"})
	body := account("bind-sys", nil)
	body["identity"] = map[string]any{"type": "SystemAssigned"}
	s.must(s.admin, http.StatusCreated, http.MethodPut, acct+csAPI, body)

	csc := s.user("csc")
	contrib := s.user("contrib")
	s.assign(rg, authz.RoleCognitiveServicesContributor, csc.ID)
	s.assign(rg, authz.RoleContributor, contrib.ID)
	post := func(u identity.User, action string) response {
		return s.armDo(s.userToken(u, identity.AudienceManagement), http.MethodPost, acct+"/"+action+csAPI, nil)
	}

	r := post(csc, "createWorkloadBinding")
	if r.Status != http.StatusForbidden || r.errCode() != "AuthorizationFailed" {
		t.Errorf("Cognitive Services Contributor binding the identity: %d %s, want 403 AuthorizationFailed", r.Status, r.Body)
	}
	if r := post(csc, "listWorkloadBindings"); r.Status != http.StatusOK {
		t.Errorf("Cognitive Services Contributor listing bindings: %d %s", r.Status, r.Body)
	}
	if r := post(contrib, "createWorkloadBinding"); r.Status != http.StatusOK {
		t.Errorf("Contributor binding the identity: %d %s", r.Status, r.Body)
	}
}

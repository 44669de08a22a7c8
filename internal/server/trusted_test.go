package server

import (
	"net/http"
	"testing"

	"github.com/perimeterhq/perimeter/internal/access"
	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/identity"
)

// TestTrustedServiceBypass: account A calls account B, whose firewall
// refuses every network, with a token of A's system-assigned identity.
// With bypass AzureServices the identity passes the firewall (the access
// log names the bypass) and still needs a data role on B; with bypass
// None it is refused at the firewall, role or not. An ordinary service
// principal holding the same role never passes.
func TestTrustedServiceBypass(t *testing.T) {
	s := newStack(t)
	rg := s.sub() + "/resourceGroups/trust"
	a := rg + "/providers/Microsoft.CognitiveServices/accounts/caller"
	b := rg + "/providers/Microsoft.CognitiveServices/accounts/target"
	s.must(s.admin, http.StatusCreated, http.MethodPut, rg+rgAPI, map[string]any{"location": "eastus"})
	body := account("trust-caller", nil)
	body["identity"] = map[string]any{"type": "SystemAssigned"}
	created := s.must(s.admin, http.StatusCreated, http.MethodPut, a+csAPI, body).json(t)
	principal, _ := created["identity"].(map[string]any)["principalId"].(string)
	firewall := func(bypass string) map[string]any {
		return map[string]any{"networkAcls": map[string]any{"defaultAction": "Deny", "bypass": bypass}}
	}
	s.must(s.admin, http.StatusCreated, http.MethodPut, b+csAPI, account("trust-target", firewall("AzureServices")))
	s.must(s.admin, http.StatusCreated, http.MethodPut, b+"/deployments/chat"+csAPI, chatDeployment)
	s.settle()

	// A's identity is a directory object: its token is what the managed
	// identity endpoint would hand A's workload.
	sp, err := s.dir.ServicePrincipal(t.Context(), s.inst.TenantID, principal)
	if err != nil || sp.ServicePrincipalType != identity.ServicePrincipalTypeManagedIdentity {
		t.Fatalf("A's identity %q: %+v %v", principal, sp, err)
	}
	miToken := s.appToken(identity.Application{TenantID: s.inst.TenantID, ObjectID: sp.ID, AppID: sp.AppID, ServicePrincipalID: sp.ID},
		identity.AudienceCognitiveServices)

	// An application with its service principal, for contrast.
	app, err := s.dir.CreateApplication(t.Context(), s.inst.TenantID, "plain-app")
	if err != nil {
		t.Fatal(err)
	}
	appSP, err := s.dir.CreateServicePrincipal(t.Context(), s.inst.TenantID, app.AppID)
	if err != nil {
		t.Fatal(err)
	}
	app.ServicePrincipalID = appSP.ID
	appToken := s.appToken(app, identity.AudienceCognitiveServices)

	refused := func(step string, r response, status int, code string) {
		t.Helper()
		if r.Status != status || r.errCode() != code {
			t.Errorf("%s: %d %s, want %d %s: %s", step, r.Status, r.errCode(), status, code, r.Body)
		}
	}

	// Past the firewall, but no data role on B yet.
	r := s.chat("trust-target", miToken)
	refused("the identity without a role", r, http.StatusUnauthorized, "PermissionDenied")
	if rec := s.log.find(t, r); rec.Layer == access.LayerNetworkACLs || rec.PrincipalID != principal {
		t.Errorf("record of the refusal: layer %q principal %q (%s)", rec.Layer, rec.PrincipalID, rec.Reason)
	}

	s.assign(b, authz.RoleCognitiveServicesOpenAIUser, principal)
	s.assign(b, authz.RoleCognitiveServicesOpenAIUser, appSP.ID)
	r = s.chat("trust-target", miToken)
	if r.Status != http.StatusOK {
		t.Fatalf("the identity with a role: %d %s", r.Status, r.Body)
	}
	if rec := s.log.find(t, r); rec.Layer != access.LayerTrustedService || rec.Rule != "bypass: AzureServices" ||
		rec.PrincipalID != principal || rec.ResourceID != b {
		t.Errorf("record of the bypass: layer %q rule %q principal %q resource %q", rec.Layer, rec.Rule, rec.PrincipalID, rec.ResourceID)
	}
	r = s.chat("trust-target", appToken)
	refused("an ordinary application with the role", r, http.StatusForbidden, "403")
	if rec := s.log.find(t, r); rec.Layer != access.LayerNetworkACLs || rec.Rule != "defaultAction: Deny" {
		t.Errorf("record of the firewall refusal: layer %q rule %q", rec.Layer, rec.Rule)
	}

	// A Foundry project's identity is a Microsoft.CognitiveServices
	// resource's too.
	s.must(s.admin, http.StatusOK, http.MethodPatch, a+csAPI, map[string]any{"properties": map[string]any{"allowProjectManagement": true}})
	proj := s.must(s.admin, http.StatusCreated, http.MethodPut, a+"/projects/agents"+csAPI, map[string]any{
		"location": "eastus", "identity": map[string]any{"type": "SystemAssigned"}, "properties": map[string]any{}}).json(t)
	projSP, err := s.dir.ServicePrincipal(t.Context(), s.inst.TenantID, proj["identity"].(map[string]any)["principalId"].(string))
	if err != nil {
		t.Fatal(err)
	}
	s.assign(b, authz.RoleCognitiveServicesOpenAIUser, projSP.ID)
	projToken := s.appToken(identity.Application{TenantID: s.inst.TenantID, ObjectID: projSP.ID, AppID: projSP.AppID, ServicePrincipalID: projSP.ID},
		identity.AudienceCognitiveServices)
	if r := s.chat("trust-target", projToken); r.Status != http.StatusOK {
		t.Errorf("a project's identity with a role: %d %s", r.Status, r.Body)
	}

	// Public network access disabled: trusted services still pass.
	s.must(s.admin, http.StatusOK, http.MethodPatch, b+csAPI, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Disabled"}})
	s.settle()
	if r := s.chat("trust-target", miToken); r.Status != http.StatusOK {
		t.Errorf("the identity, public access disabled: %d %s", r.Status, r.Body)
	}

	// Without the bypass the firewall refuses the identity too.
	s.must(s.admin, http.StatusOK, http.MethodPatch, b+csAPI, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Enabled", "networkAcls": map[string]any{"bypass": "None"}}})
	s.settle()
	r = s.chat("trust-target", miToken)
	refused("the identity with bypass None", r, http.StatusForbidden, "403")

	// Nor does an identity that is gone pass: A drops it.
	s.must(s.admin, http.StatusOK, http.MethodPatch, b+csAPI, map[string]any{"properties": firewall("AzureServices")})
	s.must(s.admin, http.StatusOK, http.MethodPatch, a+csAPI, map[string]any{"identity": map[string]any{"type": "None"}})
	s.settle()
	refused("a removed identity", s.chat("trust-target", miToken), http.StatusForbidden, "403")
}

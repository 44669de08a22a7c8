package cognitive_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/providers/managedidentity"
	"github.com/perimeterhq/perimeter/internal/snapshot/snapshottest"
	"github.com/perimeterhq/perimeter/internal/store"
)

// newRBACEnv is newEnv with role assignments enforced: the harness
// administrator owns the subscriptions (assigned before the first request).
func newRBACEnv(t *testing.T) *env {
	t.Helper()
	owner := armtest.WrapStore(func(st store.Store) store.Store {
		for _, s := range []string{sub, sub2} {
			snapshottest.Assign(t, st, "/subscriptions/"+s, uuid.NewString(), authz.RoleOwner, armtest.ObjectID, "ServicePrincipal")
		}
		return st
	})
	anyone := func(context.Context, string, string) (string, error) { return "ServicePrincipal", nil }
	return newEnv(t, append(snapshottest.RBAC(tenant, anyone), owner)...)
}

// grant assigns a built-in role to principal at scope.
func (e *env) grant(scope, role, principal string) {
	e.T.Helper()
	e.Must(http.StatusCreated, http.MethodPut, scope+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01",
		map[string]any{"properties": map[string]string{"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + role, "principalId": principal}})
}

// TestAttachingAnIdentityNeedsItsAssignAction: a Cognitive Services
// Contributor on the account's group may write accounts, but attaching a
// user-assigned identity also needs the identity's assign action, as in
// Azure; identities already attached need nothing more.
func TestAttachingAnIdentityNeedsItsAssignAction(t *testing.T) {
	e := newRBACEnv(t)
	const dev = "00000000-0000-0000-0000-0000000000d1"
	ua := "/subscriptions/" + sub + "/resourceGroups/other/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
	e.Must(http.StatusCreated, http.MethodPut, ua+msiAPI, map[string]any{"location": "eastus"})
	e.grant("/subscriptions/"+sub+"/resourceGroups/rg", authz.RoleCognitiveServicesContributor, dev)
	withUA := account("attach", nil)
	withUA["identity"] = map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{ua: map[string]any{}}}

	e.Token = armtest.As(dev)
	e.put(http.StatusCreated, acct("plain"), account("plain", nil))
	e.T = t
	r := e.Do(http.MethodPut, acct("attach")+api, withUA)
	if r.Status != http.StatusForbidden || !strings.Contains(r.ARMError(t).Message, managedidentity.ActionAssign) || !strings.Contains(r.ARMError(t).Message, ua) {
		t.Fatalf("attaching without assign: %d %s", r.Status, r.Body)
	}
	e.Token = armtest.Token
	e.grant(ua, authz.RoleContributor, dev) // Contributor holds */assign/action via "*"
	e.Token = armtest.As(dev)
	e.put(http.StatusCreated, acct("attach"), withUA)
	e.Token = armtest.Token

	// The identity's role taken away, the account can still be changed
	// as long as it does not attach another identity.
	e.Must(http.StatusCreated, http.MethodPut, ua+"2"+msiAPI, map[string]any{"location": "eastus"})
	assignments := e.Must(http.StatusOK, http.MethodGet, ua+"/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope()", nil).JSON(t)["value"].([]any)
	for _, a := range assignments {
		if id := a.(map[string]any)["id"].(string); strings.HasPrefix(id, ua+"/") { // atScope() lists those above too
			e.Must(http.StatusOK, http.MethodDelete, id+"?api-version=2022-04-01", nil)
		}
	}
	e.Token = armtest.As(dev)
	r = e.Must(http.StatusOK, http.MethodPatch, acct("attach")+api, map[string]any{"tags": map[string]string{"team": "ai"}})
	e.WaitOperation(r.Header.Get("Location"))
	r = e.Do(http.MethodPatch, acct("attach")+api, map[string]any{"identity": map[string]any{"userAssignedIdentities": map[string]any{ua + "2": map[string]any{}}}})
	if r.Status != http.StatusForbidden || !strings.Contains(r.ARMError(t).Message, ua+"2") {
		t.Errorf("attaching a second identity without assign: %d %s", r.Status, r.Body)
	}
	e.Token = armtest.Token
}

// TestDeletedIdentityStaysListed: an identity may be deleted while an
// account names it (as in Azure); the account keeps the entry and can
// still be updated, but a new account cannot name it.
func TestDeletedIdentityStaysListed(t *testing.T) {
	e := newEnv(t)
	ua := "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/gone"
	uaProps := props(t, e.Must(http.StatusCreated, http.MethodPut, ua+msiAPI, map[string]any{"location": "eastus"}))
	body := account("dangling", nil)
	body["identity"] = map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{ua: map[string]any{}}}
	e.put(http.StatusCreated, acct("dangling"), body)
	e.Must(http.StatusOK, http.MethodDelete, ua+msiAPI, nil)

	r := e.Must(http.StatusOK, http.MethodPatch, acct("dangling")+api, map[string]any{"tags": map[string]string{"k": "v"}})
	e.WaitOperation(r.Header.Get("Location"))
	got := e.Must(http.StatusOK, http.MethodGet, acct("dangling")+api, nil).JSON(t)
	entry, _ := got["identity"].(map[string]any)["userAssignedIdentities"].(map[string]any)[ua].(map[string]any)
	if entry["principalId"] != uaProps["principalId"] || got["tags"].(map[string]any)["k"] != "v" {
		t.Errorf("after the identity's delete: %v", got)
	}
	body["properties"].(map[string]any)["customSubDomainName"] = "dangling2"
	e.expectRefused(acct("dangling2"), body, refusal{code: "InvalidUserAssignedIdentityId", target: "identity.userAssignedIdentities", mention: "does not exist"})
}

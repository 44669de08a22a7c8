package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/identity"
)

// TestCustomRoleEscalation runs, over HTTP with real tokens and the
// policy as Run compiles it, the ways a resource group's Owner tried to
// widen a custom role it holds at the subscription: rewriting the role
// down to its own group with "*", or defining the role's GUID again in
// its group; and what a caller with no role learns from role writes.
func TestCustomRoleEscalation(t *testing.T) {
	s := newStack(t)
	own := s.sub() + "/resourceGroups/dev-own"
	s.must(s.admin, http.StatusCreated, http.MethodPut, own+rgAPI, map[string]any{"location": "eastus"})
	dev, nobody := s.user("rg-owner"), s.user("no-role")
	const role = "a0000000-0000-0000-0000-000000000001"
	defAt := func(scope string) string {
		return scope + "/providers/Microsoft.Authorization/roleDefinitions/" + role + raAPI
	}
	body := func(scope string, actions ...string) map[string]any {
		return map[string]any{"properties": map[string]any{
			"roleName": "Group lister", "assignableScopes": []string{scope},
			"permissions": []map[string]any{{"actions": actions}},
		}}
	}
	s.must(s.admin, http.StatusCreated, http.MethodPut, defAt(s.sub()), body(s.sub(), "Microsoft.Resources/subscriptions/resourceGroups/read"))
	s.assign(s.sub(), role, dev.ID)
	s.assign(own, authz.RoleOwner, dev.ID)
	token := s.userToken(dev, identity.AudienceManagement)
	newRG := s.sub() + "/resourceGroups/taken" + rgAPI

	for _, tc := range []struct {
		name, method, path string
		body               any
		want               outcome
	}{
		{"rewrite the role down to its own group", http.MethodPut, defAt(s.sub()), body(own, "*"), denied},
		{"define the GUID again in its group", http.MethodPut, defAt(own), body(own, "*"), outcome{http.StatusConflict, "RoleDefinitionWithSameIdExists"}},
		{"delete the role", http.MethodDelete, defAt(s.sub()), nil, denied},
		{"create a resource group after", http.MethodPut, newRG, map[string]any{"location": "eastus"}, denied},
	} {
		r := s.armDo(token, tc.method, tc.path, tc.body)
		if r.Status != tc.want.status || r.errCode() != tc.want.code {
			t.Errorf("%s: got %d %s, want %d %s", tc.name, r.Status, r.Body, tc.want.status, tc.want.code)
		}
	}

	// Someone with no role is refused before anything is looked up.
	token = s.userToken(nobody, identity.AudienceManagement)
	for _, path := range []string{
		defAt(s.sub()),
		s.sub() + "/resourceGroups/missing/providers/Microsoft.Authorization/roleAssignments/a0000000-0000-0000-0000-000000000002" + raAPI,
	} {
		r := s.armDo(token, http.MethodDelete, path, nil)
		if r.Status != http.StatusForbidden || r.errCode() != "AuthorizationFailed" || !strings.Contains(string(r.Body), "Microsoft.Authorization/") {
			t.Errorf("DELETE %s with no role: %d %s", path, r.Status, r.Body)
		}
	}
}

package server

import (
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/identity"
)

// TestDirectoryWritesNeedOwnersPower: changing the directory takes the
// power to assign Owner on the default subscription. A delegated
// administrator whose Owner assignment carries a condition that forbids
// assigning Owner ("anything but Owner", written with a negation) may
// assign other roles but not change the directory, since a secret added
// to the bootstrap admin's application would make it Owner.
func TestDirectoryWritesNeedOwnersPower(t *testing.T) {
	s := newStack(t)
	full := s.user("full")
	delegate := s.user("delegate")
	someone := s.user("someone")
	s.assign(s.sub(), authz.RoleOwner, full.ID)

	const notOwner = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR " +
		"(!(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals{" + authz.RoleOwner + "})))"
	s.must(s.admin, http.StatusCreated, http.MethodPut, s.sub()+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+raAPI,
		map[string]any{"properties": map[string]string{
			"roleDefinitionId": s.sub() + "/providers/Microsoft.Authorization/roleDefinitions/" + authz.RoleOwner,
			"principalId":      delegate.ID, "condition": notOwner, "conditionVersion": "2.0",
		}})
	s.settle()

	assign := func(u identity.User, role string) response {
		return s.armDo(s.userToken(u, identity.AudienceManagement), http.MethodPut,
			s.sub()+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+raAPI,
			map[string]any{"properties": map[string]string{
				"roleDefinitionId": s.sub() + "/providers/Microsoft.Authorization/roleDefinitions/" + role, "principalId": someone.ID,
			}})
	}
	if r := assign(delegate, authz.RoleReader); r.Status != http.StatusCreated {
		t.Fatalf("the delegate assigning Reader: %d %s", r.Status, r.Body)
	}
	if r := assign(delegate, authz.RoleOwner); r.Status != http.StatusForbidden {
		t.Fatalf("the delegate assigning Owner: %d %s, want 403", r.Status, r.Body)
	}

	newUser := func(u identity.User, alias string) response {
		return s.do(s.arm.URL, "", s.userToken(u, identity.AudienceGraph), http.MethodPost, "/v1.0/users", map[string]any{
			"accountEnabled": true, "displayName": alias, "mailNickname": alias, "userPrincipalName": alias + "@contoso.com",
			"passwordProfile": map[string]any{"password": "Pa55word!" + alias},
		})
	}
	if r := newUser(delegate, "by-delegate"); r.Status != http.StatusForbidden {
		t.Fatalf("the delegate creating a user: %d %s, want 403", r.Status, r.Body)
	}
	if r := newUser(full, "by-owner"); r.Status != http.StatusCreated {
		t.Fatalf("an Owner creating a user: %d %s, want 201", r.Status, r.Body)
	}
}

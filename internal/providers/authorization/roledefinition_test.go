package authorization_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/authz"
)

// customRole is the body of a custom role definition granting actions.
func customRole(name string, scopes []string, actions ...string) map[string]any {
	return map[string]any{"properties": map[string]any{
		"roleName": name, "assignableScopes": scopes,
		"permissions": []map[string]any{{"actions": actions, "notActions": []string{}}},
	}}
}

func definitionAt(scope, guid string) string {
	return strings.TrimSuffix(scope, "/") + "/providers/Microsoft.Authorization/roleDefinitions/" + guid + api
}

func assignmentAt(scope, guid string) string {
	return strings.TrimSuffix(scope, "/") + "/providers/Microsoft.Authorization/roleAssignments/" + guid + api
}

// wantDenied checks a 403 AuthorizationFailed that names the action and
// the scope.
func wantDenied(t *testing.T, r armtest.Response, action, scope string) {
	t.Helper()
	wantCode(t, r, http.StatusForbidden, arm.CodeAuthorizationFailed)
	if msg := r.ARMError(t).Message; !strings.Contains(msg, "'"+action+"'") || !strings.Contains(strings.ToLower(msg), strings.ToLower(scope)) {
		t.Errorf("the refusal does not name %s at %s: %s", action, scope, msg)
	}
}

// Whoever may write role definitions only on a resource group must not
// rewrite a role that is assignable (and assigned) at the subscription:
// an update needs the action at the role's current assignable scopes too.
func TestRoleDefinitionUpdateNeedsOldScopes(t *testing.T) {
	e := newEnv(t)
	subScope := "/subscriptions/" + sub
	const r = "60000000-0000-0000-0000-000000000001"
	e.Must(http.StatusCreated, http.MethodPut, definitionAt(subScope, r), customRole("Limited", []string{subScope}, "Microsoft.Resources/subscriptions/resourceGroups/read"))
	e.Must(http.StatusCreated, http.MethodPut, assignmentAt(subScope, "60000000-0000-0000-0000-000000000002"), assignment(r, dev))
	e.Must(http.StatusCreated, http.MethodPut, assignmentAt(rg("rg1"), "60000000-0000-0000-0000-000000000003"), assignment(authz.RoleOwner, dev))
	newRG := subScope + "/resourcegroups/rg9" + rgAPI
	as(e, dev, func() {
		wantCode(t, e.Do(http.MethodPut, newRG, map[string]string{"location": "eastus"}), http.StatusForbidden, arm.CodeAuthorizationFailed)
		wantDenied(t, e.Do(http.MethodPut, definitionAt(subScope, r), customRole("Limited", []string{rg("rg1")}, "*")),
			"Microsoft.Authorization/roleDefinitions/write", subScope)
		// Nor delete it: that needs roleDefinitions/delete at its
		// assignable scopes, as Azure checks.
		wantDenied(t, e.Do(http.MethodDelete, definitionAt(subScope, r), nil), "Microsoft.Authorization/roleDefinitions/delete", subScope)
		wantCode(t, e.Do(http.MethodPut, newRG, map[string]string{"location": "eastus"}), http.StatusForbidden, arm.CodeAuthorizationFailed)
	})
	got := e.Must(http.StatusOK, http.MethodGet, definitionAt(subScope, r), nil).JSON(t)
	if acts := got["properties"].(map[string]any)["permissions"].([]any)[0].(map[string]any)["actions"].([]any); len(acts) != 1 || acts[0] != "Microsoft.Resources/subscriptions/resourceGroups/read" {
		t.Errorf("the refused update changed the role: %v", acts)
	}

	// A role of rg1's own may be created and changed by rg1's Owner, even
	// through the subscription's URL.
	const own = "60000000-0000-0000-0000-000000000004"
	as(e, dev, func() {
		e.Must(http.StatusCreated, http.MethodPut, definitionAt(subScope, own), customRole("RG1 role", []string{rg("rg1")}, "*/read"))
		e.Must(http.StatusOK, http.MethodPut, definitionAt(subScope, own), customRole("RG1 role", []string{rg("rg1")}, "*/read", "Microsoft.Resources/subscriptions/resourceGroups/write"))
		// Widening it to the subscription needs the action there.
		wantDenied(t, e.Do(http.MethodPut, definitionAt(subScope, own), customRole("RG1 role", []string{subScope}, "*/read")),
			"Microsoft.Authorization/roleDefinitions/write", subScope)
		e.Must(http.StatusOK, http.MethodDelete, definitionAt(subScope, own), nil)
	})
}

// An update may not leave an existing assignment of the role outside the
// role's assignable scopes.
func TestRoleDefinitionNarrowingKeepsAssignmentsCovered(t *testing.T) {
	e := newEnv(t)
	subScope := "/subscriptions/" + sub
	const r = "61000000-0000-0000-0000-000000000001"
	e.Must(http.StatusCreated, http.MethodPut, definitionAt(subScope, r), customRole("Narrowed", []string{subScope}, "*/read"))
	e.Must(http.StatusCreated, http.MethodPut, assignmentAt(rg("rg2"), "61000000-0000-0000-0000-000000000002"), assignment(r, dev))

	for _, tc := range []struct {
		name   string
		scopes []string
		status int
		code   string
	}{
		{"assignment left outside", []string{rg("rg1")}, http.StatusConflict, "RoleDefinitionHasAssignmentsOutsideScopes"},
		{"assignment covered by another scope", []string{rg("rg1"), rg("rg2")}, http.StatusOK, ""},
		{"exactly the assignment's scope", []string{rg("rg2")}, http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.T = t
			defer func() { e.T = t }()
			got := e.Do(http.MethodPut, definitionAt(subScope, r), customRole("Narrowed", tc.scopes, "*/read"))
			if tc.code == "" {
				if got.Status != tc.status {
					t.Fatalf("got %d, want %d: %s", got.Status, tc.status, got.Body)
				}
				return
			}
			wantCode(t, got, tc.status, tc.code)
			if msg := got.ARMError(t).Message; !strings.Contains(msg, rg("rg2")) {
				t.Errorf("the refusal does not name the assignment's scope: %s", msg)
			}
		})
	}
	e.T = t
	// The assignment still grants at rg2.
	as(e, dev, func() { e.Must(http.StatusOK, http.MethodGet, rg("rg2")+rgAPI, nil) })
}

// A custom role's GUID names one role in the installation: it cannot be
// defined again under another scope to shadow the first.
func TestRoleDefinitionGUIDIsUnique(t *testing.T) {
	e := newEnv(t)
	const r = "70000000-0000-0000-0000-000000000001"
	e.Must(http.StatusCreated, http.MethodPut, definitionAt(rg("rg2"), r), customRole("RG2 reader", []string{rg("rg2")}, "Microsoft.Resources/subscriptions/resourceGroups/read"))
	e.Must(http.StatusCreated, http.MethodPut, assignmentAt(rg("rg2"), "70000000-0000-0000-0000-000000000002"), assignment(r, dev))
	e.Must(http.StatusCreated, http.MethodPut, assignmentAt(rg("rg1"), "70000000-0000-0000-0000-000000000003"), assignment(authz.RoleOwner, dev))
	tagRG2 := map[string]any{"location": "eastus", "tags": map[string]string{"x": "y"}}
	as(e, dev, func() {
		wantCode(t, e.Do(http.MethodPut, rg("rg2")+rgAPI, tagRG2), http.StatusForbidden, arm.CodeAuthorizationFailed)
		got := e.Do(http.MethodPut, definitionAt(rg("rg1"), r), customRole("RG2 reader", []string{rg("rg1")}, "*"))
		wantCode(t, got, http.StatusConflict, "RoleDefinitionWithSameIdExists")
		if msg := got.ARMError(t).Message; !strings.Contains(msg, r) {
			t.Errorf("the refusal does not name the GUID: %s", msg)
		}
		wantCode(t, e.Do(http.MethodPut, rg("rg2")+rgAPI, tagRG2), http.StatusForbidden, arm.CodeAuthorizationFailed)
	})
	// Not for the administrator either, and not at the subscription.
	wantCode(t, e.Do(http.MethodPut, definitionAt("/subscriptions/"+sub, r), customRole("Other", []string{"/subscriptions/" + sub}, "*/read")), http.StatusConflict, "RoleDefinitionWithSameIdExists")
	// The original is still the one served and updated in place.
	e.Must(http.StatusOK, http.MethodPut, definitionAt(rg("rg2"), r), customRole("RG2 reader", []string{rg("rg2")}, "*/read"))
	if id := e.Must(http.StatusOK, http.MethodGet, definitionAt(rg("rg1"), r), nil).JSON(t)["id"].(string); !strings.EqualFold(id, strings.TrimSuffix(definitionAt(rg("rg2"), r), api)) {
		t.Errorf("GUID %s resolves to %s", r, id)
	}
	// A built-in role's GUID is never a custom role's, at any scope.
	wantCode(t, e.Do(http.MethodPut, definitionAt(rg("rg1"), strings.ToUpper(authz.RoleOwner)), customRole("Mine", []string{rg("rg1")}, "*")), http.StatusConflict, "RoleDefinitionUpdateNotAllowed")

	// Deleted, the GUID is free again: with the role ...
	e.Must(http.StatusOK, http.MethodDelete, assignmentAt(rg("rg2"), "70000000-0000-0000-0000-000000000002"), nil)
	e.Must(http.StatusOK, http.MethodDelete, definitionAt(rg("rg2"), r), nil)
	e.Must(http.StatusCreated, http.MethodPut, definitionAt(rg("rg1"), r), customRole("Moved", []string{rg("rg1")}, "*/read"))
	// ... or with the resource group that holds it.
	if got := e.Do(http.MethodDelete, rg("rg1")+rgAPI, nil); got.Status == http.StatusAccepted {
		e.WaitOperation(got.Header.Get("Location"))
	} else if got.Status != http.StatusOK {
		t.Fatalf("delete rg1: %d %s", got.Status, got.Body)
	}
	e.Must(http.StatusCreated, http.MethodPut, definitionAt(rg("rg2"), r), customRole("Moved again", []string{rg("rg2")}, "*/read"))
}

// Role assignments and role definitions decide their own access once the
// body is read; a caller who could never be allowed their action at the
// URL's scope is refused before anything is validated or looked up, so
// it learns nothing about what exists.
func TestRoleWritesRefusedBeforeValidation(t *testing.T) {
	e := newEnv(t)
	subScope := "/subscriptions/" + sub
	const r = "80000000-0000-0000-0000-000000000001"
	e.Must(http.StatusCreated, http.MethodPut, definitionAt(subScope, r), customRole("Existing", []string{subScope}, "*/read"))
	e.Must(http.StatusCreated, http.MethodPut, assignmentAt(subScope, "80000000-0000-0000-0000-000000000002"), assignment(r, team))
	e.Must(http.StatusCreated, http.MethodPut, assignmentAt(rg("rg1"), "80000000-0000-0000-0000-000000000003"), assignment(authz.RoleReader, reader))
	const (
		writeDefs   = "Microsoft.Authorization/roleDefinitions/write"
		deleteDefs  = "Microsoft.Authorization/roleDefinitions/delete"
		writeAssign = "Microsoft.Authorization/roleAssignments/write"
		delAssign   = "Microsoft.Authorization/roleAssignments/delete"
	)
	for _, tc := range []struct {
		name, method, path, action string
		body                       any
	}{
		{"definition named like another", http.MethodPut, definitionAt(subScope, "80000000-0000-0000-0000-000000000004"), writeDefs, customRole("Existing", []string{subScope}, "*/read")},
		{"definition GUID in use", http.MethodPut, definitionAt(rg("rg1"), r), writeDefs, customRole("Another", []string{rg("rg1")}, "*/read")},
		{"definition under a missing group", http.MethodPut, definitionAt(rg("nope"), "80000000-0000-0000-0000-000000000005"), writeDefs, customRole("Nope", []string{rg("nope")}, "*/read")},
		{"invalid definition", http.MethodPut, definitionAt(subScope, "80000000-0000-0000-0000-000000000006"), writeDefs, map[string]any{}},
		{"delete an assigned definition", http.MethodDelete, definitionAt(subScope, r), deleteDefs, nil},
		{"delete a missing definition", http.MethodDelete, definitionAt(subScope, "80000000-0000-0000-0000-000000000007"), deleteDefs, nil},
		{"assign an unknown role", http.MethodPut, assignmentAt(rg("rg1"), "80000000-0000-0000-0000-000000000008"), writeAssign, assignment("00000000-0000-0000-0000-0000000000ee", reader)},
		{"assign to an unknown principal", http.MethodPut, assignmentAt(rg("rg1"), "80000000-0000-0000-0000-000000000009"), writeAssign, assignment(r, "00000000-0000-0000-0000-0000000000ff")},
		{"assign under a missing group", http.MethodPut, assignmentAt(rg("nope"), "80000000-0000-0000-0000-00000000000a"), writeAssign, assignment(authz.RoleReader, reader)},
		{"assign a role twice", http.MethodPut, assignmentAt(subScope, "80000000-0000-0000-0000-00000000000b"), writeAssign, assignment(r, team)},
		{"delete an assignment", http.MethodDelete, assignmentAt(subScope, "80000000-0000-0000-0000-000000000002"), delAssign, nil},
		{"delete a missing assignment", http.MethodDelete, assignmentAt(rg("rg1"), "80000000-0000-0000-0000-00000000000c"), delAssign, nil},
	} {
		for who, principal := range map[string]string{"reader": reader, "no role": manager} {
			t.Run(tc.name+"/"+who, func(t *testing.T) {
				e.T = t
				defer func() { e.T = nil }()
				as(e, principal, func() {
					wantDenied(t, e.Do(tc.method, tc.path, tc.body), tc.action, strings.TrimSuffix(tc.path, api))
				})
			})
		}
	}
	e.T = t
	// Nothing changed.
	e.Must(http.StatusOK, http.MethodGet, assignmentAt(subScope, "80000000-0000-0000-0000-000000000002"), nil)
	e.Must(http.StatusOK, http.MethodGet, definitionAt(subScope, r), nil)
}

// Narrowing a role while it is being assigned never leaves an assignment
// outside the role's assignable scopes: whichever commits second fails.
func TestRoleDefinitionNarrowingRacesAssignments(t *testing.T) {
	e := newEnv(t)
	subScope := "/subscriptions/" + sub
	for i := range 12 {
		r := fmt.Sprintf("62000000-0000-0000-0000-%012d", i)
		name := fmt.Sprintf("Race %d", i)
		e.Must(http.StatusCreated, http.MethodPut, definitionAt(subScope, r), customRole(name, []string{subScope}, "*/read"))
		var wg sync.WaitGroup
		wg.Go(func() {
			e.Do(http.MethodPut, definitionAt(subScope, r), customRole(name, []string{rg("rg1")}, "*/read"))
		})
		for j, p := range []string{reader, dev, team} {
			wg.Go(func() {
				e.Do(http.MethodPut, assignmentAt(rg("rg2"), fmt.Sprintf("62%06d-0000-0000-0000-%012d", i, j)), assignment(r, p))
			})
		}
		wg.Wait()
		def := e.Must(http.StatusOK, http.MethodGet, definitionAt(subScope, r), nil).JSON(t)
		var scopes []string
		for _, s := range def["properties"].(map[string]any)["assignableScopes"].([]any) {
			scopes = append(scopes, s.(string))
		}
		list := e.Must(http.StatusOK, http.MethodGet, rg("rg2")+"/providers/Microsoft.Authorization/roleAssignments"+api, nil).JSON(t)["value"].([]any)
		for _, v := range list {
			props := v.(map[string]any)["properties"].(map[string]any)
			if !strings.HasSuffix(props["roleDefinitionId"].(string), r) {
				continue
			}
			if !authz.AssignableAt(authz.RoleDefinition{AssignableScopes: scopes}, props["scope"].(string)) {
				t.Fatalf("round %d: assignment at %s outlived the role's narrowing to %v", i, props["scope"], scopes)
			}
		}
	}
}

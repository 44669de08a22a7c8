package authorization_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/providers/authorization"
	"github.com/perimeterhq/perimeter/internal/snapshot/snapshottest"
)

const (
	sub   = armtest.SubscriptionID
	api   = "?api-version=2022-04-01"
	rgAPI = armtest.ResourcesAPI

	reader  = "00000000-0000-0000-0000-00000000000a" // a user given Reader
	manager = "00000000-0000-0000-0000-00000000000b" // a user given Azure AI Project Manager
	dev     = "00000000-0000-0000-0000-00000000000c" // a service principal
	team    = "00000000-0000-0000-0000-00000000000d" // a group
)

var principals = map[string]string{reader: "User", manager: "User", dev: "ServicePrincipal", team: "Group"}

// newEnv serves resource groups and Microsoft.Authorization with RBAC
// enforced; the harness administrator owns the subscription.
func newEnv(t *testing.T) *armtest.Env {
	t.Helper()
	lookup := func(_ context.Context, _, id string) (string, error) {
		if typ, ok := principals[id]; ok {
			return typ, nil
		}
		return "", authorization.ErrPrincipalNotFound
	}
	e := armtest.New(t, snapshottest.RBAC(armtest.TenantID, lookup)...)
	// The administrator's own Owner assignment, as bootstrap writes it.
	snapshottest.Assign(t, e.Store, "/subscriptions/"+sub, "99999999-9999-9999-9999-999999999999", authz.RoleOwner, armtest.ObjectID, "ServicePrincipal")
	for _, rg := range []string{"rg1", "rg2"} {
		e.Must(http.StatusCreated, http.MethodPut, "/subscriptions/"+sub+"/resourcegroups/"+rg+rgAPI, map[string]string{"location": "eastus"})
	}
	return e
}

func assignment(role, principal string) map[string]any {
	return map[string]any{"properties": map[string]string{
		"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + role, "principalId": principal}}
}

func rg(name string) string { return "/subscriptions/" + sub + "/resourceGroups/" + name }

func assign(e *armtest.Env, scope, name, role, principal string) armtest.Response {
	return e.Do(http.MethodPut, scope+"/providers/Microsoft.Authorization/roleAssignments/"+name+api, assignment(role, principal))
}

// as runs f with requests made as principal.
func as(e *armtest.Env, principal string, f func()) {
	e.Token = armtest.As(principal)
	defer func() { e.Token = armtest.Token }()
	f()
}

func wantCode(t *testing.T, r armtest.Response, status int, code string) {
	t.Helper()
	if r.Status != status || r.ErrCode(t) != code {
		t.Fatalf("got %d %s, want %d %s: %s", r.Status, r.ErrCode(t), status, code, r.Body)
	}
}

func TestReaderReadsOnlyWhereAssigned(t *testing.T) {
	e := newEnv(t)
	as(e, reader, func() {
		r := e.Do(http.MethodGet, rg("rg1")+rgAPI, nil)
		wantCode(t, r, http.StatusForbidden, arm.CodeAuthorizationFailed)
		if msg := r.ARMError(t).Message; !strings.Contains(msg, "Microsoft.Resources/subscriptions/resourceGroups/read") || !strings.Contains(msg, rg("rg1")) {
			t.Errorf("the refusal does not name the action and scope: %s", msg)
		}
		wantCode(t, e.Do(http.MethodGet, "/subscriptions/"+sub+"/resourcegroups"+rgAPI, nil), http.StatusForbidden, arm.CodeAuthorizationFailed)
		// The tenant's subscriptions: none visible yet, as Azure answers.
		if v := e.Must(http.StatusOK, http.MethodGet, "/subscriptions"+rgAPI, nil).JSON(t)["value"].([]any); len(v) != 0 {
			t.Errorf("subscriptions before any role: %v", v)
		}
	})
	if r := assign(e, rg("rg1"), "10000000-0000-0000-0000-000000000001", authz.RoleReader, reader); r.Status != http.StatusCreated {
		t.Fatalf("assign Reader: %d %s", r.Status, r.Body)
	}
	as(e, reader, func() {
		e.Must(http.StatusOK, http.MethodGet, rg("rg1")+rgAPI, nil)
		wantCode(t, e.Do(http.MethodGet, rg("rg2")+rgAPI, nil), http.StatusForbidden, arm.CodeAuthorizationFailed)
		wantCode(t, e.Do(http.MethodPut, rg("rg1")+rgAPI, map[string]string{"location": "eastus"}), http.StatusForbidden, arm.CodeAuthorizationFailed)
		wantCode(t, e.Do(http.MethodDelete, rg("rg1")+rgAPI, nil), http.StatusForbidden, arm.CodeAuthorizationFailed)
		// A role below the subscription makes it visible.
		if v := e.Must(http.StatusOK, http.MethodGet, "/subscriptions"+rgAPI, nil).JSON(t)["value"].([]any); len(v) != 1 {
			t.Errorf("subscriptions with Reader on a group: %v", v)
		}
		// The subscription's list shows what the reader may see.
		list := e.Must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/resourcegroups"+rgAPI, nil).JSON(t)
		if v := list["value"].([]any); len(v) != 1 || v[0].(map[string]any)["name"] != "rg1" {
			t.Errorf("the reader lists %v, want rg1 only", v)
		}
		// Nobody grants what they may not: a Reader cannot assign.
		wantCode(t, assign(e, rg("rg1"), "10000000-0000-0000-0000-000000000002", authz.RoleReader, dev), http.StatusForbidden, arm.CodeAuthorizationFailed)
	})
}

func TestAssignmentBadInput(t *testing.T) {
	e := newEnv(t)
	const name = "20000000-0000-0000-0000-000000000001"
	for _, tc := range []struct {
		name, path string
		body       any
		status     int
		code       string
	}{
		{"name not a GUID", rg("rg1") + "/providers/Microsoft.Authorization/roleAssignments/not-a-guid" + api, assignment(authz.RoleReader, reader), 400, "InvalidRoleAssignmentId"},
		{"unknown principal", "", assignment(authz.RoleReader, "00000000-0000-0000-0000-0000000000ff"), 400, "PrincipalNotFound"},
		{"principal not a GUID", "", assignment(authz.RoleReader, "bob"), 400, "InvalidPrincipalId"},
		{"unknown role", "", assignment("00000000-0000-0000-0000-0000000000ee", reader), 400, "RoleDefinitionDoesNotExist"},
		{"malformed role id", "", assignment("Reader", reader), 400, "InvalidRoleDefinitionId"},
		{"wrong principal type", "", map[string]any{"properties": map[string]string{"roleDefinitionId": authz.RoleReader, "principalId": reader, "principalType": "Group"}}, 400, "UnmatchedPrincipalType"},
		{"no properties", "", map[string]any{}, 400, "InvalidRequestContent"},
		{"bad condition", "", map[string]any{"properties": map[string]string{"roleDefinitionId": authz.RoleReader, "principalId": reader, "condition": "((("}}, 400, "InvalidCondition"},
		{"scope does not exist", rg("nope") + "/providers/Microsoft.Authorization/roleAssignments/" + name + api, assignment(authz.RoleReader, reader), 404, "ResourceGroupNotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.T = t
			defer func() { e.T = nil }()
			path := tc.path
			if path == "" {
				path = rg("rg1") + "/providers/Microsoft.Authorization/roleAssignments/" + name + api
			}
			wantCode(t, e.Do(http.MethodPut, path, tc.body), tc.status, tc.code)
		})
	}
	e.T = t
	// Nothing was written.
	list := e.Must(http.StatusOK, http.MethodGet, rg("rg1")+"/providers/Microsoft.Authorization/roleAssignments"+api+"&$filter=principalId%20eq%20'"+reader+"'", nil).JSON(t)
	if v := list["value"].([]any); len(v) != 0 {
		t.Fatalf("refused writes left assignments: %v", v)
	}

	e.Must(http.StatusCreated, http.MethodPut, rg("rg1")+"/providers/Microsoft.Authorization/roleAssignments/"+name+api, assignment(authz.RoleReader, reader))
	e.Must(http.StatusOK, http.MethodPut, rg("rg1")+"/providers/Microsoft.Authorization/roleAssignments/"+name+api, assignment(authz.RoleReader, reader))
	wantCode(t, e.Do(http.MethodPut, rg("rg1")+"/providers/Microsoft.Authorization/roleAssignments/"+name+api, assignment(authz.RoleContributor, reader)),
		http.StatusConflict, "RoleAssignmentUpdateNotPermitted")
	wantCode(t, assign(e, rg("rg1"), "20000000-0000-0000-0000-000000000002", authz.RoleReader, reader), http.StatusConflict, "RoleAssignmentExists")
	// One made without a request (as bootstrap does) counts too.
	ops, err := authorization.AssignOps(rg("rg2"), "20000000-0000-0000-0000-000000000005", authz.RoleContributor, dev, "ServicePrincipal", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.Apply(t.Context(), ops...); err != nil {
		t.Fatal(err)
	}
	wantCode(t, assign(e, rg("rg2"), "20000000-0000-0000-0000-000000000006", authz.RoleContributor, dev), http.StatusConflict, "RoleAssignmentExists")
	// The same role at another scope is another assignment.
	e.Must(http.StatusCreated, http.MethodPut, rg("rg2")+"/providers/Microsoft.Authorization/roleAssignments/20000000-0000-0000-0000-000000000003"+api, assignment(authz.RoleReader, reader))
	// Deleted, it may be made again (the uniqueness record goes with it).
	e.Must(http.StatusOK, http.MethodDelete, rg("rg1")+"/providers/Microsoft.Authorization/roleAssignments/"+name+api, nil)
	e.Must(http.StatusCreated, http.MethodPut, rg("rg1")+"/providers/Microsoft.Authorization/roleAssignments/20000000-0000-0000-0000-000000000004"+api, assignment(authz.RoleReader, reader))
}

func TestDelegationConditions(t *testing.T) {
	e := newEnv(t)
	e.Must(http.StatusCreated, http.MethodPut, rg("rg1")+"/providers/Microsoft.Authorization/roleAssignments/30000000-0000-0000-0000-000000000001"+api, assignment(authz.RoleAzureAIProjectManager, manager))
	e.Must(http.StatusCreated, http.MethodPut, rg("rg1")+"/providers/Microsoft.Authorization/roleAssignments/30000000-0000-0000-0000-000000000002"+api, assignment(authz.RoleOwner, team))
	as(e, manager, func() {
		// A project manager may hand out Azure AI User, and nothing more.
		e.Must(http.StatusCreated, http.MethodPut, rg("rg1")+"/providers/Microsoft.Authorization/roleAssignments/30000000-0000-0000-0000-000000000003"+api, assignment(authz.RoleAzureAIUser, dev))
		wantCode(t, assign(e, rg("rg1"), "30000000-0000-0000-0000-000000000004", authz.RoleOwner, dev), http.StatusForbidden, arm.CodeAuthorizationFailed)
		wantCode(t, assign(e, rg("rg1"), "30000000-0000-0000-0000-000000000005", authz.RoleContributor, dev), http.StatusForbidden, arm.CodeAuthorizationFailed)
		// Not above its own scope.
		wantCode(t, assign(e, "/subscriptions/"+sub, "30000000-0000-0000-0000-000000000006", authz.RoleAzureAIUser, dev), http.StatusForbidden, arm.CodeAuthorizationFailed)
		// It may remove the Azure AI User assignment, not the Owner one.
		wantCode(t, e.Do(http.MethodDelete, rg("rg1")+"/providers/Microsoft.Authorization/roleAssignments/30000000-0000-0000-0000-000000000002"+api, nil), http.StatusForbidden, arm.CodeAuthorizationFailed)
		e.Must(http.StatusOK, http.MethodDelete, rg("rg1")+"/providers/Microsoft.Authorization/roleAssignments/30000000-0000-0000-0000-000000000003"+api, nil)
	})
}

func TestListAssignmentsAtScope(t *testing.T) {
	e := newEnv(t)
	e.Must(http.StatusCreated, http.MethodPut, rg("rg1")+"/providers/Microsoft.Authorization/roleAssignments/40000000-0000-0000-0000-000000000001"+api, assignment(authz.RoleReader, reader))
	e.Must(http.StatusCreated, http.MethodPut, rg("rg2")+"/providers/Microsoft.Authorization/roleAssignments/40000000-0000-0000-0000-000000000002"+api, assignment(authz.RoleReader, dev))
	names := func(path string) []string {
		var out []string
		for _, v := range e.Must(http.StatusOK, http.MethodGet, path, nil).JSON(t)["value"].([]any) {
			out = append(out, v.(map[string]any)["name"].(string))
		}
		return out
	}
	// At rg1: its own and the subscription's (inherited), not rg2's.
	if got := names(rg("rg1") + "/providers/Microsoft.Authorization/roleAssignments" + api); len(got) != 2 {
		t.Errorf("at rg1: %v", got)
	}
	// At the subscription: everything at and below it.
	if got := names("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments" + api); len(got) != 3 {
		t.Errorf("at the subscription: %v", got)
	}
	if got := names("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments" + api + "&$filter=atScope()"); len(got) != 1 {
		t.Errorf("atScope() at the subscription: %v", got)
	}
	if got := names("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments" + api + "&$filter=assignedTo('" + dev + "')"); len(got) != 1 || got[0] != "40000000-0000-0000-0000-000000000002" {
		t.Errorf("assignedTo(dev): %v", got)
	}
	wantCode(t, e.Do(http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.Authorization/roleAssignments"+api+"&$filter=roleName%20eq%20'x'", nil), http.StatusBadRequest, "InvalidFilterInQueryString")
	// Deleting a resource group deletes the assignments inside it.
	if r := e.Do(http.MethodDelete, rg("rg2")+rgAPI, nil); r.Status == http.StatusAccepted {
		e.WaitOperation(r.Header.Get("Location"))
	}
	if got := names("/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments" + api); len(got) != 2 {
		t.Errorf("after deleting rg2: %v", got)
	}
}

func TestRoleDefinitions(t *testing.T) {
	e := newEnv(t)
	defs := "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions"
	got := e.Must(http.StatusOK, http.MethodGet, defs+"/"+authz.RoleReader+api, nil).JSON(t)
	if got["id"] != defs+"/"+authz.RoleReader || got["properties"].(map[string]any)["roleName"] != "Reader" || got["properties"].(map[string]any)["type"] != "BuiltInRole" {
		t.Errorf("Reader: %v", got)
	}
	list := e.Must(http.StatusOK, http.MethodGet, defs+api+"&$filter=roleName%20eq%20'Azure%20AI%20User'", nil).JSON(t)["value"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != authz.RoleAzureAIUser {
		t.Errorf("filter by roleName: %v", list)
	}
	wantCode(t, e.Do(http.MethodGet, defs+"/00000000-0000-0000-0000-0000000000ee"+api, nil), http.StatusNotFound, "RoleDefinitionDoesNotExist")

	const custom = "50000000-0000-0000-0000-000000000001"
	role := func(actions ...string) map[string]any {
		return map[string]any{"properties": map[string]any{
			"roleName": "Deployment Reader", "description": "reads deployments",
			"assignableScopes": []string{"/subscriptions/" + sub},
			"permissions":      []map[string]any{{"actions": actions, "notActions": []string{}}},
		}}
	}
	wantCode(t, e.Do(http.MethodPut, defs+"/"+custom+api, role("Microsoft.CognitiveServices/accounts/deployments/read", "not an action")), http.StatusBadRequest, "InvalidActionOrNotAction")
	wantCode(t, e.Do(http.MethodPut, defs+"/"+authz.RoleReader+api, role("*/read")), http.StatusConflict, "RoleDefinitionUpdateNotAllowed")
	e.Must(http.StatusCreated, http.MethodPut, defs+"/"+custom+api, role("Microsoft.Resources/subscriptions/resourceGroups/read"))
	wantCode(t, e.Do(http.MethodPut, defs+"/50000000-0000-0000-0000-000000000002"+api, role("*/read")), http.StatusConflict, "RoleDefinitionWithSameNameExists")
	// Found by its GUID from another scope, and assignable.
	e.Must(http.StatusOK, http.MethodGet, rg("rg1")+"/providers/Microsoft.Authorization/roleDefinitions/"+custom+api, nil)
	e.Must(http.StatusCreated, http.MethodPut, rg("rg1")+"/providers/Microsoft.Authorization/roleAssignments/50000000-0000-0000-0000-000000000003"+api, assignment(custom, dev))
	as(e, dev, func() {
		e.Must(http.StatusOK, http.MethodGet, rg("rg1")+rgAPI, nil)
		wantCode(t, e.Do(http.MethodGet, rg("rg1")+"/providers/Microsoft.Authorization/roleAssignments"+api, nil), http.StatusForbidden, arm.CodeAuthorizationFailed)
	})
	wantCode(t, e.Do(http.MethodDelete, defs+"/"+custom+api, nil), http.StatusConflict, "RoleDefinitionHasAssignments")
	e.Must(http.StatusOK, http.MethodDelete, rg("rg1")+"/providers/Microsoft.Authorization/roleAssignments/50000000-0000-0000-0000-000000000003"+api, nil)
	e.Must(http.StatusOK, http.MethodDelete, defs+"/"+custom+api, nil)
}

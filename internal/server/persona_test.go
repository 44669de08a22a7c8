package server

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/identity"
)

// outcome is what a request should get: a status and, for refusals, the
// error code.
type outcome struct {
	status int
	code   string
}

var (
	ok         = outcome{status: http.StatusOK}
	created    = outcome{status: http.StatusCreated}
	gone       = outcome{status: http.StatusNoContent}
	denied     = outcome{http.StatusForbidden, "AuthorizationFailed"}
	joinDenied = outcome{http.StatusForbidden, "LinkedAuthorizationFailed"}
	// noDataRole is the gateway's answer to a token whose principal holds
	// no role with the data action, as Azure's data plane answers it.
	noDataRole = outcome{http.StatusUnauthorized, "PermissionDenied"}
)

// persona is one of the seed's personas (004, "Define RBAC assignments
// for admins, project managers, and project users"), signed in as a user.
type persona struct {
	key  string // names the resources the persona's requests create
	name string
	user identity.User
}

// TestPersonas runs the seed's personas, with the starter roles at the
// scopes its table recommends, through the control plane and the gateway
// as they are wired in Run:
//
//	Admins            Owner at the subscription (through the Admins group),
//	                  or Azure AI Account Owner at the Foundry resource
//	Project Managers  Azure AI Project Manager at the Foundry resource (group)
//	Project Users     Azure AI User at the Foundry project (group)
//
// and someone with no role. Each row is a request and what each persona
// gets for it.
func TestPersonas(t *testing.T) {
	s := newStack(t)
	rg := s.sub() + "/resourceGroups/foundry"
	acct := rg + "/providers/Microsoft.CognitiveServices/accounts/foundry"
	team := acct + "/projects/team"
	vnet := rg + "/providers/Microsoft.Network/virtualNetworks/net"
	accounts := rg + "/providers/Microsoft.CognitiveServices/accounts"
	accessLogs := s.sub() + "/providers/Perimeter.Diagnostics/accessLogs?api-version=2026-01-01"

	personas := []*persona{
		{key: "admin", name: "Admin (Owner at the subscription)"},
		{key: "owner", name: "Admin (Azure AI Account Owner at the account)"},
		{key: "pm", name: "Project Manager (Azure AI Project Manager at the account)"},
		{key: "dev", name: "Project User (Azure AI User at the project)"},
		{key: "nobody", name: "No role"},
	}
	for _, p := range personas {
		p.user = s.user(p.key)
	}
	admins := s.group("Admins", personas[0].user.ID)
	managers := s.group("Project Managers", personas[2].user.ID)
	users := s.group("Project Users", personas[3].user.ID)

	// The Foundry resource, a project, a model deployment and a network
	// with a subnet per persona, made by the bootstrap administrator.
	s.must(s.admin, http.StatusCreated, http.MethodPut, rg+rgAPI, map[string]any{"location": "eastus"})
	s.must(s.admin, http.StatusCreated, http.MethodPut, acct+csAPI, account("persona-foundry", map[string]any{"allowProjectManagement": true}))
	s.must(s.admin, http.StatusCreated, http.MethodPut, team+csAPI, map[string]any{"location": "eastus", "properties": map[string]any{}})
	s.must(s.admin, http.StatusCreated, http.MethodPut, acct+"/deployments/chat"+csAPI, chatDeployment)
	var subnets []any
	for i, p := range personas {
		subnets = append(subnets, map[string]any{"name": "s-" + p.key, "properties": map[string]any{
			"addressPrefix": fmt.Sprintf("10.8.%d.0/24", i), "serviceEndpoints": []any{map[string]any{"service": "Microsoft.CognitiveServices"}}}})
		s.must(s.admin, http.StatusCreated, http.MethodPut, acct+"/projects/gone-"+p.key+csAPI, map[string]any{"location": "eastus", "properties": map[string]any{}})
	}
	s.must(s.admin, http.StatusCreated, http.MethodPut, vnet+netAPI, map[string]any{"location": "eastus", "properties": map[string]any{
		"addressSpace": map[string]any{"addressPrefixes": []string{"10.8.0.0/16"}}, "subnets": subnets}})

	s.assign(s.sub(), authz.RoleOwner, admins)
	s.assign(acct, authz.RoleAzureAIAccountOwner, personas[1].user.ID)
	s.assign(acct, authz.RoleAzureAIProjectManager, managers)
	s.assign(team, authz.RoleAzureAIUser, users)
	// Whom the personas try to give roles to: one principal each, so
	// that one persona's grant is not another's duplicate.
	assignee := map[string]string{}
	for _, p := range personas {
		assignee[p.key] = s.user("new-" + p.key).ID
	}

	mgmt := func(p *persona) string { return s.userToken(p.user, identity.AudienceManagement) }
	arm := func(method, path string, body func(p *persona) any) func(p *persona) response {
		return func(p *persona) response {
			var b any
			if body != nil {
				b = body(p)
			}
			return s.armDo(mgmt(p), method, path, b)
		}
	}
	armAt := func(method string, path func(p *persona) string, body func(p *persona) any) func(p *persona) response {
		return func(p *persona) response { return arm(method, path(p), body)(p) }
	}
	assign := func(scope, role string) func(p *persona) response {
		return func(p *persona) response {
			return s.armDo(mgmt(p), http.MethodPut, scope+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+raAPI,
				map[string]any{"properties": map[string]string{
					"roleDefinitionId": s.sub() + "/providers/Microsoft.Authorization/roleDefinitions/" + role, "principalId": assignee[p.key]}})
		}
	}

	rows := []struct {
		request string
		do      func(p *persona) response
		// want is per persona: admin, account owner, project manager,
		// project user, no role.
		want [5]outcome
	}{
		// Azure AI Project Manager holds "Microsoft.CognitiveServices/accounts/*/read",
		// the built-in role as Azure defines it (and as `az role definition
		// list` still shows it). An Azure wildcard stands for any run of
		// characters and the slashes around it are literal, so the pattern
		// needs a segment between accounts/ and /read: it grants reading
		// deployments and projects, not accounts/read itself. Azure
		// refuses the manager a GET of the account; so does Perimeter.
		{"GET the account", arm(http.MethodGet, acct+csAPI, nil),
			[5]outcome{ok, ok, denied, denied, denied}},
		{"PATCH the account's tags", arm(http.MethodPatch, acct+csAPI, func(p *persona) any {
			return map[string]any{"tags": map[string]string{"by": p.key}}
		}), [5]outcome{ok, ok, denied, denied, denied}},
		{"PUT a new account in the resource group", armAt(http.MethodPut,
			func(p *persona) string {
				return rg + "/providers/Microsoft.CognitiveServices/accounts/new-" + p.key + csAPI
			},
			func(p *persona) any { return account("persona-new-"+p.key, nil) }),
			[5]outcome{created, denied, denied, denied, denied}},
		// Naming a subnet in the account's rules also needs
		// joinViaServiceEndpoint on it, which Owner has ("*") and the
		// Account Owner has not (Microsoft.CognitiveServices/* only).
		{"PATCH a network rule naming a new subnet", arm(http.MethodPatch, acct+csAPI, func(p *persona) any {
			return map[string]any{"properties": map[string]any{"networkAcls": map[string]any{
				"defaultAction": "Allow", "virtualNetworkRules": []any{map[string]any{"id": vnet + "/subnets/s-" + p.key}}}}}
		}), [5]outcome{ok, joinDenied, denied, denied, denied}},
		{"PUT a project", armAt(http.MethodPut,
			func(p *persona) string { return acct + "/projects/new-" + p.key + csAPI },
			func(*persona) any { return map[string]any{"location": "eastus", "properties": map[string]any{}} }),
			[5]outcome{created, created, created, denied, denied}},
		{"GET the team's project", arm(http.MethodGet, team+csAPI, nil),
			[5]outcome{ok, ok, ok, ok, denied}},
		// A project user holds a role below the account: the list shows
		// what it may read rather than refusing.
		{"list the account's projects", arm(http.MethodGet, acct+"/projects"+csAPI, nil),
			[5]outcome{ok, ok, ok, ok, denied}},
		// Filtered too, but a role on a project does not show its account:
		// the list holds what GET would answer (checked below).
		{"list the resource group's accounts", arm(http.MethodGet, accounts+csAPI, nil),
			[5]outcome{ok, ok, ok, ok, denied}},
		// So does the access log: no persona below the subscription holds
		// Perimeter.Diagnostics/accessLogs/read (checked below).
		{"list the subscription's access log", arm(http.MethodGet, accessLogs, nil),
			[5]outcome{ok, ok, ok, ok, denied}},
		{"DELETE a project", armAt(http.MethodDelete,
			func(p *persona) string { return acct + "/projects/gone-" + p.key + csAPI }, nil),
			[5]outcome{gone, gone, gone, denied, denied}},
		{"PUT a model deployment", armAt(http.MethodPut,
			func(p *persona) string { return acct + "/deployments/d-" + p.key + csAPI },
			func(*persona) any { return chatDeployment }),
			[5]outcome{created, created, denied, denied, denied}},
		{"GET the model deployment", arm(http.MethodGet, acct+"/deployments/chat"+csAPI, nil),
			[5]outcome{ok, ok, ok, denied, denied}},
		{"POST listKeys", arm(http.MethodPost, acct+"/listKeys"+csAPI, nil),
			[5]outcome{ok, ok, denied, denied, denied}},
		// The delegation condition of the manager and account owner roles:
		// Azure AI User only, and nobody grants above their own scope.
		{"assign Azure AI User on the project", assign(team, authz.RoleAzureAIUser),
			[5]outcome{created, created, created, denied, denied}},
		{"assign Owner on the project", assign(team, authz.RoleOwner),
			[5]outcome{created, denied, denied, denied, denied}},
		{"assign Azure AI User on the resource group", assign(rg, authz.RoleAzureAIUser),
			[5]outcome{created, denied, denied, denied, denied}},
		// The data plane checks the account's endpoint at the account:
		// Owner and Account Owner have no data actions, the manager has
		// Microsoft.CognitiveServices/* there, and a project user's role
		// is on the project, whose own endpoint the gateway does not serve.
		{"chat with the account's deployment", func(p *persona) response {
			return s.chat("persona-foundry", s.userToken(p.user, identity.AudienceCognitiveServices))
		}, [5]outcome{noDataRole, noDataRole, ok, noDataRole, noDataRole}},
	}
	s.settle()
	for _, row := range rows {
		for i, p := range personas {
			t.Run(row.request+"/"+p.name, func(t *testing.T) {
				defer func(parent *testing.T) { s.t = parent }(s.t)
				s.t = t
				want := row.want[i]
				r := row.do(p)
				if !same(r.Status, want.status) || (want.code != "" && r.errCode() != want.code) {
					t.Errorf("got %d %s, want %d %s: %s", r.Status, r.errCode(), want.status, want.code, r.Body)
				}
			})
		}
	}

	// The project user's list holds its own project only.
	list := s.must(mgmt(personas[3]), http.StatusOK, http.MethodGet, acct+"/projects"+csAPI, nil).json(t)["value"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "team" {
		t.Errorf("the project user lists %v", list)
	}
	// The account appears in the group's list to those who may GET it.
	// Until filtered lists showed only subscriptions and groups for what
	// they hold, the project user saw the account's whole document
	// (networkAcls, identity) here while GET of it answered 403.
	for i, want := range []bool{true, true, false, false} {
		list := s.must(mgmt(personas[i]), http.StatusOK, http.MethodGet, accounts+csAPI, nil).json(t)["value"].([]any)
		if got := slices.ContainsFunc(list, func(it any) bool { return it.(map[string]any)["name"] == "foundry" }); got != want {
			t.Errorf("%s: the account in the group's list = %v, want %v", personas[i].name, got, want)
		}
	}
	// The access log holds the chats above; roles below the subscription
	// read none of it, where they once read it all.
	if s.log.keep(t, s.st) == 0 {
		t.Fatal("the gateway logged no chat")
	}
	if got := s.must(s.admin, http.StatusOK, http.MethodGet, accessLogs, nil).json(t)["value"].([]any); len(got) == 0 {
		t.Error("the administrator reads no access log record")
	}
	for _, p := range personas[1:4] {
		if got := s.must(mgmt(p), http.StatusOK, http.MethodGet, accessLogs, nil).json(t)["value"].([]any); len(got) != 0 {
			t.Errorf("%s reads %d access log records", p.name, len(got))
		}
	}
}

// same compares statuses; a write whose operation outlasted the server's
// inline wait answers 202 instead of its final 200 or 204.
func same(got, want int) bool {
	return got == want || (got == http.StatusAccepted && (want == http.StatusOK || want == http.StatusNoContent))
}

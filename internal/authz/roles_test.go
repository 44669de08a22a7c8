package authz

import (
	"slices"
	"strings"
	"testing"
)

// Taken from the reference (shared/reference/rbac-roles.md), byte for byte.
const refDelegationCondition = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals{53ca6127-db72-4b80-b1b0-d745d6d5456d})) AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals{53ca6127-db72-4b80-b1b0-d745d6d5456d}))"

func TestBuiltInRolesShape(t *testing.T) {
	want := map[string]string{
		RoleOwner:                                      "Owner",
		RoleContributor:                                "Contributor",
		RoleReader:                                     "Reader",
		RoleNetworkContributor:                         "Network Contributor",
		RolePrivateDNSZoneContributor:                  "Private DNS Zone Contributor",
		RoleCognitiveServicesContributor:               "Cognitive Services Contributor",
		RoleCognitiveServicesUser:                      "Cognitive Services User",
		RoleCognitiveServicesOpenAIUser:                "Cognitive Services OpenAI User",
		RoleAzureAIUser:                                "Azure AI User",
		RoleAzureAIProjectManager:                      "Azure AI Project Manager",
		RoleAzureAIAccountOwner:                        "Azure AI Account Owner",
		RoleAzureAIEnterpriseNetworkConnectionApprover: "Azure AI Enterprise Network Connection Approver",
		RoleAzureAIDeveloper:                           "Azure AI Developer",
		RoleAzureAIInferenceDeploymentOperator:         "Azure AI Inference Deployment Operator",
	}
	roles := BuiltInRoles()
	if len(roles) != len(want) {
		t.Fatalf("%d built-in roles, want %d", len(roles), len(want))
	}
	seen := map[string]bool{}
	for _, r := range roles {
		if seen[r.Name] {
			t.Errorf("GUID %s appears twice", r.Name)
		}
		seen[r.Name] = true
		if want[r.Name] != r.RoleName {
			t.Errorf("role %s is named %q, want %q", r.Name, r.RoleName, want[r.Name])
		}
		if !isGUID(r.Name) || r.Name != strings.ToLower(r.Name) {
			t.Errorf("%s: name %q is not a lower-case GUID", r.RoleName, r.Name)
		}
		if r.ID != "/providers/Microsoft.Authorization/roleDefinitions/"+r.Name {
			t.Errorf("%s: id %q", r.RoleName, r.ID)
		}
		if r.RoleType != "BuiltInRole" || !slices.Equal(r.AssignableScopes, []string{"/"}) || r.Description == "" {
			t.Errorf("%s: roleType %q, assignableScopes %q, description %q", r.RoleName, r.RoleType, r.AssignableScopes, r.Description)
		}
		if len(r.Permissions) != 1 {
			t.Fatalf("%s: %d permission blocks, want 1", r.RoleName, len(r.Permissions))
		}
		p := r.Permissions[0]
		if p.Actions == nil || p.NotActions == nil || p.DataActions == nil || p.NotDataActions == nil {
			t.Errorf("%s: a nil list would render as null, not []", r.RoleName)
		}
		// Every built-in must pass the checks custom roles pass.
		custom := r
		custom.RoleType = RoleTypeCustom
		if err := ValidateRoleDefinition(custom); err != nil {
			t.Errorf("%s does not validate: %v", r.RoleName, err)
		}
	}
}

func TestBuiltInRolesExactPermissions(t *testing.T) {
	get := func(guid string) Permission {
		t.Helper()
		r, ok := BuiltInRole(guid)
		if !ok {
			t.Fatalf("no built-in role %s", guid)
		}
		return r.Permissions[0]
	}
	if p := get(RoleOwner); !slices.Equal(p.Actions, []string{"*"}) || len(p.NotActions)+len(p.DataActions)+len(p.NotDataActions) != 0 {
		t.Errorf("Owner: %+v", p)
	}
	if p := get(RoleReader); !slices.Equal(p.Actions, []string{"*/read"}) {
		t.Errorf("Reader actions %q", p.Actions)
	}
	wantNot := []string{
		"Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
		"Microsoft.Authorization/elevateAccess/Action", "Microsoft.Blueprint/blueprintAssignments/write",
		"Microsoft.Blueprint/blueprintAssignments/delete", "Microsoft.Compute/galleries/share/action",
	}
	if p := get(RoleContributor); !slices.Equal(p.Actions, []string{"*"}) || !slices.Equal(p.NotActions, wantNot) {
		t.Errorf("Contributor: %+v", p)
	}
	if p := get(RoleCognitiveServicesOpenAIUser); len(p.DataActions) != 13 ||
		!slices.Equal(p.NotDataActions, []string{"Microsoft.CognitiveServices/accounts/OpenAI/stored-completions/read"}) {
		t.Errorf("Cognitive Services OpenAI User: %d dataActions, notDataActions %q", len(p.DataActions), p.NotDataActions)
	}
	for _, guid := range []string{RoleAzureAIProjectManager, RoleAzureAIAccountOwner} {
		if p := get(guid); p.Condition != refDelegationCondition || p.ConditionVersion != "2.0" {
			t.Errorf("%s: condition %q version %q", guid, p.Condition, p.ConditionVersion)
		}
	}
	for guid, n := range map[string]int{
		RoleNetworkContributor: 7, RolePrivateDNSZoneContributor: 10, RoleCognitiveServicesContributor: 18,
		RoleCognitiveServicesUser: 13, RoleAzureAIUser: 13, RoleAzureAIProjectManager: 9, RoleAzureAIAccountOwner: 20,
		RoleAzureAIEnterpriseNetworkConnectionApprover: 41, RoleAzureAIDeveloper: 7, RoleAzureAIInferenceDeploymentOperator: 3,
	} {
		if p := get(guid); len(p.Actions) != n {
			t.Errorf("%s: %d actions, want %d", guid, len(p.Actions), n)
		}
	}
}

func TestBuiltInRoleLookup(t *testing.T) {
	r, ok := BuiltInRole(strings.ToUpper(RoleAzureAIUser))
	if !ok || r.RoleName != "Azure AI User" {
		t.Fatalf("BuiltInRole(upper case) = %q, %v", r.RoleName, ok)
	}
	if _, ok := BuiltInRole("00000000-0000-0000-0000-000000000000"); ok {
		t.Fatal("found a role that does not exist")
	}
	// Copies are the caller's: changing one changes no later answer.
	a := BuiltInRoles()
	a[0].Permissions[0].Actions[0] = "Microsoft.Nothing/read"
	a[0].AssignableScopes[0] = "/subscriptions/x"
	b, _ := BuiltInRole(a[0].Name)
	if b.Permissions[0].Actions[0] != "*" || b.AssignableScopes[0] != "/" {
		t.Fatalf("a caller's change leaked into the built-ins: %+v", b)
	}
}

func TestRoleGUID(t *testing.T) {
	for in, want := range map[string]string{
		RoleOwner: RoleOwner,
		"/providers/Microsoft.Authorization/roleDefinitions/8E3AF657-A8FF-443C-A75C-2FE8C4BCB635":                 RoleOwner,
		"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635": RoleOwner,
		"": "",
	} {
		if got := RoleGUID(in); got != want {
			t.Errorf("RoleGUID(%q) = %q, want %q", in, got, want)
		}
	}
}

// Each built-in role's key grants and refusals, assigned at a subscription
// and checked beneath it.
func TestBuiltInRoleGrants(t *testing.T) {
	const (
		scope    = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a"
		chat     = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
		stored   = "Microsoft.CognitiveServices/accounts/OpenAI/stored-completions/read"
		raWrite  = "Microsoft.Authorization/roleAssignments/write"
		raDelete = "Microsoft.Authorization/roleAssignments/delete"
		raRead   = "Microsoft.Authorization/roleAssignments/read"
		listKeys = "Microsoft.CognitiveServices/accounts/listKeys/action"
		acctW    = "Microsoft.CognitiveServices/accounts/write"
		acctR    = "Microsoft.CognitiveServices/accounts/read"
		deplW    = "Microsoft.CognitiveServices/accounts/deployments/write"
		projW    = "Microsoft.CognitiveServices/accounts/projects/write"
	)
	aiUser := map[string][]string{AttrRoleAssignmentRoleDefinitionID: {RoleDefinitionPrefix + RoleAzureAIUser}}
	type check struct {
		action string
		data   bool
		want   bool
	}
	ctl := func(a string, want bool) check { return check{a, false, want} }
	data := func(a string, want bool) check { return check{a, true, want} }
	tests := []struct {
		role   string
		checks []check
	}{
		{RoleOwner, []check{ctl(acctW, true), ctl(raWrite, true), ctl(raDelete, true), ctl(listKeys, true), ctl("Microsoft.Anything/at/all", true),
			data(chat, false), data("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", false)}},
		{RoleContributor, []check{ctl(acctW, true), ctl(deplW, true), ctl(listKeys, true), ctl(raRead, true),
			ctl(raWrite, false), ctl(raDelete, false), ctl("Microsoft.Authorization/locks/write", false), ctl("Microsoft.Authorization/elevateAccess/action", false),
			ctl("Microsoft.Compute/galleries/share/action", false), ctl("Microsoft.Blueprint/blueprintAssignments/write", false), data(chat, false)}},
		{RoleReader, []check{ctl(acctR, true), ctl("Microsoft.Resources/subscriptions/resourceGroups/read", true), ctl(raRead, true),
			ctl(listKeys, false), ctl(acctW, false), ctl(raWrite, false), ctl("Microsoft.CognitiveServices/accounts/delete", false), data(chat, false), data(stored, false)}},
		{RoleNetworkContributor, []check{ctl("Microsoft.Network/virtualNetworks/subnets/write", true), ctl("Microsoft.Network/privateEndpoints/write", true),
			ctl(raRead, true), ctl(acctW, false), ctl(raWrite, false), data(chat, false)}},
		{RolePrivateDNSZoneContributor, []check{ctl("Microsoft.Network/privateDnsZones/write", true), ctl("Microsoft.Network/privateDnsZones/virtualNetworkLinks/write", true),
			ctl("Microsoft.Network/virtualNetworks/join/action", true), ctl("Microsoft.Network/virtualNetworks/write", false), ctl("Microsoft.Network/privateEndpoints/write", false)}},
		{RoleCognitiveServicesContributor, []check{ctl(acctW, true), ctl(listKeys, true), ctl(deplW, true), ctl(raWrite, false), data(chat, false)}},
		{RoleCognitiveServicesUser, []check{ctl(acctR, true), ctl(listKeys, true), ctl(acctW, false), ctl(deplW, false), data(chat, true), data(stored, true)}},
		{RoleCognitiveServicesOpenAIUser, []check{data(chat, true), data("Microsoft.CognitiveServices/accounts/OpenAI/deployments/read", true),
			data("Microsoft.CognitiveServices/accounts/OpenAI/assistants/threads/write", true), data(stored, false),
			data("Microsoft.CognitiveServices/accounts/OpenAI/files/write", false), ctl(acctR, true), ctl(listKeys, false), ctl(deplW, false), ctl(chat, false)}},
		{RoleAzureAIUser, []check{data(chat, true), data("Microsoft.CognitiveServices/accounts/AIServices/agents/write", true), ctl(listKeys, true), ctl(acctR, true),
			ctl(acctW, false), ctl(projW, false), ctl(raWrite, false)}},
		{RoleAzureAIProjectManager, []check{ctl(projW, true), ctl("Microsoft.CognitiveServices/accounts/projects/read", true), ctl(acctW, false), ctl(deplW, false),
			ctl(listKeys, false), ctl(raWrite, false), data(chat, true)}},
		{RoleAzureAIAccountOwner, []check{ctl(acctW, true), ctl(deplW, true), ctl(listKeys, true), ctl(raWrite, false), data(chat, false)}},
		{RoleAzureAIEnterpriseNetworkConnectionApprover, []check{ctl("Microsoft.CognitiveServices/accounts/privateEndpointConnections/write", true),
			ctl("Microsoft.Storage/storageAccounts/privateEndpointConnections/write", true), ctl("Microsoft.KeyVault/vaults/privateEndpointConnectionsApproval/action", true),
			ctl("Microsoft.CognitiveServices/accounts/privateEndpointConnectionsApproval/action", false), ctl(acctW, false)}},
		{RoleAzureAIDeveloper, []check{ctl("Microsoft.MachineLearningServices/workspaces/computes/write", true),
			ctl("Microsoft.MachineLearningServices/workspaces/write", false), ctl("Microsoft.MachineLearningServices/workspaces/listKeys/action", false),
			data(chat, true), data("Microsoft.CognitiveServices/accounts/AIServices/agents/write", false), ctl(acctW, false)}},
		{RoleAzureAIInferenceDeploymentOperator, []check{ctl("Microsoft.Resources/deployments/write", true), ctl("Microsoft.Insights/AutoscaleSettings/write", true),
			ctl(deplW, false), data(chat, false)}},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.role] = true
		p := Compile(BuiltInRoles(), []Assignment{{ID: "ra", Scope: "/subscriptions/s", RoleDefinitionID: tt.role, PrincipalID: "p"}}, nil)
		for _, c := range tt.checks {
			d := p.Check(Request{PrincipalID: "p", Scope: scope, Action: c.action, Data: c.data})
			if d.Allowed != c.want {
				role, _ := BuiltInRole(tt.role)
				t.Errorf("%s: %s (data %v) allowed = %v, want %v (%s)", role.RoleName, c.action, c.data, d.Allowed, c.want, d.Code)
			}
		}
	}
	// The delegating roles' one conditional grant, with the attribute set.
	for _, role := range []string{RoleAzureAIProjectManager, RoleAzureAIAccountOwner} {
		p := Compile(BuiltInRoles(), []Assignment{{ID: "ra", Scope: scope, RoleDefinitionID: role, PrincipalID: "p"}}, nil)
		if d := p.Check(Request{PrincipalID: "p", Scope: scope, Action: raWrite, RequestAttrs: aiUser}); !d.Allowed {
			t.Errorf("%s may not assign Azure AI User: %s", role, d.Code)
		}
	}
	for _, r := range BuiltInRoles() {
		if !covered[r.Name] {
			t.Errorf("%s has no grant table", r.RoleName)
		}
	}
}

package authz

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

// The personas of the Foundry security baseline (seed 004): Admins hold
// Owner or Azure AI Account Owner at the subscription or the Foundry
// resource, Project Managers Azure AI Project Manager at the Foundry
// resource, Project Users Azure AI User at the Foundry project.
const (
	sub     = "/subscriptions/s"
	rg      = sub + "/resourceGroups/rg"
	account = rg + "/providers/Microsoft.CognitiveServices/accounts/a"
	project = account + "/projects/p"

	chatAction = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
	raWrite    = "Microsoft.Authorization/roleAssignments/write"
	raDelete   = "Microsoft.Authorization/roleAssignments/delete"
)

const (
	admin      = "00000000-0000-0000-0000-00000000ad01" // Owner at the subscription
	acctOwner  = "00000000-0000-0000-0000-00000000ad02" // Azure AI Account Owner at the account
	manager    = "00000000-0000-0000-0000-0000000000b1" // Azure AI Project Manager at the account
	user       = "00000000-0000-0000-0000-0000000000c1" // Azure AI User at the project
	reader     = "00000000-0000-0000-0000-0000000000d1" // Reader at the subscription
	outsider   = "00000000-0000-0000-0000-0000000000e1" // nothing
	aiUserID   = "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/" + RoleAzureAIUser
	ownerRoleD = RoleDefinitionPrefix + RoleOwner
)

func personaPolicy() *Policy {
	return Compile(BuiltInRoles(), []Assignment{
		{ID: "ra-admin", Scope: sub, RoleDefinitionID: RoleOwner, PrincipalID: admin, PrincipalType: "User"},
		{ID: "ra-acctowner", Scope: account, RoleDefinitionID: RoleAzureAIAccountOwner, PrincipalID: acctOwner, PrincipalType: "User"},
		{ID: "ra-manager", Scope: account, RoleDefinitionID: RoleAzureAIProjectManager, PrincipalID: manager, PrincipalType: "User"},
		{ID: "ra-user", Scope: project, RoleDefinitionID: RoleAzureAIUser, PrincipalID: user, PrincipalType: "User"},
		{ID: "ra-reader", Scope: sub, RoleDefinitionID: RoleReader, PrincipalID: reader, PrincipalType: "User"},
	}, nil)
}

type op struct {
	action, scope string
	data          bool
	reqAttrs      map[string][]string
	resAttrs      map[string][]string
}

func roleAttr(roleDefinitionID string) map[string][]string {
	return map[string][]string{AttrRoleAssignmentRoleDefinitionID: {roleDefinitionID}}
}

// personaOps are the operations the personas table is about. An
// assignment's write and delete act at the assignment's own id, beneath
// the scope it is made at.
var personaOps = map[string]op{
	"create account":       {action: "Microsoft.CognitiveServices/accounts/write", scope: rg + "/providers/Microsoft.CognitiveServices/accounts/new"},
	"update account":       {action: "Microsoft.CognitiveServices/accounts/write", scope: account},
	"read account":         {action: "Microsoft.CognitiveServices/accounts/read", scope: account},
	"create project":       {action: "Microsoft.CognitiveServices/accounts/projects/write", scope: account + "/projects/new"},
	"read project":         {action: "Microsoft.CognitiveServices/accounts/projects/read", scope: project},
	"delete project":       {action: "Microsoft.CognitiveServices/accounts/projects/delete", scope: project},
	"write deployment":     {action: "Microsoft.CognitiveServices/accounts/deployments/write", scope: account + "/deployments/gpt"},
	"list keys":            {action: "Microsoft.CognitiveServices/accounts/listKeys/action", scope: account},
	"chat at account":      {action: chatAction, scope: account, data: true},
	"chat at project":      {action: chatAction, scope: project, data: true},
	"assign user@project":  {action: raWrite, scope: project + "/providers/Microsoft.Authorization/roleAssignments/x", reqAttrs: roleAttr(aiUserID)},
	"assign user@account":  {action: raWrite, scope: account + "/providers/Microsoft.Authorization/roleAssignments/x", reqAttrs: roleAttr(RoleAzureAIUser)},
	"assign owner@project": {action: raWrite, scope: project + "/providers/Microsoft.Authorization/roleAssignments/x", reqAttrs: roleAttr(ownerRoleD)},
	"assign user@sub":      {action: raWrite, scope: sub + "/providers/Microsoft.Authorization/roleAssignments/x", reqAttrs: roleAttr(aiUserID)},
	"assign unnamed role":  {action: raWrite, scope: project + "/providers/Microsoft.Authorization/roleAssignments/x"},
	"delete user ra":       {action: raDelete, scope: project + "/providers/Microsoft.Authorization/roleAssignments/x", resAttrs: roleAttr(aiUserID)},
	"delete owner ra":      {action: raDelete, scope: project + "/providers/Microsoft.Authorization/roleAssignments/x", resAttrs: roleAttr(ownerRoleD)},
	// The attribute on the wrong side: a delete is judged by the
	// assignment that exists (@Resource), not by the request.
	"delete user ra (request attr)": {action: raDelete, scope: project + "/providers/Microsoft.Authorization/roleAssignments/x", reqAttrs: roleAttr(aiUserID)},
}

func TestPersonas(t *testing.T) {
	p := personaPolicy()
	all := func() []string {
		var names []string
		for n := range personaOps {
			names = append(names, n)
		}
		return names
	}
	except := func(names ...string) []string {
		return slices.DeleteFunc(all(), func(n string) bool { return slices.Contains(names, n) })
	}
	tests := []struct {
		persona   string
		principal string
		allowed   []string // everything else is refused
	}{
		{"Admin (Owner at subscription)", admin,
			// Owner's "*" is every action but no data action.
			except("chat at account", "chat at project")},
		{"Admin (Azure AI Account Owner at account)", acctOwner, []string{
			"update account", "read account", "create project", "read project", "delete project",
			"write deployment", "list keys", "assign user@project", "assign user@account", "delete user ra",
			// No data actions: an account owner manages, it does not chat.
		}},
		{"Project Manager (Azure AI Project Manager at account)", manager, []string{
			// "accounts/*/read" needs a segment between accounts/ and /read:
			// it does not grant accounts/read itself.
			"create project", "read project", "delete project",
			"chat at account", "chat at project",
			"assign user@project", "assign user@account", "delete user ra",
		}},
		{"Project User (Azure AI User at project)", user, []string{
			"read project", "chat at project",
		}},
		{"Reader at subscription", reader, []string{
			"read account", "read project",
		}},
		{"outsider", outsider, nil},
	}
	for _, tt := range tests {
		t.Run(tt.persona, func(t *testing.T) {
			names := all()
			sort.Strings(names)
			for _, name := range names {
				o := personaOps[name]
				d := p.Check(Request{PrincipalID: tt.principal, Scope: o.scope, Action: o.action, Data: o.data, RequestAttrs: o.reqAttrs, ResourceAttrs: o.resAttrs})
				want := slices.Contains(tt.allowed, name)
				if d.Allowed != want {
					t.Errorf("%s: allowed = %v (%s), want %v", name, d.Allowed, d.Code, want)
				}
				if d.Allowed && (d.AssignmentID == "" || d.RoleName == "" || d.Code != CodeAllowed) {
					t.Errorf("%s: allowed without naming the grant: %+v", name, d)
				}
				if !d.Allowed && (d.AssignmentID != "" || d.Code == CodeAllowed) {
					t.Errorf("%s: refused but names a grant: %+v", name, d)
				}
			}
		})
	}
}

// The escalation cases, with the reason each refusal gives.
func TestPersonaEscalation(t *testing.T) {
	p := personaPolicy()
	tests := []struct {
		name      string
		principal string
		op        string
		want      Code
	}{
		{"PM assigns Owner", manager, "assign owner@project", CodeConditionNotMet},
		{"PM assigns Azure AI User", manager, "assign user@project", CodeAllowed},
		{"PM assigns a role it does not name", manager, "assign unnamed role", CodeConditionNotMet},
		{"PM deletes an Owner assignment", manager, "delete owner ra", CodeConditionNotMet},
		{"PM deletes with the role in the request only", manager, "delete user ra (request attr)", CodeConditionNotMet},
		{"PM assigns above its scope", manager, "assign user@sub", CodeNoAssignment},
		{"account owner assigns Owner", acctOwner, "assign owner@project", CodeConditionNotMet},
		{"account owner assigns above its scope", acctOwner, "assign user@sub", CodeNoAssignment},
		{"Reader assigns Azure AI User", reader, "assign user@project", CodeActionNotGranted},
		{"Reader assigns Owner", reader, "assign owner@project", CodeActionNotGranted},
		{"Project User assigns Azure AI User", user, "assign user@project", CodeActionNotGranted},
		{"Project User assigns at the account", user, "assign user@account", CodeNoAssignment},
		{"Owner assigns Owner", admin, "assign owner@project", CodeAllowed},
		{"Owner chats", admin, "chat at project", CodeActionNotGranted},
	}
	for _, tt := range tests {
		o := personaOps[tt.op]
		d := p.Check(Request{PrincipalID: tt.principal, Scope: o.scope, Action: o.action, Data: o.data, RequestAttrs: o.reqAttrs, ResourceAttrs: o.resAttrs})
		if d.Code != tt.want || d.Allowed != (tt.want == CodeAllowed) || d.Reason == "" {
			t.Errorf("%s: %+v, want %s", tt.name, d, tt.want)
		}
	}
	// The grant is named: which assignment, which role.
	o := personaOps["assign user@project"]
	d := p.Check(Request{PrincipalID: strings.ToUpper(manager), Scope: strings.ToUpper(o.scope), Action: o.action, RequestAttrs: o.reqAttrs})
	if d.AssignmentID != "ra-manager" || d.RoleName != "Azure AI Project Manager" || d.RoleDefinitionID != RoleAzureAIProjectManager {
		t.Errorf("grant named as %+v", d)
	}
}

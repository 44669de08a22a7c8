package authz

import "testing"

// An assignment of a custom role grants nothing at a scope none of the
// role's assignable scopes covers: Azure refuses such an assignment, and
// one stored anyway (made before the role was narrowed, or in a race with
// that) must not keep granting.
func TestCompileIgnoresAssignmentsOutsideAssignableScopes(t *testing.T) {
	rg1, rg2 := sub+"/resourceGroups/rg1", sub+"/resourceGroups/rg2"
	custom := RoleDefinition{
		Name: "90000000-0000-0000-0000-000000000001", RoleName: "RG1 only", RoleType: RoleTypeCustom,
		AssignableScopes: []string{rg1}, Permissions: []Permission{{Actions: []string{"*"}}},
	}
	noScopes := RoleDefinition{
		Name: "90000000-0000-0000-0000-000000000002", RoleName: "No scopes", RoleType: RoleTypeCustom,
		Permissions: []Permission{{Actions: []string{"*"}}},
	}
	p := Compile(append(BuiltInRoles(), custom, noScopes), []Assignment{
		{ID: "at-sub", Scope: sub, RoleDefinitionID: custom.Name, PrincipalID: "wide"},
		{ID: "at-rg2", Scope: rg2, RoleDefinitionID: custom.Name, PrincipalID: "other"},
		{ID: "at-rg1", Scope: rg1 + "/", RoleDefinitionID: custom.Name, PrincipalID: "inside"},
		{ID: "below-rg1", Scope: rg1 + "/providers/Microsoft.CognitiveServices/accounts/a", RoleDefinitionID: custom.Name, PrincipalID: "below"},
		{ID: "no-scopes", Scope: rg1, RoleDefinitionID: noScopes.Name, PrincipalID: "none"},
		{ID: "builtin", Scope: rg2, RoleDefinitionID: RoleOwner, PrincipalID: "owner"},
	}, nil)
	for _, tt := range []struct {
		principal, scope string
		want             bool
	}{
		{"wide", sub, false},
		{"wide", rg1, false}, // even where the role is assignable: the assignment is not
		{"other", rg2, false},
		{"inside", rg1, true},
		{"inside", rg1 + "/providers/Microsoft.CognitiveServices/accounts/a", true},
		{"below", rg1 + "/providers/Microsoft.CognitiveServices/accounts/a", true},
		{"none", rg1, false},
		{"owner", rg2, true},
	} {
		if d := p.Check(Request{PrincipalID: tt.principal, Scope: tt.scope, Action: "Microsoft.X/y/write"}); d.Allowed != tt.want {
			t.Errorf("%s at %s: %+v, want allowed %v", tt.principal, tt.scope, d, tt.want)
		}
	}
	if p.HasAccessWithin("wide", sub) {
		t.Error("an ignored assignment still counts for HasAccessWithin")
	}
}

// MayEver answers before a request's body is read: could any grant of the
// principal allow the action here, whatever its conditions would say?
func TestMayEver(t *testing.T) {
	const write = "Microsoft.Authorization/roleAssignments/write"
	rg1 := sub + "/resourceGroups/rg1"
	broken := RoleDefinition{Name: "91000000-0000-0000-0000-000000000001", RoleName: "Broken",
		Permissions: []Permission{{Actions: []string{"*"}, Condition: "(((", ConditionVersion: "2.0"}}}
	p := Compile(append(BuiltInRoles(), broken), []Assignment{
		{ID: "pm", Scope: account, RoleDefinitionID: RoleAzureAIProjectManager, PrincipalID: "pm"},
		{ID: "cond", Scope: rg1, RoleDefinitionID: RoleOwner, PrincipalID: "cond", Condition: "@Request[x] StringEquals 'never'"},
		{ID: "bad-cond", Scope: sub, RoleDefinitionID: RoleOwner, PrincipalID: "badcond", Condition: "(((", ConditionVersion: "2.0"},
		{ID: "broken", Scope: sub, RoleDefinitionID: broken.Name, PrincipalID: "broken"},
		{ID: "reader", Scope: sub, RoleDefinitionID: RoleReader, PrincipalID: "reader"},
		{ID: "contrib", Scope: sub, RoleDefinitionID: RoleContributor, PrincipalID: "contrib"},
		{ID: "member", Scope: rg1, RoleDefinitionID: RoleOwner, PrincipalID: "team"},
	}, map[string][]string{"user": {"team"}})
	for _, tt := range []struct {
		principal, scope, action string
		within, want             bool
	}{
		{"pm", project, write, false, true}, // the delegation condition is not read
		{"pm", account, write, false, true}, // at the assignment
		{"pm", rg, write, false, false},     // above it
		{"pm", rg, write, true, true},       // beneath the scope, when asked
		{"pm", sub + "/resourceGroups/other", write, true, false},
		{"cond", rg1, write, false, true},     // an assignment condition is not read either
		{"badcond", sub, write, false, false}, // one that cannot parse never grants
		{"broken", sub, write, false, false},  // nor a block whose condition cannot parse
		{"reader", rg1, write, false, false},  // the role lacks the action
		{"contrib", rg1, write, false, false}, // notActions still apply
		{"contrib", rg1, "Microsoft.X/y/write", false, true},
		{"user", rg1 + "/providers/x.y/z/w", write, false, true}, // through a group
		{"nobody", "/", write, true, false},
	} {
		if got := p.MayEver(tt.principal, tt.scope, tt.action, tt.within); got != tt.want {
			t.Errorf("MayEver(%s, %s, %s, within=%v) = %v, want %v", tt.principal, tt.scope, tt.action, tt.within, got, tt.want)
		}
	}
	var nilPolicy *Policy
	if nilPolicy.MayEver("pm", project, write, true) {
		t.Error("a nil policy may grant")
	}
}

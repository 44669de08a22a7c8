package authz

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateAction(t *testing.T) {
	valid := []string{
		"*",
		"*/read",
		"Microsoft.CognitiveServices/*",
		"Microsoft.CognitiveServices/accounts/*/read",
		"Microsoft.Authorization/*/Delete",
		"Microsoft.CognitiveServices/accounts/OpenAI/stored-completions/read",
		"Microsoft.Insights/alertRules/*",
		"Microsoft.*/read",
		"Micro*",
		"My_Company.Provider-1/things/do/action",
	}
	for _, a := range valid {
		if err := ValidateAction(a); err != nil {
			t.Errorf("ValidateAction(%q): %v", a, err)
		}
	}
	invalid := []struct{ in, want string }{
		{"", "An action is empty"},
		{" ", "remove the whitespace at offset 0"},
		{"Microsoft.Storage/storageAccounts/read ", "remove the whitespace at offset 38"},
		{"Microsoft.Storage", "add a resource type and operation after the namespace, as in 'Microsoft.Storage/*'"},
		{"Microsoft/read", "'Microsoft' is not a resource provider namespace"},
		{".Storage/read", "'.Storage' is not a resource provider namespace"},
		{"Microsoft./read", "is not a resource provider namespace"},
		{"Microsoft.Storage/", "remove the empty segment"},
		{"/Microsoft.Storage/read", "remove the empty segment"},
		{"Microsoft.Storage//read", "remove the empty segment"},
		{"Microsoft.Storage/x'", `remove '\''`},
		{"Microsoft.Storage/ä", "remove"},
		{"Microsoft.Storage/read?", "remove '?'"},
		{"Microsoft.Storage/" + strings.Repeat("a", 1024), "longer than 1024"},
	}
	for _, tt := range invalid {
		err := ValidateAction(tt.in)
		var v *ValidationError
		if !errors.As(err, &v) || v.Code != CodeInvalidActionOrNotAction || !strings.Contains(v.Message, tt.want) {
			t.Errorf("ValidateAction(%q) = %v, want %s saying %q", tt.in, err, CodeInvalidActionOrNotAction, tt.want)
		}
	}
}

func TestValidateAssignableScope(t *testing.T) {
	const s = "/subscriptions/00000000-0000-0000-0000-000000000001"
	valid := []string{
		"/",
		s,
		"/SUBSCRIPTIONS/00000000-0000-0000-0000-00000000000A",
		s + "/resourceGroups/rg",
		s + "/resourcegroups/my.rg_(1)-x",
		s + "/resourceGroups/grüße",
		s + "/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a",
		s + "/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a/projects/p",
	}
	for _, sc := range valid {
		if err := ValidateAssignableScope(sc); err != nil {
			t.Errorf("ValidateAssignableScope(%q): %v", sc, err)
		}
	}
	invalid := []struct{ in, want string }{
		{"", "start it with '/'"},
		{"subscriptions/x", "start it with '/'"},
		{s + "/", "remove the trailing '/'"},
		{"/subscriptions//resourceGroups/rg", "remove the doubled '/'"},
		{"/subscriptions/s", "a subscription id is a GUID"},
		{"/subscriptions", "a subscription id is a GUID"},
		{"/providers/Microsoft.Management/managementGroups/mg", "management group scopes are not supported"},
		{"/tenants/x", "use '/', /subscriptions/{subscriptionId}"},
		{s + "/providers/Microsoft.Foo/bar/x", "must be /resourceGroups/{resourceGroupName}"},
		{s + "/resourceGroups", "must be /resourceGroups/{resourceGroupName}"},
		{s + "/resourceGroups/rg.", "may not end in '.'"},
		{s + "/resourceGroups/r g", "may not contain ' '"},
		{s + "/resourceGroups/" + strings.Repeat("r", 91), "longer than 90"},
		{s + "/resourceGroups/rg/accounts/a", "must be /providers/{namespace}/{type}/{name}"},
		{s + "/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts", "with a name for every type"},
		{s + "/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a/projects", "with a name for every type"},
		{s + "/resourceGroups/rg/providers/CognitiveServices/accounts/a", "is not a resource provider namespace"},
	}
	for _, tt := range invalid {
		err := ValidateAssignableScope(tt.in)
		var v *ValidationError
		if !errors.As(err, &v) || v.Code != CodeInvalidAssignableScope || !strings.Contains(v.Message, tt.want) {
			t.Errorf("ValidateAssignableScope(%q) = %v, want %s saying %q", tt.in, err, CodeInvalidAssignableScope, tt.want)
		}
	}
}

func TestValidateRoleDefinition(t *testing.T) {
	const s = "/subscriptions/00000000-0000-0000-0000-000000000001"
	base := func() RoleDefinition {
		return RoleDefinition{
			ID:               s + "/providers/Microsoft.Authorization/roleDefinitions/11111111-1111-1111-1111-111111111111",
			Name:             "11111111-1111-1111-1111-111111111111",
			RoleName:         "Deployment Writer",
			RoleType:         RoleTypeCustom,
			AssignableScopes: []string{s},
			Permissions: []Permission{{
				Actions:     []string{"Microsoft.CognitiveServices/accounts/deployments/*"},
				NotActions:  []string{"Microsoft.CognitiveServices/accounts/deployments/delete"},
				DataActions: []string{"Microsoft.CognitiveServices/accounts/OpenAI/*"},
			}},
		}
	}
	if err := ValidateRoleDefinition(base()); err != nil {
		t.Fatalf("a valid role: %v", err)
	}
	ok := []struct {
		name string
		edit func(*RoleDefinition)
	}{
		{"roleType empty (ARM fills it)", func(d *RoleDefinition) { d.RoleType = "" }},
		{"data actions only", func(d *RoleDefinition) { d.Permissions[0].Actions = nil }},
		{"root assignable scope", func(d *RoleDefinition) { d.AssignableScopes = []string{"/"} }},
		{"conditional block", func(d *RoleDefinition) {
			d.Permissions[0].Condition = refDelegationCondition
			d.Permissions[0].ConditionVersion = "2.0"
		}},
	}
	for _, tt := range ok {
		d := base()
		tt.edit(&d)
		if err := ValidateRoleDefinition(d); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	bad := []struct {
		name         string
		edit         func(*RoleDefinition)
		code, target string
	}{
		{"no name", func(d *RoleDefinition) { d.RoleName = "  " }, CodeInvalidRoleDefinition, "properties.roleName"},
		{"built-in type", func(d *RoleDefinition) { d.RoleType = RoleTypeBuiltIn }, CodeInvalidRoleDefinition, "properties.type"},
		{"no scopes", func(d *RoleDefinition) { d.AssignableScopes = nil }, CodeInvalidAssignableScope, "properties.assignableScopes"},
		{"bad second scope", func(d *RoleDefinition) { d.AssignableScopes = append(d.AssignableScopes, "/subscriptions/nope") },
			CodeInvalidAssignableScope, "properties.assignableScopes[1]"},
		{"no permissions", func(d *RoleDefinition) { d.Permissions = nil }, CodeInvalidRoleDefinition, "properties.permissions"},
		{"grants nothing", func(d *RoleDefinition) { d.Permissions[0].Actions, d.Permissions[0].DataActions = nil, nil },
			CodeInvalidRoleDefinition, "properties.permissions"},
		{"bad action", func(d *RoleDefinition) { d.Permissions[0].Actions = append(d.Permissions[0].Actions, "Microsoft/x") },
			CodeInvalidActionOrNotAction, "properties.permissions[0].actions[1]"},
		{"bad notAction", func(d *RoleDefinition) { d.Permissions[0].NotActions = []string{""} },
			CodeInvalidActionOrNotAction, "properties.permissions[0].notActions[0]"},
		{"bad dataAction", func(d *RoleDefinition) { d.Permissions[0].DataActions = []string{"Microsoft.X/a b"} },
			CodeInvalidActionOrNotAction, "properties.permissions[0].dataActions[0]"},
		{"wildcard data action", func(d *RoleDefinition) { d.Permissions[0].DataActions = []string{"*"} },
			CodeInvalidActionOrNotAction, "properties.permissions[0].dataActions[0]"},
		{"wildcard-provider notDataAction", func(d *RoleDefinition) { d.Permissions[0].NotDataActions = []string{"*/read"} },
			CodeInvalidActionOrNotAction, "properties.permissions[0].notDataActions[0]"},
		{"bad block 2", func(d *RoleDefinition) {
			d.Permissions = append(d.Permissions, Permission{Actions: []string{"Microsoft.Storage"}})
		}, CodeInvalidActionOrNotAction, "properties.permissions[1].actions[0]"},
		{"condition without version", func(d *RoleDefinition) { d.Permissions[0].Condition = refDelegationCondition },
			CodeInvalidCondition, "properties.permissions[0].conditionVersion"},
		{"condition version 1.0", func(d *RoleDefinition) {
			d.Permissions[0].Condition, d.Permissions[0].ConditionVersion = refDelegationCondition, "1.0"
		}, CodeInvalidCondition, "properties.permissions[0].conditionVersion"},
		{"condition that does not parse", func(d *RoleDefinition) {
			d.Permissions[0].Condition, d.Permissions[0].ConditionVersion = "a AND b OR c", "2.0"
		}, CodeInvalidCondition, "properties.permissions[0].condition"},
	}
	for _, tt := range bad {
		d := base()
		tt.edit(&d)
		err := ValidateRoleDefinition(d)
		var v *ValidationError
		if !errors.As(err, &v) || v.Code != tt.code || v.Target != tt.target || v.Message == "" {
			t.Errorf("%s: %#v, want code %s target %s", tt.name, err, tt.code, tt.target)
		}
	}
}

func TestValidateCondition(t *testing.T) {
	if err := ValidateCondition("", ""); err != nil {
		t.Errorf("no condition: %v", err)
	}
	if err := ValidateCondition(refDelegationCondition, "2.0"); err != nil {
		t.Errorf("delegation condition: %v", err)
	}
	for _, tt := range []struct{ cond, version, target, want string }{
		{refDelegationCondition, "", "conditionVersion", `set conditionVersion to "2.0"`},
		{refDelegationCondition, "1.0", "conditionVersion", `set conditionVersion to "2.0"`},
		{"@Request[x] StringEquals abc", "2.0", "condition", "The condition is invalid at offset 25: StringEquals compares strings; quote the value: 'abc'."},
	} {
		err := ValidateCondition(tt.cond, tt.version)
		var v *ValidationError
		if !errors.As(err, &v) || v.Code != CodeInvalidCondition || v.Target != tt.target || !strings.Contains(v.Message, tt.want) {
			t.Errorf("ValidateCondition(%q, %q) = %#v, want target %s saying %q", tt.cond, tt.version, err, tt.target, tt.want)
		}
	}
}

func TestAssignableAt(t *testing.T) {
	def := RoleDefinition{AssignableScopes: []string{"/subscriptions/a/resourceGroups/rg1", "/subscriptions/b"}}
	for scope, want := range map[string]bool{
		"/subscriptions/a/resourceGroups/rg1":                   true,
		"/subscriptions/A/resourceGroups/RG1/providers/x.y/z/w": true,
		"/subscriptions/b/resourceGroups/any":                   true,
		"/subscriptions/a":                                      false,
		"/subscriptions/a/resourceGroups/rg10":                  false,
		"/":                                                     false,
	} {
		if got := AssignableAt(def, scope); got != want {
			t.Errorf("AssignableAt(%q) = %v, want %v", scope, got, want)
		}
	}
	owner, _ := BuiltInRole(RoleOwner)
	if !AssignableAt(owner, "/") || !AssignableAt(owner, project) {
		t.Error("a built-in role is assignable anywhere")
	}
}

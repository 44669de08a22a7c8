package authz

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestGroups(t *testing.T) {
	// u ∈ g1 ∈ g2 ∈ g3; g3 holds Azure AI User at the project. h1 and h2
	// contain each other, and u is in h1.
	p := Compile(BuiltInRoles(), []Assignment{
		{ID: "ra-g3", Scope: project, RoleDefinitionID: RoleAzureAIUser, PrincipalID: "g3", PrincipalType: "Group"},
		{ID: "ra-h2", Scope: sub, RoleDefinitionID: RoleReader, PrincipalID: "H2", PrincipalType: "Group"},
	}, map[string][]string{
		"u":  {"g1", "H1"},
		"g1": {"g2"},
		"G2": {"g3"},
		"h1": {"h2"},
		"h2": {"h1", "h1"},
		"v":  {"g2"},
	})
	tests := []struct {
		principal string
		groups    []string
	}{
		{"u", []string{"g1", "g2", "g3", "h1", "h2"}},
		{"U", []string{"g1", "g2", "g3", "h1", "h2"}},
		{"g1", []string{"g2", "g3"}},
		{"h1", []string{"h2"}}, // a group is not its own member, even in a cycle
		{"h2", []string{"h1"}},
		{"v", []string{"g2", "g3"}},
		{"g3", nil},
		{"nobody", nil},
	}
	for _, tt := range tests {
		if got := p.Groups(tt.principal); !slices.Equal(got, tt.groups) {
			t.Errorf("Groups(%s) = %q, want %q", tt.principal, got, tt.groups)
		}
	}
	// Groups hands out a copy.
	p.Groups("u")[0] = "mutated"
	if p.Groups("u")[0] != "g1" {
		t.Error("Groups returned the policy's own slice")
	}

	checks := []struct {
		principal, scope, action string
		data                     bool
		want                     string // granting assignment, "" for refused
	}{
		{"u", project, chatAction, true, "ra-g3"},            // three levels down
		{"v", project, chatAction, true, "ra-g3"},            // two levels down
		{"g1", project, chatAction, true, "ra-g3"},           // a group through its groups
		{"u", account, chatAction, true, ""},                 // the group's scope is the project
		{"u", account, "Microsoft.X/y/read", false, "ra-h2"}, // through the cycle
		{"h1", sub, "Microsoft.X/y/read", false, "ra-h2"},
		{"u", sub, "Microsoft.X/y/write", false, ""},
		{"nobody", project, chatAction, true, ""},
	}
	for _, c := range checks {
		d := p.Check(Request{PrincipalID: c.principal, Scope: c.scope, Action: c.action, Data: c.data})
		if d.AssignmentID != c.want || d.Allowed != (c.want != "") {
			t.Errorf("%s %s at %s: %+v, want grant %q", c.principal, c.action, c.scope, d, c.want)
		}
	}
}

func TestCompileFailsClosed(t *testing.T) {
	custom := RoleDefinition{
		Name: "22222222-2222-2222-2222-222222222222", RoleName: "Broken",
		Permissions: []Permission{{Actions: []string{"*"}, Condition: "a AND b OR c", ConditionVersion: "2.0"}},
	}
	badVersion := RoleDefinition{
		Name: "33333333-3333-3333-3333-333333333333", RoleName: "Old condition",
		Permissions: []Permission{{Actions: []string{"*"}, Condition: "ActionMatches{'Microsoft.X/*'}", ConditionVersion: "1.0"}},
	}
	// A custom role that reuses Owner's GUID must not replace Owner.
	impostor := RoleDefinition{Name: RoleOwner, RoleName: "Impostor", Permissions: []Permission{{Actions: []string{"Microsoft.Nothing/read"}}}}
	roles := append(BuiltInRoles(), custom, badVersion, impostor)
	p := Compile(roles, []Assignment{
		{ID: "unknown-role", Scope: sub, RoleDefinitionID: "44444444-4444-4444-4444-444444444444", PrincipalID: "a"},
		{ID: "empty-scope", Scope: "", RoleDefinitionID: RoleOwner, PrincipalID: "b"},
		{ID: "relative-scope", Scope: "subscriptions/s", RoleDefinitionID: RoleOwner, PrincipalID: "b"},
		{ID: "no-principal", Scope: "/", RoleDefinitionID: RoleOwner, PrincipalID: " "},
		{ID: "broken-assignment", Scope: sub, RoleDefinitionID: RoleOwner, PrincipalID: "c", Condition: "@Request[x] StringEquals", ConditionVersion: "2.0"},
		{ID: "assignment-version", Scope: sub, RoleDefinitionID: RoleOwner, PrincipalID: "d", Condition: "ActionMatches{'Microsoft.X/*'}", ConditionVersion: "1.0"},
		{ID: "broken-role", Scope: sub, RoleDefinitionID: custom.Name, PrincipalID: "e"},
		{ID: "old-role", Scope: sub, RoleDefinitionID: badVersion.Name, PrincipalID: "f"},
		{ID: "owner", Scope: sub, RoleDefinitionID: RoleDefinitionPrefix + strings.ToUpper(RoleOwner), PrincipalID: "g"},
	}, nil)
	tests := []struct {
		principal string
		want      Code
	}{
		{"a", CodeNoAssignment},
		{"b", CodeNoAssignment},
		{"", CodeNoAssignment},
		{" ", CodeNoAssignment},
		{"c", CodeConditionNotMet},
		{"d", CodeConditionNotMet},
		{"e", CodeConditionNotMet},
		{"f", CodeConditionNotMet},
		{"g", CodeAllowed},
	}
	for _, tt := range tests {
		d := p.Check(Request{PrincipalID: tt.principal, Scope: account, Action: "Microsoft.X/y/write"})
		if d.Code != tt.want || d.Allowed != (tt.want == CodeAllowed) {
			t.Errorf("principal %q: %+v, want %s", tt.principal, d, tt.want)
		}
	}
	if d := p.Check(Request{PrincipalID: "g", Scope: account, Action: "Microsoft.X/y/write"}); d.RoleName != "Owner" {
		t.Errorf("Owner's GUID resolved to %q", d.RoleName)
	}
	if p.HasAccessWithin("a", sub) {
		t.Error("an assignment of an unknown role counts as access")
	}
}

func TestAssignmentCondition(t *testing.T) {
	const cond = "@Resource[Microsoft.CognitiveServices/accounts:name] StringEqualsIgnoreCase 'a'"
	p := Compile(BuiltInRoles(), []Assignment{
		{ID: "ra", Scope: sub, RoleDefinitionID: RoleCognitiveServicesUser, PrincipalID: "u", Condition: cond, ConditionVersion: "2.0"},
		{ID: "ra-nover", Scope: sub, RoleDefinitionID: RoleCognitiveServicesUser, PrincipalID: "v", Condition: cond},
	}, nil)
	named := func(name string) map[string][]string {
		return map[string][]string{"Microsoft.CognitiveServices/accounts:name": {name}}
	}
	tests := []struct {
		principal string
		attrs     map[string][]string
		want      Code
	}{
		{"u", named("A"), CodeAllowed},
		{"u", named("b"), CodeConditionNotMet},
		{"u", nil, CodeConditionNotMet},
		{"v", named("a"), CodeAllowed}, // no version: taken as 2.0
	}
	for _, tt := range tests {
		d := p.Check(Request{PrincipalID: tt.principal, Scope: account, Action: chatAction, Data: true, ResourceAttrs: tt.attrs})
		if d.Code != tt.want {
			t.Errorf("%s with %v: %s, want %s", tt.principal, tt.attrs, d.Code, tt.want)
		}
	}
}

func TestNotActionsStayInTheirBlockAndRole(t *testing.T) {
	const w = "Microsoft.Authorization/roleAssignments/write"
	twoBlocks := RoleDefinition{Name: "55555555-5555-5555-5555-555555555555", RoleName: "Two blocks", Permissions: []Permission{
		{Actions: []string{"*"}, NotActions: []string{"Microsoft.Authorization/*/Write"}},
		{Actions: []string{w}},
	}}
	oneBlock := RoleDefinition{Name: "66666666-6666-6666-6666-666666666666", RoleName: "One block", Permissions: []Permission{
		{Actions: []string{"*", w}, NotActions: []string{"Microsoft.Authorization/*/Write"}},
	}}
	assignWriter := RoleDefinition{Name: "77777777-7777-7777-7777-777777777777", RoleName: "Assignment writer", Permissions: []Permission{
		{Actions: []string{w}},
	}}
	dataOnly := RoleDefinition{Name: "88888888-8888-8888-8888-888888888888", RoleName: "Data only", Permissions: []Permission{
		{DataActions: []string{"Microsoft.CognitiveServices/*"}, NotDataActions: []string{"Microsoft.CognitiveServices/accounts/OpenAI/*/read"}},
	}}
	p := Compile(append(BuiltInRoles(), twoBlocks, oneBlock, assignWriter, dataOnly), []Assignment{
		{ID: "two", Scope: sub, RoleDefinitionID: twoBlocks.Name, PrincipalID: "two"},
		{ID: "one", Scope: sub, RoleDefinitionID: oneBlock.Name, PrincipalID: "one"},
		{ID: "contrib", Scope: sub, RoleDefinitionID: RoleContributor, PrincipalID: "both"},
		{ID: "writer", Scope: project, RoleDefinitionID: assignWriter.Name, PrincipalID: "both"},
		{ID: "data", Scope: sub, RoleDefinitionID: dataOnly.Name, PrincipalID: "data"},
	}, nil)
	tests := []struct {
		principal, scope, action string
		data                     bool
		want                     string
	}{
		{"two", project, w, false, "two"},     // the second block grants what the first excludes
		{"one", project, w, false, ""},        // the block's own notActions win within it
		{"both", project, w, false, "writer"}, // Contributor's notActions do not bind another role
		{"both", account, w, false, ""},       // ... but the other role's scope still counts
		{"both", account, "Microsoft.X/y/write", false, "contrib"},
		{"data", project, chatAction, true, "data"},
		{"data", project, "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read", true, ""},
		{"data", project, chatAction, false, ""},                                            // dataActions grant no action
		{"data", project, "Microsoft.CognitiveServices/accounts/write", false, ""},          // ... of any name
		{"both", project, "Microsoft.CognitiveServices/accounts/listKeys/action", true, ""}, // nor actions a data action
	}
	for _, tt := range tests {
		d := p.Check(Request{PrincipalID: tt.principal, Scope: tt.scope, Action: tt.action, Data: tt.data})
		if d.AssignmentID != tt.want || d.Allowed != (tt.want != "") {
			t.Errorf("%s %s (data %v) at %s: %+v, want grant %q", tt.principal, tt.action, tt.data, tt.scope, d, tt.want)
		}
	}
}

func TestCheckScopes(t *testing.T) {
	p := Compile(BuiltInRoles(), []Assignment{
		{ID: "root", Scope: "/", RoleDefinitionID: RoleReader, PrincipalID: "root"},
		{ID: "acct", Scope: strings.ToUpper(account) + "/", RoleDefinitionID: RoleReader, PrincipalID: "acct"},
	}, nil)
	tests := []struct {
		principal, scope string
		want             bool
	}{
		{"root", "/", true},
		{"root", "", true},
		{"root", project, true},
		{"acct", account, true},
		{"acct", account + "//", true},
		{"acct", strings.ToLower(project), true},
		{"acct", account + "b", false},
		{"acct", rg, false},
		{"acct", "", false},
		{"acct", "/", false},
	}
	for _, tt := range tests {
		if d := p.Check(Request{PrincipalID: tt.principal, Scope: tt.scope, Action: "Microsoft.X/y/read"}); d.Allowed != tt.want {
			t.Errorf("%s at %q: %+v, want allowed %v", tt.principal, tt.scope, d, tt.want)
		}
	}
}

func TestHasAccessWithin(t *testing.T) {
	p := Compile(BuiltInRoles(), []Assignment{
		{ID: "ra-user", Scope: project, RoleDefinitionID: RoleAzureAIUser, PrincipalID: "u"},
		{ID: "ra-group", Scope: "/subscriptions/t/resourceGroups/rg2", RoleDefinitionID: RoleReader, PrincipalID: "g"},
	}, map[string][]string{"u": {"g"}})
	tests := []struct {
		principal, scope string
		want             bool
	}{
		{"u", project, true},                    // at
		{"u", project + "/connections/c", true}, // beneath the assignment: above is covered
		{"u", account, true},                    // above the assignment
		{"U", strings.ToUpper(sub) + "/", true}, // casing and slashes
		{"u", "/", true},
		{"u", "", true},
		{"u", rg + "/providers/Microsoft.CognitiveServices/accounts/other", false},
		{"u", account + "/projects/p2", false},
		{"u", "/subscriptions/t", true}, // through the group
		{"u", "/subscriptions/t/resourceGroups/rg3", false},
		{"u", "/subscriptions/x", false},
		{"nobody", "/", false},
	}
	for _, tt := range tests {
		if got := p.HasAccessWithin(tt.principal, tt.scope); got != tt.want {
			t.Errorf("HasAccessWithin(%s, %q) = %v, want %v", tt.principal, tt.scope, got, tt.want)
		}
	}
}

func TestNilPolicy(t *testing.T) {
	var p *Policy
	if d := p.Check(Request{PrincipalID: "u", Scope: "/", Action: "*"}); d.Allowed || d.Code != CodeNoAssignment {
		t.Errorf("nil policy: %+v", d)
	}
	if p.HasAccessWithin("u", "/") || p.Groups("u") != nil {
		t.Error("nil policy grants something")
	}
	if d := Compile(nil, nil, nil).Check(Request{PrincipalID: "u", Scope: "/", Action: "*"}); d.Allowed {
		t.Errorf("empty policy: %+v", d)
	}
}

func TestCheckConcurrent(t *testing.T) {
	p := personaPolicy()
	o := personaOps["assign user@project"]
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				d := p.Check(Request{PrincipalID: manager, Scope: o.scope, Action: o.action, RequestAttrs: o.reqAttrs})
				if !d.Allowed {
					t.Error("a concurrent Check disagreed")
					return
				}
				_ = p.HasAccessWithin(manager, sub)
				_ = p.Groups(manager)
			}
		})
	}
	wg.Wait()
}

func TestCheckDoesNotAllocate(t *testing.T) {
	p := personaPolicy()
	o := personaOps["assign user@project"]
	reqs := map[string]Request{
		"allowed":          {PrincipalID: user, Scope: project, Action: chatAction, Data: true},
		"refused":          {PrincipalID: user, Scope: account, Action: chatAction, Data: true},
		"conditional":      {PrincipalID: manager, Scope: o.scope, Action: o.action, RequestAttrs: o.reqAttrs},
		"upper-case input": {PrincipalID: strings.ToUpper(user), Scope: strings.ToUpper(project), Action: strings.ToUpper(chatAction), Data: true},
		"unknown":          {PrincipalID: outsider, Scope: project, Action: chatAction, Data: true},
	}
	for name, r := range reqs {
		if n := testing.AllocsPerRun(100, func() { p.Check(r) }); n != 0 {
			t.Errorf("%s: %v allocations per Check", name, n)
		}
	}
}

// reference answers Check's question by brute force, straight from the
// definitions: every assignment, every group, every block.
type reference struct {
	roles       map[string]RoleDefinition
	assignments []Assignment
	memberOf    map[string][]string
}

func (ref *reference) groups(principal string) map[string]bool {
	in := map[string]bool{principal: true}
	for changed := true; changed; {
		changed = false
		for m := range in {
			for _, g := range ref.memberOf[m] {
				if !in[g] {
					in[g], changed = true, true
				}
			}
		}
	}
	return in
}

func (ref *reference) allowed(r Request) bool {
	ids := ref.groups(strings.ToLower(r.PrincipalID))
	holds := func(cond, version string) bool {
		if cond == "" {
			return true
		}
		c, err := ParseCondition(cond)
		return err == nil && (version == "" || version == "2.0") && c.Evaluate(r)
	}
	anyMatch := func(ps []string) bool {
		return slices.ContainsFunc(ps, func(p string) bool { return MatchAction(p, r.Action) })
	}
	for _, a := range ref.assignments {
		role, ok := ref.roles[RoleGUID(a.RoleDefinitionID)]
		if !ok || !ids[strings.ToLower(a.PrincipalID)] || !strings.HasPrefix(a.Scope, "/") || !ScopeCovers(a.Scope, r.Scope) {
			continue
		}
		for _, b := range role.Permissions {
			allow, deny := b.Actions, b.NotActions
			if r.Data {
				allow, deny = b.DataActions, b.NotDataActions
			}
			if anyMatch(allow) && !anyMatch(deny) && holds(b.Condition, b.ConditionVersion) && holds(a.Condition, a.ConditionVersion) {
				return true
			}
		}
	}
	return false
}

// TestCheckAgreesWithReference compares Check with the brute-force
// reference on random policies large enough that some principals' grants
// are indexed by scope and others scanned.
func TestCheckAgreesWithReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	roles := BuiltInRoles()
	byGUID := map[string]RoleDefinition{}
	for _, r := range roles {
		byGUID[r.Name] = r
	}
	var scopes []string
	scopes = append(scopes, "/")
	for s := range 3 {
		sub := fmt.Sprintf("/subscriptions/s%d", s)
		scopes = append(scopes, sub)
		for g := range 2 {
			rg := fmt.Sprintf("%s/resourceGroups/rg%d", sub, g)
			scopes = append(scopes, rg)
			for a := range 2 {
				acct := fmt.Sprintf("%s/providers/Microsoft.CognitiveServices/accounts/a%d", rg, a)
				scopes = append(scopes, acct, acct+"/projects/p0", acct+"/projects/p1", acct+"/projects/p0/providers/Microsoft.Authorization/roleAssignments/x")
			}
		}
	}
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	recase := func(s string) string {
		switch rng.IntN(4) {
		case 0:
			return strings.ToUpper(s)
		case 1:
			return s + "/"
		}
		return s
	}
	principals := []string{"u0", "u1", "u2", "u3", "g0", "g1", "g2", "g3"}
	memberOf := map[string][]string{"u0": {"g0"}, "u1": {"g1", "g2"}, "g1": {"g3"}, "g3": {"g1"}, "u2": {"g2"}}
	var assignments []Assignment
	for i := range 400 {
		who := pick(principals[:7]) // u3 holds nothing; g3 only through the cycle
		if who == "u2" && rng.IntN(8) != 0 {
			who = "g0" // u2 keeps few grants of its own: scanned, not indexed
		}
		a := Assignment{ID: fmt.Sprintf("ra%d", i), Scope: recase(pick(scopes)), RoleDefinitionID: roles[rng.IntN(len(roles))].Name, PrincipalID: who}
		if rng.IntN(10) == 0 {
			a.Condition, a.ConditionVersion = "@Resource[tag] StringEquals 'x'", "2.0"
		}
		assignments = append(assignments, a)
	}
	p := Compile(roles, assignments, memberOf)
	indexed, scanned := 0, 0
	for _, sub := range p.subjects {
		for _, s := range sub.sets {
			if s.byScope != nil {
				indexed++
			} else {
				scanned++
			}
		}
	}
	if indexed == 0 || scanned == 0 {
		t.Fatalf("the random policy does not exercise both paths: %d indexed, %d scanned sets", indexed, scanned)
	}
	ref := &reference{roles: byGUID, assignments: assignments, memberOf: memberOf}
	actions := []struct {
		action string
		data   bool
	}{
		{"Microsoft.CognitiveServices/accounts/write", false},
		{"Microsoft.CognitiveServices/accounts/read", false},
		{"Microsoft.CognitiveServices/accounts/projects/write", false},
		{"Microsoft.CognitiveServices/accounts/listKeys/action", false},
		{"Microsoft.Authorization/roleAssignments/write", false},
		{"Microsoft.Authorization/roleAssignments/delete", false},
		{"Microsoft.Network/virtualNetworks/write", false},
		{chatAction, true},
		{"Microsoft.CognitiveServices/accounts/OpenAI/stored-completions/read", true},
	}
	attrSets := []map[string][]string{
		nil,
		{AttrRoleAssignmentRoleDefinitionID: {RoleAzureAIUser}},
		{AttrRoleAssignmentRoleDefinitionID: {RoleOwner}, "tag": {"x"}},
	}
	allowed, refused := 0, 0
	for range 20000 {
		act := actions[rng.IntN(len(actions))]
		attrs := attrSets[rng.IntN(len(attrSets))]
		r := Request{PrincipalID: recase(pick(principals)), Scope: recase(pick(scopes)), Action: act.action, Data: act.data, RequestAttrs: attrs, ResourceAttrs: attrs}
		d := p.Check(r)
		if want := ref.allowed(r); d.Allowed != want {
			t.Fatalf("Check(%+v) = %+v, reference says allowed=%v", r, d, want)
		}
		if d.Allowed {
			allowed++
		} else {
			refused++
		}
	}
	if allowed < 1000 || refused < 1000 {
		t.Fatalf("unbalanced sample: %d allowed, %d refused", allowed, refused)
	}
}

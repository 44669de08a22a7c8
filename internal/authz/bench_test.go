package authz

import (
	"fmt"
	"testing"
)

// benchPolicy is a tenant-sized policy: 1,000 assignments over 10
// subscriptions, 40 accounts and 120 projects, held by 200 users and 50
// groups. The benchmarked user is in 3 groups (one of them nested) and,
// with its groups, holds 12 assignments.
func benchPolicy() (*Policy, string, string) {
	roles, assignments, memberOf, me, target := benchInputs()
	return Compile(roles, assignments, memberOf), me, target
}

func benchInputs() (roles []RoleDefinition, assignments []Assignment, memberOf map[string][]string, me, target string) {
	scope := func(i int) string {
		s := fmt.Sprintf("/subscriptions/%08d-0000-0000-0000-000000000000", i%10)
		switch i % 4 {
		case 0:
			return s
		case 1:
			return fmt.Sprintf("%s/resourceGroups/rg%d", s, i%3)
		case 2:
			return fmt.Sprintf("%s/resourceGroups/rg%d/providers/Microsoft.CognitiveServices/accounts/a%d", s, i%3, i%4)
		}
		return fmt.Sprintf("%s/resourceGroups/rg%d/providers/Microsoft.CognitiveServices/accounts/a%d/projects/p%d", s, i%3, i%4, i%3)
	}
	roles = BuiltInRoles()
	for i := range 988 {
		who := fmt.Sprintf("%08d-1111-1111-1111-000000000000", i%200)
		if i%5 == 0 {
			who = fmt.Sprintf("%08d-2222-2222-2222-000000000000", i%50)
		}
		assignments = append(assignments, Assignment{
			ID: fmt.Sprintf("ra%d", i), Scope: scope(i), RoleDefinitionID: roles[i%len(roles)].Name, PrincipalID: who,
		})
	}
	me = "99999999-9999-9999-9999-999999999999"
	groups := []string{"aaaaaaaa-0000-0000-0000-000000000001", "aaaaaaaa-0000-0000-0000-000000000002", "aaaaaaaa-0000-0000-0000-000000000003"}
	target = "/subscriptions/00000007-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.CognitiveServices/accounts/a3/projects/p2"
	// The user's own and its groups' assignments: readers and managers
	// elsewhere, and, last, Azure AI User at the target project.
	for i := range 12 {
		who := me
		if i > 2 {
			who = groups[i%3]
		}
		role, s := RoleReader, scope(i*7+1)
		if i == 11 {
			role, s = RoleAzureAIUser, target
		}
		assignments = append(assignments, Assignment{ID: fmt.Sprintf("mine%d", i), Scope: s, RoleDefinitionID: role, PrincipalID: who})
	}
	memberOf = map[string][]string{me: {groups[0], groups[1]}, groups[1]: {groups[2]}}
	return roles, assignments, memberOf, me, target
}

func BenchmarkCheck(b *testing.B) {
	p, me, target := benchPolicy()
	chat := Request{PrincipalID: me, Scope: target, Action: chatAction, Data: true}
	b.Run("allowed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !p.Check(chat).Allowed {
				b.Fatal("refused")
			}
		}
	})
	b.Run("refused", func(b *testing.B) {
		r := chat
		r.Action = "Microsoft.CognitiveServices/accounts/write"
		r.Data = false
		b.ReportAllocs()
		for b.Loop() {
			if p.Check(r).Allowed {
				b.Fatal("allowed")
			}
		}
	})
	b.Run("conditional", func(b *testing.B) {
		// A project manager delegating Azure AI User: the condition runs.
		pm := Compile(BuiltInRoles(), []Assignment{{ID: "pm", Scope: account, RoleDefinitionID: RoleAzureAIProjectManager, PrincipalID: manager}}, nil)
		o := personaOps["assign user@project"]
		r := Request{PrincipalID: manager, Scope: o.scope, Action: o.action, RequestAttrs: o.reqAttrs}
		b.ReportAllocs()
		for b.Loop() {
			if !pm.Check(r).Allowed {
				b.Fatal("refused")
			}
		}
	})
	b.Run("indexed", func(b *testing.B) {
		// One group holding all 1,000 assignments: looked up by scope.
		var as []Assignment
		for i := range 1000 {
			as = append(as, Assignment{ID: fmt.Sprintf("ra%d", i), Scope: fmt.Sprintf("%s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a%d", sub, i),
				RoleDefinitionID: RoleAzureAIUser, PrincipalID: "big"})
		}
		big := Compile(BuiltInRoles(), as, map[string][]string{"u": {"g1", "g2", "big"}})
		r := Request{PrincipalID: "u", Scope: rg + "/providers/Microsoft.CognitiveServices/accounts/a999/projects/p", Action: chatAction, Data: true}
		b.ReportAllocs()
		for b.Loop() {
			if !big.Check(r).Allowed {
				b.Fatal("refused")
			}
		}
	})
}

func BenchmarkCompile(b *testing.B) {
	roles, assignments, memberOf, _, _ := benchInputs()
	b.ReportAllocs()
	for b.Loop() {
		Compile(roles, assignments, memberOf)
	}
}

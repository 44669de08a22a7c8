package cognitive_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/providers/cognitive"
)

// as makes the requests of f as principal.
func (e *env) as(principal string, f func()) {
	e.Token = armtest.As(principal)
	defer func() { e.Token = armtest.Token }()
	f()
}

// done makes a write that must succeed with want and waits for its
// operation, so the next write does not race it.
func (e *env) done(want int, method, path string, body any) {
	e.T.Helper()
	r := e.Must(want, method, path+api, body)
	if loc := r.Header.Get("Location"); loc != "" {
		if final := e.WaitOperation(loc); final.Status != http.StatusOK {
			e.T.Fatalf("operation of %s %s: %d %s", method, path, final.Status, final.Body)
		}
	}
}

func vnetRules(ids ...string) map[string]any {
	rules := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		rules = append(rules, map[string]any{"id": id})
	}
	return map[string]any{"networkAcls": map[string]any{"defaultAction": "Deny", "virtualNetworkRules": rules}}
}

// storedRules are the subnet ids of an account's virtual network rules,
// read as the administrator.
func (e *env) storedRules(path string) []string {
	e.T.Helper()
	r := e.Must(http.StatusOK, http.MethodGet, path+api, nil)
	var p struct {
		Properties struct {
			NetworkACLs struct {
				VirtualNetworkRules []struct{ ID string }
			}
		}
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		e.T.Fatal(err)
	}
	var ids []string
	for _, r := range p.Properties.NetworkACLs.VirtualNetworkRules {
		ids = append(ids, strings.ToLower(r.ID))
	}
	return ids
}

// TestVirtualNetworkRulesNeedJoin: naming a subnet in an account's network
// rules needs joinViaServiceEndpoint on it (403 LinkedAuthorizationFailed
// otherwise, the account unchanged); rules already in place do not need it
// again; without accounts/write the answer is AuthorizationFailed before
// anything in the body is looked at.
func TestVirtualNetworkRulesNeedJoin(t *testing.T) {
	e := newRBACEnv(t)
	const (
		dev      = "00000000-0000-0000-0000-0000000000d1" // Cognitive Services Contributor on the account
		netAdmin = "00000000-0000-0000-0000-0000000000d2" // Contributor on the subscription
		outsider = "00000000-0000-0000-0000-0000000000d3"
	)
	a := e.subnet(sub, "joined", "a", true)  // dev gets Network Contributor on this network
	b := e.subnet(sub, "joined", "b", true)  //
	w := e.subnet(sub, "foreign", "w", true) // dev has no right on this one
	x := e.subnet(sub, "foreign", "x", true) //
	y := e.subnet(sub2, "remote", "y", true) // another subscription
	e.RegisterIn(sub2, "Microsoft.CognitiveServices")
	e.put(http.StatusCreated, acct("jn"), account("jn-test", nil))
	e.grant(acct("jn"), authz.RoleCognitiveServicesContributor, dev)
	e.grant("/subscriptions/"+sub, authz.RoleContributor, netAdmin)

	patch := func(body map[string]any) armtest.Response {
		return e.Do(http.MethodPatch, acct("jn")+api, map[string]any{"properties": body})
	}
	linkedRefusal := func(r armtest.Response, subnets ...string) {
		t.Helper()
		if r.Status != http.StatusForbidden || r.ErrCode(t) != arm.CodeLinkedAuthorizationFailed {
			t.Fatalf("got %d %s, want 403 LinkedAuthorizationFailed", r.Status, r.Body)
		}
		msg := r.ARMError(t).Message
		if !strings.Contains(msg, "'"+cognitive.ActionJoinViaServiceEndpoint+"'") || !strings.Contains(msg, "'Microsoft.CognitiveServices/accounts/write'") {
			t.Errorf("the refusal does not name the actions: %s", msg)
		}
		for _, s := range subnets {
			if !strings.Contains(msg, s) {
				t.Errorf("the refusal does not name %s: %s", s, msg)
			}
		}
	}

	e.as(dev, func() {
		linkedRefusal(patch(vnetRules(a)), a)
		// Every refused subnet is named in one refusal.
		linkedRefusal(patch(vnetRules(a, w)), a, w)
	})
	if got := e.storedRules(acct("jn")); len(got) != 0 {
		t.Fatalf("a refused write changed the account: %v", got)
	}

	// Network Contributor on the network holds the join.
	e.grant(strings.TrimSuffix(a, "/subnets/a"), authz.RoleNetworkContributor, dev)
	e.as(dev, func() {
		e.done(http.StatusOK, http.MethodPatch, acct("jn"), map[string]any{"properties": vnetRules(a, b)})
		linkedRefusal(patch(vnetRules(a, b, w)), w)
	})

	// Contributor's "*" holds it anywhere in the subscription, not in another.
	e.as(netAdmin, func() {
		e.done(http.StatusOK, http.MethodPatch, acct("jn"), map[string]any{"properties": vnetRules(a, w)})
		linkedRefusal(patch(vnetRules(a, w, y)), y)
	})

	e.as(dev, func() {
		// Rules in place need no join again: another setting, or the
		// whole account sent back as read.
		e.done(http.StatusOK, http.MethodPatch, acct("jn"), map[string]any{"properties": map[string]any{"networkAcls": map[string]any{"ipRules": []any{map[string]any{"value": "203.0.113.0/24"}}}}})
		e.done(http.StatusOK, http.MethodPut, acct("jn"), account("jn-test", vnetRules(a, w)))
		// Nor does removing one; naming it again does.
		e.done(http.StatusOK, http.MethodPatch, acct("jn"), map[string]any{"properties": vnetRules(a)})
		linkedRefusal(patch(vnetRules(a, w)), w)
		// A new account is no different.
		r := e.Do(http.MethodPut, acct("jn2")+api, account("jn2-test", vnetRules(x)))
		if r.Status != http.StatusForbidden || r.ErrCode(t) != arm.CodeAuthorizationFailed {
			t.Fatalf("create outside the account's scope: %d %s", r.Status, r.Body)
		}
	})
	if got := e.storedRules(acct("jn")); len(got) != 1 || got[0] != strings.ToLower(a) {
		t.Errorf("stored rules %v, want only %s", got, a)
	}

	// Without accounts/write the request is refused for that, before the
	// body is validated: an outsider learns nothing about subnets.
	e.as(outsider, func() {
		r := patch(vnetRules(subnetPath(sub, "joined", "missing")))
		if r.Status != http.StatusForbidden || r.ErrCode(t) != arm.CodeAuthorizationFailed || !strings.Contains(r.ARMError(t).Message, "Microsoft.CognitiveServices/accounts/write") {
			t.Fatalf("outsider: %d %s", r.Status, r.Body)
		}
	})
	e.as(netAdmin, func() {
		e.done(http.StatusCreated, http.MethodPut, acct("jn3"), account("jn3-test", vnetRules(x)))
	})
	// Deleting needs accounts/delete only.
	e.as(dev, func() {
		if r := e.Do(http.MethodDelete, acct("jn3")+api, nil); r.Status != http.StatusForbidden || r.ErrCode(t) != arm.CodeAuthorizationFailed {
			t.Errorf("delete outside the account's scope: %d %s", r.Status, r.Body)
		}
	})
	e.as(netAdmin, func() { e.del(acct("jn3")) })
}

// TestJoinCheckedBeforeSubnetValidation: a caller who may write the
// account but may not join a subnet gets the same 403 whether the subnet
// exists, lacks the service endpoint, or lives in an unregistered
// subscription; only whoever may join it learns which.
func TestJoinCheckedBeforeSubnetValidation(t *testing.T) {
	e := newRBACEnv(t)
	const dev = "00000000-0000-0000-0000-0000000000e1" // Cognitive Services Contributor on the account
	noEndpoint := e.subnet(sub, "probe", "plain", false)
	unregistered := e.subnet(sub2, "probe2", "far", true)
	e.put(http.StatusCreated, acct("probe"), account("probe-test", nil))
	e.grant(acct("probe"), authz.RoleCognitiveServicesContributor, dev)
	missingUA := "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/missing"
	for _, tc := range []struct {
		name, named, code string
		body              map[string]any
	}{
		{"missing subnet", subnetPath(sub, "probe", "missing"), cognitive.CodeSubnetNotFound, nil},
		{"missing network", subnetPath(sub, "nonet", "missing"), cognitive.CodeSubnetNotFound, nil},
		{"no service endpoint", noEndpoint, cognitive.CodeMissingServiceEndpoint, nil},
		{"unregistered subscription", unregistered, cognitive.CodeSubnetNotRegistered, nil},
		{"missing identity", missingUA, cognitive.CodeInvalidUserAssignedIdentity,
			map[string]any{"identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{missingUA: map[string]any{}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.T = t
			defer func() { e.T = nil }()
			body := tc.body
			if body == nil {
				body = map[string]any{"properties": vnetRules(tc.named)}
			}
			e.as(dev, func() {
				r := e.Do(http.MethodPatch, acct("probe")+api, body)
				if r.Status != http.StatusForbidden || r.ErrCode(t) != arm.CodeLinkedAuthorizationFailed || !strings.Contains(r.ARMError(t).Message, tc.named) {
					t.Fatalf("got %d %s, want 403 LinkedAuthorizationFailed naming %s", r.Status, r.Body, tc.named)
				}
			})
			// The administrator, who may do all of it, is told what is wrong.
			r := e.Do(http.MethodPatch, acct("probe")+api, body)
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), tc.code) {
				t.Fatalf("administrator: got %d %s, want 400 %s", r.Status, r.Body, tc.code)
			}
		})
	}
	// A rule that is not a subnet id at all is refused as such: its form
	// reveals nothing.
	e.T = t
	e.as(dev, func() {
		r := e.Do(http.MethodPatch, acct("probe")+api, map[string]any{"properties": vnetRules("/subscriptions/" + sub + "/not-a-subnet")})
		if r.Status != http.StatusBadRequest {
			t.Fatalf("malformed rule: got %d %s, want 400", r.Status, r.Body)
		}
	})
}

package cognitive_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestCustomSubdomain(t *testing.T) {
	e := newEnv(t)
	e.RegisterIn(sub2, "Microsoft.CognitiveServices")
	e.put(http.StatusCreated, acct("first"), account("shared-name", nil))

	invalid := []struct{ name, mention string }{
		{"a", "2 to 63"},
		{strings.Repeat("a", 64), "2 to 63"},
		{"-lead", "hyphen"},
		{"trail-", "hyphen"},
		{"under_score", "'_'"},
		{"dot.ted", "'.'"},
		{"spa ce", "' '"},
	}
	for _, tt := range invalid {
		t.Run("invalid "+tt.name, func(t *testing.T) {
			e.T = t
			e.expectRefused(acct("second"), account(tt.name, nil), refusal{code: "InvalidCustomSubDomainName", target: "properties.customSubDomainName", mention: tt.mention})
		})
	}
	e.T = t

	// Unique across groups and subscriptions, ignoring case.
	for _, path := range []string{acct("second"), accountPath(sub, "other", "second"), accountPath(sub2, "rg", "second")} {
		e.expectRefused(path, account("SHARED-name", nil), refusal{code: "CustomDomainInUse", target: "properties.customSubDomainName", mention: "Choose a different name"})
	}
	// Immutable once set: neither changed nor removed.
	e.expectRefused(acct("first"), account("renamed", nil), refusal{code: "CustomSubDomainNameCannotBeChanged", target: "properties.customSubDomainName", mention: "'shared-name'"})
	classic := map[string]any{"location": "eastus", "kind": "CognitiveServices", "sku": map[string]any{"name": "S0"}, "properties": map[string]any{"customSubDomainName": "classic-one"}}
	e.put(http.StatusCreated, acct("classic"), classic)
	classic["properties"] = map[string]any{}
	e.expectRefused(acct("classic"), classic, refusal{code: "CustomSubDomainNameCannotBeChanged", target: "properties.customSubDomainName", mention: "'classic-one'"})
	// The same name in another casing is the same name: accepted, and the
	// first casing kept.
	r := e.put(http.StatusOK, acct("first"), account("Shared-Name", nil))
	if props(t, r)["customSubDomainName"] != "shared-name" {
		t.Errorf("casing changed: %v", props(t, r)["customSubDomainName"])
	}

	// checkDomainAvailability.
	check := func(name string) map[string]any {
		return e.Must(http.StatusOK, http.MethodPost, "/subscriptions/"+sub2+"/providers/Microsoft.CognitiveServices/checkDomainAvailability"+api,
			map[string]any{"subdomainName": name, "type": "Microsoft.CognitiveServices/accounts", "kind": "AIServices"}).JSON(t)
	}
	if got := check("Shared-Name"); got["isSubdomainAvailable"] != false || !strings.Contains(fmt.Sprint(got["reason"]), "already used") || got["kind"] != "AIServices" || got["subdomainName"] != "Shared-Name" {
		t.Errorf("taken name: %v", got)
	}
	if got := check("free-name"); got["isSubdomainAvailable"] != true || got["type"] != "Microsoft.CognitiveServices/accounts" {
		t.Errorf("free name: %v", got)
	}
	if got := check("bad_name"); got["isSubdomainAvailable"] != false || !strings.Contains(fmt.Sprint(got["reason"]), "'_'") {
		t.Errorf("invalid name: %v", got)
	}
	bad := e.Must(http.StatusBadRequest, http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.CognitiveServices/checkDomainAvailability"+api, map[string]any{"type": "Microsoft.CognitiveServices/accounts"}).ARMError(t)
	if bad.Target != "subdomainName" {
		t.Errorf("missing subdomainName: %+v", bad)
	}
	e.Must(http.StatusBadRequest, http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.CognitiveServices/checkDomainAvailability"+api, map[string]any{"subdomainName": "x1", "type": "Microsoft.Storage/storageAccounts"})

	// Deleting the holder frees the name at once, in any subscription.
	e.del(acct("first"))
	if got := check("shared-name"); got["isSubdomainAvailable"] != true {
		t.Errorf("name of a deleted account: %v", got)
	}
	e.put(http.StatusCreated, accountPath(sub2, "rg", "taker"), account("shared-name", nil))
	e.expectRefused(acct("first"), account("shared-name", nil), refusal{code: "CustomDomainInUse", target: "properties.customSubDomainName", mention: "different name"})
}

// TestSubdomainRace: accounts racing for one name — exactly one gets it.
func TestSubdomainRace(t *testing.T) {
	e := newEnv(t)
	const n = 8
	var wg sync.WaitGroup
	status := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.Do(http.MethodPut, acct(fmt.Sprintf("racer-%d", i))+api, account("contested", nil))
			status[i] = r.Status
		}()
	}
	wg.Wait()
	created := 0
	for i, s := range status {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusBadRequest, http.StatusConflict:
		default:
			t.Errorf("racer %d: status %d", i, s)
		}
	}
	if created != 1 {
		t.Fatalf("%d accounts got the same subdomain (statuses %v)", created, status)
	}
	l := e.Must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.CognitiveServices/accounts"+api, nil)
	if c := strings.Count(string(l.Body), `"customSubDomainName":"contested"`); c != 1 {
		t.Fatalf("%d stored accounts hold the name: %s", c, l.Body)
	}
}

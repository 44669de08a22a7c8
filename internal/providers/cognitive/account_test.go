package cognitive_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/store"
)

func TestAccountLifecycle(t *testing.T) {
	e := newEnv(t)
	body := map[string]any{
		"location": "East US", "kind": "AIServices", "sku": map[string]any{"name": "S0"},
		"tags":     map[string]string{"team": "ai"},
		"identity": map[string]any{"type": "SystemAssigned"},
		"properties": map[string]any{
			"customSubDomainName": "Contoso-AI",
			"publicNetworkAccess": "Enabled",
			"networkAcls": map[string]any{"defaultAction": "Deny", "bypass": "AzureServices",
				"ipRules": []map[string]any{{"value": "203.0.113.0/24"}}, "virtualNetworkRules": []any{}},
			"disableLocalAuth":              false,
			"restrictOutboundNetworkAccess": true,
			"allowedFqdnList":               []string{"Contoso.blob.core.windows.net.", "contoso.blob.core.windows.net"},
			"allowProjectManagement":        true,
			"encryption":                    map[string]any{"keySource": "Microsoft.CognitiveServices"},
		},
	}
	r := e.Must(http.StatusCreated, http.MethodPut, acct("contoso")+api, body)
	if props(t, r)["provisioningState"] != "Accepted" {
		t.Errorf("PUT answered provisioningState %v, want Accepted", props(t, r)["provisioningState"])
	}
	for _, h := range []string{"Azure-AsyncOperation", "Location", "Retry-After", "ETag"} {
		if r.Header.Get(h) == "" {
			t.Errorf("PUT without %s", h)
		}
	}
	if final := e.WaitOperation(r.Header.Get("Location")); final.Status != http.StatusOK {
		t.Fatalf("operation: %d %s", final.Status, final.Body)
	}
	got := e.Must(http.StatusOK, http.MethodGet, acct("contoso")+api, nil)
	p := props(t, got)
	if p["provisioningState"] != "Succeeded" {
		t.Errorf("provisioningState %v", p["provisioningState"])
	}
	if p["endpoint"] != "https://contoso-ai.cognitiveservices.perimeter.localhost:8444/" {
		t.Errorf("endpoint %v", p["endpoint"])
	}
	eps := p["endpoints"].(map[string]any)
	if eps["OpenAI Language Model Instance API"] != "https://contoso-ai.openai.perimeter.localhost:8444/" ||
		eps["AI Foundry API"] != "https://contoso-ai.services.ai.perimeter.localhost:8444/" {
		t.Errorf("endpoints %v", eps)
	}
	if p["customSubDomainName"] != "Contoso-AI" || p["restrictOutboundNetworkAccess"] != true || p["allowProjectManagement"] != true || p["disableLocalAuth"] != false {
		t.Errorf("properties %v", p)
	}
	if fqdns := p["allowedFqdnList"].([]any); len(fqdns) != 1 || fqdns[0] != "contoso.blob.core.windows.net" {
		t.Errorf("allowedFqdnList %v", fqdns)
	}
	if _, stored := p["encryption"]; stored {
		t.Error("encryption is not implemented and must not be shown as if it were")
	}
	doc := got.JSON(t)
	if doc["location"] != "eastus" || doc["etag"] == nil || doc["kind"] != "AIServices" {
		t.Errorf("envelope %s", got.Body)
	}
	id := doc["identity"].(map[string]any)
	principal, _ := id["principalId"].(string)
	if id["type"] != "SystemAssigned" || id["tenantId"] != tenant || uuid.Validate(principal) != nil {
		t.Fatalf("identity %v", id)
	}
	sp, err := e.Store.Get(t.Context(), "/tenants/"+tenant+"/directoryObjects/"+principal)
	if err != nil {
		t.Fatalf("service principal of the system-assigned identity: %v", err)
	}
	var spBody struct {
		ID, AppID, ServicePrincipalType string
		AlternativeNames                []string
	}
	_ = json.Unmarshal(sp.Body, &spBody)
	if spBody.ID != principal || spBody.ServicePrincipalType != "ManagedIdentity" || len(spBody.AlternativeNames) != 1 || spBody.AlternativeNames[0] != acct("contoso") || uuid.Validate(spBody.AppID) != nil {
		t.Errorf("service principal %s", sp.Body)
	}

	// PATCH through the long-running operation; the principal stays.
	r = e.Must(http.StatusOK, http.MethodPatch, acct("contoso")+api, map[string]any{"tags": map[string]string{"team": "platform"}, "properties": map[string]any{"disableLocalAuth": true}})
	e.WaitOperation(r.Header.Get("Location"))
	got = e.Must(http.StatusOK, http.MethodGet, acct("contoso")+api, nil)
	if props(t, got)["disableLocalAuth"] != true || got.JSON(t)["identity"].(map[string]any)["principalId"] != principal || got.JSON(t)["tags"].(map[string]any)["team"] != "platform" {
		t.Errorf("after PATCH: %s", got.Body)
	}
	if props(t, got)["networkAcls"].(map[string]any)["bypass"] != "AzureServices" {
		t.Errorf("PATCH lost networkAcls: %s", got.Body)
	}

	// GET, change, PUT back: read-only fields echoed by the client are
	// ignored and recomputed.
	var echoed map[string]any
	_ = json.Unmarshal(got.Body, &echoed)
	echoed["properties"].(map[string]any)["endpoint"] = "https://evil.example/"
	echoed["identity"].(map[string]any)["principalId"] = uuid.NewString()
	r = e.put(http.StatusOK, acct("contoso"), echoed)
	if props(t, r)["endpoint"] != "https://contoso-ai.cognitiveservices.perimeter.localhost:8444/" || r.JSON(t)["identity"].(map[string]any)["principalId"] != principal {
		t.Errorf("echoed read-only fields were taken: %s", r.Body)
	}

	// Lists: by group, by subscription; not in another group.
	for _, path := range []string{"/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts", "/subscriptions/" + sub + "/providers/Microsoft.CognitiveServices/accounts"} {
		l := e.Must(http.StatusOK, http.MethodGet, path+api, nil)
		if !strings.Contains(string(l.Body), `"name":"contoso"`) {
			t.Errorf("%s does not list the account: %s", path, l.Body)
		}
	}
	if l := e.Must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/resourceGroups/other/providers/Microsoft.CognitiveServices/accounts"+api, nil); string(l.Body) != `{"value":[]}` {
		t.Errorf("other group lists %s", l.Body)
	}

	// Delete: 202, then gone with its keys.
	del := e.Must(http.StatusAccepted, http.MethodDelete, acct("contoso")+api, nil)
	if final := e.WaitOperation(del.Header.Get("Location")); final.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", final.Status, final.Body)
	}
	e.Must(http.StatusNotFound, http.MethodGet, acct("contoso")+api, nil)
	if _, err := e.Store.Get(t.Context(), acct("contoso")+"/%keys"); err == nil {
		t.Error("keys outlived their account")
	}
}

func TestAccountValidation(t *testing.T) {
	e := newEnv(t)
	with := func(mutate func(b map[string]any)) map[string]any {
		b := account("valid-sub", nil)
		mutate(b)
		return b
	}
	tests := []struct {
		name string
		path string
		body map[string]any
		want refusal
	}{
		{"kind missing", acct("a1"), with(func(b map[string]any) { delete(b, "kind") }), refusal{code: "KindRequired", target: "kind", mention: "'AIServices'"}},
		{"kind unknown", acct("a1"), with(func(b map[string]any) { b["kind"] = "Magic" }), refusal{code: "KindNotSupported", target: "kind", mention: "OpenAI"}},
		{"sku missing", acct("a1"), with(func(b map[string]any) { delete(b, "sku") }), refusal{code: "SkuRequired", target: "sku.name", mention: "'S0'"}},
		{"sku not offered", acct("a1"), with(func(b map[string]any) { b["sku"] = map[string]any{"name": "F0"} }), refusal{code: "SkuNotSupported", target: "sku.name", mention: "'S0'"}},
		{"sku of the wrong type", acct("a1"), with(func(b map[string]any) { b["sku"] = map[string]any{"name": 7} }), refusal{code: "InvalidRequestContent", target: "sku.name", mention: "string"}},
		{"served kind without subdomain", acct("a1"), with(func(b map[string]any) { b["properties"] = map[string]any{} }), refusal{code: "CustomSubDomainNameRequired", target: "properties.customSubDomainName", mention: "'a1'"}},
		{"projects on an OpenAI account", acct("a1"), with(func(b map[string]any) {
			b["kind"] = "OpenAI"
			b["properties"].(map[string]any)["allowProjectManagement"] = true
		}), refusal{code: "ProjectManagementNotSupported", target: "properties.allowProjectManagement", mention: "'AIServices'"}},
		{"wildcard FQDN", acct("a1"), with(func(b map[string]any) {
			b["properties"].(map[string]any)["allowedFqdnList"] = []string{"ok.example.com", "*.example.com"}
		}),
			refusal{code: "InvalidAllowedFqdn", target: "properties.allowedFqdnList[1]", mention: "wildcards"}},
		{"IP as FQDN", acct("a1"), with(func(b map[string]any) { b["properties"].(map[string]any)["allowedFqdnList"] = []string{"8.8.8.8"} }),
			refusal{code: "InvalidAllowedFqdn", target: "properties.allowedFqdnList[0]", mention: "host names"}},
		{"bad FQDN label", acct("a1"), with(func(b map[string]any) {
			b["properties"].(map[string]any)["allowedFqdnList"] = []string{"bad_host.example.com"}
		}),
			refusal{code: "InvalidAllowedFqdn", target: "properties.allowedFqdnList[0]", mention: "'_'"}},
		{"single-label FQDN", acct("a1"), with(func(b map[string]any) { b["properties"].(map[string]any)["allowedFqdnList"] = []string{"intranet"} }),
			refusal{code: "InvalidAllowedFqdn", target: "properties.allowedFqdnList[0]", mention: "fully qualified"}},
		{"location missing", acct("a1"), with(func(b map[string]any) { delete(b, "location") }), refusal{code: "LocationRequired", target: "location", mention: "location"}},
		{"customer-managed keys", acct("a1"), with(func(b map[string]any) {
			b["properties"].(map[string]any)["encryption"] = map[string]any{"keySource": "Microsoft.KeyVault", "keyVaultProperties": map[string]any{"keyName": "k"}}
		}), refusal{code: "UnsupportedProperty", target: "properties.encryption", mention: "customer-managed keys"}},
		{"user-owned storage", acct("a1"), with(func(b map[string]any) {
			b["properties"].(map[string]any)["userOwnedStorage"] = []any{map[string]any{"resourceId": "/subscriptions/x/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/s"}}
		}), refusal{code: "UnsupportedProperty", target: "properties.userOwnedStorage", mention: "Remove it"}},
		{"name too short", acct("a"), account("valid-sub", nil), refusal{code: "InvalidResourceName", mention: "2 to 64"}},
		{"name starting with a hyphen", acct("-a"), account("valid-sub", nil), refusal{code: "InvalidResourceName", mention: "starting with a letter or digit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.T = t
			e.expectRefused(tt.path, tt.body, tt.want)
		})
	}
	e.T = t

	// An OpenAI account may become a Foundry (AIServices) account; no
	// other kind change is allowed. Its endpoint follows its kind.
	oa := map[string]any{"location": "eastus", "kind": "openai", "sku": map[string]any{"name": "s0"}, "properties": map[string]any{"customSubDomainName": "oai-one"}}
	r := e.put(http.StatusCreated, acct("oai"), oa)
	if r.JSON(t)["kind"] != "OpenAI" || props(t, r)["endpoint"] != "https://oai-one.openai.perimeter.localhost:8444/" {
		t.Errorf("OpenAI account: %s", r.Body)
	}
	oa["kind"] = "AIServices"
	r = e.put(http.StatusOK, acct("oai"), oa)
	if r.JSON(t)["kind"] != "AIServices" || props(t, r)["endpoint"] != "https://oai-one.cognitiveservices.perimeter.localhost:8444/" {
		t.Errorf("upgraded account: %s", r.Body)
	}
	oa["kind"] = "OpenAI"
	e.expectRefused(acct("oai"), oa, refusal{code: "KindChangeNotAllowed", target: "kind", mention: "'AIServices'"})
}

func TestIdentity(t *testing.T) {
	e := newEnv(t)
	ua := "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
	uaProps := props(t, e.Must(http.StatusCreated, http.MethodPut, ua+msiAPI, map[string]any{"location": "eastus"}))
	withIdentity := func(id any) map[string]any {
		b := account("ident", nil)
		b["identity"] = id
		return b
	}
	accepted := []struct {
		in   map[string]any
		want string
	}{
		{map[string]any{"type": "SystemAssigned"}, "SystemAssigned"},
		{map[string]any{"type": "systemassigned"}, "SystemAssigned"},
		{map[string]any{"type": "None"}, "None"},
		{map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{ua: map[string]any{}}}, "UserAssigned"},
		{map[string]any{"type": "UserAssigned,SystemAssigned", "userAssignedIdentities": map[string]any{ua: map[string]any{}}}, "SystemAssigned, UserAssigned"},
		{map[string]any{"type": "SystemAssigned ,  userAssigned", "userAssignedIdentities": map[string]any{ua: map[string]any{}}}, "SystemAssigned, UserAssigned"},
	}
	for _, a := range accepted {
		r := e.put(http.StatusCreated, acct("ident"), withIdentity(a.in))
		if got := r.JSON(t)["identity"].(map[string]any)["type"]; got != a.want {
			t.Errorf("identity %v stored as %v, want %v", a.in, got, a.want)
		}
		e.del(acct("ident"))
	}

	e.put(http.StatusCreated, acct("ident"), withIdentity(map[string]any{"type": "SystemAssigned"}))
	refused := []struct {
		name string
		in   any
		want refusal
	}{
		{"unknown type", map[string]any{"type": "ManagedIdentity"}, refusal{code: "InvalidIdentityType", target: "identity.type", mention: "'SystemAssigned, UserAssigned'"}},
		{"None with another type", map[string]any{"type": "None, SystemAssigned"}, refusal{code: "InvalidIdentityType", target: "identity.type", mention: "'None'"}},
		{"no type", map[string]any{}, refusal{code: "InvalidIdentityType", target: "identity.type", mention: "no type"}},
		{"user-assigned without identities", map[string]any{"type": "UserAssigned"}, refusal{code: "UserAssignedIdentitiesRequired", target: "identity.userAssignedIdentities", mention: "at least one"}},
		{"user-assigned id malformed", map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{"id1": map[string]any{}}},
			refusal{code: "InvalidUserAssignedIdentityId", target: "identity.userAssignedIdentities", mention: "Microsoft.ManagedIdentity/userAssignedIdentities"}},
		{"user-assigned of the wrong type", map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{"/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm": map[string]any{}}},
			refusal{code: "InvalidUserAssignedIdentityId", target: "identity.userAssignedIdentities", mention: "userAssignedIdentities/{name}"}},
		{"user-assigned with SystemAssigned only", map[string]any{"type": "SystemAssigned", "userAssignedIdentities": map[string]any{ua: map[string]any{}}},
			refusal{code: "UserAssignedIdentitiesNotAllowed", target: "identity.userAssignedIdentities", mention: "Change the type"}},
		{"identity of the wrong type", "SystemAssigned", refusal{code: "InvalidRequestContent", target: "identity", mention: "object"}},
		{"user-assigned identity that does not exist", map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{ua + "x": map[string]any{}}},
			refusal{code: "InvalidUserAssignedIdentityId", target: "identity.userAssignedIdentities", mention: "perimeter identity create --name id1x --resource-group rg"}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			e.T = t
			e.expectRefused(acct("ident"), withIdentity(tt.in), tt.want)
		})
	}
	e.T = t

	// The principal survives updates, adding a user-assigned identity
	// included; removing the system-assigned identity drops the principal
	// and its service principal; enabling it again makes a new one.
	principalOf := func(r armtest.Response) string {
		id, _ := r.JSON(t)["identity"].(map[string]any)
		p, _ := id["principalId"].(string)
		return p
	}
	first := principalOf(e.Must(http.StatusOK, http.MethodGet, acct("ident")+api, nil))
	r := e.put(http.StatusOK, acct("ident"), withIdentity(map[string]any{"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": map[string]any{ua: map[string]any{}}}))
	if principalOf(r) != first {
		t.Errorf("principal changed on update: %s -> %s", first, principalOf(r))
	}
	if got, _ := r.JSON(t)["identity"].(map[string]any)["userAssignedIdentities"].(map[string]any)[ua].(map[string]any); got["principalId"] != uaProps["principalId"] || got["clientId"] != uaProps["clientId"] {
		t.Errorf("user-assigned identity not stored with its ids %v: %s", uaProps, r.Body)
	}
	// PATCH to SystemAssigned drops the user-assigned identities merged in.
	pr := e.Must(http.StatusOK, http.MethodPatch, acct("ident")+api, map[string]any{"identity": map[string]any{"type": "SystemAssigned"}})
	e.WaitOperation(pr.Header.Get("Location"))
	r = e.Must(http.StatusOK, http.MethodGet, acct("ident")+api, nil)
	if id := r.JSON(t)["identity"].(map[string]any); id["type"] != "SystemAssigned" || id["userAssignedIdentities"] != nil || principalOf(r) != first {
		t.Errorf("after PATCH to SystemAssigned: %v", id)
	}
	r = e.put(http.StatusOK, acct("ident"), withIdentity(map[string]any{"type": "None"}))
	if principalOf(r) != "" {
		t.Errorf("principal kept after removing the identity: %s", r.Body)
	}
	if _, err := e.Store.Get(t.Context(), "/tenants/"+tenant+"/directoryObjects/"+first); err == nil {
		t.Error("service principal kept after removing the identity")
	}
	r = e.put(http.StatusOK, acct("ident"), withIdentity(map[string]any{"type": "SystemAssigned"}))
	if second := principalOf(r); second == "" || second == first {
		t.Errorf("re-enabled identity has principal %q (first was %q)", second, first)
	}
	// A PUT without identity removes it, as a full replacement does.
	r = e.put(http.StatusOK, acct("ident"), account("ident", nil))
	if _, has := r.JSON(t)["identity"]; has {
		t.Errorf("identity kept by a PUT without one: %s", r.Body)
	}
}

// TestCleanup: what an account owns outside its subtree (its subdomain
// reservation and its identity's service principal) goes with it, whether
// the account is deleted itself or with its resource group; so does a
// project's service principal.
func TestCleanup(t *testing.T) {
	e := newEnv(t)
	owned := func(r armtest.Response) []string {
		principal := r.JSON(t)["identity"].(map[string]any)["principalId"].(string)
		return []string{"/tenants/" + tenant + "/directoryObjects/" + principal}
	}
	body := account("owned-name", map[string]any{"allowProjectManagement": true})
	body["identity"] = map[string]any{"type": "SystemAssigned"}
	docs := append(owned(e.put(http.StatusCreated, acct("owner"), body)), "/perimeter/subdomains/owned-name")
	docs = append(docs, owned(e.put(http.StatusCreated, acct("owner")+"/projects/p1", map[string]any{"location": "eastus", "identity": map[string]any{"type": "SystemAssigned"}}))...)
	for _, id := range docs {
		if _, err := e.Store.Get(t.Context(), id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	e.del(acct("owner"))
	for _, id := range docs {
		if _, err := e.Store.Get(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s outlived the account: %v", id, err)
		}
	}

	// With the resource group.
	docs = append(owned(e.put(http.StatusCreated, accountPath(sub, "other", "owner"), body)), "/perimeter/subdomains/owned-name")
	del := e.Must(http.StatusAccepted, http.MethodDelete, "/subscriptions/"+sub+"/resourceGroups/other"+rgAPI, nil)
	if loc := del.Header.Get("Location"); loc != "" {
		e.WaitOperation(loc)
	}
	for _, id := range docs {
		if _, err := e.Store.Get(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s outlived the account's group: %v", id, err)
		}
	}
}

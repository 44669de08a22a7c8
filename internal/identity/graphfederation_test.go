package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestGraphFederatedCredentials: the Graph lifecycle of a federated
// identity credential, each change taking effect at the token endpoint.
func TestGraphFederatedCredentials(t *testing.T) {
	env := newGraphEnv(t, nil)
	idp := newTestIdP(t)
	env.iss.oidc = newOIDCKeys(idp.srv.Client(), env.clock.Now)
	base := "/v1.0/applications/" + env.app.ObjectID + "/federatedIdentityCredentials"
	const subject = "system:serviceaccount:ci:deployer"
	exchange := func(sub string) (int, map[string]any) {
		t.Helper()
		rec, body := env.post(t, env.tenant, assertionForm(env.app.AppID, idp.sign(t, "rsa-1", idp.claims(env.clock.Now(), sub)), mgmtScope), nil)
		return rec.Code, body
	}

	created := env.ok(t, http.StatusCreated, http.MethodPost, base, map[string]any{
		"name": "ci-deployer", "issuer": idp.issuer, "subject": subject, "description": "the CI cluster's deployer",
	})
	id, _ := created["id"].(string)
	wantCtx := testBase + "/v1.0/$metadata#applications('" + env.app.ObjectID + "')/federatedIdentityCredentials/$entity"
	if !isCanonicalGUID(id) || created["name"] != "ci-deployer" || created["issuer"] != idp.issuer || created["subject"] != subject ||
		created["description"] != "the CI cluster's deployer" || created["@odata.context"] != wantCtx ||
		mustJSON(t, created["audiences"]) != `["api://AzureADTokenExchange"]` {
		t.Errorf("created %v", created)
	}
	if code, body := exchange(subject); code != http.StatusOK {
		t.Fatalf("token with the new credential: %d %v", code, body)
	}

	list := env.ok(t, http.StatusOK, http.MethodGet, base, nil)
	if items := values(t, list); len(items) != 1 || items[0]["id"] != id || list["@odata.context"] != strings.TrimSuffix(wantCtx, "/$entity") {
		t.Errorf("list %v", list)
	}
	if items := values(t, env.ok(t, http.StatusOK, http.MethodGet, base+"?$filter="+url.QueryEscape("subject eq '"+subject+"'"), nil)); len(items) != 1 {
		t.Errorf("filter by subject: %v", items)
	}
	for _, path := range []string{base + "/" + id, base + "/" + strings.ToUpper(id), base + "/ci-deployer", "/v1.0/applications/" + env.app.ObjectID + "/federatedIdentityCredentials(name='ci-deployer')"} {
		if got := env.ok(t, http.StatusOK, http.MethodGet, path, nil); got["id"] != id {
			t.Errorf("GET %s: %v", path, got)
		}
	}

	// PATCH answers 204 and changes what is trusted.
	env.ok(t, http.StatusNoContent, http.MethodPatch, base+"/"+id, map[string]any{"subject": subject + "-v2", "name": "ci-deployer"})
	if got := env.ok(t, http.StatusOK, http.MethodGet, base+"/"+id, nil); got["subject"] != subject+"-v2" || got["description"] != "the CI cluster's deployer" {
		t.Errorf("after PATCH: %v", got)
	}
	if code, body := exchange(subject); code != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(body["error_codes"]), "700213") {
		t.Errorf("old subject after PATCH: %d %v", code, body)
	}
	if code, body := exchange(subject + "-v2"); code != http.StatusOK {
		t.Errorf("new subject after PATCH: %d %v", code, body)
	}
	env.ok(t, http.StatusNoContent, http.MethodPatch, "/v1.0/applications/"+env.app.ObjectID+"/federatedIdentityCredentials(name='ci-deployer')",
		map[string]any{"description": nil})
	if got := env.ok(t, http.StatusOK, http.MethodGet, base+"/"+id, nil); got["description"] != nil {
		t.Errorf("description after clearing: %v", got["description"])
	}

	// DELETE: the application trusts nothing any more.
	env.ok(t, http.StatusNoContent, http.MethodDelete, base+"/ci-deployer", nil)
	rec, body := env.call(t, http.MethodGet, base+"/"+id, nil)
	checkGraphError(t, rec, body, http.StatusNotFound, "Request_ResourceNotFound", id)
	if code, body := exchange(subject + "-v2"); code != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(body["error_codes"]), "70021") {
		t.Errorf("after DELETE: %d %v", code, body)
	}
	rec, body = env.call(t, http.MethodDelete, base+"/"+id, nil)
	checkGraphError(t, rec, body, http.StatusNotFound, "Request_ResourceNotFound", "")
}

func isCanonicalGUID(s string) bool {
	c, ok := canonicalGUID(s)
	return ok && c == s
}

// TestGraphFederatedCredentialsRefuseBadInput: Entra's rules, each refusal
// saying what to change, and nothing stored.
func TestGraphFederatedCredentialsRefuseBadInput(t *testing.T) {
	env := newGraphEnv(t, nil)
	base := "/v1.0/applications/" + env.app.ObjectID + "/federatedIdentityCredentials"
	const issuer = "https://token.actions.githubusercontent.com"
	env.ok(t, http.StatusCreated, http.MethodPost, base, map[string]any{"name": "main", "issuer": issuer, "subject": "repo:contoso/app:ref:refs/heads/main"})
	fic := func(change func(map[string]any)) map[string]any {
		b := map[string]any{"name": "other", "issuer": issuer, "subject": "repo:contoso/app:environment:prod", "audiences": []string{"api://AzureADTokenExchange"}}
		change(b)
		return b
	}
	tests := []struct {
		name    string
		body    any
		status  int
		code    string
		mention string
	}{
		{"http issuer", fic(func(b map[string]any) { b["issuer"] = "http://idp.contoso.com" }), 400, "Request_BadRequest", "https URL"},
		{"issuer not a URL", fic(func(b map[string]any) { b["issuer"] = "contoso" }), 400, "Request_BadRequest", "https URL"},
		{"issuer with query", fic(func(b map[string]any) { b["issuer"] = issuer + "?x=1" }), 400, "Request_BadRequest", "without query"},
		{"two audiences", fic(func(b map[string]any) { b["audiences"] = []string{"a", "b"} }), 400, "Request_BadRequest", "exactly one audience"},
		{"empty audience", fic(func(b map[string]any) { b["audiences"] = []string{""} }), 400, "Request_BadRequest", "'audiences'"},
		{"audiences not an array", fic(func(b map[string]any) { b["audiences"] = "api://AzureADTokenExchange" }), 400, "Request_BadRequest", "array of strings"},
		{"subject with a trailing space", fic(func(b map[string]any) { b["subject"] = "repo:contoso/app " }), 400, "Request_BadRequest", "surrounding spaces"},
		{"subject too long", fic(func(b map[string]any) { b["subject"] = strings.Repeat("s", 601) }), 400, "Request_BadRequest", "600"},
		{"name too short", fic(func(b map[string]any) { b["name"] = "ab" }), 400, "Request_BadRequest", "3 to 120"},
		{"name with a slash", fic(func(b map[string]any) { b["name"] = "ci/deploy" }), 400, "Request_BadRequest", "3 to 120"},
		{"no subject", fic(func(b map[string]any) { delete(b, "subject") }), 400, "Request_BadRequest", "'subject'"},
		{"unknown property", fic(func(b map[string]any) { b["claimsMatchingExpression"] = map[string]any{} }), 400, "Request_BadRequest", "claimsMatchingExpression"},
		{"duplicate name", fic(func(b map[string]any) { b["name"] = "MAIN" }), 409, "Request_MultipleObjectsWithSameKeyValue", "named 'main'"},
		{"duplicate issuer and subject", fic(func(b map[string]any) { b["subject"] = "repo:contoso/app:ref:refs/heads/main" }), 409, "Request_MultipleObjectsWithSameKeyValue", "'main'"},
		{"not JSON", "{", 400, "BadRequest", "Unable to read JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, body := env.call(t, http.MethodPost, base, tt.body)
			checkGraphError(t, rec, body, tt.status, tt.code, tt.mention)
		})
	}
	if items := values(t, env.ok(t, http.StatusOK, http.MethodGet, base, nil)); len(items) != 1 {
		t.Errorf("refusals stored something: %v", items)
	}

	// PATCH: the name cannot change, and the rules hold.
	rec, body := env.call(t, http.MethodPatch, base+"/main", map[string]any{"name": "renamed"})
	checkGraphError(t, rec, body, http.StatusBadRequest, "Request_BadRequest", "cannot change")
	rec, body = env.call(t, http.MethodPatch, base+"/main", map[string]any{"issuer": "http://x"})
	checkGraphError(t, rec, body, http.StatusBadRequest, "Request_BadRequest", "https URL")
	rec, body = env.call(t, http.MethodPatch, base+"/nope", map[string]any{"subject": "x"})
	checkGraphError(t, rec, body, http.StatusNotFound, "Request_ResourceNotFound", "'nope'")
	if got := env.ok(t, http.StatusOK, http.MethodGet, base+"/main", nil); got["issuer"] != issuer {
		t.Errorf("a refused PATCH changed the credential: %v", got)
	}

	// At most 20 per application.
	for i := 1; i < MaxFederatedCredentials; i++ {
		env.ok(t, http.StatusCreated, http.MethodPost, base, fic(func(b map[string]any) {
			b["name"], b["subject"] = fmt.Sprintf("cred-%02d", i), fmt.Sprintf("subject-%d", i)
		}))
	}
	rec, body = env.call(t, http.MethodPost, base, fic(func(map[string]any) {}))
	checkGraphError(t, rec, body, http.StatusBadRequest, "Request_BadRequest", "20 federated identity credentials")

	// Unknown application, unknown segment.
	rec, body = env.call(t, http.MethodGet, "/v1.0/applications/00000000-0000-0000-0000-000000000001/federatedIdentityCredentials", nil)
	checkGraphError(t, rec, body, http.StatusNotFound, "Request_ResourceNotFound", "")
	rec, body = env.call(t, http.MethodGet, "/v1.0/applications/"+env.app.ObjectID+"/owners", nil)
	checkGraphError(t, rec, body, http.StatusBadRequest, "BadRequest", "federatedIdentityCredentials")
	rec, body = env.call(t, http.MethodPut, base+"/main", map[string]any{})
	checkGraphError(t, rec, body, http.StatusMethodNotAllowed, "Request_BadRequest", "GET or PATCH or DELETE")
}

// TestFederatedCredentialsGoWithTheApplication: concurrent adds all land,
// and deleting the application deletes its credentials.
func TestFederatedCredentialsGoWithTheApplication(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	app, err := env.dir.CreateApplication(ctx, env.tenant, "short-lived")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 10)
	for i := range 10 {
		go func() {
			_, err := env.dir.AddFederatedCredential(ctx, env.tenant, app.AppID, FederatedCredentialInput{
				Name: fmt.Sprintf("c-%02d", i), Issuer: "https://idp.contoso.com", Subject: fmt.Sprintf("s-%d", i)})
			errs <- err
		}()
	}
	for range 10 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := env.dir.Application(ctx, env.tenant, app.AppID)
	if err != nil || len(got.FederatedIdentityCredentials) != 10 {
		t.Fatalf("after 10 concurrent adds: %d credentials, %v", len(got.FederatedIdentityCredentials), err)
	}
	if err := env.dir.DeleteApplication(ctx, env.tenant, app.AppID); err != nil {
		t.Fatal(err)
	}
	if _, err := env.dir.FederatedCredential(ctx, env.tenant, app.AppID, "c-01"); !errors.Is(err, ErrApplicationNotFound) {
		t.Errorf("a deleted application's credential: %v", err)
	}
}

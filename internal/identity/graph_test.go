package identity

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// graphEnv serves a Graph over the test directory.
type graphEnv struct {
	*userEnv
	graph *Graph
	// admin is a Graph token of the env's application.
	admin string
}

func newGraphEnv(t *testing.T, authorize func(context.Context, Principal, bool) error) *graphEnv {
	t.Helper()
	env := &graphEnv{userEnv: newUserEnv(t)}
	env.graph = NewGraph(GraphConfig{Directory: env.dir, Verifier: env.iss, Authorize: authorize, Now: env.clock.Now})
	tok, err := env.iss.IssueAppToken(env.app, AudienceGraph)
	if err != nil {
		t.Fatal(err)
	}
	env.admin = tok.Token
	return env
}

// call sends one request to the Graph handler with the admin token.
func (env *graphEnv) call(t *testing.T, method, path string, body any) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	return env.callAs(t, env.admin, method, path, body)
}

func (env *graphEnv) callAs(t *testing.T, token, method, path string, body any) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	var rd *strings.Reader
	switch b := body.(type) {
	case nil:
		rd = strings.NewReader("")
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(raw))
	}
	req := httptest.NewRequest(method, testBase+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !env.graph.Serves(req) {
		t.Fatalf("Serves(%s %s) = false", method, path)
	}
	rec := httptest.NewRecorder()
	env.graph.Handler().ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %v\n%s", method, path, err, rec.Body.String())
		}
	}
	return rec, out
}

// ok requires a status and returns the body.
func (env *graphEnv) ok(t *testing.T, status int, method, path string, body any) map[string]any {
	t.Helper()
	rec, out := env.call(t, method, path, body)
	if rec.Code != status {
		t.Fatalf("%s %s: %d %v, want %d", method, path, rec.Code, out, status)
	}
	return out
}

// checkGraphError asserts Graph's error envelope.
// checkRefused sends a request that must be refused with the Graph error
// and must not write to the store.
func (env *graphEnv) checkRefused(t *testing.T, method, path string, reqBody any, status int, code, mention string) *httptest.ResponseRecorder {
	t.Helper()
	before, _ := env.st.Revision(context.Background())
	rec, body := env.call(t, method, path, reqBody)
	checkGraphError(t, rec, body, status, code, mention)
	if after, _ := env.st.Revision(context.Background()); after != before {
		t.Error("a refused request wrote to the store")
	}
	return rec
}

func checkGraphError(t *testing.T, rec *httptest.ResponseRecorder, body map[string]any, status int, code, mention string) {
	t.Helper()
	e, _ := body["error"].(map[string]any)
	if rec.Code != status || e == nil || e["code"] != code {
		t.Fatalf("got %d %v, want %d %s", rec.Code, body, status, code)
	}
	msg, _ := e["message"].(string)
	if !strings.Contains(msg, mention) {
		t.Errorf("message %q does not mention %q", msg, mention)
	}
	inner, _ := e["innerError"].(map[string]any)
	if inner == nil || inner["request-id"] == "" || inner["date"] == "" || inner["request-id"] != rec.Header().Get("request-id") {
		t.Errorf("innerError %v, request-id header %q", inner, rec.Header().Get("request-id"))
	}
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type %q", rec.Header().Get("Content-Type"))
	}
}

func values(t *testing.T, body map[string]any) []map[string]any {
	t.Helper()
	raw, ok := body["value"].([]any)
	if !ok {
		t.Fatalf("not a collection: %v", body)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i] = v.(map[string]any)
	}
	return out
}

func ids(items []map[string]any) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i], _ = it["id"].(string)
	}
	slices.Sort(out)
	return out
}

func TestGraphAuthentication(t *testing.T) {
	env := newGraphEnv(t, nil)
	mgmt, _ := env.iss.IssueAppToken(env.app, AudienceManagement)
	userGraph, _ := env.iss.IssueUserToken(env.user, AzureCLIClientID, AudienceGraph, false)
	tests := []struct {
		name    string
		header  string
		advance time.Duration
		mention string
	}{
		{"no token", "", 0, "Access token is empty"},
		{"basic credentials", "Basic YTpi", 0, "Bearer"},
		{"empty bearer", "Bearer ", 0, "Bearer"},
		{"management token", "Bearer " + mgmt.Token, 0, "https://graph.microsoft.com/.default"},
		{"garbage", "Bearer not.a.token", 0, "malformed token"},
		{"expired", "Bearer " + env.admin, 2 * time.Hour, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.clock.Advance(tt.advance)
			defer env.clock.Advance(-tt.advance)
			req := httptest.NewRequest(http.MethodGet, testBase+"/v1.0/users", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			env.graph.Handler().ServeHTTP(rec, req)
			var body map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			checkGraphError(t, rec, body, http.StatusUnauthorized, "InvalidAuthenticationToken", tt.mention)
			if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("WWW-Authenticate %q", rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
	// Unknown paths are not revealed to anonymous callers either.
	rec, body := env.callAs(t, "", http.MethodGet, "/v1.0/nothing", nil)
	checkGraphError(t, rec, body, http.StatusUnauthorized, "InvalidAuthenticationToken", "")

	// A user's Graph token works, and /me is the user.
	rec, body = env.callAs(t, userGraph.Token, http.MethodGet, "/v1.0/me", nil)
	if rec.Code != http.StatusOK || body["id"] != env.user.ID || body["userPrincipalName"] != "alice@contoso.com" {
		t.Errorf("GET /me as the user: %d %v", rec.Code, body)
	}
	rec, body = env.call(t, http.MethodGet, "/v1.0/me", nil)
	checkGraphError(t, rec, body, http.StatusBadRequest, "Request_BadRequest", "delegated")
}

func TestGraphAuthorize(t *testing.T) {
	type ask struct {
		oid   string
		write bool
	}
	var mu sync.Mutex
	var asked []ask
	env := newGraphEnv(t, func(_ context.Context, p Principal, write bool) error {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, ask{p.ObjectID, write})
		if write && p.Type == PrincipalTypeUser {
			return errors.New("the caller needs a directory role that may write")
		}
		return nil
	})
	userGraph, _ := env.iss.IssueUserToken(env.user, AzureCLIClientID, AudienceGraph, false)

	before, _ := env.st.Revision(context.Background())
	rec, body := env.callAs(t, userGraph.Token, http.MethodPost, "/v1.0/groups", map[string]any{"displayName": "x", "mailNickname": "x"})
	checkGraphError(t, rec, body, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation. the caller needs a directory role")
	if after, _ := env.st.Revision(context.Background()); after != before {
		t.Error("a refused request wrote")
	}
	rec, body = env.callAs(t, userGraph.Token, http.MethodDelete, "/v1.0/users/"+env.user.ID, nil)
	checkGraphError(t, rec, body, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges")
	if rec, _ := env.callAs(t, userGraph.Token, http.MethodGet, "/v1.0/users", nil); rec.Code != http.StatusOK {
		t.Errorf("a read the caller may make: %d", rec.Code)
	}
	env.ok(t, http.StatusCreated, http.MethodPost, "/v1.0/groups", map[string]any{"displayName": "x", "mailNickname": "x"})

	want := []ask{{env.user.ID, true}, {env.user.ID, true}, {env.user.ID, false}, {env.sp.ID, true}}
	if !slices.Equal(asked, want) {
		t.Errorf("Authorize asked %v, want %v", asked, want)
	}
}

func TestGraphApplications(t *testing.T) {
	env := newGraphEnv(t, nil)
	created := env.ok(t, http.StatusCreated, http.MethodPost, "/v1.0/applications", map[string]any{"displayName": "ci-bot", "signInAudience": "AzureADMyOrg", "@odata.type": "#microsoft.graph.application"})
	id, appID := created["id"].(string), created["appId"].(string)
	if created["displayName"] != "ci-bot" || created["signInAudience"] != "AzureADMyOrg" || created["@odata.context"] != testBase+"/v1.0/$metadata#applications/$entity" {
		t.Errorf("created %v", created)
	}
	if creds, _ := created["passwordCredentials"].([]any); creds == nil || len(creds) != 0 {
		t.Errorf("passwordCredentials %v, want []", created["passwordCredentials"])
	}
	list := env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/applications", nil)
	if list["@odata.context"] != testBase+"/v1.0/$metadata#applications" || len(values(t, list)) != 2 {
		t.Errorf("list %v", list)
	}
	filtered := values(t, env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/applications?$filter="+url.QueryEscape("appId eq '"+appID+"'"), nil))
	if len(filtered) != 1 || filtered[0]["id"] != id {
		t.Errorf("filter by appId: %v", filtered)
	}
	if got := env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/applications/"+id, nil); got["appId"] != appID {
		t.Errorf("GET by id: %v", got)
	}
	if got := env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/applications(appId='"+appID+"')", nil); got["id"] != id {
		t.Errorf("GET by appId: %v", got)
	}

	// addPassword answers the secret once; the application lists only
	// its hint.
	cred := env.ok(t, http.StatusOK, http.MethodPost, "/v1.0/applications/"+id+"/addPassword",
		map[string]any{"passwordCredential": map[string]any{"displayName": "ci", "endDateTime": "2026-06-01T00:00:00Z"}})
	secret, _ := cred["secretText"].(string)
	if len(secret) < 40 || cred["hint"] != secret[:3] || cred["displayName"] != "ci" || cred["endDateTime"] != "2026-06-01T00:00:00Z" {
		t.Fatalf("addPassword %v", cred)
	}
	if strings.Contains(mustJSON(t, env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/applications/"+id, nil)), secret) {
		t.Error("GET application shows the secret")
	}
	noBody := env.ok(t, http.StatusOK, http.MethodPost, "/v1.0/applications/"+id+"/addPassword", nil)
	if end, _ := time.Parse(time.RFC3339, noBody["endDateTime"].(string)); !end.Equal(env.clock.Now().Add(DefaultPasswordLifetime)) {
		t.Errorf("default end %v", noBody["endDateTime"])
	}
	// The secret signs in once the application has a service principal.
	sp := env.ok(t, http.StatusCreated, http.MethodPost, "/v1.0/servicePrincipals", map[string]any{"appId": appID})
	rec, body := env.post(t, env.tenant, clientForm(appID, secret, "https://management.azure.com/.default"), nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("token with the added secret: %d %v", rec.Code, body)
	}
	env.ok(t, http.StatusNoContent, http.MethodPost, "/v1.0/applications/"+id+"/removePassword", map[string]any{"keyId": cred["keyId"]})
	rec, body = env.post(t, env.tenant, clientForm(appID, secret, "https://management.azure.com/.default"), nil)
	checkSTSError(t, rec, body, http.StatusUnauthorized, "invalid_client", 7000215)

	// Deleting the application deletes its service principal.
	env.ok(t, http.StatusNoContent, http.MethodDelete, "/v1.0/applications/"+id, nil)
	for _, path := range []string{"/v1.0/applications/" + id, "/v1.0/servicePrincipals/" + sp["id"].(string), "/v1.0/applications(appId='" + appID + "')"} {
		rec, body := env.call(t, http.MethodGet, path, nil)
		checkGraphError(t, rec, body, http.StatusNotFound, "Request_ResourceNotFound", "")
	}
	// Deleting by appId.
	other := env.ok(t, http.StatusCreated, http.MethodPost, "/v1.0/applications", map[string]any{"displayName": "other"})
	env.ok(t, http.StatusNoContent, http.MethodDelete, "/v1.0/applications(appId='"+other["appId"].(string)+"')", nil)
	rec, body = env.call(t, http.MethodDelete, "/v1.0/applications/"+other["id"].(string), nil)
	checkGraphError(t, rec, body, http.StatusNotFound, "Request_ResourceNotFound", "")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGraphServicePrincipals(t *testing.T) {
	env := newGraphEnv(t, nil)
	app := env.ok(t, http.StatusCreated, http.MethodPost, "/v1.0/applications", map[string]any{"displayName": "svc"})
	appID := app["appId"].(string)
	sp := env.ok(t, http.StatusCreated, http.MethodPost, "/v1.0/servicePrincipals", map[string]any{"appId": appID})
	for k, v := range map[string]any{"appId": appID, "displayName": "svc", "servicePrincipalType": "Application", "accountEnabled": true,
		"appOwnerOrganizationId": env.tenant, "@odata.context": testBase + "/v1.0/$metadata#servicePrincipals/$entity"} {
		if sp[k] != v {
			t.Errorf("%s = %v, want %v", k, sp[k], v)
		}
	}
	id := sp["id"].(string)
	rec, body := env.call(t, http.MethodPost, "/v1.0/servicePrincipals", map[string]any{"appId": appID})
	checkGraphError(t, rec, body, http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue", "already has one")

	all := values(t, env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/servicePrincipals", nil))
	if got, want := ids(all), ids([]map[string]any{{"id": id}, {"id": env.sp.ID}}); !slices.Equal(got, want) {
		t.Errorf("list ids %v, want %v", got, want)
	}
	byName := values(t, env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/servicePrincipals?$filter="+url.QueryEscape("displayName eq 'SVC'"), nil))
	if len(byName) != 1 || byName[0]["id"] != id {
		t.Errorf("filter by displayName (any case): %v", byName)
	}
	prefix := values(t, env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/servicePrincipals?$filter="+url.QueryEscape("startswith(displayName,'te')"), nil))
	if len(prefix) != 1 || prefix[0]["id"] != env.sp.ID {
		t.Errorf("startswith: %v", prefix)
	}
	if got := env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/servicePrincipals/"+id, nil); got["appId"] != appID {
		t.Errorf("GET by id %v", got)
	}
	if got := env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/servicePrincipals(appId='"+appID+"')", nil); got["id"] != id {
		t.Errorf("GET by appId %v", got)
	}
	env.ok(t, http.StatusNoContent, http.MethodDelete, "/v1.0/servicePrincipals/"+id, nil)
	rec, body = env.call(t, http.MethodGet, "/v1.0/servicePrincipals(appId='"+appID+"')", nil)
	checkGraphError(t, rec, body, http.StatusNotFound, "Request_ResourceNotFound", "no service principal")
	// The application stays and gets a new one; delete that by appId.
	again := env.ok(t, http.StatusCreated, http.MethodPost, "/v1.0/servicePrincipals", map[string]any{"appId": appID})
	if again["id"] == id {
		t.Error("a new service principal reused the old id")
	}
	env.ok(t, http.StatusNoContent, http.MethodDelete, "/v1.0/servicePrincipals(appId='"+appID+"')", nil)
	rec, body = env.call(t, http.MethodDelete, "/v1.0/servicePrincipals(appId='"+appID+"')", nil)
	checkGraphError(t, rec, body, http.StatusNotFound, "Request_ResourceNotFound", "")
}

func TestGraphUsers(t *testing.T) {
	env := newGraphEnv(t, nil)
	bob := map[string]any{
		"accountEnabled": true, "displayName": "Bob", "mailNickname": "bob", "userPrincipalName": "bob@contoso.com",
		"passwordProfile": map[string]any{"password": "Bob-Secret-42", "forceChangePasswordNextSignIn": false},
	}
	created := env.ok(t, http.StatusCreated, http.MethodPost, "/v1.0/users", bob)
	id := created["id"].(string)
	for k, v := range map[string]any{"displayName": "Bob", "userPrincipalName": "bob@contoso.com", "mailNickname": "bob", "accountEnabled": true,
		"userType": "Member", "@odata.context": testBase + "/v1.0/$metadata#users/$entity"} {
		if created[k] != v {
			t.Errorf("%s = %v, want %v", k, created[k], v)
		}
	}
	if strings.Contains(mustJSON(t, created), "Bob-Secret-42") || created["passwordProfile"] != nil {
		t.Error("the created user shows the password")
	}
	// Bob signs in.
	rec, body := env.post(t, env.tenant, passwordForm(AzureCLIClientID, "bob@contoso.com", "Bob-Secret-42", "https://graph.microsoft.com/.default"), nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("bob's sign-in: %d %v", rec.Code, body)
	}
	if got := env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/users/"+id, nil); got["userPrincipalName"] != "bob@contoso.com" {
		t.Errorf("GET by id %v", got)
	}
	if got := env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/users/BOB@contoso.com", nil); got["id"] != id {
		t.Errorf("GET by UPN %v", got)
	}
	list := values(t, env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/users", nil))
	if len(list) != 2 {
		t.Errorf("list %v", list)
	}
	byUPN := values(t, env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/users?$filter="+url.QueryEscape("userPrincipalName eq 'bob@contoso.com'")+"&$select=id,displayName", nil))
	if len(byUPN) != 1 || byUPN[0]["id"] != id {
		t.Errorf("filter by UPN %v", byUPN)
	}
	env.ok(t, http.StatusNoContent, http.MethodDelete, "/v1.0/users/bob@contoso.com", nil)
	rec, body = env.call(t, http.MethodGet, "/v1.0/users/"+id, nil)
	checkGraphError(t, rec, body, http.StatusNotFound, "Request_ResourceNotFound", id)
	rec, body = env.post(t, env.tenant, passwordForm(AzureCLIClientID, "bob@contoso.com", "Bob-Secret-42", "https://graph.microsoft.com/.default"), nil)
	checkSTSError(t, rec, body, http.StatusBadRequest, "invalid_grant", 50126)
}

// TestGraphRefusesBadInput: every refusal is Graph-shaped, says what to
// change, and writes nothing.
func TestGraphRefusesBadInput(t *testing.T) {
	env := newGraphEnv(t, nil)
	group := env.ok(t, http.StatusCreated, http.MethodPost, "/v1.0/groups", map[string]any{"displayName": "g", "mailNickname": "g"})
	gid := group["id"].(string)
	env.ok(t, http.StatusNoContent, http.MethodPost, "/v1.0/groups/"+gid+"/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + env.user.ID})
	user := func(change func(map[string]any)) map[string]any {
		u := map[string]any{
			"accountEnabled": true, "displayName": "Carol", "mailNickname": "carol", "userPrincipalName": "carol@contoso.com",
			"passwordProfile": map[string]any{"password": "Carol-Secret-1"},
		}
		change(u)
		return u
	}
	unknown := "66666666-6666-6666-6666-666666666666"
	tests := []struct {
		name         string
		method, path string
		body         any
		status       int
		code         string
		mention      string
	}{
		{"malformed JSON", "POST", "/v1.0/users", `{"displayName": `, 400, "BadRequest", "Unable to read JSON"},
		{"JSON array", "POST", "/v1.0/groups", `[]`, 400, "BadRequest", "JSON object"},
		{"user without properties", "POST", "/v1.0/users", `{}`, 400, "Request_BadRequest", "'accountEnabled', 'displayName', 'mailNickname', 'userPrincipalName', 'passwordProfile'"},
		{"user without password", "POST", "/v1.0/users", user(func(u map[string]any) { u["passwordProfile"] = map[string]any{} }), 400, "Request_BadRequest", "'password'"},
		{"weak password", "POST", "/v1.0/users", user(func(u map[string]any) { u["passwordProfile"] = map[string]any{"password": "carolcarol"} }), 400, "Request_BadRequest", "at least three"},
		{"duplicate UPN", "POST", "/v1.0/users", user(func(u map[string]any) { u["userPrincipalName"] = "ALICE@contoso.com" }), 400, "Request_BadRequest", "Another object with the same value for property userPrincipalName"},
		{"bad UPN", "POST", "/v1.0/users", user(func(u map[string]any) { u["userPrincipalName"] = "carol" }), 400, "Request_BadRequest", "alias@domain"},
		{"misspelt property", "POST", "/v1.0/users", user(func(u map[string]any) { u["displayname2"] = "x" }), 400, "Request_BadRequest", "Property 'displayname2' does not exist"},
		{"unsupported property", "POST", "/v1.0/users", user(func(u map[string]any) { u["jobTitle"] = "x" }), 400, "Request_BadRequest", "Supported properties"},
		{"accountEnabled as text", "POST", "/v1.0/users", user(func(u map[string]any) { u["accountEnabled"] = "yes" }), 400, "Request_BadRequest", "'accountEnabled'"},
		{"forced password change", "POST", "/v1.0/users", user(func(u map[string]any) {
			u["passwordProfile"] = map[string]any{"password": "Carol-Secret-1", "forceChangePasswordNextSignIn": true}
		}), 400, "Request_BadRequest", "forceChangePasswordNextSignIn to false"},
		{"passwordProfile not an object", "POST", "/v1.0/users", user(func(u map[string]any) { u["passwordProfile"] = "x" }), 400, "Request_BadRequest", "'passwordProfile'"},
		{"application without name", "POST", "/v1.0/applications", map[string]any{}, 400, "Request_BadRequest", "'displayName'"},
		{"multi-tenant application", "POST", "/v1.0/applications", map[string]any{"displayName": "x", "signInAudience": "AzureADMultipleOrgs"}, 400, "Request_BadRequest", "single-tenant"},
		{"service principal without appId", "POST", "/v1.0/servicePrincipals", map[string]any{}, 400, "Request_BadRequest", "'appId'"},
		{"service principal of unknown app", "POST", "/v1.0/servicePrincipals", map[string]any{"appId": unknown}, 400, "Request_BadRequest", "does not reference a valid application"},
		{"duplicate service principal", "POST", "/v1.0/servicePrincipals", map[string]any{"appId": env.app.AppID}, 409, "Request_MultipleObjectsWithSameKeyValue", "already has one"},
		{"group without mail nickname", "POST", "/v1.0/groups", map[string]any{"displayName": "x"}, 400, "Request_BadRequest", "'mailNickname'"},
		{"non-security group", "POST", "/v1.0/groups", map[string]any{"displayName": "x", "mailNickname": "x", "securityEnabled": false}, 400, "Request_BadRequest", "securityEnabled must be true"},
		{"mail-enabled group", "POST", "/v1.0/groups", map[string]any{"displayName": "x", "mailNickname": "x", "mailEnabled": true}, 400, "Request_BadRequest", "mailEnabled must be false"},
		{"Microsoft 365 group", "POST", "/v1.0/groups", map[string]any{"displayName": "x", "mailNickname": "x", "groupTypes": []string{"Unified"}}, 400, "Request_BadRequest", "groupTypes must be empty"},
		{"duplicate member", "POST", "/v1.0/groups/" + gid + "/members/$ref", map[string]any{"@odata.id": "https://127.0.0.1:8443/v1.0/users/" + env.user.ID}, 400, "Request_BadRequest", "One or more added object references already exist"},
		{"unknown member", "POST", "/v1.0/groups/" + gid + "/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + unknown}, 404, "Request_ResourceNotFound", unknown},
		{"member ref of the wrong kind", "POST", "/v1.0/groups/" + gid + "/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/groups/" + env.sp.ID}, 404, "Request_ResourceNotFound", "service principal"},
		{"member ref not a URL of an object", "POST", "/v1.0/groups/" + gid + "/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/things/" + env.sp.ID}, 400, "Request_BadRequest", "directoryObjects/{id}"},
		{"member ref missing", "POST", "/v1.0/groups/" + gid + "/members/$ref", map[string]any{"id": env.sp.ID}, 400, "Request_BadRequest", "Property 'id'"},
		{"group in itself", "POST", "/v1.0/groups/" + gid + "/members/$ref", map[string]any{"@odata.id": "/v1.0/directoryObjects/" + gid}, 400, "Request_BadRequest", "itself"},
		{"members of unknown group", "POST", "/v1.0/groups/" + unknown + "/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + env.sp.ID}, 404, "Request_ResourceNotFound", unknown},
		{"remove non-member", "DELETE", "/v1.0/groups/" + gid + "/members/" + env.sp.ID + "/$ref", nil, 404, "Request_ResourceNotFound", "not a direct member"},
		{"addPassword to unknown application", "POST", "/v1.0/applications/" + unknown + "/addPassword", nil, 404, "Request_ResourceNotFound", unknown},
		{"addPassword ending in the past", "POST", "/v1.0/applications/" + env.app.ObjectID + "/addPassword", map[string]any{"passwordCredential": map[string]any{"endDateTime": "2020-01-01T00:00:00Z"}}, 400, "Request_BadRequest", "in the future"},
		{"addPassword with a bad date", "POST", "/v1.0/applications/" + env.app.ObjectID + "/addPassword", map[string]any{"passwordCredential": map[string]any{"endDateTime": "tomorrow"}}, 400, "Request_BadRequest", "endDateTime"},
		{"addPassword with secretText", "POST", "/v1.0/applications/" + env.app.ObjectID + "/addPassword", map[string]any{"passwordCredential": map[string]any{"secretText": "mine"}}, 400, "Request_BadRequest", "Property 'secretText'"},
		{"removePassword without keyId", "POST", "/v1.0/applications/" + env.app.ObjectID + "/removePassword", map[string]any{}, 400, "Request_BadRequest", "'keyId'"},
		{"removePassword of unknown key", "POST", "/v1.0/applications/" + env.app.ObjectID + "/removePassword", map[string]any{"keyId": unknown}, 404, "Request_ResourceNotFound", unknown},
		{"unknown user", "GET", "/v1.0/users/nobody@contoso.com", nil, 404, "Request_ResourceNotFound", "nobody@contoso.com"},
		{"user by group id", "GET", "/v1.0/users/" + gid, nil, 404, "Request_ResourceNotFound", gid},
		{"delete unknown group", "DELETE", "/v1.0/groups/" + unknown, nil, 404, "Request_ResourceNotFound", unknown},
		{"delete unknown service principal", "DELETE", "/v1.0/servicePrincipals/" + unknown, nil, 404, "Request_ResourceNotFound", unknown},
		{"application by client id", "GET", "/v1.0/applications/" + env.app.AppID, nil, 404, "Request_ResourceNotFound", env.app.AppID},
		{"unknown directory object", "GET", "/v1.0/directoryObjects/" + unknown, nil, 404, "Request_ResourceNotFound", unknown},
		{"unsupported filter", "GET", "/v1.0/users?$filter=" + url.QueryEscape("accountEnabled eq true"), nil, 400, "Request_UnsupportedQuery", "displayName, userPrincipalName, mailNickname"},
		{"filter on an unknown property", "GET", "/v1.0/groups?$filter=" + url.QueryEscape("securityEnabled eq 'true'"), nil, 400, "Request_UnsupportedQuery", "displayName, mailNickname"},
		{"two filter clauses", "GET", "/v1.0/users?$filter=" + url.QueryEscape("displayName eq 'a' and mailNickname eq 'b'"), nil, 400, "Request_UnsupportedQuery", "one clause"},
		{"orderby", "GET", "/v1.0/users?$orderby=displayName", nil, 400, "Request_UnsupportedQuery", "$orderby"},
		{"bad top", "GET", "/v1.0/users?$top=0", nil, 400, "Request_BadRequest", "$top"},
		{"unknown segment", "GET", "/v1.0/devices", nil, 400, "BadRequest", "'devices'"},
		{"unknown navigation", "GET", "/v1.0/users/" + env.user.ID + "/memberOf", nil, 400, "BadRequest", "memberOf"},
		{"unknown alternate key", "GET", "/v1.0/users(userPrincipalName='alice@contoso.com')", nil, 400, "BadRequest", "users("},
		{"method not allowed", "PATCH", "/v1.0/groups/" + env.user.ID, `{}`, 405, "Request_BadRequest", "GET or DELETE"},
		{"oversized body", "POST", "/v1.0/groups", `{"displayName": "` + strings.Repeat("x", maxGraphBody) + `"}`, 413, "Request_BadRequest", "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := env.checkRefused(t, tt.method, tt.path, tt.body, tt.status, tt.code, tt.mention)
			if tt.status == 405 && rec.Header().Get("Allow") != "GET, DELETE" {
				t.Errorf("Allow %q", rec.Header().Get("Allow"))
			}
		})
	}
}

func TestGraphGroupsAndMembers(t *testing.T) {
	env := newGraphEnv(t, nil)
	created := env.ok(t, http.StatusCreated, http.MethodPost, "/v1.0/groups",
		map[string]any{"displayName": "AI team", "mailNickname": "ai-team", "description": "builds", "securityEnabled": true, "mailEnabled": false, "groupTypes": []string{}})
	gid := created["id"].(string)
	for k, v := range map[string]any{"displayName": "AI team", "mailNickname": "ai-team", "description": "builds", "securityEnabled": true, "mailEnabled": false} {
		if created[k] != v {
			t.Errorf("%s = %v, want %v", k, created[k], v)
		}
	}
	inner := env.ok(t, http.StatusCreated, http.MethodPost, "/v1.0/groups", map[string]any{"displayName": "Inner", "mailNickname": "inner"})
	if inner["description"] != nil {
		t.Errorf("description of a group without one: %v", inner["description"])
	}
	innerID := inner["id"].(string)
	// References with Graph's host, this server's, and a relative path.
	for _, ref := range []string{
		"https://graph.microsoft.com/v1.0/directoryObjects/" + env.user.ID,
		"https://127.0.0.1:8443/v1.0/servicePrincipals/" + strings.ToUpper(env.sp.ID),
		"/v1.0/groups/" + innerID,
	} {
		env.ok(t, http.StatusNoContent, http.MethodPost, "/v1.0/groups/"+gid+"/members/$ref", map[string]any{"@odata.id": ref})
	}
	members := env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/groups/"+gid+"/members", nil)
	if members["@odata.context"] != testBase+"/v1.0/$metadata#directoryObjects" {
		t.Errorf("context %v", members["@odata.context"])
	}
	types := map[string]string{}
	for _, m := range values(t, members) {
		types[m["id"].(string)], _ = m["@odata.type"].(string)
	}
	want := map[string]string{env.user.ID: "#microsoft.graph.user", env.sp.ID: "#microsoft.graph.servicePrincipal", innerID: "#microsoft.graph.group"}
	if !mapsEqual(types, want) {
		t.Errorf("members %v, want %v", types, want)
	}
	memberOf, _ := env.dir.MemberOf(context.Background(), env.tenant)
	if len(memberOf) != 3 || memberOf[env.user.ID][0] != gid {
		t.Errorf("MemberOf after adds: %v", memberOf)
	}
	env.ok(t, http.StatusNoContent, http.MethodDelete, "/v1.0/groups/"+gid+"/members/"+env.sp.ID+"/$ref", nil)
	if got := values(t, env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/groups/"+gid+"/members", nil)); len(got) != 2 {
		t.Errorf("members after remove: %v", got)
	}
	// Deleting the user and the inner group empties the list.
	env.ok(t, http.StatusNoContent, http.MethodDelete, "/v1.0/users/"+env.user.ID, nil)
	env.ok(t, http.StatusNoContent, http.MethodDelete, "/v1.0/groups/"+innerID, nil)
	if got := values(t, env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/groups/"+gid+"/members", nil)); len(got) != 0 {
		t.Errorf("members after deleting them: %v", got)
	}
	if got := env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/groups/"+gid, nil); got["id"] != gid || got["@odata.context"] != testBase+"/v1.0/$metadata#groups/$entity" {
		t.Errorf("GET group %v", got)
	}
	byNick := values(t, env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/groups?$filter="+url.QueryEscape("mailNickname eq 'ai-team'"), nil))
	if len(byNick) != 1 {
		t.Errorf("filter by mailNickname %v", byNick)
	}
	env.ok(t, http.StatusNoContent, http.MethodDelete, "/v1.0/groups/"+gid, nil)
	if got := values(t, env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/groups", nil)); len(got) != 0 {
		t.Errorf("groups after delete: %v", got)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestGraphDirectoryObjects(t *testing.T) {
	env := newGraphEnv(t, nil)
	g, _ := env.dir.CreateGroup(context.Background(), env.tenant, GroupInput{DisplayName: "G", MailNickname: "g"})
	for id, typ := range map[string]string{
		env.user.ID:      "#microsoft.graph.user",
		env.sp.ID:        "#microsoft.graph.servicePrincipal",
		g.ID:             "#microsoft.graph.group",
		env.app.ObjectID: "#microsoft.graph.application",
	} {
		got := env.ok(t, http.StatusOK, http.MethodGet, "/v1.0/directoryObjects/"+id, nil)
		if got["id"] != id || got["@odata.type"] != typ || got["@odata.context"] != testBase+"/v1.0/$metadata#directoryObjects/$entity" {
			t.Errorf("directoryObjects/%s = %v, want type %s", id, got, typ)
		}
	}
}

func TestGraphPaging(t *testing.T) {
	env := newGraphEnv(t, nil)
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		if _, err := env.dir.CreateGroup(context.Background(), env.tenant, GroupInput{DisplayName: name, MailNickname: name}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	next := "/v1.0/groups?$top=2"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page := env.ok(t, http.StatusOK, http.MethodGet, next, nil)
		items := values(t, page)
		if len(items) > 2 {
			t.Fatalf("page of %d items with $top=2", len(items))
		}
		for _, it := range items {
			seen = append(seen, it["id"].(string))
		}
		link, _ := page["@odata.nextLink"].(string)
		next = strings.TrimPrefix(link, testBase)
	}
	if len(seen) != 5 || !slices.IsSorted(seen) || len(slices.Compact(slices.Clone(seen))) != 5 {
		t.Errorf("paged through %v, want 5 distinct groups in order", seen)
	}
}

func TestGraphServes(t *testing.T) {
	env := newGraphEnv(t, nil)
	for target, want := range map[string]bool{
		"GET /v1.0/users":                            true,
		"POST /v1.0/groups/x/members/$ref":           true,
		"GET /v1.0/anything":                         true,
		"GET /v1.0":                                  true,
		"GET /beta/users":                            false,
		"GET /subscriptions/x/resourceGroups":        false,
		"POST /" + env.tenant + "/oauth2/v2.0/token": false,
		"GET /v1.0x/users":                           false,
	} {
		method, path, _ := strings.Cut(target, " ")
		if got := env.graph.Serves(httptest.NewRequest(method, path, nil)); got != want {
			t.Errorf("Serves(%s) = %v, want %v", target, got, want)
		}
	}
}

// TestApplicationPublicClientFlows: isFallbackPublicClient is set at
// creation or with PATCH, and always shown.
func TestApplicationPublicClientFlows(t *testing.T) {
	env := newGraphEnv(t, nil)
	app := env.ok(t, http.StatusCreated, http.MethodPost, "/v1.0/applications", map[string]any{"displayName": "cli", "isFallbackPublicClient": true})
	if app["isFallbackPublicClient"] != true {
		t.Fatalf("created %v", app)
	}
	path := "/v1.0/applications/" + app["id"].(string)
	env.ok(t, http.StatusNoContent, http.MethodPatch, path, map[string]any{"isFallbackPublicClient": false, "displayName": "cli2"})
	got := env.ok(t, http.StatusOK, http.MethodGet, path, nil)
	if got["isFallbackPublicClient"] != false || got["displayName"] != "cli2" {
		t.Errorf("after PATCH: %v", got)
	}
	if other := env.ok(t, http.StatusCreated, http.MethodPost, "/v1.0/applications", map[string]any{"displayName": "svc"}); other["isFallbackPublicClient"] != false {
		t.Errorf("default: %v", other["isFallbackPublicClient"])
	}
	env.checkRefused(t, http.MethodPatch, path, map[string]any{"isFallbackPublicClient": "yes"}, http.StatusBadRequest, "Request_BadRequest", "isFallbackPublicClient")
	env.checkRefused(t, http.MethodPatch, path, map[string]any{"appId": "x"}, http.StatusBadRequest, "Request_BadRequest", "appId")
}

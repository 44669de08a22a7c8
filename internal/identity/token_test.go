package identity

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTokenEndpointIssues(t *testing.T) {
	env := newTestEnv(t)
	tests := []struct {
		name    string
		form    url.Values
		basic   []string
		wantAud string
	}{
		{"client_secret_post", clientForm(env.app.AppID, env.secret, "https://management.azure.com/.default"), nil, AudienceManagement},
		{"MSAL adds OIDC scopes", clientForm(env.app.AppID, env.secret, "https://management.azure.com/.default openid offline_access profile"), nil, AudienceManagement},
		{"classic ARM resource", clientForm(env.app.AppID, env.secret, "https://management.core.windows.net//.default"), nil, AudienceManagement},
		{"trailing slash resource", clientForm(env.app.AppID, env.secret, "https://management.azure.com//.default"), nil, AudienceManagement},
		{"data plane", clientForm(env.app.AppID, env.secret, "https://cognitiveservices.azure.com/.default"), nil, AudienceCognitiveServices},
		{"AI Foundry", clientForm(env.app.AppID, env.secret, "https://ai.azure.com/.default"), nil, AudienceCognitiveServices},
		{"Graph", clientForm(env.app.AppID, env.secret, "https://graph.microsoft.com/.default"), nil, AudienceGraph},
		{"client_secret_basic", clientForm("", "", "https://management.azure.com/.default"), []string{env.app.AppID, env.secret}, AudienceManagement},
		{"basic with matching client_id", clientForm(env.app.AppID, "", "https://management.azure.com/.default"), []string{env.app.AppID, env.secret}, AudienceManagement},
		{"client id in upper case", clientForm(strings.ToUpper(env.app.AppID), env.secret, "https://management.azure.com/.default"), nil, AudienceManagement},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, body := env.post(t, env.tenant, tt.form, tt.basic)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %v", rec.Code, body)
			}
			if body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) || body["ext_expires_in"] != float64(3600) {
				t.Errorf("response %v", body)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			token, _ := body["access_token"].(string)
			p, err := env.iss.Verify(token, tt.wantAud)
			if err != nil {
				t.Fatalf("issued token does not verify for %s: %v", tt.wantAud, err)
			}
			// oid is the service principal's, as in Entra.
			want := Principal{TenantID: env.tenant, ObjectID: env.sp.ID, AppID: env.app.AppID, Audience: tt.wantAud,
				Type: PrincipalTypeApp, ExpiresAt: env.clock.Now().Add(time.Hour)}
			if *p != want {
				t.Errorf("principal %+v\nwant      %+v", *p, want)
			}
		})
	}
}

func TestTokenClaims(t *testing.T) {
	env := newTestEnv(t)
	_, body := env.post(t, env.tenant, clientForm(env.app.AppID, env.secret, "https://management.azure.com/.default"), nil)
	token := body["access_token"].(string)

	header := segmentJSON(t, token, 0)
	if header["alg"] != "ES256" || header["typ"] != "JWT" || header["kid"] != env.key.KeyID() {
		t.Errorf("header %v", header)
	}
	claims := segmentJSON(t, token, 1)
	now := float64(env.clock.Now().Unix())
	want := map[string]any{
		"iss": testBase + "/" + env.tenant + "/v2.0", "aud": AudienceManagement,
		"tid": env.tenant, "oid": env.sp.ID, "sub": env.sp.ID,
		"appid": env.app.AppID, "azp": env.app.AppID, "azpacr": "1",
		"idtyp": "app", "ver": "2.0",
		"iat": now, "nbf": now, "exp": now + 3600,
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		t.Error("no jti")
	}
	if len(claims) != len(want)+1 {
		t.Errorf("unexpected claims: %v", claims)
	}
}

func TestTokenEndpointRefuses(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	expiring, _, err := env.dir.AddPassword(ctx, env.tenant, env.app.AppID, "expiring", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Another tenant's application cannot sign in to this tenant.
	other, _ := env.dir.EnsureTenant(ctx, "88888888-8888-8888-8888-888888888888", "Other")
	otherApp, _ := env.dir.CreateApplication(ctx, other.ID, "other")
	otherSecret, _, _ := env.dir.AddPassword(ctx, other.ID, otherApp.AppID, "x", 0)

	const mgmt = "https://management.azure.com/.default"
	unknownClient := "99999999-9999-9999-9999-999999999999"
	tests := []struct {
		name       string
		tenant     string
		form       url.Values
		basic      []string
		advance    time.Duration
		wantStatus int
		wantError  string
		wantCode   float64
	}{
		{"wrong secret", env.tenant, clientForm(env.app.AppID, "not-the-secret", mgmt), nil, 0, 401, "invalid_client", 7000215},
		{"unknown client", env.tenant, clientForm(unknownClient, env.secret, mgmt), nil, 0, 401, "invalid_client", 7000215},
		{"client id not a GUID", env.tenant, clientForm("my-app", env.secret, mgmt), nil, 0, 401, "invalid_client", 7000215},
		{"app of another tenant", env.tenant, clientForm(otherApp.AppID, otherSecret, mgmt), nil, 0, 401, "invalid_client", 7000215},
		{"wrong secret via basic", env.tenant, clientForm("", "", mgmt), []string{env.app.AppID, "nope"}, 0, 401, "invalid_client", 7000215},
		{"expired credential", env.tenant, clientForm(env.app.AppID, expiring, mgmt), nil, 2 * time.Minute, 401, "invalid_client", 7000222},
		{"no secret", env.tenant, clientForm(env.app.AppID, "", mgmt), nil, 0, 401, "invalid_client", 7000218},
		{"no client id", env.tenant, clientForm("", env.secret, mgmt), nil, 0, 400, "invalid_request", 900144},
		{"two authentication methods", env.tenant, clientForm("", env.secret, mgmt), []string{env.app.AppID, env.secret}, 0, 400, "invalid_request", 0},
		{"basic and other client_id", env.tenant, clientForm(unknownClient, "", mgmt), []string{env.app.AppID, env.secret}, 0, 400, "invalid_request", 0},
		{"no grant type", env.tenant, url.Values{"client_id": {env.app.AppID}, "client_secret": {env.secret}, "scope": {mgmt}}, nil, 0, 400, "invalid_request", 900144},
		{"authorization code grant", env.tenant, func() url.Values {
			v := clientForm(env.app.AppID, env.secret, mgmt)
			v.Set("grant_type", "authorization_code")
			return v
		}(), nil, 0, 400, "unsupported_grant_type", 70003},
		{"password grant without username", env.tenant, func() url.Values {
			v := clientForm(env.app.AppID, env.secret, mgmt)
			v.Set("grant_type", "password")
			return v
		}(), nil, 0, 400, "invalid_request", 900144},
		{"no scope", env.tenant, clientForm(env.app.AppID, env.secret, ""), nil, 0, 400, "invalid_request", 900144},
		{"scope without /.default", env.tenant, clientForm(env.app.AppID, env.secret, "https://management.azure.com/user_impersonation"), nil, 0, 400, "invalid_scope", 1002012},
		{"only OIDC scopes", env.tenant, clientForm(env.app.AppID, env.secret, "openid profile"), nil, 0, 400, "invalid_scope", 1002012},
		{"two resources", env.tenant, clientForm(env.app.AppID, env.secret, mgmt+" https://graph.microsoft.com/.default"), nil, 0, 400, "invalid_scope", 70011},
		{"unknown resource", env.tenant, clientForm(env.app.AppID, env.secret, "https://vault.azure.net/.default"), nil, 0, 400, "invalid_resource", 500011},
		{"unknown tenant", "77777777-7777-7777-7777-777777777777", clientForm(env.app.AppID, env.secret, mgmt), nil, 0, 404, "invalid_tenant", 90002},
		{"tenant not a GUID", "contoso.onmicrosoft.com", clientForm(env.app.AppID, env.secret, mgmt), nil, 0, 404, "invalid_tenant", 90002},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.clock.Advance(tt.advance)
			defer env.clock.Advance(-tt.advance)
			rec, body := env.post(t, tt.tenant, tt.form, tt.basic)
			checkSTSError(t, rec, body, tt.wantStatus, tt.wantError, tt.wantCode)
			if _, ok := body["access_token"]; ok {
				t.Error("refusal carries an access token")
			}
			if tt.basic != nil && tt.wantStatus == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 to HTTP Basic without a WWW-Authenticate challenge")
			}
		})
	}
}

// TestUnknownClientLooksLikeWrongSecret: the two refusals differ only in
// the echoed client id and the per-response trace fields.
func TestUnknownClientLooksLikeWrongSecret(t *testing.T) {
	env := newTestEnv(t)
	const unknown = "99999999-9999-9999-9999-999999999999"
	const mgmt = "https://management.azure.com/.default"
	recA, wrong := env.post(t, env.tenant, clientForm(env.app.AppID, "nope", mgmt), nil)
	recB, missing := env.post(t, env.tenant, clientForm(unknown, "nope", mgmt), nil)
	firstLine := func(body map[string]any, clientID string) string {
		d, _ := body["error_description"].(string)
		d, _, _ = strings.Cut(d, "\r\n")
		return strings.ReplaceAll(d, clientID, "{client}")
	}
	if recA.Code != recB.Code || wrong["error"] != missing["error"] || firstLine(wrong, env.app.AppID) != firstLine(missing, unknown) {
		t.Errorf("wrong secret and unknown client answer differently:\n%d %v\n%d %v", recA.Code, wrong, recB.Code, missing)
	}
}

func TestTokenEndpointMethodAndBody(t *testing.T) {
	env := newTestEnv(t)
	rec, body := env.get(t, "/"+env.tenant+"/oauth2/v2.0/token")
	checkSTSError(t, rec, body, http.StatusMethodNotAllowed, "invalid_request", 900561)
	if rec.Header().Get("Allow") != http.MethodPost {
		t.Errorf("Allow = %q", rec.Header().Get("Allow"))
	}

	// Credentials in the query string are not read.
	q := clientForm(env.app.AppID, env.secret, "https://management.azure.com/.default")
	req := httptest.NewRequest(http.MethodPost, testBase+"/"+env.tenant+"/oauth2/v2.0/token?"+q.Encode(), nil)
	rec, body = env.do(t, req)
	checkSTSError(t, rec, body, http.StatusBadRequest, "invalid_request", 900144)

	// A JSON body is not a form.
	req = httptest.NewRequest(http.MethodPost, testBase+"/"+env.tenant+"/oauth2/v2.0/token", strings.NewReader(`{"grant_type":"client_credentials"}`))
	req.Header.Set("Content-Type", "application/json")
	rec, body = env.do(t, req)
	checkSTSError(t, rec, body, http.StatusBadRequest, "invalid_request", 900144)

	// An oversized body is refused without reading it all.
	big := "grant_type=client_credentials&pad=" + strings.Repeat("a", maxFormBytes)
	req = httptest.NewRequest(http.MethodPost, testBase+"/"+env.tenant+"/oauth2/v2.0/token", strings.NewReader(big))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec, body = env.do(t, req)
	checkSTSError(t, rec, body, http.StatusBadRequest, "invalid_request", 900144)

	// The correlation id echoes MSAL's client-request-id.
	const crid = "0f0e0d0c-0b0a-0908-0706-050403020100"
	req = httptest.NewRequest(http.MethodPost, testBase+"/"+env.tenant+"/oauth2/v2.0/token", strings.NewReader("grant_type=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("client-request-id", crid)
	_, body = env.do(t, req)
	if body["correlation_id"] != crid {
		t.Errorf("correlation_id %v, want %s", body["correlation_id"], crid)
	}
}

func TestEndpointsBeforeBaseURL(t *testing.T) {
	env := newTestEnvWith(t, func() string { return "" }, nil)
	rec, body := env.post(t, env.tenant, clientForm(env.app.AppID, env.secret, "https://management.azure.com/.default"), nil)
	checkSTSError(t, rec, body, http.StatusServiceUnavailable, "temporarily_unavailable", 0)
	if _, err := env.iss.Verify("a.b.c", AudienceManagement); err == nil {
		t.Error("Verify succeeded without a base URL")
	}
}

func checkSTSError(t *testing.T, rec *httptest.ResponseRecorder, body map[string]any, status int, code string, aadsts float64) {
	t.Helper()
	if rec.Code != status || body["error"] != code {
		t.Fatalf("got %d %v, want %d %s", rec.Code, body["error"], status, code)
	}
	desc, _ := body["error_description"].(string)
	codes, _ := body["error_codes"].([]any)
	if aadsts != 0 {
		prefix := fmt.Sprintf("AADSTS%d: ", int(aadsts))
		if !strings.HasPrefix(desc, prefix) || len(codes) != 1 || codes[0] != aadsts {
			t.Errorf("description %q codes %v, want %s and [%v]", desc, codes, prefix, aadsts)
		}
	}
	for _, f := range []string{"timestamp", "trace_id", "correlation_id"} {
		if s, _ := body[f].(string); s == "" {
			t.Errorf("no %s in %v", f, body)
		}
	}
	if !strings.Contains(desc, "\r\nTrace ID: ") || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Errorf("not Entra-shaped: %q, Content-Type %q", desc, rec.Header().Get("Content-Type"))
	}
}

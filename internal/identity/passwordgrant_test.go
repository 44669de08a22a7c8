package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// userEnv is a testEnv with a user.
type userEnv struct {
	*testEnv
	user User
}

const alicePassword = "Correct-Horse-9"

func newUserEnv(t *testing.T) *userEnv {
	t.Helper()
	env := newTestEnv(t)
	u, err := env.dir.CreateUser(context.Background(), env.tenant, alice())
	if err != nil {
		t.Fatal(err)
	}
	return &userEnv{testEnv: env, user: u}
}

func passwordForm(clientID, username, password, scope string) url.Values {
	v := url.Values{"grant_type": {"password"}, "scope": {scope}}
	for k, val := range map[string]string{"client_id": clientID, "username": username, "password": password} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return v
}

// allowPublicClient turns on the application's public client flows.
func (env *userEnv) allowPublicClient(t *testing.T, appID string, public bool) {
	t.Helper()
	if _, err := env.dir.UpdateApplication(context.Background(), env.tenant, appID, ApplicationPatch{IsFallbackPublicClient: &public}); err != nil {
		t.Fatal(err)
	}
}

// TestPasswordGrantNeedsPublicClientOrSecret: a tenant application that
// does not allow public client flows signs users in only with its secret.
func TestPasswordGrantNeedsPublicClientOrSecret(t *testing.T) {
	env := newUserEnv(t)
	form := passwordForm(env.app.AppID, "alice@contoso.com", alicePassword, "https://management.azure.com/.default")
	rec, body := env.post(t, env.tenant, form, nil)
	checkSTSError(t, rec, body, http.StatusUnauthorized, "invalid_client", 7000218)
	form.Set("client_secret", env.secret)
	if rec, body := env.post(t, env.tenant, form, nil); rec.Code != http.StatusOK {
		t.Fatalf("with the secret: %d %v", rec.Code, body)
	}
	env.allowPublicClient(t, env.app.AppID, true)
	form.Del("client_secret")
	if rec, body := env.post(t, env.tenant, form, nil); rec.Code != http.StatusOK {
		t.Fatalf("a public client without its secret: %d %v", rec.Code, body)
	}
	env.allowPublicClient(t, env.app.AppID, false)
	rec, body = env.post(t, env.tenant, form, nil)
	checkSTSError(t, rec, body, http.StatusUnauthorized, "invalid_client", 7000218)
}

func TestPasswordGrantIssuesUserToken(t *testing.T) {
	env := newUserEnv(t)
	env.allowPublicClient(t, env.app.AppID, true)
	withSecret := func(v url.Values) url.Values { v.Set("client_secret", env.secret); return v }
	tests := []struct {
		name       string
		form       url.Values
		basic      []string
		wantAud    string
		wantClient string
		wantACR    string
		wantScope  string
		wantID     bool
	}{
		{"Azure CLI client", passwordForm(AzureCLIClientID, "alice@contoso.com", alicePassword, "https://management.azure.com/.default"),
			nil, AudienceManagement, AzureCLIClientID, "0", "https://management.azure.com/.default", false},
		{"Azure CLI client id in upper case, az's scopes", passwordForm(strings.ToUpper(AzureCLIClientID), "ALICE@contoso.com", alicePassword, "https://management.core.windows.net//.default offline_access openid profile"),
			nil, AudienceManagement, AzureCLIClientID, "0", "https://management.core.windows.net//.default openid profile", true},
		{"tenant application as public client", passwordForm(env.app.AppID, "alice@contoso.com", alicePassword, "https://cognitiveservices.azure.com/user_impersonation"),
			nil, AudienceCognitiveServices, env.app.AppID, "0", "https://cognitiveservices.azure.com/user_impersonation", false},
		{"tenant application with its secret", withSecret(passwordForm(env.app.AppID, "alice@contoso.com", alicePassword, "https://graph.microsoft.com/.default")),
			nil, AudienceGraph, env.app.AppID, "1", "https://graph.microsoft.com/.default", false},
		{"tenant application with HTTP Basic", passwordForm("", "alice@contoso.com", alicePassword, "https://graph.microsoft.com/.default"),
			[]string{env.app.AppID, env.secret}, AudienceGraph, env.app.AppID, "1", "https://graph.microsoft.com/.default", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, body := env.post(t, env.tenant, tt.form, tt.basic)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %v", rec.Code, body)
			}
			if body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) || body["scope"] != tt.wantScope {
				t.Errorf("response %v", body)
			}
			if _, ok := body["refresh_token"]; ok {
				t.Error("a refresh token was issued; Perimeter has no refresh grant")
			}
			token, _ := body["access_token"].(string)
			p, err := env.iss.Verify(token, tt.wantAud)
			if err != nil {
				t.Fatalf("user token does not verify: %v", err)
			}
			want := Principal{TenantID: env.tenant, ObjectID: env.user.ID, AppID: tt.wantClient, Audience: tt.wantAud,
				Type: PrincipalTypeUser, UPN: "alice@contoso.com", ExpiresAt: env.clock.Now().Add(time.Hour)}
			if *p != want {
				t.Errorf("principal %+v\nwant      %+v", *p, want)
			}
			claims := segmentJSON(t, token, 1)
			for k, v := range map[string]any{
				"idtyp": "user", "oid": env.user.ID, "sub": env.user.ID, "upn": "alice@contoso.com", "unique_name": "alice@contoso.com",
				"name": "Alice Example", "scp": "user_impersonation", "appid": tt.wantClient, "azp": tt.wantClient, "azpacr": tt.wantACR,
				"tid": env.tenant, "ver": "2.0",
			} {
				if claims[k] != v {
					t.Errorf("claim %s = %v, want %v", k, claims[k], v)
				}
			}
			// MSAL builds the account from client_info (and the ID token).
			info, err := base64.RawURLEncoding.DecodeString(body["client_info"].(string))
			var ci map[string]string
			if err != nil || json.Unmarshal(info, &ci) != nil || ci["uid"] != env.user.ID || ci["utid"] != env.tenant {
				t.Errorf("client_info %s (%v)", info, err)
			}
			idToken, hasID := body["id_token"].(string)
			if hasID != tt.wantID {
				t.Fatalf("id_token present %v, want %v", hasID, tt.wantID)
			}
			if hasID {
				idc := segmentJSON(t, idToken, 1)
				if idc["aud"] != tt.wantClient || idc["preferred_username"] != "alice@contoso.com" || idc["oid"] != env.user.ID || idc["tid"] != env.tenant {
					t.Errorf("id token claims %v", idc)
				}
				// An ID token is not an access token.
				if _, err := env.iss.Verify(idToken, tt.wantClient, AudienceManagement); err == nil {
					t.Error("the ID token verifies as an access token")
				}
			}
		})
	}
}

func TestPasswordGrantRefuses(t *testing.T) {
	env := newUserEnv(t)
	ctx := context.Background()
	off := alice()
	off.UserPrincipalName, off.MailNickname, off.AccountEnabled = "off@contoso.com", "off", false
	if _, err := env.dir.CreateUser(ctx, env.tenant, off); err != nil {
		t.Fatal(err)
	}
	const mgmt = "https://management.azure.com/.default"
	cli := AzureCLIClientID
	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantError  string
		wantCode   float64
	}{
		{"wrong password", passwordForm(cli, "alice@contoso.com", "Correct-Horse-8", mgmt), 400, "invalid_grant", 50126},
		{"unknown user", passwordForm(cli, "bob@contoso.com", alicePassword, mgmt), 400, "invalid_grant", 50126},
		{"object id as username", passwordForm(cli, env.user.ID, alicePassword, mgmt), 400, "invalid_grant", 50126},
		{"disabled user", passwordForm(cli, "off@contoso.com", alicePassword, mgmt), 400, "invalid_grant", 50057},
		{"no username", passwordForm(cli, "", alicePassword, mgmt), 400, "invalid_request", 900144},
		{"no password", passwordForm(cli, "alice@contoso.com", "", mgmt), 400, "invalid_request", 900144},
		{"no client id", passwordForm("", "alice@contoso.com", alicePassword, mgmt), 400, "invalid_request", 900144},
		{"no scope", passwordForm(cli, "alice@contoso.com", alicePassword, ""), 400, "invalid_request", 900144},
		{"unknown client", passwordForm("99999999-9999-9999-9999-999999999999", "alice@contoso.com", alicePassword, mgmt), 400, "unauthorized_client", 700016},
		{"public client with a secret", func() url.Values {
			v := passwordForm(cli, "alice@contoso.com", alicePassword, mgmt)
			v.Set("client_secret", "x")
			return v
		}(), 401, "invalid_client", 700025},
		{"application with a wrong secret", func() url.Values {
			v := passwordForm(env.app.AppID, "alice@contoso.com", alicePassword, mgmt)
			v.Set("client_secret", "wrong")
			return v
		}(), 401, "invalid_client", 7000215},
		{"unknown resource", passwordForm(cli, "alice@contoso.com", alicePassword, "https://vault.azure.net/.default"), 400, "invalid_resource", 500011},
		{"delegated scope Perimeter does not know", passwordForm(cli, "alice@contoso.com", alicePassword, "https://graph.microsoft.com/User.Read"), 400, "invalid_scope", 70011},
		{"two resources", passwordForm(cli, "alice@contoso.com", alicePassword, mgmt+" https://graph.microsoft.com/.default"), 400, "invalid_scope", 70011},
		{"only OIDC scopes", passwordForm(cli, "alice@contoso.com", alicePassword, "openid profile"), 400, "invalid_scope", 70011},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, body := env.post(t, env.tenant, tt.form, nil)
			checkSTSError(t, rec, body, tt.wantStatus, tt.wantError, tt.wantCode)
			if _, ok := body["access_token"]; ok {
				t.Error("refusal carries an access token")
			}
			if strings.Contains(rec.Body.String(), alicePassword) {
				t.Error("the refusal echoes the password")
			}
		})
	}
}

// TestUnknownUserLooksLikeWrongPassword: the two refusals are the same
// apart from the per-response trace fields.
func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	env := newUserEnv(t)
	const mgmt = "https://management.azure.com/.default"
	recA, wrong := env.post(t, env.tenant, passwordForm(AzureCLIClientID, "alice@contoso.com", "nope", mgmt), nil)
	recB, unknown := env.post(t, env.tenant, passwordForm(AzureCLIClientID, "nobody@contoso.com", "nope", mgmt), nil)
	firstLine := func(body map[string]any) string {
		d, _ := body["error_description"].(string)
		d, _, _ = strings.Cut(d, "\r\n")
		return d
	}
	if recA.Code != recB.Code || wrong["error"] != unknown["error"] || firstLine(wrong) != firstLine(unknown) {
		t.Errorf("wrong password and unknown user answer differently:\n%d %v\n%d %v", recA.Code, wrong, recB.Code, unknown)
	}
}

func TestClientCredentialsNeedServicePrincipal(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	app, _ := env.dir.CreateApplication(ctx, env.tenant, "no sp yet")
	secret, _, _ := env.dir.AddPassword(ctx, env.tenant, app.AppID, "s", 0)
	const mgmt = "https://management.azure.com/.default"
	rec, body := env.post(t, env.tenant, clientForm(app.AppID, secret, mgmt), nil)
	checkSTSError(t, rec, body, http.StatusUnauthorized, "invalid_client", 7000229)
	if desc := body["error_description"].(string); !strings.Contains(desc, "missing service principal") || !strings.Contains(desc, "/v1.0/servicePrincipals") {
		t.Errorf("the refusal does not say to create the service principal: %s", desc)
	}
	// A wrong secret still answers as a wrong secret: only the holder of
	// the secret learns the application lacks a service principal.
	rec, body = env.post(t, env.tenant, clientForm(app.AppID, "wrong", mgmt), nil)
	checkSTSError(t, rec, body, http.StatusUnauthorized, "invalid_client", 7000215)

	sp, err := env.dir.CreateServicePrincipal(ctx, env.tenant, app.AppID)
	if err != nil {
		t.Fatal(err)
	}
	rec, body = env.post(t, env.tenant, clientForm(app.AppID, secret, mgmt), nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("after creating the service principal: %d %v", rec.Code, body)
	}
	if oid := segmentJSON(t, body["access_token"].(string), 1)["oid"]; oid != sp.ID {
		t.Errorf("oid %v, want the service principal's %s", oid, sp.ID)
	}
}

func TestUserRealm(t *testing.T) {
	env := newUserEnv(t)
	for _, user := range []string{"alice@contoso.com", "nobody@example.org"} {
		rec, body := env.get(t, "/common/UserRealm/"+url.PathEscape(user)+"?api-version=1.0")
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %v", user, rec.Code, body)
		}
		_, domain, _ := strings.Cut(user, "@")
		want := map[string]any{"ver": "1.0", "account_type": "Managed", "domain_name": domain,
			"cloud_instance_name": "127.0.0.1:8443", "cloud_audience_urn": "urn:federation:MicrosoftOnline"}
		for k, v := range want {
			if body[k] != v {
				t.Errorf("%s: %s = %v, want %v", user, k, body[k], v)
			}
		}
	}
}

func TestVerifyUserTokens(t *testing.T) {
	env := newUserEnv(t)
	tok, err := env.iss.IssueUserToken(env.user, AzureCLIClientID, AudienceManagement, false)
	if err != nil {
		t.Fatal(err)
	}
	p, err := env.iss.Verify(tok.Token, AudienceManagement)
	if err != nil || p.Type != PrincipalTypeUser || p.UPN != env.user.UserPrincipalName || p.ObjectID != env.user.ID || p.AppID != AzureCLIClientID {
		t.Fatalf("Verify(user token) = %+v, %v", p, err)
	}
	if _, err := env.iss.Verify(tok.Token, AudienceGraph); err == nil {
		t.Error("a management user token verified for Graph")
	}
	userClaims := map[string]any{"idtyp": "user", "oid": env.user.ID, "sub": env.user.ID, "upn": env.user.UserPrincipalName, "scp": "user_impersonation"}
	with := func(changes map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range userClaims {
			m[k] = v
		}
		for k, v := range changes {
			m[k] = v
		}
		return m
	}
	for name, changes := range map[string]map[string]any{
		"user token without upn":             with(map[string]any{"upn": nil}),
		"user token without scp":             with(map[string]any{"scp": nil}),
		"user token with another scp":        with(map[string]any{"scp": "Directory.ReadWrite.All"}),
		"app token with a upn":               {"upn": "alice@contoso.com"},
		"app token with a scp":               {"scp": "user_impersonation"},
		"unknown identity type":              {"idtyp": "device"},
		"user token with sub other than oid": with(map[string]any{"sub": "x"}),
	} {
		if _, err := env.iss.Verify(signClaims(t, env.key, env.key.KeyID(), validClaims(env.testEnv, changes)), AudienceManagement); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := env.iss.IssueUserToken(User{TenantID: env.tenant, ID: env.user.ID}, AzureCLIClientID, AudienceManagement, false); err == nil {
		t.Error("IssueUserToken without a UPN succeeded")
	}
}

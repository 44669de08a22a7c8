package identity

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// userFederationEnv is a testEnv whose issuer trusts the test IdP for
// user sign-in with audience userIdPAudience, and a user, Dana, who signs
// in as the IdP's subject "dana-sub" (and has no password).
type userFederationEnv struct {
	*testEnv
	idp  *testIdP
	user User
}

const (
	userIdPAudience = "perimeter-app"
	danaSubject     = "dana-sub"
)

func newUserFederationEnv(t *testing.T) *userFederationEnv {
	t.Helper()
	env := &userFederationEnv{testEnv: newTestEnv(t), idp: newTestIdP(t)}
	env.iss = NewIssuer(IssuerConfig{Directory: env.dir, Key: env.key, BaseURL: func() string { return testBase }, Now: env.clock.Now,
		FederationClient: env.idp.srv.Client(), TrustedIssuers: []TrustedIssuer{{Issuer: env.idp.issuer, Audience: userIdPAudience}}})
	var err error
	env.user, err = env.dir.CreateUser(context.Background(), env.tenant, UserInput{
		DisplayName: "Dana", UserPrincipalName: "dana@contoso.com", MailNickname: "dana", AccountEnabled: true,
		Identities: []ObjectIdentity{{SignInType: SignInTypeFederated, Issuer: env.idp.issuer, IssuerAssignedID: danaSubject}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// userClaims are an ID token's claims for subject, valid at now.
func (env *userFederationEnv) userClaims(now time.Time, subject string) jwt.MapClaims {
	c := env.idp.claims(now, subject)
	c["aud"] = userIdPAudience
	return c
}

// jwtBearerForm is the jwt-bearer grant through the Azure CLI's client id.
func jwtBearerForm(assertion, scope string) url.Values {
	return url.Values{"grant_type": {grantTypeJWTBearer}, "client_id": {AzureCLIClientID}, "assertion": {assertion}, "scope": {scope}}
}

func (env *userFederationEnv) signIn(t *testing.T, assertion string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	return env.post(t, env.tenant, jwtBearerForm(assertion, mgmtScope), nil)
}

// TestUserAssertionIssuesUserToken: the IdP's token for Dana's subject,
// signed with its RSA or EC key, gets Dana's token, shaped as the password
// grant's.
func TestUserAssertionIssuesUserToken(t *testing.T) {
	env := newUserFederationEnv(t)
	for _, kid := range []string{"rsa-1", "ec-1"} {
		t.Run(kid, func(t *testing.T) {
			form := jwtBearerForm(env.idp.sign(t, kid, env.userClaims(env.clock.Now(), danaSubject)), "https://management.azure.com/.default openid profile")
			rec, body := env.post(t, env.tenant, form, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %v", rec.Code, body)
			}
			p, err := env.iss.Verify(body["access_token"].(string), AudienceManagement)
			if err != nil {
				t.Fatalf("user token does not verify: %v", err)
			}
			want := Principal{TenantID: env.tenant, ObjectID: env.user.ID, AppID: AzureCLIClientID, Audience: AudienceManagement,
				Type: PrincipalTypeUser, UPN: "dana@contoso.com", ExpiresAt: env.clock.Now().Add(time.Hour)}
			if *p != want {
				t.Errorf("principal %+v\nwant      %+v", *p, want)
			}
			if body["scope"] != "https://management.azure.com/.default openid profile" || body["client_info"] == nil || body["id_token"] == nil {
				t.Errorf("response %v", body)
			}
		})
	}
	// Clocks may disagree by the same five minutes as for client
	// assertions: a token from an IdP two minutes ahead passes.
	ahead := env.userClaims(env.clock.Now().Add(2*time.Minute), danaSubject)
	if rec, body := env.signIn(t, env.idp.sign(t, "rsa-1", ahead)); rec.Code != http.StatusOK {
		t.Errorf("IdP clock 2 minutes ahead: %d %v", rec.Code, body)
	}
	// An "aud" array that includes the configured audience passes.
	multi := env.userClaims(env.clock.Now(), danaSubject)
	multi["aud"] = []string{"other-app", userIdPAudience}
	if rec, body := env.signIn(t, env.idp.sign(t, "ec-1", multi)); rec.Code != http.StatusOK {
		t.Errorf("aud array: %d %v", rec.Code, body)
	}
}

// TestUserAssertionRefusals: every token that must not sign Dana in is
// refused with Entra's code and 400 invalid_grant, and the IdP is never
// contacted for tokens that name an issuer or audience the operator did
// not configure, even when a user lists that issuer.
func TestUserAssertionRefusals(t *testing.T) {
	env := newUserFederationEnv(t)
	ctx := context.Background()
	now := env.clock.Now()
	untrusted := env.idp.srv.URL + "/other"
	// A directory writer lists an issuer the operator does not trust.
	if _, err := env.dir.CreateUser(ctx, env.tenant, UserInput{
		DisplayName: "Eve", UserPrincipalName: "eve@contoso.com", MailNickname: "eve", AccountEnabled: true,
		Identities: []ObjectIdentity{{SignInType: SignInTypeFederated, Issuer: untrusted, IssuerAssignedID: danaSubject}},
	}); err != nil {
		t.Fatal(err)
	}
	disabled, err := env.dir.CreateUser(ctx, env.tenant, UserInput{
		DisplayName: "Frank", UserPrincipalName: "frank@contoso.com", MailNickname: "frank", AccountEnabled: false,
		Identities: []ObjectIdentity{{SignInType: SignInTypeFederated, Issuer: env.idp.issuer, IssuerAssignedID: "frank-sub"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := env.dir.CreateUser(ctx, env.tenant, UserInput{
		DisplayName: "Gina", UserPrincipalName: "gina@contoso.com", MailNickname: "gina", AccountEnabled: true,
		Identities: []ObjectIdentity{{SignInType: SignInTypeFederated, Issuer: env.idp.issuer, IssuerAssignedID: "gina-sub"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.dir.DeleteUser(ctx, env.tenant, gone.ID); err != nil {
		t.Fatal(err)
	}

	with := func(change func(jwt.MapClaims)) string {
		c := env.userClaims(now, danaSubject)
		change(c)
		return env.idp.sign(t, "rsa-1", c)
	}
	rsaKey := env.idp.keys["rsa-1"].(*rsa.PrivateKey)
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	hmac := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, env.userClaims(now, danaSubject))
		tok.Header["kid"] = "rsa-1"
		s, err := tok.SignedString(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, env.userClaims(now, danaSubject)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	env.idp.addKey(t, "forger", "RS256")
	env.idp.publish("rsa-1", "ec-1")
	forgedTok := jwt.NewWithClaims(jwt.SigningMethodRS256, env.userClaims(now, danaSubject))
	forgedTok.Header["kid"] = "rsa-1"
	forged, err := forgedTok.SignedString(env.idp.keys["forger"])
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		assertion string
		code      float64
		fetches   bool
		mention   string
	}{
		{"unconfigured issuer a user lists", with(func(c jwt.MapClaims) { c["iss"] = untrusted }), 700211, false, untrusted},
		{"issuer in another case", with(func(c jwt.MapClaims) { c["iss"] = strings.ToUpper(env.idp.issuer) }), 700211, false, "issuer"},
		{"wrong audience", with(func(c jwt.MapClaims) { c["aud"] = DefaultFederationAudience }), 700212, false, DefaultFederationAudience},
		{"expired", with(func(c jwt.MapClaims) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-time.Hour).Unix(), now.Add(-time.Hour).Unix(), now.Add(-10*time.Minute).Unix()
		}), 500133, true, "not within its valid time range"},
		{"not yet valid", with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), 500133, true, "valid from"},
		{"lives too long", with(func(c jwt.MapClaims) { c["exp"] = now.Add(26 * time.Hour).Unix() }), 70023, false, "lifetime"},
		{"no sub", with(func(c jwt.MapClaims) { delete(c, "sub") }), 50027, false, "'sub'"},
		{"alg none", none, 50027, false, "'none' is not supported"},
		{"HS256 keyed with the public key", hmac, 50027, false, "'HS256' is not supported"},
		{"signed by another key", forged, 50027, true, "signature"},
		{"not a JWT", "not-a-jwt", 50027, false, "three base64url segments"},
		{"unknown subject", with(func(c jwt.MapClaims) { c["sub"] = "mallory-sub" }), 50034, true, "does not exist"},
		{"deleted user", with(func(c jwt.MapClaims) { c["sub"] = "gina-sub" }), 50034, true, "does not exist"},
		{"disabled user", with(func(c jwt.MapClaims) { c["sub"] = "frank-sub" }), 50057, true, "disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := env.idp.requests.Load()
			rec, body := env.signIn(t, tt.assertion)
			checkSTSError(t, rec, body, http.StatusBadRequest, "invalid_grant", tt.code)
			if _, ok := body["access_token"]; ok {
				t.Error("refusal carries an access token")
			}
			if desc, _ := body["error_description"].(string); !strings.Contains(desc, tt.mention) {
				t.Errorf("description %q does not mention %q", desc, tt.mention)
			}
			if !tt.fetches && env.idp.requests.Load() != before {
				t.Errorf("the IdP was asked %d times for a token that cannot pass", env.idp.requests.Load()-before)
			}
		})
	}
	// Enabling Frank lets the same token in: the refusal was the account's.
	enabled := true
	if _, err := env.dir.UpdateUser(ctx, env.tenant, disabled.ID, UserPatch{AccountEnabled: &enabled}); err != nil {
		t.Fatal(err)
	}
	if rec, body := env.signIn(t, with(func(c jwt.MapClaims) { c["sub"] = "frank-sub" })); rec.Code != http.StatusOK {
		t.Errorf("Frank enabled: %d %v", rec.Code, body)
	}
}

// TestUserAssertionRequestShape: the request's own mistakes, and the
// clients a user may sign in through.
func TestUserAssertionRequestShape(t *testing.T) {
	env := newUserFederationEnv(t)
	good := env.idp.sign(t, "rsa-1", env.userClaims(env.clock.Now(), danaSubject))
	form := func(change func(v url.Values)) url.Values {
		v := jwtBearerForm(good, mgmtScope)
		change(v)
		return v
	}
	tests := []struct {
		name   string
		form   url.Values
		status int
		err    string
		code   float64
	}{
		{"no assertion", form(func(v url.Values) { v.Del("assertion") }), 400, "invalid_request", 900144},
		{"no client id", form(func(v url.Values) { v.Del("client_id") }), 400, "invalid_request", 900144},
		{"no scope", form(func(v url.Values) { v.Del("scope") }), 400, "invalid_request", 900144},
		{"on-behalf-of", form(func(v url.Values) { v.Set("requested_token_use", "on_behalf_of") }), 400, "invalid_request", 0},
		{"with a client assertion", form(func(v url.Values) { v.Set("client_assertion", good) }), 400, "invalid_request", 0},
		{"public client with a secret", form(func(v url.Values) { v.Set("client_secret", "x") }), 401, "invalid_client", 700025},
		{"unknown client", form(func(v url.Values) { v.Set("client_id", "99999999-9999-9999-9999-999999999999") }), 400, "unauthorized_client", 700016},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, body := env.post(t, env.tenant, tt.form, nil)
			checkSTSError(t, rec, body, tt.status, tt.err, tt.code)
		})
	}
	// A tenant application with its secret is a confidential client.
	rec, body := env.post(t, env.tenant, form(func(v url.Values) { v.Set("client_id", env.app.AppID); v.Set("client_secret", env.secret) }), nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("through the tenant's application: %d %v", rec.Code, body)
	}
	if claims := segmentJSON(t, body["access_token"].(string), 1); claims["azpacr"] != "1" || claims["appid"] != env.app.AppID {
		t.Errorf("claims %v", claims)
	}
	// Dana has no password: the password grant cannot sign her in.
	rec, body = env.post(t, env.tenant, passwordForm(AzureCLIClientID, "dana@contoso.com", "Any-Password-1", mgmtScope), nil)
	checkSTSError(t, rec, body, http.StatusBadRequest, "invalid_grant", 50126)
}

// TestUserAssertionNoTrustedIssuers: without trusted issuers, no token
// signs a user in, and nothing is fetched.
func TestUserAssertionNoTrustedIssuers(t *testing.T) {
	env := newUserFederationEnv(t)
	env.iss = NewIssuer(IssuerConfig{Directory: env.dir, Key: env.key, BaseURL: func() string { return testBase }, Now: env.clock.Now,
		FederationClient: env.idp.srv.Client()})
	rec, body := env.signIn(t, env.idp.sign(t, "rsa-1", env.userClaims(env.clock.Now(), danaSubject)))
	checkSTSError(t, rec, body, http.StatusBadRequest, "invalid_grant", 700211)
	if n := env.idp.requests.Load(); n != 0 {
		t.Errorf("the IdP was asked %d times", n)
	}
}

func TestParseTrustedIssuer(t *testing.T) {
	good, err := ParseTrustedIssuer("https://idp.example.com/tenant=api://perimeter")
	if err != nil || good != (TrustedIssuer{Issuer: "https://idp.example.com/tenant", Audience: "api://perimeter"}) {
		t.Errorf("ParseTrustedIssuer = %+v, %v", good, err)
	}
	for _, bad := range []string{
		"https://idp.example.com", "https://idp.example.com=", "=aud", "http://idp.example.com=aud",
		"https://idp.example.com?x=1=aud", "https://idp.example.com= aud",
	} {
		if _, err := ParseTrustedIssuer(bad); err == nil {
			t.Errorf("ParseTrustedIssuer(%q) accepted", bad)
		}
	}
	twice := []TrustedIssuer{{"https://a.example", "x"}, {"https://a.example", "y"}}
	if err := CheckTrustedIssuers(twice); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("the same issuer twice: %v", err)
	}
}

package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const mgmtScope = "https://management.azure.com/.default"

// TestFederatedAssertionIssuesAppToken: a token of the trusted issuer,
// signed with its RSA or its EC key, gets the application's token, the
// same principal as its secret gets.
func TestFederatedAssertionIssuesAppToken(t *testing.T) {
	env := newFederationEnv(t)
	_, bySecret := env.post(t, env.tenant, clientForm(env.app.AppID, env.secret, mgmtScope), nil)
	want, err := env.iss.Verify(bySecret["access_token"].(string), AudienceManagement)
	if err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"rsa-1", "ec-1"} {
		t.Run(kid, func(t *testing.T) {
			rec, body := env.exchange(t, env.idp.sign(t, kid, env.idp.claims(env.clock.Now(), env.subject)))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %v", rec.Code, body)
			}
			p, err := env.iss.Verify(body["access_token"].(string), AudienceManagement)
			if err != nil {
				t.Fatalf("issued token does not verify: %v", err)
			}
			if *p != *want || p.ObjectID != env.sp.ID {
				t.Errorf("principal %+v, want the application's %+v", *p, *want)
			}
			if body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) {
				t.Errorf("response %v", body)
			}
		})
	}
	// Clocks may disagree by a few minutes: a token from an issuer whose
	// clock is two minutes ahead passes.
	ahead := env.idp.claims(env.clock.Now().Add(2*time.Minute), env.subject)
	if rec, body := env.exchange(t, env.idp.sign(t, "ec-1", ahead)); rec.Code != http.StatusOK {
		t.Errorf("issuer clock 2 minutes ahead: %d %v", rec.Code, body)
	}
	// An array "aud" that includes the credential's audience is accepted.
	claims := env.idp.claims(env.clock.Now(), env.subject)
	claims["aud"] = []string{"https://other.example", DefaultFederationAudience}
	if rec, body := env.exchange(t, env.idp.sign(t, "rsa-1", claims)); rec.Code != http.StatusOK {
		t.Errorf("aud array: %d %v", rec.Code, body)
	}
}

// TestFederatedAssertionRefusals: every token the credential does not
// trust is refused with Entra's code, and nothing is fetched for tokens
// that could never pass or that name an issuer no credential trusts.
func TestFederatedAssertionRefusals(t *testing.T) {
	env := newFederationEnv(t)
	now := env.clock.Now()
	ctx := context.Background()
	bare, err := env.dir.CreateApplication(ctx, env.tenant, "no credentials")
	if err != nil {
		t.Fatal(err)
	}
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := env.idp.claims(now, env.subject)
		change(c)
		return c
	}
	signed := func(change func(jwt.MapClaims)) string { return env.idp.sign(t, "rsa-1", with(change)) }
	good := signed(func(jwt.MapClaims) {})

	rsaKey := env.idp.keys["rsa-1"].(*rsa.PrivateKey)
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hmacWith := func(secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, with(func(jwt.MapClaims) {}))
		tok.Header["kid"] = "rsa-1"
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	unsigned := func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, with(func(jwt.MapClaims) {})).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	// A key the issuer never published, under a kid it did publish.
	env.idp.addKey(t, "forger", "RS256")
	env.idp.publish("rsa-1", "ec-1")
	forged := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, with(func(jwt.MapClaims) {}))
		tok.Header["kid"] = "rsa-1"
		s, err := tok.SignedString(env.idp.keys["forger"])
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(mustDecode(t, parts[1])), env.subject, env.subject+"x", 1))) + "." + parts[2]

	tests := []struct {
		name        string
		clientID    string
		assertion   string
		wantStatus  int
		wantError   string
		wantCode    float64
		fetches     bool   // the issuer's keys are (may be) fetched
		mention     string // the description says this
		mustNotEcho string // and never this
	}{
		{"other issuer", "", signed(func(c jwt.MapClaims) { c["iss"] = env.idp.srv.URL + "/other" }), 401, "invalid_client", 700211, false, env.idp.srv.URL + "/other'", env.idp.issuer + "'"},
		{"http issuer", "", signed(func(c jwt.MapClaims) { c["iss"] = "http" + strings.TrimPrefix(env.idp.issuer, "https") }), 401, "invalid_client", 700211, false, "issuer", ""},
		{"other subject", "", signed(func(c jwt.MapClaims) { c["sub"] = "repo:contoso/app:pull_request" }), 401, "invalid_client", 700213, false, "repo:contoso/app:pull_request", env.subject},
		{"other audience", "", signed(func(c jwt.MapClaims) { c["aud"] = "api://other" }), 401, "invalid_client", 700212, false, "api://other", DefaultFederationAudience},
		{"application without credentials", bare.AppID, good, 401, "invalid_client", 70021, false, "Assertion Issuer", ""},
		{"unknown application", "99999999-9999-9999-9999-999999999999", good, 400, "unauthorized_client", 700016, false, "was not found", ""},
		{"expired", "", signed(func(c jwt.MapClaims) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-time.Hour).Unix(), now.Add(-time.Hour).Unix(), now.Add(-10*time.Minute).Unix()
		}), 401, "invalid_client", 700024, true, "Current time: 2026-03-01T12:00:00.0000000Z", ""},
		{"not yet valid", "", signed(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), 401, "invalid_client", 700024, true, "valid from", ""},
		{"lives too long", "", signed(func(c jwt.MapClaims) { c["exp"] = now.Add(26 * time.Hour).Unix() }), 401, "invalid_client", 70023, false, "lifetime", ""},
		{"no iat", "", signed(func(c jwt.MapClaims) { delete(c, "iat") }), 401, "invalid_client", 50027, false, "'iat'", ""},
		{"no exp", "", signed(func(c jwt.MapClaims) { delete(c, "exp") }), 401, "invalid_client", 50027, false, "'exp'", ""},
		{"alg none", "", unsigned, 401, "invalid_client", 50027, false, "'none' is not supported", ""},
		{"HS256 keyed with the public key", "", hmacWith(pubPEM), 401, "invalid_client", 50027, false, "'HS256' is not supported", ""},
		{"HS256 keyed with the modulus", "", hmacWith(rsaKey.N.Bytes()), 401, "invalid_client", 50027, false, "'HS256' is not supported", ""},
		{"unknown alg", "", strings.Replace(good, parts[0], base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"XS256","kid":"rsa-1"}`)), 1), 401, "invalid_client", 50027, false, "'XS256'", ""},
		{"signed by another key", "", forged, 401, "invalid_client", 50027, true, "signature", ""},
		{"subject changed after signing", "", tampered, 401, "invalid_client", 700213, false, "subject", ""},
		{"signature of another token", "", parts[0] + "." + strings.Split(signed(func(c jwt.MapClaims) { c["jti"] = "x" }), ".")[1] + "." + parts[2], 401, "invalid_client", 50027, true, "signature", ""},
		{"not a JWT", "", "not-a-jwt", 401, "invalid_client", 50027, false, "three base64url segments", ""},
		{"empty segments", "", "..", 401, "invalid_client", 50027, false, "JWT token is invalid or malformed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clientID := env.app.AppID
			if tt.clientID != "" {
				clientID = tt.clientID
			}
			before := env.idp.requests.Load()
			rec, body := env.post(t, env.tenant, assertionForm(clientID, tt.assertion, mgmtScope), nil)
			checkSTSError(t, rec, body, tt.wantStatus, tt.wantError, tt.wantCode)
			if _, ok := body["access_token"]; ok {
				t.Error("refusal carries an access token")
			}
			desc, _ := body["error_description"].(string)
			if !strings.Contains(desc, tt.mention) {
				t.Errorf("description %q does not mention %q", desc, tt.mention)
			}
			if tt.mustNotEcho != "" && strings.Contains(desc, tt.mustNotEcho) {
				t.Errorf("description %q reveals the credential's %q", desc, tt.mustNotEcho)
			}
			if !tt.fetches && env.idp.requests.Load() != before {
				t.Errorf("the issuer was asked %d times for a token that cannot pass", env.idp.requests.Load()-before)
			}
		})
	}
	// The good one still passes after all that.
	if rec, body := env.exchange(t, good); rec.Code != http.StatusOK {
		t.Errorf("good assertion: %d %v", rec.Code, body)
	}
}

func mustDecode(t *testing.T, seg string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFederatedAssertionRequestShape: the request's own mistakes.
func TestFederatedAssertionRequestShape(t *testing.T) {
	env := newFederationEnv(t)
	good := env.idp.sign(t, "rsa-1", env.idp.claims(env.clock.Now(), env.subject))
	form := func(change func(v map[string][]string)) map[string][]string {
		v := assertionForm(env.app.AppID, good, mgmtScope)
		change(v)
		return v
	}
	tests := []struct {
		name       string
		form       map[string][]string
		basic      []string
		wantStatus int
		wantError  string
		wantCode   float64
	}{
		{"no assertion type", form(func(v map[string][]string) { delete(v, "client_assertion_type") }), nil, 400, "invalid_request", 900144},
		{"other assertion type", form(func(v map[string][]string) {
			v["client_assertion_type"] = []string{"urn:ietf:params:oauth:client-assertion-type:saml2-bearer"}
		}), nil, 400, "invalid_request", 0},
		{"empty assertion", form(func(v map[string][]string) { v["client_assertion"] = []string{""} }), nil, 400, "invalid_request", 900144},
		{"no client id", form(func(v map[string][]string) { delete(v, "client_id") }), nil, 400, "invalid_request", 900144},
		{"assertion and secret", form(func(v map[string][]string) { v["client_secret"] = []string{env.secret} }), nil, 400, "invalid_request", 0},
		{"assertion and basic", form(func(map[string][]string) {}), []string{env.app.AppID, env.secret}, 400, "invalid_request", 0},
		{"no scope", form(func(v map[string][]string) { delete(v, "scope") }), nil, 400, "invalid_request", 900144},
		{"password grant", form(func(v map[string][]string) {
			v["grant_type"], v["username"], v["password"] = []string{"password"}, []string{"a@b"}, []string{"x"}
		}), nil, 400, "invalid_request", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, body := env.post(t, env.tenant, tt.form, tt.basic)
			checkSTSError(t, rec, body, tt.wantStatus, tt.wantError, tt.wantCode)
		})
	}
}

// TestFederatedWithoutServicePrincipal: as with a secret, a valid
// assertion for an application without a service principal gets
// AADSTS7000229, not a token.
func TestFederatedWithoutServicePrincipal(t *testing.T) {
	env := newFederationEnv(t)
	if err := env.dir.DeleteServicePrincipal(context.Background(), env.tenant, env.sp.ID); err != nil {
		t.Fatal(err)
	}
	rec, body := env.exchange(t, env.idp.sign(t, "rsa-1", env.idp.claims(env.clock.Now(), env.subject)))
	checkSTSError(t, rec, body, http.StatusUnauthorized, "invalid_client", 7000229)
}

// TestFederatedKeyRotation: a token signed with a key the cached set lacks
// makes Perimeter look again (once, and not more often than every 30
// seconds); a key the issuer withdrew stops working.
func TestFederatedKeyRotation(t *testing.T) {
	env := newFederationEnv(t)
	exchange := func(kid string) int {
		rec, _ := env.exchange(t, env.idp.sign(t, kid, env.idp.claims(env.clock.Now(), env.subject)))
		return rec.Code
	}
	if code := exchange("rsa-1"); code != http.StatusOK || env.idp.jwksServed.Load() != 1 {
		t.Fatalf("first token: %d after %d JWKS fetches", code, env.idp.jwksServed.Load())
	}
	env.idp.addKey(t, "rsa-2", "RS256")
	env.idp.publish("rsa-2", "ec-1") // rsa-1 withdrawn

	// Moments after the last fetch, an unknown kid does not fetch again.
	if code := exchange("rsa-2"); code != http.StatusUnauthorized || env.idp.jwksServed.Load() != 1 {
		t.Errorf("new kid right after a fetch: %d after %d JWKS fetches, want 401 after 1", code, env.idp.jwksServed.Load())
	}
	env.clock.Advance(oidcMinRefetch)
	if code := exchange("rsa-2"); code != http.StatusOK || env.idp.jwksServed.Load() != 2 {
		t.Errorf("new kid: %d after %d JWKS fetches, want 200 after 2", code, env.idp.jwksServed.Load())
	}
	if code := exchange("rsa-2"); code != http.StatusOK || env.idp.jwksServed.Load() != 2 {
		t.Errorf("new kid again: %d after %d JWKS fetches, want 200 from the cache", code, env.idp.jwksServed.Load())
	}
	env.clock.Advance(oidcMinRefetch)
	if code := exchange("rsa-1"); code != http.StatusUnauthorized || env.idp.jwksServed.Load() != 3 {
		t.Errorf("withdrawn kid: %d after %d JWKS fetches, want 401 after one more look", code, env.idp.jwksServed.Load())
	}
	if code := exchange("rsa-1"); code != http.StatusUnauthorized || env.idp.jwksServed.Load() != 3 {
		t.Errorf("withdrawn kid again: %d after %d JWKS fetches, want 401 without a fetch", code, env.idp.jwksServed.Load())
	}
}

// TestFederatedCacheUsed: the discovery document and keys are fetched once
// per TTL, and concurrent first requests share one fetch.
func TestFederatedCacheUsed(t *testing.T) {
	env := newFederationEnv(t)

	// Concurrent requests while the issuer holds the first JWKS request.
	gate := make(chan struct{})
	env.idp.mu.Lock()
	env.idp.gate = gate
	env.idp.mu.Unlock()
	const n = 8
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		token := env.idp.sign(t, "ec-1", env.idp.claims(env.clock.Now(), env.subject))
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, _ := env.exchange(t, token)
			codes[i] = rec.Code
		}()
	}
	// Until the shared fetch is held at the issuer (the guard only keeps
	// a broken cache from hanging the test).
	for guard := time.Now().Add(30 * time.Second); env.idp.jwksAsked.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(guard) {
			close(gate)
			t.Fatal("no request ever asked the issuer for its keys")
		}
	}
	close(gate)
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("request %d: %d", i, c)
		}
	}
	if d, j := env.idp.discovery.Load(), env.idp.jwksAsked.Load(); d != 1 || j != 1 {
		t.Errorf("%d concurrent requests fetched the discovery document %d times and the keys %d times, want once each", n, d, j)
	}

	for range 5 {
		if rec, body := env.exchange(t, env.idp.sign(t, "rsa-1", env.idp.claims(env.clock.Now(), env.subject))); rec.Code != http.StatusOK {
			t.Fatalf("%d %v", rec.Code, body)
		}
	}
	if d, j := env.idp.discovery.Load(), env.idp.jwksServed.Load(); d != 1 || j != 1 {
		t.Errorf("sequential requests fetched %d discovery documents and %d key sets, want the cached ones", d, j)
	}
	env.clock.Advance(oidcKeysTTL)
	if rec, _ := env.exchange(t, env.idp.sign(t, "rsa-1", env.idp.claims(env.clock.Now(), env.subject))); rec.Code != http.StatusOK || env.idp.jwksServed.Load() != 2 {
		t.Errorf("after the TTL: %d after %d key fetches, want a fresh fetch", rec.Code, env.idp.jwksServed.Load())
	}
}

// TestFederatedIssuerUnavailable: without the issuer's keys nothing
// passes, and the operator's log says why.
func TestFederatedIssuerUnavailable(t *testing.T) {
	env := newFederationEnv(t)
	var logs bytes.Buffer
	env.iss.log = slog.New(slog.NewTextHandler(&logs, nil))
	token := func() string { return env.idp.sign(t, "rsa-1", env.idp.claims(env.clock.Now(), env.subject)) }

	env.idp.down.Store(true)
	rec, body := env.exchange(t, token())
	checkSTSError(t, rec, body, http.StatusBadRequest, "invalid_request", 50166)
	if !strings.Contains(logs.String(), "503") || !strings.Contains(logs.String(), env.idp.issuer) {
		t.Errorf("log does not say why: %s", logs.String())
	}
	if desc, _ := body["error_description"].(string); strings.Contains(desc, "503") {
		t.Errorf("the caller sees the upstream's answer: %q", desc)
	}

	// The failure is remembered for oidcMinRefetch: the issuer is not
	// asked again sooner, however many tokens name it.
	env.idp.down.Store(false)
	if rec, body := env.exchange(t, token()); rec.Code != http.StatusBadRequest {
		t.Fatalf("issuer back at once: %d %v, want the remembered failure", rec.Code, body)
	}
	env.clock.Advance(oidcMinRefetch)
	if rec, body := env.exchange(t, token()); rec.Code != http.StatusOK {
		t.Fatalf("issuer back: %d %v", rec.Code, body)
	}
	// Cached keys serve while fresh; once stale, an unreachable issuer
	// fails closed.
	env.idp.down.Store(true)
	if rec, _ := env.exchange(t, token()); rec.Code != http.StatusOK {
		t.Errorf("fresh cached keys with the issuer down: %d", rec.Code)
	}
	env.clock.Advance(oidcKeysTTL)
	rec, body = env.exchange(t, token())
	checkSTSError(t, rec, body, http.StatusBadRequest, "invalid_request", 50166)
}

// TestFederatedDiscoveryChecked: a discovery document for another issuer,
// or keys over plain http, are not trusted.
func TestFederatedDiscoveryChecked(t *testing.T) {
	for _, tc := range []struct {
		name        string
		issuer, uri func(idp *testIdP) string
		logMention  string
	}{
		{"another issuer", func(idp *testIdP) string { return "https://login.example.com/idp" }, nil, "names the issuer"},
		{"http keys", nil, func(idp *testIdP) string { return "http" + strings.TrimPrefix(idp.issuer, "https") + "/keys" }, "not an https URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newFederationEnv(t)
			var logs bytes.Buffer
			env.iss.log = slog.New(slog.NewTextHandler(&logs, nil))
			env.idp.mu.Lock()
			if tc.issuer != nil {
				env.idp.discoveryIssuer = tc.issuer(env.idp)
			}
			if tc.uri != nil {
				env.idp.jwksURI = tc.uri(env.idp)
			}
			env.idp.mu.Unlock()
			rec, body := env.exchange(t, env.idp.sign(t, "rsa-1", env.idp.claims(env.clock.Now(), env.subject)))
			checkSTSError(t, rec, body, http.StatusBadRequest, "invalid_request", 50166)
			if !strings.Contains(logs.String(), tc.logMention) {
				t.Errorf("log %q does not mention %q", logs.String(), tc.logMention)
			}
			if env.idp.jwksServed.Load() != 0 {
				t.Error("keys were fetched from an untrusted place")
			}
		})
	}
}

// TestOIDCKeysEvictsLeastRecentlyUsed: the cache holds a bounded number
// of issuers.
func TestOIDCKeysEvictsLeastRecentlyUsed(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	o := newOIDCKeys(nil, clock.Now)
	o.mu.Lock()
	for i := range oidcMaxIssuers + 5 {
		o.entryLocked(fmt.Sprintf("https://issuer.example/%d", i), clock.Now())
		clock.Advance(time.Second)
	}
	first := "https://issuer.example/0"
	_, kept := o.issuers[first]
	n := len(o.issuers)
	o.mu.Unlock()
	if n != oidcMaxIssuers || kept {
		t.Errorf("%d issuers cached (want %d), oldest kept: %v", n, oidcMaxIssuers, kept)
	}
}

// TestKeySetFind: a token picks a key by kid and by a fitting algorithm
// only.
func TestKeySetFind(t *testing.T) {
	idp := newTestIdP(t)
	raw, err := json.Marshal(idp.jwks())
	if err != nil {
		t.Fatal(err)
	}
	set, err := parseJWKS(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(set) != 2 {
		t.Fatalf("parsed %d keys, want the RSA and the EC signing keys only", len(set))
	}
	for _, tc := range []struct {
		kid, alg string
		want     bool
	}{
		{"rsa-1", "RS256", true},
		{"ec-1", "ES256", true},
		{"rsa-1", "ES256", false}, // an RSA key cannot verify ECDSA
		{"rsa-1", "PS256", false}, // the JWK says RS256
		{"ec-1", "ES384", false},  // a P-256 key is not a P-384 key
		{"ec-1", "RS256", false},
		{"enc-1", "RS256", false}, // an encryption key is not a signing key
		{"missing", "RS256", false},
		{"", "ES256", true},  // no kid: the one key that fits
		{"", "RS256", true},  // likewise
		{"", "ES384", false}, // none fits
	} {
		if _, ok := set.find(tc.kid, tc.alg); ok != tc.want {
			t.Errorf("find(%q, %q) = %v, want %v", tc.kid, tc.alg, ok, tc.want)
		}
	}
	idp.addKey(t, "rsa-2", "RS256")
	raw, _ = json.Marshal(idp.jwks())
	set, _ = parseJWKS(raw)
	if _, ok := set.find("", "RS256"); ok {
		t.Error("a token without kid picked one of two RSA keys")
	}
}

// TestParseJWKSRefuses: weak or malformed keys are never used.
func TestParseJWKSRefuses(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	for name, doc := range map[string]string{
		"not JSON":        `keys`,
		"no keys":         `{"keys":[]}`,
		"1024-bit RSA":    `{"keys":[{"kty":"RSA","kid":"a","n":"` + enc.EncodeToString(small.N.Bytes()) + `","e":"AQAB"}]}`,
		"even exponent":   `{"keys":[{"kty":"RSA","kid":"a","n":"` + enc.EncodeToString(append([]byte{0xc0}, make([]byte, 255)...)) + `","e":"Ag"}]}`,
		"point off curve": `{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"` + enc.EncodeToString(make([]byte, 32)) + `","y":"` + enc.EncodeToString(append(make([]byte, 31), 1)) + `"}]}`,
		"short EC coords": `{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"AQ","y":"AQ"}]}`,
		"unknown curve":   `{"keys":[{"kty":"EC","crv":"secp256k1","kid":"a","x":"AQ","y":"AQ"}]}`,
		"symmetric key":   `{"keys":[{"kty":"oct","kid":"a","k":"c2VjcmV0"}]}`,
	} {
		if set, err := parseJWKS([]byte(doc)); err == nil {
			t.Errorf("%s: accepted %d keys", name, len(set))
		}
	}
}

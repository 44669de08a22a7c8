package identity

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/perimeterhq/perimeter/internal/store"
)

func TestVerifyAccepts(t *testing.T) {
	env := newTestEnv(t)
	token := env.issue(t)
	tests := []struct {
		name      string
		audiences []string
		advance   time.Duration
		wantAud   string
	}{
		{"exact audience", []string{AudienceManagement}, 0, AudienceManagement},
		{"audience with trailing slash", []string{AudienceManagement + "/"}, 0, AudienceManagement + "/"},
		{"one of several audiences", []string{AudienceGraph, AudienceManagement}, 0, AudienceManagement},
		{"expired within the leeway", []string{AudienceManagement}, time.Hour + 4*time.Minute, AudienceManagement},
		{"clock behind the issuer within the leeway", []string{AudienceManagement}, -4 * time.Minute, AudienceManagement},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.clock.Advance(tt.advance)
			defer env.clock.Advance(-tt.advance)
			p, err := env.iss.Verify(token, tt.audiences...)
			if err != nil {
				t.Fatal(err)
			}
			if p.Audience != tt.wantAud || p.TenantID != env.tenant || p.ObjectID != env.sp.ID || p.AppID != env.app.AppID || p.Type != PrincipalTypeApp || p.UPN != "" {
				t.Errorf("principal %+v", p)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	good := env.issue(t)
	parts := strings.Split(good, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	shortSig := base64.RawURLEncoding.EncodeToString(sig[:63])

	// Tokens from look-alike issuers.
	otherKey := newTestKey(t)
	sameKidOtherKey := &SigningKey{private: otherKey.private, jwk: env.key.JWK()}
	forged := NewIssuer(IssuerConfig{Directory: env.dir, Key: sameKidOtherKey, BaseURL: func() string { return testBase }, Now: env.clock.Now})
	foreign := NewIssuer(IssuerConfig{Directory: env.dir, Key: otherKey, BaseURL: func() string { return testBase }, Now: env.clock.Now})
	elsewhere := NewIssuer(IssuerConfig{Directory: env.dir, Key: env.key, BaseURL: func() string { return "https://evil.example" }, Now: env.clock.Now})
	issueWith := func(iss *Issuer, app Application, aud string) string {
		tok, err := iss.IssueAppToken(app, aud)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Token
	}
	ghostTenant := env.app
	ghostTenant.TenantID = "12345678-1234-1234-1234-123456789abc"

	deleted := env.app
	gone, _ := env.dir.EnsureTenant(ctx, "abcdefab-cdef-abcd-efab-cdefabcdefab", "soon gone")
	deleted.TenantID = gone.ID
	deletedTenantToken := issueWith(env.iss, deleted, AudienceManagement)
	if _, err := store.Delete(ctx, env.st, tenantDocID(gone.ID), store.Precondition{}); err != nil {
		t.Fatal(err)
	}

	// Our public key, as an attacker would feed it to HS256.
	pubDER, _ := x509.MarshalPKIXPublicKey(env.key.PublicKey())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	tests := []struct {
		name       string
		token      string
		audience   string
		advance    time.Duration
		wantReason string
	}{
		{"wrong audience", good, AudienceCognitiveServices, 0, reasonAudience},
		{"audience prefix", issueWith(env.iss, env.app, AudienceManagement+".evil.example"), AudienceManagement, 0, reasonAudience},
		{"expired", good, AudienceManagement, time.Hour + 6*time.Minute, reasonExpired},
		{"not yet valid", good, AudienceManagement, -6 * time.Minute, reasonNotYetValid},
		{"alg none", resign(t, good, map[string]any{"alg": "none", "typ": "JWT", "kid": env.key.KeyID()}, nil, ""), AudienceManagement, 0, reasonAlgorithm},
		{"alg none, no signature", b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + ".", AudienceManagement, 0, reasonAlgorithm},
		{"HS256 keyed with our public key (DER)", hmacToken(t, parts[1], env.key.KeyID(), pubDER), AudienceManagement, 0, reasonAlgorithm},
		{"HS256 keyed with our public key (PEM)", hmacToken(t, parts[1], env.key.KeyID(), pubPEM), AudienceManagement, 0, reasonAlgorithm},
		{"RS256 header", resign(t, good, map[string]any{"alg": "RS256", "typ": "JWT", "kid": env.key.KeyID()}, nil, parts[2]), AudienceManagement, 0, reasonAlgorithm},
		{"unknown alg", resign(t, good, map[string]any{"alg": "XX999", "kid": env.key.KeyID()}, nil, parts[2]), AudienceManagement, 0, reasonAlgorithm},
		{"tampered payload", resign(t, good, nil, map[string]any{"appid": "00000000-0000-0000-0000-000000000000"}, parts[2]), AudienceManagement, 0, reasonSignature},
		{"tampered audience", resign(t, good, nil, map[string]any{"aud": AudienceGraph}, parts[2]), AudienceGraph, 0, reasonSignature},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(env.issue(t), ".")[2], AudienceManagement, 0, reasonSignature},
		{"short signature", parts[0] + "." + parts[1] + "." + shortSig, AudienceManagement, 0, reasonSignature},
		{"signature text cut short", good[:len(good)-1], AudienceManagement, 0, reasonMalformed},
		{"signed by another key, same kid", issueWith(forged, env.app, AudienceManagement), AudienceManagement, 0, reasonSignature},
		{"signed by another key", issueWith(foreign, env.app, AudienceManagement), AudienceManagement, 0, reasonUnknownKey},
		{"no kid", resign(t, good, map[string]any{"alg": "ES256", "typ": "JWT"}, nil, parts[2]), AudienceManagement, 0, reasonUnknownKey},
		{"other issuer host", issueWith(elsewhere, env.app, AudienceManagement), AudienceManagement, 0, reasonIssuer},
		{"unknown tenant", issueWith(env.iss, ghostTenant, AudienceManagement), AudienceManagement, 0, reasonTenant},
		{"deleted tenant", deletedTenantToken, AudienceManagement, 0, reasonTenant},
		{"missing exp", signClaims(t, env.key, env.key.KeyID(), validClaims(env, map[string]any{"exp": nil})), AudienceManagement, 0, reasonMissingClaim},
		{"missing nbf", signClaims(t, env.key, env.key.KeyID(), validClaims(env, map[string]any{"nbf": nil})), AudienceManagement, 0, reasonMissingClaim},
		{"iss of another tenant", signClaims(t, env.key, env.key.KeyID(), validClaims(env, map[string]any{"tid": ghostTenant.TenantID})), AudienceManagement, 0, reasonIssuer},
		{"user token", signClaims(t, env.key, env.key.KeyID(), validClaims(env, map[string]any{"idtyp": "user"})), AudienceManagement, 0, reasonClaims},
		{"v1 token", signClaims(t, env.key, env.key.KeyID(), validClaims(env, map[string]any{"ver": "1.0"})), AudienceManagement, 0, reasonClaims},
		{"sub differs from oid", signClaims(t, env.key, env.key.KeyID(), validClaims(env, map[string]any{"sub": "someone-else"})), AudienceManagement, 0, reasonClaims},
		{"aud as array", signClaims(t, env.key, env.key.KeyID(), validClaims(env, map[string]any{"aud": []string{AudienceManagement}})), AudienceManagement, 0, reasonMalformed},
		{"issued in the future", signClaims(t, env.key, env.key.KeyID(), validClaims(env, map[string]any{"iat": env.clock.Now().Add(time.Hour).Unix()})), AudienceManagement, 0, reasonIssuedLater},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2], AudienceManagement, 0, reasonMalformed},
		{"empty", "", AudienceManagement, 0, reasonMalformed},
		{"two segments", parts[0] + "." + parts[1], AudienceManagement, 0, reasonMalformed},
		{"garbage", "not.a.token", AudienceManagement, 0, reasonMalformed},
		{"no audiences configured", good, "", 0, reasonAudience},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.clock.Advance(tt.advance)
			defer env.clock.Advance(-tt.advance)
			var auds []string
			if tt.audience != "" {
				auds = []string{tt.audience}
			}
			p, err := env.iss.Verify(tt.token, auds...)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err %v does not wrap ErrInvalidToken", err)
			}
			var te *TokenError
			if !errors.As(err, &te) || te.Reason != tt.wantReason {
				t.Fatalf("err = %v, want reason %q", err, tt.wantReason)
			}
			if err.Error() != "invalid token: "+tt.wantReason {
				t.Errorf("Error() = %q leaks more than the reason", err.Error())
			}
			if got, want := errors.Is(err, ErrTokenExpired), tt.wantReason == reasonExpired; got != want {
				t.Errorf("errors.Is(err, ErrTokenExpired) = %v, want %v", got, want)
			}
		})
	}
}

// validClaims returns the claims of a valid token for env's app, with the
// given changes (a nil value deletes the claim).
func validClaims(env *testEnv, changes map[string]any) jwt.MapClaims {
	now := env.clock.Now().Unix()
	c := jwt.MapClaims{
		"aud": AudienceManagement, "iss": testBase + "/" + env.tenant + "/v2.0",
		"iat": now, "nbf": now, "exp": now + 3600,
		"tid": env.tenant, "oid": env.sp.ID, "sub": env.sp.ID,
		"appid": env.app.AppID, "azp": env.app.AppID, "azpacr": "1",
		"idtyp": "app", "ver": "2.0", "jti": newGUID(),
	}
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func signClaims(t *testing.T, key *SigningKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key.private)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hmacToken(t *testing.T, payload, kid string, secret []byte) string {
	t.Helper()
	header := b64(`{"alg":"HS256","typ":"JWT","kid":"` + kid + `"}`)
	sig, err := jwt.SigningMethodHS256.Sign(header+"."+payload, secret)
	if err != nil {
		t.Fatal(err)
	}
	return header + "." + payload + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// resign replaces the header (if header != nil) and merges changes into the
// payload of token, then attaches sig as the signature.
func resign(t *testing.T, token string, header, changes map[string]any, sig string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if header != nil {
		h, _ := json.Marshal(header)
		parts[0] = base64.RawURLEncoding.EncodeToString(h)
	}
	if changes != nil {
		claims := segmentJSON(t, token, 1)
		for k, v := range changes {
			claims[k] = v
		}
		p, _ := json.Marshal(claims)
		parts[1] = base64.RawURLEncoding.EncodeToString(p)
	}
	return parts[0] + "." + parts[1] + "." + sig
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// FuzzVerify: no input makes Verify panic, and none is accepted unless its
// signed part is exactly that of a token the issuer made.
func FuzzVerify(f *testing.F) {
	env := newTestEnv(f)
	good := env.issue(f)
	parts := strings.Split(good, ".")
	f.Add(good)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(b64(`{"alg":"none"}`) + "." + parts[1] + ".")
	f.Add(b64(`{"alg":"HS256","kid":"`+env.key.KeyID()+`"}`) + "." + parts[1] + "." + parts[2])
	f.Add("")
	f.Add("..")
	f.Add("a.b.c.d")
	f.Add(strings.Repeat("A", 1000))
	f.Fuzz(func(t *testing.T, token string) {
		p, err := env.iss.Verify(token, AudienceManagement, AudienceCognitiveServices)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("refusal %v does not wrap ErrInvalidToken", err)
			}
			return
		}
		signed := token[:strings.LastIndex(token, ".")]
		if signed != parts[0]+"."+parts[1] || p.AppID != env.app.AppID {
			t.Fatalf("accepted a token the issuer did not make: %q -> %+v", token, p)
		}
	})
}

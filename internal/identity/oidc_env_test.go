package identity

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testIdP is an external OpenID Connect issuer on loopback, as a company's
// identity provider or a CI system would be: a discovery document and a
// JWKS over TLS, signing keys (RSA and EC) it can rotate, and counters of
// what it was asked.
type testIdP struct {
	srv    *httptest.Server
	issuer string

	mu        sync.Mutex
	keys      map[string]crypto.Signer // every key it ever made, by kid
	published []string                 // the kids in its JWKS
	// discoveryIssuer, when set, is the "issuer" its discovery document
	// claims instead of its own.
	discoveryIssuer string
	jwksURI         string
	// gate, when set, holds every JWKS request until it is closed.
	gate chan struct{}

	down       atomic.Bool
	requests   atomic.Int32 // every request
	discovery  atomic.Int32 // discovery documents served
	jwksServed atomic.Int32 // JWKS served
	jwksAsked  atomic.Int32 // JWKS requests arrived (served or held)
}

func newTestIdP(t *testing.T) *testIdP {
	t.Helper()
	idp := &testIdP{keys: map[string]crypto.Signer{}}
	idp.srv = httptest.NewTLSServer(http.HandlerFunc(idp.serve))
	t.Cleanup(idp.srv.Close)
	// A path, as many issuers have (GitLab groups, AKS clusters).
	idp.issuer = idp.srv.URL + "/idp"
	idp.addKey(t, "rsa-1", "RS256")
	idp.addKey(t, "ec-1", "ES256")
	return idp
}

func (idp *testIdP) serve(w http.ResponseWriter, r *http.Request) {
	idp.requests.Add(1)
	if idp.down.Load() {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	idp.mu.Lock()
	iss, jwksURI, gate := idp.issuer, idp.issuer+"/keys", idp.gate
	if idp.discoveryIssuer != "" {
		iss = idp.discoveryIssuer
	}
	if idp.jwksURI != "" {
		jwksURI = idp.jwksURI
	}
	idp.mu.Unlock()
	switch r.URL.Path {
	case "/idp/.well-known/openid-configuration":
		idp.discovery.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss, "jwks_uri": jwksURI, "response_types_supported": []string{"id_token"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	case "/idp/keys":
		idp.jwksAsked.Add(1)
		if gate != nil {
			<-gate
		}
		idp.jwksServed.Add(1)
		_ = json.NewEncoder(w).Encode(idp.jwks())
	default:
		http.NotFound(w, r)
	}
}

// addKey makes a key and publishes it.
func (idp *testIdP) addKey(t *testing.T, kid, alg string) {
	t.Helper()
	var key crypto.Signer
	var err error
	if alg == "ES256" {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.keys[kid] = key
	idp.published = append(idp.published, kid)
}

// publish replaces the JWKS with the given kids (key rotation).
func (idp *testIdP) publish(kids ...string) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.published = kids
}

func (idp *testIdP) jwks() map[string]any {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	enc := base64.RawURLEncoding
	keys := []any{
		// Keys a verifier must skip: encryption, unknown type.
		map[string]any{"kty": "RSA", "use": "enc", "kid": "enc-1", "n": "AQAB", "e": "AQAB"},
		map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "okp-1", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
	}
	for _, kid := range idp.published {
		switch k := idp.keys[kid].(type) {
		case *rsa.PrivateKey:
			keys = append(keys, map[string]any{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
				"n": enc.EncodeToString(k.N.Bytes()), "e": enc.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
		case *ecdsa.PrivateKey:
			pt, _ := k.PublicKey.Bytes()
			keys = append(keys, map[string]any{"kty": "EC", "use": "sig", "crv": "P-256", "kid": kid,
				"x": enc.EncodeToString(pt[1:33]), "y": enc.EncodeToString(pt[33:])})
		}
	}
	return map[string]any{"keys": keys}
}

// claims are an assertion's claims, valid at now for subject.
func (idp *testIdP) claims(now time.Time, subject string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": idp.issuer, "sub": subject, "aud": DefaultFederationAudience,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": newGUID(),
	}
}

// sign signs claims with the key kid (which need not be published).
func (idp *testIdP) sign(t *testing.T, kid string, claims jwt.MapClaims) string {
	t.Helper()
	idp.mu.Lock()
	key := idp.keys[kid]
	idp.mu.Unlock()
	method := jwt.SigningMethod(jwt.SigningMethodRS256)
	if _, ok := key.(*ecdsa.PrivateKey); ok {
		method = jwt.SigningMethodES256
	}
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// federationEnv is a testEnv whose issuer fetches from the test IdP, and
// whose application trusts subject "repo:contoso/app:ref:refs/heads/main"
// of it.
type federationEnv struct {
	*testEnv
	idp     *testIdP
	subject string
	fic     FederatedIdentityCredential
}

func newFederationEnv(t *testing.T) *federationEnv {
	t.Helper()
	env := &federationEnv{testEnv: newTestEnv(t), idp: newTestIdP(t), subject: "repo:contoso/app:ref:refs/heads/main"}
	env.iss = NewIssuer(IssuerConfig{Directory: env.dir, Key: env.key, BaseURL: func() string { return testBase }, Now: env.clock.Now,
		FederationClient: env.idp.srv.Client()})
	var err error
	env.fic, err = env.dir.AddFederatedCredential(context.Background(), env.tenant, env.app.AppID, FederatedCredentialInput{
		Name: "main-branch", Issuer: env.idp.issuer, Subject: env.subject})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// assertionForm is a client credentials request authenticated with an
// assertion, as azidentity.ClientAssertionCredential sends it.
func assertionForm(clientID, assertion, scope string) url.Values {
	return url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "scope": {scope},
		"client_assertion_type": {clientAssertionTypeJWT}, "client_assertion": {assertion},
		"client_info": {"1"},
	}
}

// exchange posts an assertion for a management token.
func (env *federationEnv) exchange(t *testing.T, assertion string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	return env.post(t, env.tenant, assertionForm(env.app.AppID, assertion, "https://management.azure.com/.default"), nil)
}

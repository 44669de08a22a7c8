package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// testBase is the issuer URL of tests that call the handler in process.
const testBase = "https://127.0.0.1:8443"

// fakeClock is a settable clock shared by the issuer and the directory.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testEnv is a directory with one tenant and one application holding one
// secret and having its service principal, and an issuer over them.
type testEnv struct {
	st     *memStore
	dir    *Directory
	key    *SigningKey
	clock  *fakeClock
	iss    *Issuer
	tenant string
	app    Application
	sp     ServicePrincipal
	secret string
}

// testPasswordIterations keeps user password hashing cheap in tests (the
// production cost is 600,000 iterations, about 0.1 s, 1 s under -race).
const testPasswordIterations = 1000

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	return newTestEnvWith(t, func() string { return testBase }, nil)
}

// newTestEnvWith builds a testEnv with the given issuer base URL and clock;
// a nil now means a fake clock (env.clock) set to a fixed instant.
func newTestEnvWith(t testing.TB, base func() string, now func() time.Time) *testEnv {
	t.Helper()
	ctx := context.Background()
	env := &testEnv{st: newMemStore(), key: newTestKey(t)}
	if now == nil {
		env.clock = &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		now = env.clock.Now
	}
	env.dir = NewDirectory(env.st)
	env.dir.now = now
	env.dir.passwordIterations = testPasswordIterations
	tenant, err := env.dir.EnsureTenant(ctx, "72f988bf-86f1-41af-91ab-2d7cd011db47", "Test Tenant")
	if err != nil {
		t.Fatal(err)
	}
	env.tenant = tenant.ID
	env.app, err = env.dir.CreateApplication(ctx, env.tenant, "test app")
	if err != nil {
		t.Fatal(err)
	}
	env.sp, err = env.dir.CreateServicePrincipal(ctx, env.tenant, env.app.AppID)
	if err != nil {
		t.Fatal(err)
	}
	env.app.ServicePrincipalID = env.sp.ID
	env.secret, _, err = env.dir.AddPassword(ctx, env.tenant, env.app.AppID, "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	env.iss = NewIssuer(IssuerConfig{Directory: env.dir, Key: env.key, BaseURL: base, Now: now})
	return env
}

func newTestKey(t testing.TB) *SigningKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := newSigningKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// issue returns a valid control-plane token for the env's application.
func (env *testEnv) issue(t testing.TB) string {
	t.Helper()
	tok, err := env.iss.IssueAppToken(env.app, AudienceManagement)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

// post sends a token request to the handler in process.
func (env *testEnv) post(t testing.TB, tenant string, form url.Values, basic []string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, testBase+"/"+tenant+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != nil {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	return env.do(t, req)
}

func (env *testEnv) get(t testing.TB, path string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	return env.do(t, httptest.NewRequest(http.MethodGet, testBase+path, nil))
}

func (env *testEnv) do(t testing.TB, req *http.Request) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	env.iss.Handler().ServeHTTP(rec, req)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s %s: response is not JSON: %v\n%s", req.Method, req.URL.Path, err, rec.Body.String())
	}
	return rec, body
}

// segmentJSON decodes one base64url segment of a JWT.
func segmentJSON(t testing.TB, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func clientForm(clientID, secret, scope string) url.Values {
	v := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	if clientID != "" {
		v.Set("client_id", clientID)
	}
	if secret != "" {
		v.Set("client_secret", secret)
	}
	return v
}

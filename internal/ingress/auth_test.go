package ingress

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/store/sqlite"
)

// tokens is a real issuer over a directory with one tenant and one
// application.
type tokens struct {
	issuer *identity.Issuer
	app    identity.Application
}

func newTokens(t *testing.T) *tokens {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "id.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir := identity.NewDirectory(st)
	tenant, err := dir.EnsureTenant(t.Context(), "11111111-2222-3333-4444-555555555555", "test")
	if err != nil {
		t.Fatal(err)
	}
	app, err := dir.CreateApplication(t.Context(), tenant.ID, "client")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := dir.CreateServicePrincipal(t.Context(), tenant.ID, app.AppID)
	if err != nil {
		t.Fatal(err)
	}
	app.ServicePrincipalID = sp.ID
	key, err := identity.LoadOrCreateSigningKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	iss := identity.NewIssuer(identity.IssuerConfig{Directory: dir, Key: key, BaseURL: func() string { return "https://issuer.test" }, Logger: quiet()})
	return &tokens{issuer: iss, app: app}
}

func (tk *tokens) token(t *testing.T, audience string) string {
	t.Helper()
	tok, err := tk.issuer.IssueAppToken(tk.app, audience)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

// denyAll is an Authorizer that refuses everything: the RBAC seam.
type denyAll struct{ asked []string }

func (d *denyAll) Authorize(_ context.Context, _ *identity.Principal, _, action string) error {
	d.asked = append(d.asked, action)
	return errors.New("no role assignment grants " + action)
}

// TestCredentials: keys, tokens, disableLocalAuth, and that the network
// comes first.
func TestCredentials(t *testing.T) {
	tk := newTokens(t)
	h := newHarness(t, func(c *Config) { c.Tokens = tk.issuer })
	c := h.client(true)
	good := "Authorization: Bearer " + tk.token(t, identity.AudienceCognitiveServices)
	wrongAud := "Authorization: Bearer " + tk.token(t, identity.AudienceManagement)
	post := func(account string, headers ...string) answer {
		return h.do(c, http.MethodPost, "https://"+host(account)+chatPath, chatBody, headers...)
	}
	tests := []struct {
		name      string
		account   string
		headers   []string
		status    int
		code, msg string
		logCode   string
		authType  string
		principal bool
	}{
		{"key1", "open", []string{"api-key: " + key1}, 200, "", "", "Allowed", accesslog.AuthKey, false},
		{"key2", "open", []string{"api-key: " + key2}, 200, "", "", "Allowed", accesslog.AuthKey, false},
		{"Ocp-Apim-Subscription-Key", "open", []string{"Ocp-Apim-Subscription-Key: " + key2}, 200, "", "", "Allowed", accesslog.AuthKey, false},
		{"wrong key", "open", []string{"api-key: " + key1[:31] + "0"}, 401, "401", msgKeyInvalid, CodeKeyInvalid, accesslog.AuthKey, false},
		{"no credential", "open", nil, 401, "401", msgKeyMissing, CodeKeyMissing, "", false},
		{"a key when local auth is disabled", "nolocal", []string{"api-key: " + key1}, 403, "AuthenticationTypeDisabled", msgLocalAuthOff, CodeAuthenticationTypeDisabled, accesslog.AuthKey, false},
		{"a token when local auth is disabled", "nolocal", []string{good}, 200, "", "", "Allowed", accesslog.AuthBearer, true},
		{"token", "open", []string{good}, 200, "", "", "Allowed", accesslog.AuthBearer, true},
		{"token for another audience", "open", []string{wrongAud}, 401, "401", msgTokenInvalid, CodeTokenInvalid, accesslog.AuthBearer, false},
		{"garbage token", "open", []string{"Authorization: Bearer abc.def.ghi"}, 401, "401", msgTokenInvalid, CodeTokenInvalid, accesslog.AuthBearer, false},
		{"basic auth is no credential", "open", []string{"Authorization: Basic dXNlcjpwYXNz"}, 401, "401", msgKeyMissing, CodeKeyMissing, "", false},
		{"the network before the key", "locked", []string{"api-key: " + key1}, 403, "403", msgFirewall, "FirewallDenied", "", false},
		{"the network before the token", "locked", []string{good}, 403, "403", msgFirewall, "FirewallDenied", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := h.up.count()
			a := post(tc.account, tc.headers...)
			if a.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", a.StatusCode, tc.status, a.Body)
			}
			if tc.status != 200 {
				if a.errorCode() != tc.code || a.errorMessage() != tc.msg {
					t.Errorf("body %s, want %s %q", a.Body, tc.code, tc.msg)
				}
				if h.up.count() != before {
					t.Error("a refused request reached the upstream")
				}
			}
			r := h.log.find(t, a.ID)
			if r.Code != tc.logCode || r.AuthType != tc.authType || (r.PrincipalID != "") != tc.principal {
				t.Errorf("record code %q authType %q principal %q", r.Code, r.AuthType, r.PrincipalID)
			}
			if tc.principal && r.PrincipalID != tk.app.ServicePrincipalID {
				t.Errorf("principal %q, want %q", r.PrincipalID, tk.app.ServicePrincipalID)
			}
		})
	}
}

// TestNoVerifierRefusesTokens: without a verifier a token is never
// accepted.
func TestNoVerifierRefusesTokens(t *testing.T) {
	tk := newTokens(t)
	h := newHarness(t)
	a := h.do(h.client(false), http.MethodPost, "https://"+host("open")+chatPath, chatBody,
		"Authorization: Bearer "+tk.token(t, identity.AudienceCognitiveServices))
	if a.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d", a.StatusCode)
	}
}

// TestAuthorizerSeam: an Authorizer sees the operation's data action and
// can refuse a principal; keys are not asked about.
func TestAuthorizerSeam(t *testing.T) {
	tk := newTokens(t)
	az := &denyAll{}
	h := newHarness(t, func(c *Config) { c.Tokens = tk.issuer; c.Authorizer = az })
	c := h.client(false)
	a := h.do(c, http.MethodPost, "https://"+host("open")+chatPath, chatBody, "Authorization: Bearer "+tk.token(t, identity.AudienceCognitiveServices))
	if a.StatusCode != http.StatusUnauthorized || a.errorCode() != "PermissionDenied" {
		t.Fatalf("status %d %s", a.StatusCode, a.Body)
	}
	if len(az.asked) != 1 || az.asked[0] != "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action" {
		t.Errorf("asked %v", az.asked)
	}
	// The log says why, once.
	if r := h.log.find(t, a.ID); r.Layer != LayerAuthorization || r.Reason != "no role assignment grants "+az.asked[0] {
		t.Errorf("record %+v", r)
	}
	if a := h.chat(c, "open"); a.StatusCode != http.StatusOK {
		t.Errorf("key: %d", a.StatusCode)
	}
}

// TestTrustedServiceBypass: a managed identity of a trusted service type
// passes a firewall with bypass AzureServices; its token is what says so.
func TestTrustedServiceBypass(t *testing.T) {
	tk := newTokens(t)
	h := newHarness(t, func(c *Config) { c.Tokens = tk.issuer })
	c := h.client(false)
	tok := "Authorization: Bearer " + tk.token(t, identity.AudienceCognitiveServices)
	if a := h.do(c, http.MethodPost, "https://"+host("bypass")+chatPath, chatBody, tok); a.StatusCode != http.StatusForbidden {
		t.Fatalf("an ordinary application passed the bypass: %d", a.StatusCode)
	}
	// Make the application's object id a Cognitive Services account's
	// managed identity.
	w := h.world
	w.identities = []string{tk.app.ServicePrincipalID}
	h.snaps.p.Store(w.build())
	a := h.do(c, http.MethodPost, "https://"+host("bypass")+chatPath, chatBody, tok)
	if a.StatusCode != http.StatusOK {
		t.Fatalf("trusted service: %d %s", a.StatusCode, a.Body)
	}
	if r := h.log.find(t, a.ID); r.Layer != "trustedService" || r.PrincipalID != tk.app.ServicePrincipalID {
		t.Errorf("record %+v", r)
	}
	// A key does not make a trusted service.
	if a := h.do(c, http.MethodPost, "https://"+host("bypass")+chatPath, chatBody, tok, "api-key: "+key1); a.StatusCode != http.StatusForbidden {
		t.Errorf("key with token: %d", a.StatusCode)
	}
}

// TestTrustedServiceStillNeedsARole: the bypass lets a trusted service's
// identity past the firewall only; the data action is asked for as for
// anyone, and refused without a role.
func TestTrustedServiceStillNeedsARole(t *testing.T) {
	tk := newTokens(t)
	az := &denyAll{}
	h := newHarness(t, func(c *Config) { c.Tokens = tk.issuer; c.Authorizer = az })
	w := h.world
	w.identities = []string{tk.app.ServicePrincipalID}
	h.snaps.p.Store(w.build())
	a := h.do(h.client(false), http.MethodPost, "https://"+host("bypass")+chatPath, chatBody,
		"Authorization: Bearer "+tk.token(t, identity.AudienceCognitiveServices))
	if a.StatusCode != http.StatusUnauthorized || a.errorCode() != "PermissionDenied" {
		t.Fatalf("status %d %s", a.StatusCode, a.Body)
	}
	if len(az.asked) != 1 {
		t.Errorf("the authorizer was asked %v", az.asked)
	}
	if h.up.count() != 0 {
		t.Error("a refused request reached the upstream")
	}
	if r := h.log.find(t, a.ID); r.Layer != LayerAuthorization || r.PrincipalID != tk.app.ServicePrincipalID {
		t.Errorf("record %+v", r)
	}
}

package identity

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestOpenIDConfiguration(t *testing.T) {
	env := newTestEnv(t)
	tb := testBase + "/" + env.tenant
	for _, path := range []string{
		"/" + env.tenant + "/v2.0/.well-known/openid-configuration",
		"/" + env.tenant + "/.well-known/openid-configuration",
		"/" + strings.ToUpper(env.tenant) + "/v2.0/.well-known/openid-configuration",
	} {
		rec, doc := env.get(t, path)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %v", path, rec.Code, doc)
		}
		for k, want := range map[string]string{
			"issuer":                 tb + "/v2.0",
			"token_endpoint":         tb + "/oauth2/v2.0/token",
			"authorization_endpoint": tb + "/oauth2/v2.0/authorize",
			"jwks_uri":               tb + "/discovery/v2.0/keys",
			"cloud_instance_name":    "127.0.0.1:8443",
		} {
			if doc[k] != want {
				t.Errorf("%s: %s = %v, want %s", path, k, doc[k], want)
			}
		}
		if algs, _ := doc["id_token_signing_alg_values_supported"].([]any); len(algs) != 1 || algs[0] != "ES256" {
			t.Errorf("%s: algs %v", path, doc["id_token_signing_alg_values_supported"])
		}
		if m, _ := doc["token_endpoint_auth_methods_supported"].([]any); len(m) != 2 {
			t.Errorf("%s: auth methods %v", path, m)
		}
	}

	// The advertised issuer is the one in tokens.
	_, body := env.post(t, strings.ToUpper(env.tenant), clientForm(env.app.AppID, env.secret, "https://management.azure.com/.default"), nil)
	token, _ := body["access_token"].(string)
	if token == "" {
		t.Fatalf("token request to an upper-case tenant path failed: %v", body)
	}
	if iss := segmentJSON(t, token, 1)["iss"]; iss != tb+"/v2.0" {
		t.Errorf("token iss %v, metadata issuer %s", iss, tb+"/v2.0")
	}
}

func TestKeys(t *testing.T) {
	env := newTestEnv(t)
	for path, wantIssuer := range map[string]string{
		"/" + env.tenant + "/discovery/v2.0/keys": testBase + "/" + env.tenant + "/v2.0",
		"/common/discovery/keys":                  testBase + "/{tenantid}/v2.0",
		"/common/discovery/v2.0/keys":             testBase + "/{tenantid}/v2.0",
	} {
		rec, body := env.get(t, path)
		keys, _ := body["keys"].([]any)
		if rec.Code != http.StatusOK || len(keys) != 1 {
			t.Fatalf("%s: %d %v", path, rec.Code, body)
		}
		k := keys[0].(map[string]any)
		jwk := env.key.JWK()
		for name, want := range map[string]string{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
			"kid": env.key.KeyID(), "x": jwk.X, "y": jwk.Y, "issuer": wantIssuer} {
			if k[name] != want {
				t.Errorf("%s: %s = %v, want %s", path, name, k[name], want)
			}
		}
		if _, ok := k["d"]; ok {
			t.Fatalf("%s publishes the private key", path)
		}
	}
}

func TestUnknownTenantEndpoints(t *testing.T) {
	env := newTestEnv(t)
	for _, path := range []string{
		"/77777777-7777-7777-7777-777777777777/v2.0/.well-known/openid-configuration",
		"/77777777-7777-7777-7777-777777777777/.well-known/openid-configuration",
		"/77777777-7777-7777-7777-777777777777/discovery/v2.0/keys",
		"/common/v2.0/.well-known/openid-configuration",
		"/organizations/oauth2/v2.0/authorize",
	} {
		rec, body := env.get(t, path)
		checkSTSError(t, rec, body, http.StatusNotFound, "invalid_tenant", 90002)
	}
	rec, body := env.get(t, "/"+env.tenant+"/oauth2/v2.0/authorize?response_type=code")
	checkSTSError(t, rec, body, http.StatusBadRequest, "unsupported_response_type", 0)
}

func TestInstanceDiscovery(t *testing.T) {
	env := newTestEnv(t)
	ae := func(u string) string {
		return "/common/discovery/instance?api-version=1.1&authorization_endpoint=" + url.QueryEscape(u)
	}
	rec, body := env.get(t, ae(testBase+"/"+env.tenant+"/oauth2/v2.0/authorize"))
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %v", rec.Code, body)
	}
	if got, want := body["tenant_discovery_endpoint"], testBase+"/"+env.tenant+"/v2.0/.well-known/openid-configuration"; got != want {
		t.Errorf("tenant_discovery_endpoint %v, want %s", got, want)
	}
	md, _ := body["metadata"].([]any)
	if len(md) != 1 || md[0].(map[string]any)["preferred_network"] != "127.0.0.1:8443" {
		t.Errorf("metadata %v", body["metadata"])
	}

	for _, bad := range []string{
		"https://login.microsoftonline.com/" + env.tenant + "/oauth2/v2.0/authorize",
		"http://127.0.0.1:8443/" + env.tenant + "/oauth2/v2.0/authorize",
		"https://127.0.0.1:8443/",
		"%zz",
	} {
		rec, body := env.get(t, ae(bad))
		checkSTSError(t, rec, body, http.StatusBadRequest, "invalid_instance", 50049)
	}
}

func TestServes(t *testing.T) {
	env := newTestEnv(t)
	for target, want := range map[string]bool{
		"POST /" + env.tenant + "/oauth2/v2.0/token":                    true,
		"GET /anything/oauth2/v2.0/token":                               true,
		"GET /" + env.tenant + "/v2.0/.well-known/openid-configuration": true,
		"GET /" + env.tenant + "/discovery/v2.0/keys":                   true,
		"GET /common/discovery/instance":                                true,
		"GET /common/UserRealm/alice@contoso.com":                       true,
		"GET /v1.0/users":                                               false,
		"GET /subscriptions/x/resourceGroups":                           false,
		"GET /providers/Microsoft.Resources/operations":                 false,
		"POST /" + env.tenant + "/discovery/v2.0/keys":                  false,
		"GET /": false,
	} {
		method, path, _ := strings.Cut(target, " ")
		if got := env.iss.Serves(httptest.NewRequest(method, path, nil)); got != want {
			t.Errorf("Serves(%s) = %v, want %v", target, got, want)
		}
	}
}

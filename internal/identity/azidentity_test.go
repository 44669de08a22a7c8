package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// tlsEnv serves the issuer over TLS on loopback, with the real clock.
type tlsEnv struct {
	*testEnv
	srv *httptest.Server
	// instanceHits counts instance discovery requests.
	instanceHits atomic.Int32
}

func newTLSEnv(t *testing.T) *tlsEnv {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil) // binds 127.0.0.1 now
	base := "https://" + srv.Listener.Addr().String()
	// The wall clock: azidentity compares expiry with it.
	env := &tlsEnv{testEnv: newTestEnvWith(t, func() string { return base }, time.Now), srv: srv}
	handler := env.iss.Handler()
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/common/discovery/instance" {
			env.instanceHits.Add(1)
		}
		handler.ServeHTTP(w, r)
	})
	srv.StartTLS()
	t.Cleanup(srv.Close)
	if srv.URL != base {
		t.Fatalf("server URL %s, issuer base %s", srv.URL, base)
	}
	return env
}

// loopbackTransport sends requests for Entra's public host to the test
// server (as a DNS override would) and refuses every other host, so that
// nothing leaves the machine.
type loopbackTransport struct {
	srv *httptest.Server
}

func (lt loopbackTransport) Do(req *http.Request) (*http.Response, error) {
	host := strings.TrimPrefix(lt.srv.URL, "https://")
	switch req.URL.Host {
	case host:
	case "login.microsoftonline.com":
		req = req.Clone(req.Context())
		req.URL.Host, req.Host = host, ""
	default:
		return nil, fmt.Errorf("test transport: refusing to reach %s", req.URL.Host)
	}
	return lt.srv.Client().Do(req)
}

func (env *tlsEnv) credential(t *testing.T, clientID, secret string, disableInstanceDiscovery bool) *azidentity.ClientSecretCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(env.tenant, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: env.srv.URL + "/"},
			Transport: loopbackTransport{env.srv},
			Retry:     policy.RetryOptions{MaxRetries: -1},
		},
		DisableInstanceDiscovery: disableInstanceDiscovery,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func TestAzidentityClientSecretCredential(t *testing.T) {
	// A regional authority would send MSAL to IMDS; keep it off.
	t.Setenv("AZURE_REGIONAL_AUTHORITY_NAME", "")
	env := newTLSEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	tests := []struct {
		name                     string
		disableInstanceDiscovery bool
		scope                    string
		audience                 string
		wantInstanceDiscovery    bool
	}{
		{"control plane", true, "https://management.azure.com/.default", AudienceManagement, false},
		{"data plane", true, "https://cognitiveservices.azure.com/.default", AudienceCognitiveServices, false},
		{"with instance discovery", false, "https://management.azure.com/.default", AudienceManagement, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := env.instanceHits.Load()
			cred := env.credential(t, env.app.AppID, env.secret, tt.disableInstanceDiscovery)
			tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{tt.scope}})
			if err != nil {
				t.Fatalf("GetToken: %v", err)
			}
			if d := time.Until(tok.ExpiresOn); d < 55*time.Minute || d > 61*time.Minute {
				t.Errorf("token expires in %v, want about an hour", d)
			}
			p, err := env.iss.Verify(tok.Token, tt.audience)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.AppID != env.app.AppID || p.TenantID != env.tenant || p.ObjectID != env.sp.ID {
				t.Errorf("principal %+v", p)
			}
			if got := env.instanceHits.Load() > before; got != tt.wantInstanceDiscovery {
				t.Errorf("instance discovery used: %v, want %v", got, tt.wantInstanceDiscovery)
			}
		})
	}
}

func TestAzidentityRefusals(t *testing.T) {
	t.Setenv("AZURE_REGIONAL_AUTHORITY_NAME", "")
	env := newTLSEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tests := []struct {
		name, clientID, secret, scope, wantCode string
		wantStatus                              int
	}{
		{"wrong secret", env.app.AppID, "wrong", "https://management.azure.com/.default", "AADSTS7000215", 401},
		{"unknown client", "99999999-9999-9999-9999-999999999999", env.secret, "https://management.azure.com/.default", "AADSTS7000215", 401},
		{"unknown resource", env.app.AppID, env.secret, "https://vault.azure.net/.default", "AADSTS500011", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred := env.credential(t, tt.clientID, tt.secret, true)
			_, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{tt.scope}})
			var afe *azidentity.AuthenticationFailedError
			if !errors.As(err, &afe) {
				t.Fatalf("err = %v, want AuthenticationFailedError", err)
			}
			if afe.RawResponse == nil || afe.RawResponse.StatusCode != tt.wantStatus || !strings.Contains(err.Error(), tt.wantCode) {
				t.Errorf("err = %v, want HTTP %d with %s", err, tt.wantStatus, tt.wantCode)
			}
		})
	}
}

// TestAzidentityUsernamePasswordCredential: the Azure SDK's password
// credential (MSAL's public client: user realm discovery, then the
// password grant) signs a user in, and the token verifies as theirs.
func TestAzidentityUsernamePasswordCredential(t *testing.T) {
	t.Setenv("AZURE_REGIONAL_AUTHORITY_NAME", "")
	env := newTLSEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	user, err := env.dir.CreateUser(ctx, env.tenant, alice())
	if err != nil {
		t.Fatal(err)
	}
	public := true // the tenant application is used as a public client below
	if _, err := env.dir.UpdateApplication(ctx, env.tenant, env.app.AppID, ApplicationPatch{IsFallbackPublicClient: &public}); err != nil {
		t.Fatal(err)
	}
	newCred := func(clientID, password string) *azidentity.UsernamePasswordCredential {
		//lint:ignore SA1019 the deprecated credential is exactly the client to prove.
		cred, err := azidentity.NewUsernamePasswordCredential(env.tenant, clientID, "alice@contoso.com", password, &azidentity.UsernamePasswordCredentialOptions{
			ClientOptions: azcore.ClientOptions{
				Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: env.srv.URL + "/"},
				Transport: loopbackTransport{env.srv},
				Retry:     policy.RetryOptions{MaxRetries: -1},
			},
			DisableInstanceDiscovery: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		return cred
	}
	for _, clientID := range []string{AzureCLIClientID, env.app.AppID} {
		cred := newCred(clientID, alicePassword)
		for _, scope := range []string{"https://management.azure.com/.default", "https://graph.microsoft.com/.default"} {
			tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
			if err != nil {
				t.Fatalf("GetToken(%s) through %s: %v", scope, clientID, err)
			}
			aud := AudienceManagement
			if strings.Contains(scope, "graph") {
				aud = AudienceGraph
			}
			p, err := env.iss.Verify(tok.Token, aud)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Type != PrincipalTypeUser || p.ObjectID != user.ID || p.UPN != "alice@contoso.com" || p.AppID != clientID {
				t.Errorf("principal %+v", p)
			}
		}
	}
	_, err = newCred(AzureCLIClientID, "Wrong-Horse-9").GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) || afe.RawResponse == nil || afe.RawResponse.StatusCode != 400 || !strings.Contains(err.Error(), "AADSTS50126") {
		t.Errorf("wrong password: err = %v, want AuthenticationFailedError with HTTP 400 and AADSTS50126", err)
	}
}

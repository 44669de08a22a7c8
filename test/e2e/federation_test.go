package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"
	"github.com/golang-jwt/jwt/v5"
)

// oidcIssuer is a company's identity provider, as far as Perimeter sees
// it: an OpenID Connect discovery document and a JWKS over TLS, with a
// certificate from a CA of its own.
type oidcIssuer struct {
	issuer string
	caFile string
	key    *rsa.PrivateKey
}

func startOIDCIssuer(t *testing.T) *oidcIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp := &oidcIssuer{key: key}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": idp.issuer, "jwks_uri": idp.issuer + "/keys"})
		case "/keys":
			enc := base64.RawURLEncoding
			_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{
				"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "k1",
				"n": enc.EncodeToString(key.N.Bytes()), "e": enc.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
			}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	idp.issuer = srv.URL
	idp.caFile = filepath.Join(t.TempDir(), "idp-ca.pem")
	if err := os.WriteFile(idp.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return idp
}

// token is the identity provider's token for subject, as a workload
// (a CI job, a Kubernetes service account) would be handed.
func (idp *oidcIssuer) token(subject string) (string, error) {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": idp.issuer, "sub": subject, "aud": "api://AzureADTokenExchange",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	})
	tok.Header["kid"] = "k1"
	return tok.SignedString(idp.key)
}

// assertionCredential is the official SDK's credential for workload
// identity federation, pointed at Perimeter.
func (in *instance) assertionCredential(appID string, getAssertion func(context.Context) (string, error)) azcore.TokenCredential {
	in.t.Helper()
	cred, err := azidentity.NewClientAssertionCredential(in.admin.TenantID, appID, getAssertion,
		&azidentity.ClientAssertionCredentialOptions{
			ClientOptions:            azcore.ClientOptions{Cloud: in.cloud(), Transport: in.client},
			DisableInstanceDiscovery: true,
		})
	if err != nil {
		in.t.Fatal(err)
	}
	return cred
}

// TestFederatedIdentity: an application trusts a company's own identity
// provider through a federated identity credential made with Graph; the
// workload signs in with azidentity.ClientAssertionCredential, no secret,
// and gets exactly the roles of the application's service principal.
func TestFederatedIdentity(t *testing.T) {
	idp := startOIDCIssuer(t)
	in := start(t, t.TempDir(), "--oidc-ca-file", idp.caFile, "--oidc-allow-cidrs", "127.0.0.0/8")
	ctx := t.Context()
	in.group("fed-rg", "eastus")

	const subject = "system:serviceaccount:ci:deployer"
	app := in.graph(http.MethodPost, "/v1.0/applications", map[string]string{"displayName": "fed-e2e"})
	appID := app["appId"].(string)
	sp := in.graph(http.MethodPost, "/v1.0/servicePrincipals", map[string]string{"appId": appID})
	spID := sp["id"].(string)
	fic := in.graph(http.MethodPost, "/v1.0/applications/"+app["id"].(string)+"/federatedIdentityCredentials", map[string]any{
		"name": "ci-deployer", "issuer": idp.issuer, "subject": subject, "audiences": []string{"api://AzureADTokenExchange"},
	})
	if fic["issuer"] != idp.issuer || fic["subject"] != subject {
		t.Fatalf("federated credential %v", fic)
	}
	in.assign("/subscriptions/"+in.admin.SubscriptionID+"/resourceGroups/fed-rg", "acdd72a7-3385-48ef-bd42-f606fba81ae7", spID) // Reader

	cred := in.assertionCredential(appID, func(context.Context) (string, error) { return idp.token(subject) })
	if got := in.objectID(cred); got != spID {
		t.Fatalf("the federated token names %s, want the service principal %s", got, spID)
	}
	groups, err := armresources.NewResourceGroupsClient(in.admin.SubscriptionID, cred, in.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := groups.Get(ctx, "fed-rg", nil); err != nil {
		t.Errorf("Reader reads the group with a federated token: %v", err)
	}
	var re *azcore.ResponseError
	if _, err := groups.CreateOrUpdate(ctx, "fed-rg", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
		t.Errorf("Reader writes with a federated token: %v, want 403", err)
	}

	// A workload the credential does not name gets Entra's refusal.
	other := in.assertionCredential(appID, func(context.Context) (string, error) { return idp.token("system:serviceaccount:ci:intruder") })
	_, err = other.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	var authErr *azidentity.AuthenticationFailedError
	if !errors.As(err, &authErr) || authErr.RawResponse == nil || authErr.RawResponse.StatusCode != http.StatusUnauthorized ||
		!strings.Contains(err.Error(), "AADSTS700213") {
		t.Errorf("another subject: %v, want 401 AADSTS700213", err)
	}
}

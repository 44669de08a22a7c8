package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cliResult is what one run of the perimeter CLI printed.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs the perimeter binary with its profiles in configDir.
func runCLI(t *testing.T, configDir string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "PERIMETER_CONFIG_DIR="+configDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("perimeter %s: %v", strings.Join(args, " "), err)
	}
	return cliResult{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// TestUserFederation: a person of a company's identity provider, which
// the operator trusts with --trusted-issuer, signs in with the CLI and
// the provider's token (no password), and gets exactly the roles assigned
// to their user: Reader on a resource group reads it and cannot write it.
// A disabled account, an unknown subject and an issuer the operator does
// not trust get Entra's refusals.
func TestUserFederation(t *testing.T) {
	idp := startOIDCIssuer(t)
	const audience = "perimeter-cli"
	in := start(t, t.TempDir(), "--oidc-ca-file", idp.caFile, "--oidc-allow-cidrs", "127.0.0.0/8", "--trusted-issuer", idp.issuer+"="+audience)
	in.group("ufed-rg", "eastus")
	rg := "/subscriptions/" + in.admin.SubscriptionID + "/resourceGroups/ufed-rg"

	// The admin makes the user with the CLI: no password, one identity.
	admin := t.TempDir()
	if r := runCLI(t, admin, "login", "--data-dir", in.dir); r.code != 0 {
		t.Fatalf("admin login: %+v", r)
	}
	r := runCLI(t, admin, "ad", "user", "create", "--display-name", "Dana", "--user-principal-name", "dana@contoso.com",
		"--identity", "issuer="+idp.issuer+",id=00u1dana")
	if r.code != 0 {
		t.Fatalf("ad user create: %+v", r)
	}
	var user struct {
		ID         string `json:"id"`
		Identities []struct {
			SignInType, Issuer, IssuerAssignedID string
		} `json:"identities"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &user); err != nil || len(user.Identities) != 1 ||
		user.Identities[0].Issuer != idp.issuer || user.Identities[0].IssuerAssignedID != "00u1dana" || user.Identities[0].SignInType != "federated" {
		t.Fatalf("created user %s (%v)", r.stdout, err)
	}
	if r := runCLI(t, admin, "ad", "user", "show", "--id", "dana@contoso.com"); r.code != 0 || !strings.Contains(r.stdout, `"issuerAssignedId": "00u1dana"`) {
		t.Errorf("ad user show: %+v", r)
	}
	in.assign(rg, "acdd72a7-3385-48ef-bd42-f606fba81ae7", user.ID) // Reader

	// Dana logs in with the provider's token, from a file.
	idToken, err := idp.tokenFor("00u1dana", audience)
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "id-token.jwt")
	if err := os.WriteFile(tokenFile, []byte(idToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dana := t.TempDir()
	r = runCLI(t, dana, "login", "--endpoint", in.ready.ARM, "--ca-file", in.ready.CACert, "--tenant", in.admin.TenantID,
		"--federated-token", "@"+tokenFile, "--allow-no-subscriptions")
	if r.code != 0 || !strings.Contains(r.stdout, `"name": "dana@contoso.com"`) || !strings.Contains(r.stdout, `"type": "user"`) {
		t.Fatalf("federated login: %+v", r)
	}
	sub := []string{"--subscription", in.admin.SubscriptionID}
	if r := runCLI(t, dana, append([]string{"group", "show", "--name", "ufed-rg"}, sub...)...); r.code != 0 || !strings.Contains(r.stdout, "ufed-rg") {
		t.Errorf("Reader reads the group: %+v", r)
	}
	if r := runCLI(t, dana, append([]string{"group", "create", "--name", "ufed-rg", "--location", "eastus"}, sub...)...); r.code != 1 || !strings.Contains(r.stderr, "AuthorizationFailed") {
		t.Errorf("Reader writes the group: %+v, want AuthorizationFailed", r)
	}

	// The token endpoint, as a script calls it.
	signIn := func(assertion string) (int, string) {
		form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "client_id": {"04b07795-8ddb-461a-bbee-02f9e1bf7b46"},
			"assertion": {assertion}, "scope": {"https://management.azure.com/.default"}}
		resp, err := in.client.PostForm(in.ready.ARM+"/"+in.admin.TenantID+"/oauth2/v2.0/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		desc, _ := body["error_description"].(string)
		return resp.StatusCode, desc
	}
	unknown, err := idp.tokenFor("00u1mallory", audience)
	if err != nil {
		t.Fatal(err)
	}
	if code, desc := signIn(unknown); code != http.StatusBadRequest || !strings.HasPrefix(desc, "AADSTS50034") {
		t.Errorf("unknown subject: %d %s", code, desc)
	}
	wrongAud, err := idp.tokenFor("00u1dana", "api://AzureADTokenExchange")
	if err != nil {
		t.Fatal(err)
	}
	if code, desc := signIn(wrongAud); code != http.StatusBadRequest || !strings.HasPrefix(desc, "AADSTS700212") {
		t.Errorf("wrong audience: %d %s", code, desc)
	}
	// A workload logs in as its application with the provider's token as
	// the client assertion (the federated identity credential trusts it).
	app := in.graph(http.MethodPost, "/v1.0/applications", map[string]string{"displayName": "ufed-ci"})
	appID := app["appId"].(string)
	in.graph(http.MethodPost, "/v1.0/servicePrincipals", map[string]string{"appId": appID})
	in.graph(http.MethodPost, "/v1.0/applications/"+app["id"].(string)+"/federatedIdentityCredentials", map[string]any{
		"name": "ci-job", "issuer": idp.issuer, "subject": "ci-job",
	})
	ciToken, err := idp.token("ci-job")
	if err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, t.TempDir(), "login", "--service-principal", "--endpoint", in.ready.ARM, "--ca-file", in.ready.CACert,
		"--tenant", in.admin.TenantID, "--username", appID, "--federated-token", ciToken, "--allow-no-subscriptions")
	if r.code != 0 || !strings.Contains(r.stdout, `"name": "`+appID+`"`) || !strings.Contains(r.stdout, `"type": "servicePrincipal"`) {
		t.Errorf("workload login: %+v", r)
	}

	// Disabling the account stops new sign-ins at once.
	if r := runCLI(t, admin, "ad", "user", "update", "--id", "dana@contoso.com", "--account-enabled", "false"); r.code != 0 {
		t.Fatalf("disable: %+v", r)
	}
	if code, desc := signIn(idToken); code != http.StatusBadRequest || !strings.HasPrefix(desc, "AADSTS50057") {
		t.Errorf("disabled user: %d %s", code, desc)
	}
}

// TestUserFederationNeedsOperatorTrust: without --trusted-issuer, a user
// whose identities name the provider still cannot sign in with its token,
// and the server never contacts the provider.
func TestUserFederationNeedsOperatorTrust(t *testing.T) {
	idp := startOIDCIssuer(t)
	in := start(t, t.TempDir(), "--oidc-ca-file", idp.caFile, "--oidc-allow-cidrs", "127.0.0.0/8")
	in.graph(http.MethodPost, "/v1.0/users", map[string]any{
		"accountEnabled": true, "displayName": "Dana", "mailNickname": "dana", "userPrincipalName": "dana@contoso.com",
		"identities": []any{map[string]string{"signInType": "federated", "issuer": idp.issuer, "issuerAssignedId": "00u1dana"}},
	})
	idToken, err := idp.tokenFor("00u1dana", "perimeter-cli")
	if err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, t.TempDir(), "login", "--endpoint", in.ready.ARM, "--ca-file", in.ready.CACert, "--tenant", in.admin.TenantID,
		"--federated-token", idToken, "--allow-no-subscriptions")
	if r.code != 1 || !strings.Contains(r.stderr, "AADSTS700211") {
		t.Errorf("login with an untrusted issuer's token: %+v", r)
	}
	if n := idp.requests.Load(); n != 0 {
		t.Errorf("the server asked the untrusted provider %d times", n)
	}
}

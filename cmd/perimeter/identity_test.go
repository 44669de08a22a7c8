package main

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// idCmd runs `perimeter identity ...`.
func idCmd(args ...string) []string { return append([]string{"identity"}, args...) }

// msiGet asks the managed identity endpoint for a management token with
// the env lines token-env printed, trusting the server's CA as a workload
// would; it returns the status.
func msiGet(t *testing.T, dir, envLines string) int {
	t.Helper()
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(envLines), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	pem, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	req, err := http.NewRequest(http.MethodGet, env["IDENTITY_ENDPOINT"]+"?api-version=2019-08-01&resource=https://management.azure.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-IDENTITY-HEADER", env["IDENTITY_HEADER"])
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestIdentityCommands(t *testing.T) {
	c, info := loggedIn(t)
	c.ok("group", "create", "-n", "apps", "-l", "westus", "-o", "none")

	r := c.run(idCmd("create", "-g", "apps", "-n", "batch-jobs", "--tags", "team=ai")...)
	if r.code != 0 || !strings.Contains(r.stderr, "'Microsoft.ManagedIdentity'") {
		t.Fatalf("identity create: exit %d\n%s", r.code, r.stderr)
	}
	id, err := decodeValue([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	principal, client := str(id, "properties.principalId"), str(id, "properties.clientId")
	if str(id, "location") != "westus" || str(id, "tags.team") != "ai" || len(principal) != 36 || len(client) != 36 || str(id, "properties.tenantId") != info.TenantID {
		t.Errorf("identity create printed %v", id)
	}
	// Generated ids are replaced by stand-ins of their length in golden files.
	stable := strings.NewReplacer(principal, "44444444-4444-4444-4444-444444444444", client, "55555555-5555-5555-5555-555555555555")
	golden(t, "identity_show_table", stable.Replace(c.ok(idCmd("show", "-g", "apps", "-n", "batch-jobs", "-o", "table")...)))
	golden(t, "identity_list_table", stable.Replace(c.ok(idCmd("list", "-g", "apps", "-o", "table")...)))
	c.ok(idCmd("create", "-g", "apps", "-n", "other", "-l", "eastus", "-o", "none")...)
	if got := names(c.okJSON(idCmd("list")...)); !slices.Equal(got, []string{"batch-jobs", "other"}) {
		t.Errorf("subscription-wide list = %v", got)
	}

	// token-env prints env lines that get tokens as the identity.
	lines := c.ok(idCmd("token-env", "-g", "apps", "-n", "batch-jobs")...)
	if !strings.HasPrefix(lines, "IDENTITY_ENDPOINT="+info.ARM+"/msi/token\nIDENTITY_HEADER=") || strings.Count(lines, "\n") != 2 {
		t.Fatalf("token-env printed %q", lines)
	}
	if code := msiGet(t, info.dir, lines); code != http.StatusOK {
		t.Fatalf("token with the printed env: %d", code)
	}
	bindings := c.okJSON(idCmd("binding", "list", "-g", "apps", "-n", "batch-jobs")...).([]any)
	if len(bindings) != 1 || str(bindings[0], "principalId") != principal || strings.Contains(c.ok(idCmd("binding", "list", "-g", "apps", "-n", "batch-jobs")...), "IDENTITY") {
		t.Fatalf("binding list = %v", bindings)
	}
	c.ok(idCmd("binding", "revoke", "-g", "apps", "-n", "batch-jobs", "--id", str(bindings[0], "id"))...)
	if code := msiGet(t, info.dir, lines); code != http.StatusUnauthorized {
		t.Errorf("token after revoke: %d", code)
	}
	if r := c.run(idCmd("binding", "revoke", "-g", "apps", "-n", "batch-jobs", "--id", str(bindings[0], "id"))...); r.code != 1 || !strings.Contains(r.stderr, "(WorkloadBindingNotFound)") {
		t.Errorf("revoking twice: exit %d %s", r.code, r.stderr)
	}

	// An account's system-assigned identity binds the same way.
	c.ok(account("create", "-g", "apps", "-n", "ai1", "-l", "westus", "--kind", "AIServices", "--sku", "S0", "--custom-domain", "ai1-ident", "--assign-identity", "-o", "none")...)
	if code := msiGet(t, info.dir, c.ok(idCmd("token-env", "-g", "apps", "--account", "ai1")...)); code != http.StatusOK {
		t.Errorf("token with the account's binding: %d", code)
	}

	// Exactly one identity must be named.
	for _, args := range [][]string{
		idCmd("token-env", "-g", "apps"),
		idCmd("token-env", "-g", "apps", "-n", "batch-jobs", "--account", "ai1"),
	} {
		if r := c.run(args...); r.code != 2 || !strings.Contains(r.stderr, "name exactly one identity") {
			t.Errorf("%v: exit %d %s", args, r.code, r.stderr)
		}
	}

	c.ok(idCmd("delete", "-g", "apps", "-n", "batch-jobs")...)
	if r := c.run(idCmd("show", "-g", "apps", "-n", "batch-jobs")...); r.code != 1 || !strings.Contains(r.stderr, "(ResourceNotFound)") {
		t.Errorf("show after delete: exit %d %s", r.code, r.stderr)
	}
}

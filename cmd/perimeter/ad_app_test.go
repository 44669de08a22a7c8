package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestADAppFederatedCredentials: the az-shaped commands manage an
// application's federated identity credentials through Graph.
func TestADAppFederatedCredentials(t *testing.T) {
	c, s := adminCLI(t)
	app, err := s.dir.Application(t.Context(), s.tenant, s.clientID)
	if err != nil {
		t.Fatal(err)
	}
	const issuer = "https://token.actions.githubusercontent.com"
	created := c.okJSON("ad", "app", "federated-credential", "create", "--id", s.clientID, "--name", "github-main",
		"--issuer", issuer, "--subject", "repo:contoso/app:ref:refs/heads/main", "--description", "deploys from main")
	if str(created, "name") != "github-main" || str(created, "issuer") != issuer || str(created, "subject") != "repo:contoso/app:ref:refs/heads/main" ||
		!isGUID(str(created, "id")) || lookup(created, "@odata.context") != nil {
		t.Errorf("create printed %v", created)
	}
	if aud, _ := lookup(created, "audiences").([]any); len(aud) != 1 || aud[0] != "api://AzureADTokenExchange" {
		t.Errorf("default audiences %v", lookup(created, "audiences"))
	}

	// As az takes it: --parameters @file, with the application's object id.
	params := filepath.Join(t.TempDir(), "credential.json")
	if err := os.WriteFile(params, []byte(`{"name": "aks-deployer", "issuer": "https://oidc.prod-aks.azure.com/x/", "subject": "system:serviceaccount:ci:deployer", "audiences": ["api://AzureADTokenExchange"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	byFile := c.okJSON("ad", "app", "federated-credential", "create", "--id", app.ObjectID, "--parameters", "@"+params, "--audiences", "api://custom")
	if str(byFile, "name") != "aks-deployer" || str(byFile, "subject") != "system:serviceaccount:ci:deployer" {
		t.Errorf("create --parameters printed %v", byFile)
	}
	if aud, _ := lookup(byFile, "audiences").([]any); len(aud) != 1 || aud[0] != "api://custom" {
		t.Errorf("--audiences did not override --parameters: %v", lookup(byFile, "audiences"))
	}

	r := c.run("ad", "app", "federated-credential", "create", "--id", s.clientID, "--name", "GitHub-Main",
		"--issuer", issuer, "--subject", "repo:contoso/app:environment:prod")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (Request_MultipleObjectsWithSameKeyValue)") {
		t.Errorf("duplicate name: exit %d, stderr %q", r.code, r.stderr)
	}
	r = c.run("ad", "app", "federated-credential", "create", "--id", s.clientID, "--name", "plain-http",
		"--issuer", "http://idp.contoso.com", "--subject", "x")
	if r.code != 1 || !strings.Contains(r.stderr, "https URL") {
		t.Errorf("http issuer: exit %d, stderr %q", r.code, r.stderr)
	}

	if got := ids(c.okJSON("ad", "app", "federated-credential", "list", "--id", s.clientID)); len(got) != 2 {
		t.Errorf("list: %v", got)
	}
	table := c.ok("ad", "app", "federated-credential", "list", "--id", s.clientID, "-o", "table")
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[0], "Name") || !strings.Contains(table, "github-main") {
		t.Errorf("list table:\n%s", table)
	}
	for _, ref := range []string{"github-main", str(created, "id")} {
		if got := str(c.okJSON("ad", "app", "federated-credential", "show", "--id", s.clientID, "--federated-credential-id", ref), "id"); got != str(created, "id") {
			t.Errorf("show %s: %q", ref, got)
		}
	}
	if out := c.ok("ad", "app", "federated-credential", "delete", "--id", s.clientID, "--federated-credential-id", "github-main"); out != "" {
		t.Errorf("delete printed %q", out)
	}
	r = c.run("ad", "app", "federated-credential", "show", "--id", s.clientID, "--federated-credential-id", "github-main")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (Request_ResourceNotFound)") {
		t.Errorf("show after delete: exit %d, stderr %q", r.code, r.stderr)
	}
	if got := ids(c.okJSON("ad", "app", "federated-credential", "list", "--id", app.ObjectID)); len(got) != 1 || got[0] != str(byFile, "id") {
		t.Errorf("list after delete: %v", got)
	}

	// An application made for federation: no secret, then its service
	// principal.
	made := c.okJSON("ad", "app", "create", "--display-name", "ci-deployer")
	if str(made, "displayName") != "ci-deployer" || !isGUID(str(made, "appId")) {
		t.Errorf("app create printed %v", made)
	}
	if creds, _ := lookup(made, "passwordCredentials").([]any); len(creds) != 0 {
		t.Errorf("app create made a secret: %v", creds)
	}
	sp := c.okJSON("ad", "sp", "create", "--id", str(made, "id"))
	if str(sp, "appId") != str(made, "appId") || !isGUID(str(sp, "id")) {
		t.Errorf("sp create printed %v", sp)
	}
	r = c.run("ad", "sp", "create", "--id", str(made, "appId"))
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (Request_MultipleObjectsWithSameKeyValue)") {
		t.Errorf("second sp create: exit %d, stderr %q", r.code, r.stderr)
	}

	if got := str(c.okJSON("ad", "app", "show", "--id", s.clientID), "id"); got != app.ObjectID {
		t.Errorf("app show by appId: %q", got)
	}
	if items, _ := c.okJSON("ad", "app", "list", "--display-name", "adm").([]any); len(items) != 1 {
		t.Errorf("app list --display-name: %v", items)
	}

	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"ad", "app", "federated-credential", "create", "--id", s.clientID, "--name", "x1x"}, "ERROR: the following arguments are required: --issuer, --subject (or give them in --parameters)\n"},
		{[]string{"ad", "app", "federated-credential", "create", "--id", s.clientID, "--parameters", "{nope"}, "ERROR: argument --parameters: give a JSON object"},
		{[]string{"ad", "app", "federated-credential", "list", "--id", "my-app"}, "ERROR: argument --id: give the application's appId or object id (a GUID)\n"},
		{[]string{"ad", "app", "federated-credential", "delete", "--id", s.clientID}, "ERROR: the following arguments are required: --federated-credential-id\n"},
	} {
		r := c.run(tc.args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, tc.stderr) || r.stdout != "" {
			t.Errorf("perimeter %s: exit %d, stderr %q; want exit 2, stderr %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.stderr)
		}
	}
}

// TestADAppPublicClient: --is-fallback-public-client at creation and with
// update, as az has it.
func TestADAppPublicClient(t *testing.T) {
	c, _ := adminCLI(t)
	app := c.okJSON("ad", "app", "create", "--display-name", "desktop", "--is-fallback-public-client", "true")
	if lookup(app, "isFallbackPublicClient") != true {
		t.Fatalf("create printed %v", app)
	}
	appID := str(app, "appId")
	c.ok("ad", "app", "update", "--id", appID, "--is-fallback-public-client", "false")
	if got := c.okJSON("ad", "app", "show", "--id", appID); lookup(got, "isFallbackPublicClient") != false {
		t.Errorf("after update: %v", got)
	}
	if r := c.run("ad", "app", "update", "--id", appID, "--is-fallback-public-client", "maybe"); r.code != 2 {
		t.Errorf("a bad value: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := c.run("ad", "app", "update", "--id", appID); r.code != 2 || !strings.Contains(r.stderr, "nothing to update") {
		t.Errorf("nothing to update: exit %d, stderr %q", r.code, r.stderr)
	}
}

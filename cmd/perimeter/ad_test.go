package main

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/store/sqlite"
)

// directoryServer is a control-plane listener with the identity package's
// token endpoint and Graph endpoints, and just enough ARM (the
// subscription list, behind a management token) for `perimeter login`.
type directoryServer struct {
	url, caFile, tenant, subscription string
	clientID, secret, spID            string
	dir                               *identity.Directory
}

func startDirectoryServer(t *testing.T) *directoryServer {
	t.Helper()
	ctx := t.Context()
	tmp := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(tmp, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := &directoryServer{dir: identity.NewDirectory(st), tenant: uuid.NewString(), subscription: uuid.NewString()}
	if _, err := s.dir.EnsureTenant(ctx, s.tenant, "Test"); err != nil {
		t.Fatal(err)
	}
	app, err := s.dir.CreateApplication(ctx, s.tenant, "admin")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := s.dir.EnsureServicePrincipal(ctx, s.tenant, app.AppID)
	if err != nil {
		t.Fatal(err)
	}
	s.clientID, s.spID = app.AppID, sp.ID
	if s.secret, _, err = s.dir.AddPassword(ctx, s.tenant, app.AppID, "test", 0); err != nil {
		t.Fatal(err)
	}
	key, err := identity.LoadOrCreateSigningKey(tmp)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	s.url = "https://" + srv.Listener.Addr().String()
	iss := identity.NewIssuer(identity.IssuerConfig{Directory: s.dir, Key: key, BaseURL: func() string { return s.url }})
	graph := identity.NewGraph(identity.GraphConfig{Directory: s.dir, Verifier: iss})
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case iss.Serves(r):
			iss.Handler().ServeHTTP(w, r)
		case graph.Serves(r):
			graph.Handler().ServeHTTP(w, r)
		case r.URL.Path == "/subscriptions":
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			p, err := iss.VerifyContext(r.Context(), tok, identity.AudienceManagement)
			if err != nil {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"error":{"code":"InvalidAuthenticationToken","message":"` + err.Error() + `"}}`))
				return
			}
			subs := []any{map[string]string{
				"subscriptionId": s.subscription, "displayName": "Test subscription", "state": "Enabled", "tenantId": s.tenant,
			}}
			if strings.HasPrefix(p.UPN, "nosub") { // a user with no role anywhere
				subs = []any{}
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"value": subs})
		default:
			http.NotFound(w, r)
		}
	})
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s.caFile = filepath.Join(tmp, "ca.pem")
	if err := os.WriteFile(s.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// loginArgs logs in to the directory server as a service principal.
func (s *directoryServer) loginArgs(clientID, secret string, more ...string) []string {
	return append([]string{"login", "--service-principal", "--endpoint", s.url, "--ca-file", s.caFile,
		"--tenant", s.tenant, "--username", clientID, "--password", secret}, more...)
}

// adminCLI is a CLI logged in to a directory server as its admin.
func adminCLI(t *testing.T) (*cli, *directoryServer) {
	t.Helper()
	c := newCLI(t)
	s := startDirectoryServer(t)
	c.secrets = append(c.secrets, s.secret)
	c.ok(s.loginArgs(s.clientID, s.secret, "-o", "none")...)
	return c, s
}

func TestADServicePrincipalLifecycle(t *testing.T) {
	c, s := adminCLI(t)
	r := c.run("ad", "sp", "create-for-rbac", "--name", "ci-bot")
	if r.code != 0 {
		t.Fatalf("create-for-rbac: exit %d %s", r.code, r.stderr)
	}
	var created map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil {
		t.Fatalf("create-for-rbac printed %q: %v", r.stdout, err)
	}
	if len(created) != 4 || created["displayName"] != "ci-bot" || created["tenant"] != s.tenant || !isGUID(created["appId"]) || len(created["password"]) < 40 {
		t.Errorf("create-for-rbac printed %v; want appId, displayName, password, tenant", created)
	}
	if !strings.Contains(r.stderr, "credentials that you must protect") {
		t.Errorf("no warning about the credential on stderr: %q", r.stderr)
	}
	// The printed credential works at once: it logs in as a new profile.
	c.ok(s.loginArgs(created["appId"], created["password"], "--profile", "bot", "-o", "none")...)
	if got := str(c.okJSON("account", "show"), "user.name"); got != created["appId"] {
		t.Errorf("logged in as %q, want the new service principal", got)
	}

	// It shows by appId and by object id, and lists.
	byAppID := c.okJSON("ad", "sp", "show", "--id", created["appId"], "--profile", "default")
	objectID := str(byAppID, "id")
	if str(byAppID, "appId") != created["appId"] || str(byAppID, "servicePrincipalType") != "Application" || lookup(byAppID, "@odata.context") != nil {
		t.Errorf("sp show --id APPID printed %v", byAppID)
	}
	if got := str(c.okJSON("ad", "sp", "show", "--id", objectID, "--profile", "default"), "appId"); got != created["appId"] {
		t.Errorf("sp show --id OBJECTID found %q", got)
	}
	all := c.okJSON("ad", "sp", "list", "--profile", "default")
	if items, _ := all.([]any); len(items) != 2 {
		t.Errorf("sp list: %v", all)
	}
	only := c.okJSON("ad", "sp", "list", "--display-name", "ci", "--profile", "default")
	if items, _ := only.([]any); len(items) != 1 || str(items[0], "id") != objectID {
		t.Errorf("sp list --display-name ci: %v", only)
	}
	table := c.ok("ad", "sp", "list", "--filter", "appId eq '"+created["appId"]+"'", "-o", "table", "--profile", "default")
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "DisplayName") || !strings.Contains(lines[2], objectID) {
		t.Errorf("sp list table:\n%s", table)
	}

	// Deleted, the service principal is gone and the application can no
	// longer get tokens (Entra's AADSTS7000229).
	if out := c.ok("ad", "sp", "delete", "--id", created["appId"], "--profile", "default"); out != "" {
		t.Errorf("delete printed %q", out)
	}
	r = c.run("ad", "sp", "show", "--id", created["appId"], "--profile", "default")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (Request_ResourceNotFound)") {
		t.Errorf("show after delete: exit %d, stderr %q", r.code, r.stderr)
	}
	r = c.run(s.loginArgs(created["appId"], created["password"], "--profile", "bot2")...)
	if r.code != 1 || !strings.Contains(r.stderr, "AADSTS7000229") {
		t.Errorf("login without a service principal: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestADUsersGroupsAndUserLogin(t *testing.T) {
	c, s := adminCLI(t)
	const password = "Correct-Horse-9"
	c.secrets = append(c.secrets, password)

	r := c.run("ad", "user", "create", "--display-name", "Weak", "--user-principal-name", "weak@contoso.com", "--password", "weakweak")
	if r.code != 1 || !strings.Contains(r.stderr, "(Request_BadRequest) The specified password does not comply with password complexity requirements.") {
		t.Errorf("weak password: exit %d, stderr %q", r.code, r.stderr)
	}
	alice := c.okJSON("ad", "user", "create", "--display-name", "Alice Example", "--user-principal-name", "alice@contoso.com", "--password", password)
	aliceID := str(alice, "id")
	if str(alice, "userPrincipalName") != "alice@contoso.com" || str(alice, "mailNickname") != "alice" || lookup(alice, "accountEnabled") != true {
		t.Errorf("user create printed %v", alice)
	}
	r = c.runWithInput(strings.NewReader("Other-Horse-9\n"), "ad", "user", "create", "--display-name", "Alice Again", "--user-principal-name", "ALICE@contoso.com", "--password", "-")
	if r.code != 1 || !strings.Contains(r.stderr, "Another object with the same value for property userPrincipalName") {
		t.Errorf("duplicate UPN: exit %d, stderr %q", r.code, r.stderr)
	}
	if got := str(c.okJSON("ad", "user", "show", "--id", "alice@contoso.com"), "id"); got != aliceID {
		t.Errorf("user show by UPN: %q", got)
	}
	if items, _ := c.okJSON("ad", "user", "list", "--upn", "alice@contoso.com").([]any); len(items) != 1 {
		t.Errorf("user list --upn: %v", items)
	}

	group := c.okJSON("ad", "group", "create", "--display-name", "AI team", "--mail-nickname", "ai-team", "--description", "builds things")
	groupID := str(group, "id")
	if lookup(group, "securityEnabled") != true || str(group, "description") != "builds things" {
		t.Errorf("group create printed %v", group)
	}
	c.ok("ad", "group", "member", "add", "--group", "AI team", "--member-id", aliceID)
	c.ok("ad", "group", "member", "add", "--group", groupID, "--member-id", s.spID)
	r = c.run("ad", "group", "member", "add", "--group", groupID, "--member-id", aliceID)
	if r.code != 1 || !strings.Contains(r.stderr, "One or more added object references already exist") {
		t.Errorf("duplicate member: exit %d, stderr %q", r.code, r.stderr)
	}
	r = c.run("ad", "group", "member", "add", "--group", "nobody's group", "--member-id", aliceID)
	if r.code != 1 || !strings.Contains(r.stderr, "no group is named") {
		t.Errorf("unknown group name: exit %d, stderr %q", r.code, r.stderr)
	}
	members := c.okJSON("ad", "group", "member", "list", "--group", "AI team")
	if got := ids(members); len(got) != 2 || !strings.Contains(strings.Join(got, " "), aliceID) {
		t.Errorf("member list: %v", members)
	}
	memberOf, _ := s.dir.MemberOf(t.Context(), s.tenant)
	if len(memberOf[aliceID]) != 1 || memberOf[aliceID][0] != groupID {
		t.Errorf("MemberOf after the CLI added alice: %v", memberOf)
	}
	c.ok("ad", "group", "member", "remove", "--group", groupID, "--member-id", s.spID)
	if got := ids(c.okJSON("ad", "group", "member", "list", "--group", groupID)); len(got) != 1 || got[0] != aliceID {
		t.Errorf("members after remove: %v", got)
	}
	if got := str(c.okJSON("ad", "group", "show", "-g", "AI team"), "id"); got != groupID {
		t.Errorf("group show by name: %q", got)
	}
	if items, _ := c.okJSON("ad", "group", "list", "--display-name", "AI").([]any); len(items) != 1 {
		t.Errorf("group list --display-name: %v", items)
	}

	// Alice logs in with her password and sees herself.
	out := c.okJSON("login", "--endpoint", s.url, "--ca-file", s.caFile, "--tenant", s.tenant,
		"--username", "alice@contoso.com", "--password", password, "--profile", "alice")
	acct := out.([]any)[0]
	if str(acct, "user.name") != "alice@contoso.com" || str(acct, "user.type") != "user" || str(acct, "id") != s.subscription {
		t.Errorf("user login printed %v", out)
	}
	if got := str(c.okJSON("ad", "signed-in-user", "show"), "id"); got != aliceID {
		t.Errorf("signed-in-user show as alice: %q, want %s", got, aliceID)
	}
	r = c.run("ad", "signed-in-user", "show", "--profile", "default")
	if r.code != 1 || !strings.Contains(r.stderr, "delegated") {
		t.Errorf("signed-in-user show as a service principal: exit %d, stderr %q", r.code, r.stderr)
	}
	// The Graph token is cached apart from the management token, 0600.
	for _, name := range []string{"alice.token.json", "alice.graph.token.json"} {
		fi, err := os.Stat(filepath.Join(c.configDir, "profiles", name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v", name, err)
		}
	}
	r = c.run("login", "--endpoint", s.url, "--ca-file", s.caFile, "--tenant", s.tenant,
		"--username", "alice@contoso.com", "--password", "Wrong-Horse-9", "--profile", "alice2")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (invalid_grant) AADSTS50126") {
		t.Errorf("wrong password: exit %d, stderr %q", r.code, r.stderr)
	}
	c.ok("logout", "--profile", "alice")
	if _, err := os.Stat(filepath.Join(c.configDir, "profiles", "alice.graph.token.json")); !os.IsNotExist(err) {
		t.Errorf("logout left the Graph token behind: %v", err)
	}

	// Deleting alice removes her from the group.
	c.ok("ad", "user", "delete", "--id", aliceID, "--profile", "default")
	if got := ids(c.okJSON("ad", "group", "member", "list", "--group", groupID, "--profile", "default")); len(got) != 0 {
		t.Errorf("members after deleting alice: %v", got)
	}
	c.ok("ad", "group", "delete", "--group", "AI team", "--profile", "default")
	if items, _ := c.okJSON("ad", "group", "list", "--profile", "default").([]any); len(items) != 0 {
		t.Errorf("groups after delete: %v", items)
	}
}

func ids(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, str(it, "id"))
	}
	return out
}

func TestADUsageErrorsExit2BeforeAnyRequest(t *testing.T) {
	c := newCLI(t) // not logged in
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"ad", "sp", "show"}, "ERROR: the following arguments are required: --id\n"},
		{[]string{"ad", "user", "create", "--display-name", "x"}, "ERROR: the following arguments are required: --user-principal-name\n"},
		{[]string{"ad", "user", "create", "--display-name", "x", "--user-principal-name", "x@contoso.com"}, "ERROR: the following arguments are required: --password (or --identity, for a user of a company identity provider)\n"},
		{[]string{"ad", "user", "create", "--display-name", "x", "--user-principal-name", "x@contoso.com", "--identity", "https://idp.example"}, "ERROR: argument --identity \"https://idp.example\": give issuer=URL,id=SUBJECT, such as issuer=https://login.contoso.com,id=00u1bob\n"},
		{[]string{"ad", "user", "create", "--display-name", "x", "--user-principal-name", "x@contoso.com", "--identity", "issuer=https://idp.example"}, "ERROR: argument --identity \"issuer=https://idp.example\": give both issuer=URL and id=SUBJECT\n"},
		{[]string{"ad", "user", "update", "--id", "x@contoso.com"}, "ERROR: nothing to update: give --display-name, --account-enabled, --identity or --clear-identities\n"},
		{[]string{"ad", "user", "update", "--id", "x@contoso.com", "--account-enabled", "yes"}, "ERROR: argument --account-enabled: give true or false\n"},
		{[]string{"ad", "group", "member", "add", "--group", "g"}, "ERROR: the following arguments are required: --member-id\n"},
		{[]string{"ad", "group", "member", "add", "--group", "g", "--member-id", "alice"}, "ERROR: argument --member-id: give the object id (a GUID) of a user, group or service principal\n"},
		{[]string{"ad", "sp", "list", "--display-name", "x", "--filter", "appId eq 'y'"}, "ERROR: give one of --filter and the other filter arguments: the server filters on one clause\n"},
		{[]string{"ad", "sp", "create-for-rbac", "--years", "0"}, "ERROR: argument --years: must be a positive integer\n"},
		{[]string{"ad", "sp", "lst"}, "ERROR: 'lst' is misspelled or not recognized by the system. See 'perimeter ad sp --help'.\n"},
		{[]string{"login", "--data-dir", "/nonexistent", "--username", "alice@contoso.com"}, "ERROR: with --data-dir, give both --username and --password to log in as a user, or neither to log in as the bootstrap admin\n"},
		{[]string{"login", "--endpoint", "https://127.0.0.1:1", "--username", "alice@contoso.com", "--password", "x"}, "ERROR: the following arguments are required: --ca-file, --tenant/-t\n"},
		{[]string{"login", "--endpoint", "https://127.0.0.1:1", "--federated-token", "x"}, "ERROR: the following arguments are required: --ca-file, --tenant/-t\n"},
		{[]string{"login", "--service-principal", "--endpoint", "https://127.0.0.1:1", "--federated-token", "x"}, "ERROR: the following arguments are required: --ca-file, --tenant/-t, --username/-u\n"},
		{[]string{"login", "--federated-token", "x", "--password", "y"}, "ERROR: --federated-token and --password exclude each other: the token is the credential\n"},
		{[]string{"login", "--federated-token", "x", "--username", "alice@contoso.com"}, "ERROR: --federated-token signs in as the user the token names: leave out --username (or add --service-principal for an application's client id)\n"},
	} {
		r := c.run(tc.args...)
		if r.code != 2 || r.stderr != tc.stderr || r.stdout != "" {
			t.Errorf("perimeter %s: exit %d, stderr %q, stdout %q; want exit 2, stderr %q",
				strings.Join(tc.args, " "), r.code, r.stderr, r.stdout, tc.stderr)
		}
	}
	r := c.run("ad", "user", "list")
	if r.code != 1 || r.stderr != "ERROR: please run 'perimeter login' to set up an account\n" {
		t.Errorf("not logged in: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestLoginUserWithoutSubscriptions: a user who sees no subscription logs
// in only with --allow-no-subscriptions, as a tenant-level account that
// the directory commands accept.
func TestLoginUserWithoutSubscriptions(t *testing.T) {
	c := newCLI(t)
	s := startDirectoryServer(t)
	const password = "Bob-Secret-42"
	c.secrets = append(c.secrets, password)
	bob, err := s.dir.CreateUser(t.Context(), s.tenant, identity.UserInput{DisplayName: "Bob", UserPrincipalName: "nosub-bob@contoso.com",
		MailNickname: "bob", Password: password, AccountEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"login", "--endpoint", s.url, "--ca-file", s.caFile, "--tenant", s.tenant, "--username", "nosub-bob@contoso.com", "--password", "-"}
	r := c.runWithInput(strings.NewReader(password+"\n"), args...)
	if r.code != 1 || r.stderr != "ERROR: no subscriptions found for nosub-bob@contoso.com\n" {
		t.Errorf("without --allow-no-subscriptions: exit %d, stderr %q", r.code, r.stderr)
	}
	assertNoProfiles(t, c.configDir)
	r = c.runWithInput(strings.NewReader(password+"\n"), append(args, "--allow-no-subscriptions")...)
	if r.code != 0 {
		t.Fatalf("with --allow-no-subscriptions: exit %d, stderr %q", r.code, r.stderr)
	}
	v, _ := decodeValue([]byte(r.stdout))
	acct := v.([]any)[0]
	if str(acct, "id") != s.tenant || str(acct, "name") != "N/A(tenant level account)" || str(acct, "user.type") != "user" {
		t.Errorf("tenant-level login printed %s", r.stdout)
	}
	if got := str(c.okJSON("ad", "signed-in-user", "show"), "id"); got != bob.ID {
		t.Errorf("signed-in-user show: %q, want %s", got, bob.ID)
	}
	// The password is in the profile (no refresh tokens), mode 0600; the
	// account view never shows it.
	p, err := (&profileStore{dir: c.configDir}).load("default")
	if err != nil || p.Password != password || p.Username != "nosub-bob@contoso.com" || p.ClientID != identity.AzureCLIClientID {
		t.Errorf("saved profile %+v, %v", p, err)
	}
	if out := c.ok("account", "show"); strings.Contains(out, "password") {
		t.Errorf("account show prints the password field:\n%s", out)
	}
}

// TestADAgainstTheServer: the directory commands and a user's login work
// against a real server, whose directory writes need an administrator.
func TestADAgainstTheServer(t *testing.T) {
	c, info := loggedIn(t)
	const password = "Correct-Horse-9"
	c.secrets = append(c.secrets, password)
	created := c.okJSON("ad", "sp", "create-for-rbac", "--name", "real-bot")
	if str(created, "tenant") != info.TenantID || !isGUID(str(created, "appId")) {
		t.Errorf("create-for-rbac printed %v", created)
	}
	alice := c.okJSON("ad", "user", "create", "--display-name", "Alice", "--user-principal-name", "alice@contoso.com", "--password", password)

	r := c.run("login", "--data-dir", info.dir, "--username", "alice@contoso.com", "--password", password, "--profile", "alice", "--allow-no-subscriptions")
	if r.code != 0 {
		t.Fatalf("user login with --data-dir: exit %d, stderr %q", r.code, r.stderr)
	}
	if got := str(c.okJSON("ad", "signed-in-user", "show", "--profile", "alice"), "id"); got != str(alice, "id") {
		t.Errorf("signed-in-user show: %q, want %s", got, str(alice, "id"))
	}
	// Alice has no role: she may read the directory, not change it.
	if items, _ := c.okJSON("ad", "user", "list", "--profile", "alice").([]any); len(items) != 1 {
		t.Errorf("user list as alice: %v", items)
	}
	r = c.run("ad", "group", "create", "--display-name", "x", "--mail-nickname", "x", "--profile", "alice")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (Authorization_RequestDenied) Insufficient privileges") {
		t.Errorf("group create as alice: exit %d, stderr %q", r.code, r.stderr)
	}
	c.ok("ad", "user", "delete", "--id", "alice@contoso.com", "--profile", "default")
	c.ok("ad", "sp", "delete", "--id", str(created, "appId"), "--profile", "default")
}

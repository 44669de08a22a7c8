package main

import (
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoginDataDirSavesProfileAndPrintsAccount(t *testing.T) {
	c := newCLI(t)
	info := readServerInfo(t, startServer(t))
	c.knowServer(info)

	out := c.ok("login", "--data-dir", info.dir)
	golden(t, "login", c.normalise(out))

	// Secrets are stored 0600, atomically (no temporary files left over),
	// in a directory only the user can enter.
	for _, name := range []string{"config.json", "profiles/default.json", "profiles/default.token.json"} {
		fi, err := os.Stat(filepath.Join(c.configDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	if fi, err := os.Stat(filepath.Join(c.configDir, "profiles")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("profiles directory: %v, mode %v; want 0700", err, fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Join(c.configDir, "profiles"))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	// The profile holds its own copy of the CA: it keeps working without
	// the server's data directory.
	p, err := (&profileStore{dir: c.configDir}).load("default")
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(filepath.Join(info.dir, "ca.pem"))
	if p.CACertificate != string(ca) || p.ClientSecret != info.ClientSecret {
		t.Error("the profile does not hold the server's CA and the admin credential")
	}

	show := c.ok("account", "show")
	if strings.Contains(show, "clientSecret") || strings.Contains(show, "caCertificate") {
		t.Errorf("account show prints the secret or CA fields:\n%s", show)
	}
	golden(t, "account_show", c.normalise(show))
	golden(t, "account_show_table", c.normalise(c.ok("account", "show", "-o", "table")))

	c.ok("logout")
	if _, err := os.Stat(filepath.Join(c.configDir, "profiles/default.json")); !os.IsNotExist(err) {
		t.Errorf("logout left the profile behind: %v", err)
	}
	r := c.run("account", "show")
	if r.code != 1 || !strings.Contains(r.stderr, "perimeter login") {
		t.Errorf("account show after logout: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestLoginServicePrincipal(t *testing.T) {
	c := newCLI(t)
	info := readServerInfo(t, startServer(t))
	c.knowServer(info)
	ca := filepath.Join(info.dir, "ca.pem")
	base := []string{"login", "--service-principal", "--endpoint", info.ARM, "--ca-file", ca, "--tenant", info.TenantID, "--username", info.ClientID}

	t.Run("a wrong secret is refused before anything is saved", func(t *testing.T) {
		r := c.run(append(base, "--password", "not-the-secret")...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (invalid_client) AADSTS7000215") {
			t.Errorf("exit %d, stderr %q; want 1 and ERROR: (invalid_client) AADSTS7000215...", r.code, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, "not-the-secret") {
			t.Error("the refused secret was printed")
		}
		assertNoProfiles(t, c.configDir)
	})

	t.Run("a server whose certificate is not signed by the CA is refused", func(t *testing.T) {
		other := httptest.NewTLSServer(nil)
		defer other.Close()
		wrongCA := filepath.Join(t.TempDir(), "other.pem")
		if err := os.WriteFile(wrongCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Certificate().Raw}), 0o644); err != nil {
			t.Fatal(err)
		}
		args := append([]string{}, base...)
		args[5] = wrongCA
		r := c.run(append(args, "--password", info.ClientSecret)...)
		if r.code != 1 || !strings.Contains(r.stderr, "not signed by the CA") {
			t.Errorf("exit %d, stderr %q; want 1 and a CA error", r.code, r.stderr)
		}
		assertNoProfiles(t, c.configDir)
	})

	t.Run("the secret can come from stdin", func(t *testing.T) {
		r := c.runWithInput(strings.NewReader(info.ClientSecret+"\n"), append(base, "--password", "-", "--profile", "sp", "--subscription", info.SubscriptionID)...)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		v, err := decodeValue([]byte(r.stdout))
		if err != nil {
			t.Fatal(err)
		}
		acct := v.([]any)[0]
		if str(acct, "id") != info.SubscriptionID || str(acct, "user.type") != "servicePrincipal" || str(acct, "user.name") != info.ClientID || str(acct, "profile") != "sp" {
			t.Errorf("login printed %s", r.stdout)
		}
		// The new profile is current and works.
		if got := str(c.okJSON("account", "show"), "profile"); got != "sp" {
			t.Errorf("current profile is %q, want sp", got)
		}
		c.ok("group", "list")
	})

	t.Run("incomplete flags are a usage error", func(t *testing.T) {
		r := c.run("login", "--service-principal", "--endpoint", info.ARM)
		if r.code != 2 || !strings.Contains(r.stderr, "the following arguments are required: --ca-file, --tenant/-t, --username/-u, --password/-p") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
		r = c.run("login", "--service-principal", "--endpoint", "http://"+strings.TrimPrefix(info.ARM, "https://"), "--ca-file", ca, "-t", "x", "-u", "y", "-p", "z")
		if r.code != 2 || !strings.Contains(r.stderr, "must be an https URL") {
			t.Errorf("http endpoint: exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

func assertNoProfiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "profiles"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("profile file %s was written", e.Name())
	}
}

func TestNotLoggedIn(t *testing.T) {
	c := newCLI(t)
	r := c.run("group", "list")
	if r.code != 1 || r.stderr != "ERROR: please run 'perimeter login' to set up an account\n" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestUsageErrorsExit2BeforeAnyRequest(t *testing.T) {
	c := newCLI(t) // not logged in: a usage error must be found before the profile is needed
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"group", "create", "-n", "g"}, "ERROR: the following arguments are required: --location/-l\n"},
		{[]string{"group", "list", "-o", "xml"}, "ERROR: argument --output/-o: invalid choice: 'xml' (choose from 'json', 'jsonc', 'none', 'table', 'tsv')\n"},
		{[]string{"group", "list", "--bogus"}, "ERROR: unknown flag: --bogus\n"},
		{[]string{"group", "list", "extra"}, "ERROR: unrecognized arguments: extra\n"},
		{[]string{"group", "lst"}, "ERROR: 'lst' is misspelled or not recognized by the system. See 'perimeter group --help'.\n"},
		{[]string{"feature", "show", "--namespace", "Microsoft.CognitiveServices"}, "ERROR: the following arguments are required: --name/-n\n"},
		{[]string{"rest", "-m", "fetch", "-u", "/x"}, "ERROR: argument --method/-m: invalid choice: 'fetch' (choose from 'delete', 'get', 'head', 'options', 'patch', 'post', 'put')\n"},
		{[]string{"group", "list", "--profile", "../x"}, "ERROR: argument --profile: invalid profile name \"../x\": use 1 to 64 letters, digits, '.', '_' or '-'\n"},
	} {
		r := c.run(tc.args...)
		if r.code != 2 || r.stderr != tc.stderr || r.stdout != "" {
			t.Errorf("perimeter %s: exit %d, stderr %q, stdout %q; want exit 2, stderr %q",
				strings.Join(tc.args, " "), r.code, r.stderr, r.stdout, tc.stderr)
		}
	}
}

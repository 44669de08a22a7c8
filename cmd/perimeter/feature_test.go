package main

import (
	"strings"
	"testing"
)

func TestProviderRegisterShowList(t *testing.T) {
	c, _ := loggedIn(t)
	r := c.run("provider", "register", "-n", "Microsoft.Features", "--wait")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("provider register --wait: exit %d, stdout %q, stderr %q; want silence, as az", r.code, r.stdout, r.stderr)
	}
	p := c.okJSON("provider", "show", "-n", "microsoft.features")
	if str(p, "namespace") != "Microsoft.Features" || str(p, "registrationState") != "Registered" {
		t.Errorf("provider show printed %v", p)
	}
	golden(t, "provider_list_table", c.ok("provider", "list", "-o", "table"))

	r = c.run("provider", "show", "-n", "Microsoft.Nope")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (InvalidResourceNamespace) ") {
		t.Errorf("unknown namespace: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestFeatureRegisterAndRegistrations(t *testing.T) {
	c, _ := loggedIn(t)
	const ns, name = "Microsoft.CognitiveServices", "OpenAI.NspPreview"
	flags := []string{"--namespace", ns, "--name", name}
	cmd := func(args ...string) []string { return append(args, flags...) }

	golden(t, "feature_list_table", c.ok("feature", "list", "-o", "table"))

	f := c.okJSON(cmd("feature", "register")...)
	if str(f, "name") != ns+"/"+name || str(f, "properties.state") != "Registered" {
		t.Errorf("feature register printed %v", f)
	}
	golden(t, "feature_show_table", c.ok(cmd("feature", "show", "-o", "table")...))
	if got := names(c.okJSON("feature", "list", "--namespace", ns)); len(got) != 1 || got[0] != ns+"/"+name {
		t.Errorf("feature list --namespace = %v", got)
	}
	// `feature register` and `feature registration` are two views of one
	// registration.
	golden(t, "feature_registration_list_table", c.ok("feature", "registration", "list", "-o", "table"))

	f = c.okJSON(cmd("feature", "unregister")...)
	if str(f, "properties.state") != "NotRegistered" {
		t.Errorf("feature unregister printed %v", f)
	}
	if got := names(c.okJSON("feature", "registration", "list")); len(got) != 0 {
		t.Errorf("after unregister, registrations = %v", got)
	}

	reg := c.okJSON(cmd("feature", "registration", "create")...)
	if str(reg, "name") != name || str(reg, "properties.state") != "Registered" || str(reg, "properties.providerNamespace") != ns {
		t.Errorf("registration create printed %v", reg)
	}
	if str(c.okJSON(cmd("feature", "registration", "show")...), "properties.featureName") != name {
		t.Error("registration show does not show the registration")
	}
	if got := names(c.okJSON("feature", "registration", "list", "--namespace", ns)); len(got) != 1 || got[0] != name {
		t.Errorf("registration list --namespace = %v", got)
	}
	if str(c.okJSON(cmd("feature", "show")...), "properties.state") != "Registered" {
		t.Error("a registration created with `feature registration create` does not show in `feature show`")
	}

	if r := c.run(cmd("feature", "registration", "delete")...); r.code != 2 {
		t.Errorf("registration delete without --yes in non-interactive mode: exit %d, want 2", r.code)
	}
	if out := c.ok(cmd("feature", "registration", "delete", "--yes")...); out != "" {
		t.Errorf("registration delete printed %q", out)
	}
	if got := names(c.okJSON("feature", "registration", "list")); len(got) != 0 {
		t.Errorf("after delete, registrations = %v", got)
	}

	r := c.run("feature", "show", "--namespace", ns, "--name", "Nope")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (FeatureNotFound) ") {
		t.Errorf("unknown feature: exit %d, stderr %q", r.code, r.stderr)
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRest(t *testing.T) {
	c, info := loggedIn(t)
	groups := "/subscriptions/{subscriptionId}/resourcegroups"

	// PUT with an inline body; the query comes from --uri-parameters.
	put := c.okJSON("rest", "-m", "put", "-u", groups+"/inline", "--uri-parameters", "api-version=2025-04-01",
		"-b", `{"location":"eastus","tags":{"html":"<b>&"}}`)
	if str(put, "id") != "/subscriptions/"+info.SubscriptionID+"/resourceGroups/inline" || str(put, "tags.html") != "<b>&" {
		t.Errorf("rest PUT printed %v", put)
	}

	// PUT with the body in a file.
	file := filepath.Join(t.TempDir(), "group.json")
	if err := os.WriteFile(file, []byte(`{"location":"westus"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c.ok("rest", "--method", "PUT", "--url", groups+"/fromfile?api-version=2025-04-01", "--body", "@"+file)
	if str(c.okJSON("group", "show", "-n", "fromfile"), "location") != "westus" {
		t.Error("the group PUT from @file is not there")
	}

	// GET of a collection: the page as the server sent it, indented JSON.
	out := c.ok("rest", "-u", groups+"?api-version=2025-04-01")
	if !strings.HasPrefix(out, "{\n  \"value\": [\n") {
		t.Errorf("rest GET output is not indented JSON:\n%s", out)
	}
	if got := names(lookup(mustDecode(t, out), "value")); len(got) != 2 {
		t.Errorf("rest GET listed %v, want the two groups", got)
	}
	// An absolute URL works the same.
	c.ok("rest", "-u", info.ARM+"/subscriptions/"+info.SubscriptionID+"/resourcegroups/inline?api-version=2025-04-01")

	// An error status prints the ARM error and exits 1.
	r := c.run("rest", "-u", groups+"/absent?api-version=2025-04-01")
	if r.code != 1 || r.stderr != "ERROR: (ResourceGroupNotFound) Resource group 'absent' could not be found.\n" {
		t.Errorf("rest GET of a missing group: exit %d, stderr %q", r.code, r.stderr)
	}
	// Without the token the server refuses.
	r = c.run("rest", "-u", groups+"?api-version=2025-04-01", "--skip-authorization-header")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (AuthenticationFailed)") {
		t.Errorf("rest without token: exit %d, stderr %q", r.code, r.stderr)
	}
	// DELETE answers 202 with no body: nothing printed.
	if out := c.ok("rest", "-m", "delete", "-u", groups+"/inline?api-version=2025-04-01"); out != "" {
		t.Errorf("rest DELETE printed %q", out)
	}
}

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	v, err := decodeValue([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

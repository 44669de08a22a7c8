package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGroupLifecycle(t *testing.T) {
	c, _ := loggedIn(t)

	created := c.okJSON("group", "create", "-n", "rg-a", "-l", "East US", "--tags", "env=dev", "team=ai")
	if str(created, "location") != "eastus" || str(created, "properties.provisioningState") != "Succeeded" ||
		str(created, "tags.env") != "dev" || str(created, "tags.team") != "ai" {
		t.Errorf("group create printed %v", created)
	}
	golden(t, "group_show", c.normalise(c.ok("group", "show", "-n", "rg-a")))
	golden(t, "group_show_table", c.ok("group", "show", "-n", "rg-a", "-o", "table"))

	if out := c.ok("group", "exists", "-n", "rg-a"); out != "true\n" {
		t.Errorf("exists printed %q, want true", out)
	}
	if out := c.ok("group", "exists", "-n", "nope"); out != "false\n" {
		t.Errorf("exists of a missing group printed %q, want false", out)
	}

	// Enough groups for several pages of two: the list must follow nextLink.
	for i := range 4 {
		c.ok("group", "create", "-n", fmt.Sprintf("rg-%c", 'b'+i), "-l", "westus", "-o", "none")
	}
	firstPage := c.okJSON("rest", "-u", "/subscriptions/{subscriptionId}/resourcegroups?api-version=2025-04-01&$top=2")
	if str(firstPage, "nextLink") == "" {
		t.Fatal("the server did not page: the paging test would prove nothing")
	}
	want := []string{"rg-a", "rg-b", "rg-c", "rg-d", "rg-e"}
	got := names(c.okJSON("group", "list", "--query-top", "2"))
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("group list --query-top 2 = %v, want %v", got, want)
	}
	golden(t, "group_list_table", c.ok("group", "list", "--query-top", "2", "-o", "table"))

	// Delete and wait.
	if out := c.ok("group", "delete", "-n", "rg-a", "--yes"); out != "" {
		t.Errorf("delete printed %q", out)
	}
	if out := c.ok("group", "exists", "-n", "rg-a"); out != "false\n" {
		t.Errorf("after delete, exists printed %q", out)
	}

	// --no-wait returns at once with no output; the group goes away soon.
	if out := c.ok("group", "delete", "-n", "rg-b", "-y", "--no-wait"); out != "" {
		t.Errorf("delete --no-wait printed %q", out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := c.run("group", "show", "-n", "rg-b")
		if r.code == 1 && strings.Contains(r.stderr, "(ResourceGroupNotFound)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rg-b still there after --no-wait delete: exit %d %s", r.code, r.stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestGroupShowMissingIsAnARMError(t *testing.T) {
	c, _ := loggedIn(t)
	r := c.run("group", "show", "-n", "missing-group")
	if r.code != 1 || r.stdout != "" {
		t.Errorf("exit %d, stdout %q; want exit 1 and no output", r.code, r.stdout)
	}
	golden(t, "group_show_missing_stderr", r.stderr)
}

// fakeTTY is stdin that says it is a terminal, for the confirmation prompt.
type fakeTTY struct{ io.Reader }

func (fakeTTY) IsTerminal() bool { return true }

func TestGroupDeleteConfirmation(t *testing.T) {
	c, _ := loggedIn(t)
	c.ok("group", "create", "-n", "keep", "-l", "eastus", "-o", "none")

	r := c.run("group", "delete", "-n", "keep")
	if r.code != 2 || r.stderr != "ERROR: Unable to prompt for confirmation as no tty available. Use --yes.\n" {
		t.Errorf("non-interactive delete without --yes: exit %d, stderr %q", r.code, r.stderr)
	}
	r = c.runWithInput(fakeTTY{strings.NewReader("n\n")}, "group", "delete", "-n", "keep")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "Are you sure you want to perform this operation? (y/n): ") {
		t.Errorf("answering n: exit %d, stderr %q", r.code, r.stderr)
	}
	if out := c.ok("group", "exists", "-n", "keep"); out != "true\n" {
		t.Fatalf("the group was deleted without confirmation (exists: %q)", out)
	}
	r = c.runWithInput(fakeTTY{strings.NewReader("y\n")}, "group", "delete", "-n", "keep")
	if r.code != 0 {
		t.Errorf("answering y: exit %d, stderr %q", r.code, r.stderr)
	}
	if out := c.ok("group", "exists", "-n", "keep"); out != "false\n" {
		t.Errorf("confirmed delete left the group (exists: %q)", out)
	}
}

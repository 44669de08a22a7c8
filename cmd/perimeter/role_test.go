package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

const readerGUID = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

// groupReaderRole is az's role definition JSON of a custom role that may
// read resource groups and nothing else.
func groupReaderRole(subscription string) string {
	return `{"Name": "Group Reader", "Description": "Reads resource groups", "IsCustom": true,
  "Actions": ["Microsoft.Resources/subscriptions/resourceGroups/read"], "NotActions": [],
  "DataActions": [], "NotDataActions": [], "AssignableScopes": ["/subscriptions/` + subscription + `"]}`
}

func TestRoleDefinitionCommands(t *testing.T) {
	c, info := loggedIn(t)
	sub := "/subscriptions/" + info.SubscriptionID

	golden(t, "role_definition_list_table", c.ok("role", "definition", "list", "-o", "table"))
	builtIns, _ := c.okJSON("role", "definition", "list").([]any)
	if len(builtIns) < 12 {
		t.Fatalf("role definition list: %d roles, want the 12 built-ins at least", len(builtIns))
	}
	for _, r := range builtIns {
		if str(r, "roleType") != "BuiltInRole" || lookup(r, "properties") != nil || !strings.HasPrefix(str(r, "id"), sub+"/providers/Microsoft.Authorization/roleDefinitions/") {
			t.Errorf("a built-in role is listed as %v; want it flattened as az prints it, with its id under the subscription", r)
		}
	}

	reader := c.okJSON("role", "definition", "show", "--name", "Reader")
	if str(reader, "name") != readerGUID || str(reader, "roleName") != "Reader" || str(reader, "roleType") != "BuiltInRole" ||
		cell(lookup(reader, "permissions")) != `[{"actions":["*/read"],"dataActions":[],"notActions":[],"notDataActions":[]}]` {
		t.Errorf("show --name Reader printed %v", reader)
	}
	if got := str(c.okJSON("role", "definition", "show", "--name", strings.ToUpper(readerGUID)), "roleName"); got != "Reader" {
		t.Errorf("show by GUID found %q", got)
	}
	if items, _ := c.okJSON("role", "definition", "list", "--name", readerGUID).([]any); len(items) != 1 || str(items[0], "roleName") != "Reader" {
		t.Errorf("list --name GUID: %v", items)
	}
	r := c.run("role", "definition", "show", "--name", "No Such Role")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "ERROR: Role 'No Such Role' doesn't exist.") || r.stdout != "" {
		t.Errorf("show of an unknown roleName: exit %d, stderr %q", r.code, r.stderr)
	}
	r = c.run("role", "definition", "show", "--name", uuid.NewString())
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (RoleDefinitionDoesNotExist)") {
		t.Errorf("show of an unknown GUID: exit %d, stderr %q", r.code, r.stderr)
	}

	// A custom role from az's JSON in a file (@FILE).
	file := filepath.Join(t.TempDir(), "role.json")
	if err := os.WriteFile(file, []byte(groupReaderRole(info.SubscriptionID)), 0o600); err != nil {
		t.Fatal(err)
	}
	created := c.okJSON("role", "definition", "create", "--role-definition", "@"+file)
	customID := str(created, "name")
	if !isGUID(customID) || str(created, "roleName") != "Group Reader" || str(created, "roleType") != "CustomRole" ||
		str(created, "description") != "Reads resource groups" || cell(lookup(created, "assignableScopes")) != `["`+sub+`"]` ||
		cell(lookup(created, "permissions")) != `[{"actions":["Microsoft.Resources/subscriptions/resourceGroups/read"],"dataActions":[],"notActions":[],"notDataActions":[]}]` {
		t.Errorf("create printed %v", created)
	}
	// The name is taken (the file's path alone also works, as in az).
	r = c.run("role", "definition", "create", "--role-definition", file)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (RoleDefinitionWithSameNameExists)") {
		t.Errorf("second role with the same name: exit %d, stderr %q", r.code, r.stderr)
	}
	r = c.run("role", "definition", "create", "--role-definition",
		`{"Name": "Bad", "Actions": ["not an action"], "AssignableScopes": ["`+sub+`"]}`)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (") || !strings.Contains(r.stderr, "not an action") {
		t.Errorf("invalid action: exit %d, stderr %q", r.code, r.stderr)
	}
	custom, _ := c.okJSON("role", "definition", "list", "--custom-role-only").([]any)
	if len(custom) != 1 || str(custom[0], "name") != customID {
		t.Errorf("list --custom-role-only: %v", custom)
	}
	if got := str(c.okJSON("role", "definition", "show", "--name", "Group Reader"), "id"); got != str(created, "id") {
		t.Errorf("show by the custom roleName: %q, want %q", got, str(created, "id"))
	}

	r = c.run("role", "definition", "delete", "--name", "Reader")
	if r.code != 1 || !strings.Contains(r.stderr, "'Reader' is a built-in role") {
		t.Errorf("delete a built-in: exit %d, stderr %q", r.code, r.stderr)
	}
	c.ok("role", "definition", "delete", "--name", "Group Reader")
	if items, _ := c.okJSON("role", "definition", "list", "--custom-role-only").([]any); len(items) != 0 {
		t.Errorf("custom roles after delete: %v", items)
	}
	r = c.run("role", "definition", "delete", "--name", "Group Reader")
	if r.code != 0 || !strings.Contains(r.stderr, "WARNING: No role definition named 'Group Reader'") {
		t.Errorf("delete of a missing role: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestRoleAssignmentCommands: a custom role assigned to a user by name
// takes effect; assignments by appId and object id, listing as az lists,
// the server's refusals, and deletion by ids and by selection.
func TestRoleAssignmentCommands(t *testing.T) {
	c, info := loggedIn(t)
	const password = "Correct-Horse-9"
	c.secrets = append(c.secrets, password)
	sub := "/subscriptions/" + info.SubscriptionID
	rgA, rgB := sub+"/resourceGroups/rg-a", sub+"/resourceGroups/rg-b"
	c.ok("group", "create", "-n", "rg-a", "-l", "eastus", "-o", "none")
	c.ok("group", "create", "-n", "rg-b", "-l", "eastus", "-o", "none")
	aliceID := str(c.okJSON("ad", "user", "create", "--display-name", "Alice", "--user-principal-name", "alice@contoso.com", "--password", password), "id")
	c.ok("login", "--data-dir", info.dir, "--username", "alice@contoso.com", "--password", password, "--profile", "alice", "--allow-no-subscriptions", "-o", "none")
	c.ok("login", "--data-dir", info.dir, "-o", "none") // the admin's profile is current again
	asAlice := func(args ...string) result {
		return c.run(append(args, "--profile", "alice", "--subscription", info.SubscriptionID)...)
	}
	if r := asAlice("group", "show", "-n", "rg-a"); r.code != 1 || !strings.Contains(r.stderr, "(AuthorizationFailed)") {
		t.Fatalf("alice reads rg-a before any assignment: exit %d, stderr %q", r.code, r.stderr)
	}

	customID := str(c.okJSON("role", "definition", "create", "--role-definition", groupReaderRole(info.SubscriptionID)), "name")
	a1 := c.okJSON("role", "assignment", "create", "--assignee", "alice@contoso.com", "--role", "Group Reader", "--scope", rgA)
	if str(a1, "principalId") != aliceID || str(a1, "principalType") != "User" || str(a1, "scope") != rgA ||
		roleGUID(str(a1, "roleDefinitionId")) != customID || !strings.HasPrefix(str(a1, "id"), rgA+"/providers/Microsoft.Authorization/roleAssignments/") ||
		lookup(a1, "properties") != nil {
		t.Errorf("assignment create printed %v", a1)
	}
	// In force at once: alice reads rg-a, and nothing else.
	if r := asAlice("group", "show", "-n", "rg-a"); r.code != 0 {
		t.Errorf("alice reads rg-a with Group Reader there: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := asAlice("group", "show", "-n", "rg-b"); r.code != 1 || !strings.Contains(r.stderr, "(AuthorizationFailed)") {
		t.Errorf("alice reads rg-b: exit %d, stderr %q", r.code, r.stderr)
	}

	r := c.run("role", "assignment", "create", "--assignee", "alice@contoso.com", "--role", customID, "--scope", rgA)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (RoleAssignmentExists)") || r.stdout != "" {
		t.Errorf("the same assignment twice: exit %d, stderr %q", r.code, r.stderr)
	}
	r = c.run("role", "assignment", "create", "--assignee", "alice@contoso.com", "--role", "No Such Role", "--scope", rgA)
	if r.code != 2 || !strings.HasPrefix(r.stderr, "ERROR: Role 'No Such Role' doesn't exist.") || r.stdout != "" {
		t.Errorf("unknown role name: exit %d, stderr %q", r.code, r.stderr)
	}
	r = c.run("role", "assignment", "create", "--assignee", "nobody@contoso.com", "--role", "Reader", "--scope", rgA)
	if r.code != 2 || !strings.HasPrefix(r.stderr, "ERROR: argument --assignee: cannot find a user or service principal for 'nobody@contoso.com'") {
		t.Errorf("unknown assignee: exit %d, stderr %q", r.code, r.stderr)
	}
	unknown := uuid.NewString()
	r = c.run("role", "assignment", "create", "--assignee", unknown, "--role", "Reader", "--scope", rgA)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (PrincipalNotFound) Principal "+unknown) {
		t.Errorf("unknown object id: exit %d, stderr %q", r.code, r.stderr)
	}

	// By appId (the service principal is assigned), by a group's object
	// id, and by --assignee-object-id without a directory lookup.
	appID := str(c.okJSON("ad", "sp", "create-for-rbac", "--name", "bot"), "appId")
	botID := str(c.okJSON("ad", "sp", "show", "--id", appID), "id")
	a2 := c.okJSON("role", "assignment", "create", "--assignee", appID, "--role", readerGUID, "--scope", rgA)
	if str(a2, "principalId") != botID || str(a2, "principalType") != "ServicePrincipal" {
		t.Errorf("assignment to an appId: %v; want the service principal %s", a2, botID)
	}
	groupID := str(c.okJSON("ad", "group", "create", "--display-name", "AI team", "--mail-nickname", "ai-team"), "id")
	a3 := c.okJSON("role", "assignment", "create", "--assignee", groupID, "--role", "Azure AI User", "--scope", rgA)
	if str(a3, "principalId") != groupID || str(a3, "principalType") != "Group" {
		t.Errorf("assignment to a group's object id: %v", a3)
	}
	a4 := c.okJSON("role", "assignment", "create", "--assignee-object-id", aliceID, "--assignee-principal-type", "user",
		"--role", sub+"/providers/Microsoft.Authorization/roleDefinitions/"+readerGUID, "--scope", sub, "--description", "reads everything")
	if str(a4, "principalType") != "User" || str(a4, "scope") != sub || str(a4, "description") != "reads everything" {
		t.Errorf("assignment by --assignee-object-id: %v", a4)
	}
	r = c.run("role", "assignment", "create", "--assignee-object-id", groupID, "--assignee-principal-type", "User", "--role", "Reader", "--scope", rgB)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (UnmatchedPrincipalType)") {
		t.Errorf("wrong --assignee-principal-type: exit %d, stderr %q", r.code, r.stderr)
	}

	// Listing, as az: exactly at the scope unless told otherwise, with the
	// principal's and the role's names.
	atA, _ := c.okJSON("role", "assignment", "list", "--scope", rgA).([]any)
	wantNames := map[string][2]string{
		str(a1, "id"): {"alice@contoso.com", "Group Reader"}, str(a2, "id"): {appID, "Reader"}, str(a3, "id"): {"AI team", "Azure AI User"},
	}
	if len(atA) != len(wantNames) {
		t.Errorf("list --scope rg-a: %d assignments, want %d: %v", len(atA), len(wantNames), atA)
	}
	for _, it := range atA {
		if want, ok := wantNames[str(it, "id")]; !ok || str(it, "principalName") != want[0] || str(it, "roleDefinitionName") != want[1] {
			t.Errorf("list --scope rg-a has %v; want principalName and roleDefinitionName %v", it, want)
		}
	}
	atSub := ids(c.okJSON("role", "assignment", "list"))
	if !slices.Contains(atSub, str(a4, "id")) || slices.Contains(atSub, str(a1, "id")) {
		t.Errorf("list (the subscription) = %v; want a4 and not the assignments at rg-a", atSub)
	}
	inherited := ids(c.okJSON("role", "assignment", "list", "--scope", rgA, "--include-inherited"))
	if len(inherited) != len(atA)+len(atSub) || !slices.Contains(inherited, str(a4, "id")) {
		t.Errorf("list --scope rg-a --include-inherited = %v; want rg-a's and the subscription's", inherited)
	}
	aliceAll := ids(c.okJSON("role", "assignment", "list", "--assignee", "alice@contoso.com", "--all"))
	slices.Sort(aliceAll)
	if want := []string{str(a1, "id"), str(a4, "id")}; !slices.Equal(aliceAll, sorted(want)) {
		t.Errorf("list --assignee alice --all = %v, want %v", aliceAll, want)
	}
	readers := ids(c.okJSON("role", "assignment", "list", "--role", "Reader", "--all"))
	slices.Sort(readers)
	if want := []string{str(a2, "id"), str(a4, "id")}; !slices.Equal(readers, sorted(want)) {
		t.Errorf("list --role Reader --all = %v, want %v", readers, want)
	}
	c.ok("ad", "group", "member", "add", "--group", groupID, "--member-id", aliceID)
	withGroups := ids(c.okJSON("role", "assignment", "list", "--assignee", aliceID, "--scope", rgA, "--include-groups"))
	slices.Sort(withGroups)
	if want := []string{str(a1, "id"), str(a3, "id")}; !slices.Equal(withGroups, sorted(want)) {
		t.Errorf("list --assignee alice --include-groups at rg-a = %v, want %v", withGroups, want)
	}
	golden(t, "role_assignment_list_table", c.normalise(c.ok("role", "assignment", "list", "--assignee", "alice@contoso.com", "--scope", rgA, "-o", "table")))

	// Deleting by ids (space-separated), then by what selects them.
	if out := c.ok("role", "assignment", "delete", "--ids", str(a2, "id"), str(a3, "id")); out != "" {
		t.Errorf("delete --ids printed %q", out)
	}
	if got := ids(c.okJSON("role", "assignment", "list", "--scope", rgA)); len(got) != 1 || got[0] != str(a1, "id") {
		t.Errorf("after delete --ids, rg-a has %v; want only a1", got)
	}
	c.ok("role", "assignment", "delete", "--assignee", "alice@contoso.com", "--role", "Group Reader", "--scope", rgA)
	if got := ids(c.okJSON("role", "assignment", "list", "--scope", rgA)); len(got) != 0 {
		t.Errorf("after delete by selection, rg-a has %v", got)
	}
	c.ok("role", "assignment", "delete", "--assignee", "alice@contoso.com", "--role", "Reader") // at the subscription
	if got := ids(c.okJSON("role", "assignment", "list", "--assignee", "alice@contoso.com", "--all")); len(got) != 0 {
		t.Errorf("after deleting alice's Reader at the subscription she still has %v", got)
	}
	if r := asAlice("group", "show", "-n", "rg-a"); r.code != 1 || !strings.Contains(r.stderr, "(AuthorizationFailed)") {
		t.Errorf("alice reads rg-a after her assignments were deleted: exit %d, stderr %q", r.code, r.stderr)
	}
	r = c.run("role", "assignment", "delete", "--assignee", "alice@contoso.com", "--scope", rgA)
	if r.code != 0 || r.stderr != "WARNING: No matched assignments were found to delete\n" {
		t.Errorf("delete with nothing selected: exit %d, stderr %q", r.code, r.stderr)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestCreateForRBACAssignsRoles: create-for-rbac --role --scopes makes a
// service principal that holds the role at each scope, and leaves nothing
// behind when an assignment fails.
func TestCreateForRBACAssignsRoles(t *testing.T) {
	c, info := loggedIn(t)
	sub := "/subscriptions/" + info.SubscriptionID
	rgA, rgB := sub+"/resourceGroups/rg-a", sub+"/resourceGroups/rg-b"
	c.ok("group", "create", "-n", "rg-a", "-l", "eastus", "-o", "none")
	c.ok("group", "create", "-n", "rg-b", "-l", "eastus", "-o", "none")

	r := c.run("ad", "sp", "create-for-rbac", "--name", "deployer", "--role", "Reader", "--scopes", rgA, rgB)
	if r.code != 0 {
		t.Fatalf("create-for-rbac --role --scopes: exit %d, stderr %q", r.code, r.stderr)
	}
	v, _ := decodeValue([]byte(r.stdout))
	appID, secret := str(v, "appId"), str(v, "password")
	c.secrets = append(c.secrets, secret)
	if str(v, "tenant") != info.TenantID || !isGUID(appID) || secret == "" {
		t.Errorf("create-for-rbac printed %v", v)
	}
	for _, scope := range []string{rgA, rgB} {
		if !strings.Contains(r.stderr, "Creating 'Reader' role assignment under scope '"+scope+"'\n") {
			t.Errorf("no notice of the assignment at %s: %q", scope, r.stderr)
		}
	}
	held := c.okJSON("role", "assignment", "list", "--assignee", appID, "--all")
	if items, _ := held.([]any); len(items) != 2 || str(items[0], "roleDefinitionName") != "Reader" || str(items[0], "principalType") != "ServicePrincipal" {
		t.Errorf("the new service principal holds %v; want Reader at rg-a and rg-b", held)
	}
	// The credential works with the role it was given: reads, no writes.
	c.ok("login", "--service-principal", "--endpoint", info.ARM, "--ca-file", filepath.Join(info.dir, "ca.pem"), "--tenant", info.TenantID,
		"-u", appID, "-p", secret, "--profile", "deployer", "-o", "none")
	c.ok("group", "show", "-n", "rg-b", "--profile", "deployer")
	if r := c.run("group", "create", "-n", "rg-c", "-l", "eastus", "--profile", "deployer"); r.code != 1 || !strings.Contains(r.stderr, "(AuthorizationFailed)") {
		t.Errorf("a Reader creates a group: exit %d, stderr %q", r.code, r.stderr)
	}

	// A wrong role makes nothing; a failed assignment undoes everything.
	r = c.run("ad", "sp", "create-for-rbac", "--name", "norole", "--role", "No Such Role", "--scopes", rgA, "--profile", "default")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "ERROR: Role 'No Such Role' doesn't exist.") {
		t.Errorf("create-for-rbac with an unknown role: exit %d, stderr %q", r.code, r.stderr)
	}
	c.ok("role", "definition", "create", "--role-definition",
		`{"Name": "rg-a only", "Actions": ["*/read"], "AssignableScopes": ["`+rgA+`"]}`, "-o", "none", "--profile", "default")
	r = c.run("ad", "sp", "create-for-rbac", "--name", "partial", "--role", "rg-a only", "--scopes", rgA, rgB, "--profile", "default")
	if r.code != 1 || !strings.Contains(r.stderr, "ERROR: (InvalidRoleAssignmentScope)") || r.stdout != "" {
		t.Errorf("create-for-rbac with a scope the role cannot be assigned at: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, name := range []string{"norole", "partial"} {
		if items, _ := c.okJSON("ad", "sp", "list", "--display-name", name, "--profile", "default").([]any); len(items) != 0 {
			t.Errorf("create-for-rbac left the service principal %q behind: %v", name, items)
		}
	}
	if items, _ := c.okJSON("role", "assignment", "list", "--role", "rg-a only", "--scope", rgA, "--profile", "default").([]any); len(items) != 0 {
		t.Errorf("create-for-rbac left the assignment at rg-a behind: %v", items)
	}
}

func TestRoleUsageErrorsExit2BeforeAnyRequest(t *testing.T) {
	c := newCLI(t) // not logged in: a request would fail with exit 1
	guid := uuid.NewString()
	sub := "/subscriptions/" + guid
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"role", "assignment", "create", "--assignee", "a@b.c"}, "ERROR: the following arguments are required: --role, --scope\n"},
		{[]string{"role", "assignment", "create", "--role", "Reader", "--scope", sub}, "ERROR: usage error: --assignee STRING | --assignee-object-id GUID\n"},
		{[]string{"role", "assignment", "create", "--assignee", "a@b.c", "--assignee-object-id", guid, "--role", "Reader", "--scope", sub}, "ERROR: usage error: --assignee STRING | --assignee-object-id GUID\n"},
		{[]string{"role", "assignment", "create", "--assignee", "a@b.c", "--assignee-principal-type", "User", "--role", "Reader", "--scope", sub}, "ERROR: usage error: --assignee-object-id GUID --assignee-principal-type TYPE\n"},
		{[]string{"role", "assignment", "create", "--assignee-object-id", guid, "--assignee-principal-type", "Device", "--role", "Reader", "--scope", sub}, "ERROR: argument --assignee-principal-type: invalid choice: 'Device' (choose from 'User', 'Group', 'ServicePrincipal')\n"},
		{[]string{"role", "assignment", "create", "--assignee-object-id", "alice", "--role", "Reader", "--scope", sub}, "ERROR: argument --assignee-object-id: give the object id (a GUID) of a user, group or service principal\n"},
		{[]string{"role", "assignment", "create", "--assignee", "a@b.c", "--role", "Reader", "--scope", "subscriptions/x"}, "ERROR: argument --scope: 'subscriptions/x' is not a scope: give an id starting with '/', such as /subscriptions/{subscriptionId}/resourceGroups/{name}\n"},
		{[]string{"role", "assignment", "create", "--assignee", "a@b.c", "--role", "Reader", "--scope", sub, "--name", "x"}, "ERROR: argument --name/-n: the name of a role assignment is a GUID\n"},
		{[]string{"role", "assignment", "create", "--assignee", "a@b.c", "--role", "Reader", "--scope", sub, "--condition-version", "2.0"}, "ERROR: usage error: When --condition-version is set, --condition must be set as well.\n"},
		{[]string{"role", "assignment", "list", "--all", "--scope", sub}, "ERROR: group or scope are not required when --all is used\n"},
		{[]string{"role", "assignment", "list", "--scope", sub, "-g", "rg"}, "ERROR: Resource group 'rg' is redundant because 'scope' is supplied\n"},
		{[]string{"role", "assignment", "list", "--include-groups"}, "ERROR: usage error: --include-groups needs --assignee\n"},
		{[]string{"role", "assignment", "delete", "--ids", sub + "/providers/Microsoft.Authorization/roleAssignments/" + guid, "--assignee", "a@b.c"}, "ERROR: When assignment ids are used, other parameter values are not required\n"},
		{[]string{"role", "assignment", "delete", "--ids", sub + "/resourceGroups/rg"}, "ERROR: argument --ids: '" + sub + "/resourceGroups/rg' is not a role assignment id ({scope}/providers/Microsoft.Authorization/roleAssignments/{guid})\n"},
		{[]string{"role", "assignment", "delete"}, "ERROR: Unable to prompt for confirmation as no tty available. Use --yes.\n"},
		{[]string{"role", "assignment", "list", "extra"}, "ERROR: unrecognized arguments: extra\n"},
		{[]string{"role", "definition", "show"}, "ERROR: the following arguments are required: --name/-n\n"},
		{[]string{"role", "definition", "create", "--role-definition", `{"Name": "x", "Actions": ["*/read"]}`}, "ERROR: please provide 'assignableScopes', such as [\"/subscriptions/{subscriptionId}\"]\n"},
		{[]string{"role", "definition", "create", "--role-definition", `{"Actions": ["*/read"], "AssignableScopes": ["` + sub + `"]}`}, "ERROR: please provide role name (\"Name\" in the role definition)\n"},
		{[]string{"role", "definition", "create", "--role-definition", `[1]`}, "ERROR: Invalid role definition. A valid dictionary JSON representation is expected.\n"},
		{[]string{"role", "definition", "create", "--role-definition", `{"Name": 5}`}, "ERROR: argument --role-definition: not a valid role definition: json: cannot unmarshal number into Go struct field roleDefinitionInput.name of type string\n"},
		{[]string{"role", "definition", "create", "--role-definition", `{"Name": "x", "Actions": ["*/read"], "Permissions": [{}], "AssignableScopes": ["` + sub + `"]}`}, "ERROR: argument --role-definition: give either Permissions or Actions/NotActions/DataActions/NotDataActions, not both\n"},
		{[]string{"role", "definition", "create", "--role-definition", "@/nonexistent/role.json"}, "ERROR: argument --role-definition: open /nonexistent/role.json: no such file or directory\n"},
		{[]string{"role", "definition", "lst"}, "ERROR: 'lst' is misspelled or not recognized by the system. See 'perimeter role definition --help'.\n"},
		{[]string{"ad", "sp", "create-for-rbac", "--role", "Reader"}, "ERROR: Usage error: To create role assignments, specify both --role and --scopes.\n"},
		{[]string{"ad", "sp", "create-for-rbac", "--scopes", sub}, "ERROR: Usage error: To create role assignments, specify both --role and --scopes.\n"},
		{[]string{"ad", "sp", "create-for-rbac", "--role", "Reader", "--scopes", sub, "rg"}, "ERROR: argument --scopes: 'rg' is not a scope: give an id starting with '/', such as /subscriptions/{subscriptionId}/resourceGroups/{name}\n"},
	} {
		r := c.run(tc.args...)
		if r.code != 2 || r.stderr != tc.stderr || r.stdout != "" {
			t.Errorf("perimeter %s: exit %d, stderr %q, stdout %q; want exit 2, stderr %q",
				strings.Join(tc.args, " "), r.code, r.stderr, r.stdout, tc.stderr)
		}
	}
}

package main

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// account runs `perimeter cognitiveservices account ...`.
func account(args ...string) []string {
	return append([]string{"cognitiveservices", "account"}, args...)
}

// with runs `perimeter cognitiveservices account ...` on the test account
// (-g ai -n ai1).
func with(args ...string) []string { return append(account(args...), "-g", "ai", "-n", "ai1") }

// ipRules returns the values of the IP rules of a decoded rule set.
func ipRules(acls any) []string {
	rules, _ := lookup(acls, "ipRules").([]any)
	out := make([]string, 0, len(rules))
	for _, r := range rules {
		out = append(out, str(r, "value"))
	}
	return out
}

// cognitiveSetup creates a resource group "ai" with a virtual network
// "vnet1" holding subnet "apps" (with the Microsoft.CognitiveServices
// service endpoint) and subnet "plain" (without), and the account "ai1".
func cognitiveSetup(t *testing.T) *cli {
	t.Helper()
	c, _ := loggedIn(t)
	c.ok("group", "create", "-n", "ai", "-l", "eastus", "-o", "none")
	c.ok("network", "vnet", "create", "-g", "ai", "-n", "vnet1", "--address-prefixes", "10.1.0.0/16", "-o", "none")
	c.ok("network", "vnet", "subnet", "create", "-g", "ai", "--vnet-name", "vnet1", "-n", "apps",
		"--address-prefixes", "10.1.1.0/24", "--service-endpoints", "Microsoft.CognitiveServices", "-o", "none")
	c.ok("network", "vnet", "subnet", "create", "-g", "ai", "--vnet-name", "vnet1", "-n", "plain", "--address-prefixes", "10.1.2.0/24", "-o", "none")

	r := c.run(account("create", "-g", "ai", "-n", "ai1", "-l", "eastus", "--kind", "AIServices", "--sku", "S0",
		"--custom-domain", "ai1-test", "--assign-identity", "--tags", "env=dev", "--yes")...)
	if r.code != 0 {
		t.Fatalf("account create: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "Resource provider 'Microsoft.CognitiveServices' used by this operation is not registered. We are registering for you.") {
		t.Errorf("account create stderr: %q", r.stderr)
	}
	a, err := decodeValue([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"kind": "AIServices", "sku.name": "S0", "location": "eastus", "identity.type": "SystemAssigned", "tags.env": "dev",
		"properties.provisioningState": "Succeeded", "properties.customSubDomainName": "ai1-test",
		"properties.networkAcls.defaultAction": "Allow",
	} {
		if got := str(a, path); got != want {
			t.Errorf("account create: %s = %q, want %q", path, got, want)
		}
	}
	if lookup(a, "properties.allowProjectManagement") != true {
		t.Error("an AIServices account does not allow projects by default, as az's do")
	}
	return c
}

func TestCognitiveAccountCreateShowListUpdateDelete(t *testing.T) {
	c := cognitiveSetup(t)
	golden(t, "cs_account_show_table", c.ok(with("show", "-o", "table")...))
	golden(t, "cs_account_list_table", c.ok(account("list", "-g", "ai", "-o", "table")...))
	if got := names(c.okJSON(account("list")...)); !slices.Equal(got, []string{"ai1"}) {
		t.Errorf("subscription-wide account list = %v", got)
	}

	// update PATCHes what is given and keeps the rest.
	a := c.okJSON(with("update", "--public-network-access", "disabled", "--tags", "team=ai", "--disable-local-auth")...)
	if str(a, "properties.publicNetworkAccess") != "Disabled" || str(a, "tags.team") != "ai" || str(a, "tags.env") != "" ||
		lookup(a, "properties.disableLocalAuth") != true || str(a, "properties.customSubDomainName") != "ai1-test" || str(a, "kind") != "AIServices" {
		t.Errorf("account update printed %v", a)
	}
	r := c.run(with("keys", "list")...)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (LocalAuthDisabled) ") {
		t.Errorf("keys list with local auth disabled: exit %d, stderr %q", r.code, r.stderr)
	}
	a = c.okJSON(with("update", "--disable-local-auth=false", "--public-network-access", "Enabled")...)
	if lookup(a, "properties.disableLocalAuth") != false || str(a, "properties.publicNetworkAccess") != "Enabled" {
		t.Errorf("account update back printed %v", a)
	}

	// Refusals of the server are ARM errors (exit 1).
	r = c.run(account("create", "-g", "ai", "-n", "oai", "-l", "eastus", "--kind", "OpenAI", "--sku", "S0")...)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (CustomSubDomainNameRequired) ") {
		t.Errorf("OpenAI account without a subdomain: exit %d, stderr %q", r.code, r.stderr)
	}

	// Delete asks first, as group delete does.
	if r := c.run(with("delete")...); r.code != 2 || !strings.Contains(r.stderr, "Use --yes") {
		t.Errorf("delete without --yes: exit %d, stderr %q", r.code, r.stderr)
	}
	if out := c.ok(with("delete", "--yes")...); out != "" {
		t.Errorf("delete printed %q", out)
	}
	r = c.run(with("show")...)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (ResourceNotFound) ") {
		t.Errorf("show after delete: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestCognitiveAccountKeys(t *testing.T) {
	c := cognitiveSetup(t)
	r := c.run(with("keys", "list")...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("keys list: exit %d, stderr %q", r.code, r.stderr)
	}
	before, _ := decodeValue([]byte(r.stdout))
	k1, k2 := str(before, "key1"), str(before, "key2")
	if len(k1) != 32 || len(k2) != 32 || k1 == k2 {
		t.Fatalf("keys list printed %v", before)
	}
	hide := strings.NewReplacer(k1, strings.Repeat("1", 32), k2, strings.Repeat("2", 32))
	golden(t, "cs_keys_list_table", hide.Replace(c.ok(with("keys", "list", "-o", "table")...)))

	r = c.run(with("keys", "regenerate", "--key-name", "key2")...)
	if r.code != 0 || strings.Contains(r.stderr, k1) {
		t.Fatalf("keys regenerate: exit %d, stderr %q", r.code, r.stderr)
	}
	after, _ := decodeValue([]byte(r.stdout))
	if str(after, "key1") != k1 || str(after, "key2") == k2 || len(str(after, "key2")) != 32 {
		t.Errorf("regenerating Key2 changed key1 or kept key2")
	}
	// The keys are printed by keys list only.
	for _, args := range [][]string{with("show"), account("list"), with("update", "--tags", "x=y")} {
		r := c.run(args...)
		if strings.Contains(r.stdout+r.stderr, k1) || strings.Contains(r.stdout+r.stderr, str(after, "key2")) {
			t.Errorf("perimeter %s printed a key", strings.Join(args, " "))
		}
	}
}

func TestCognitiveNetworkRules(t *testing.T) {
	c := cognitiveSetup(t)

	// An IP rule; adding it again changes nothing.
	a := c.okJSON(with("network-rule", "add", "--ip-address", "203.0.113.0/24")...)
	if str(a, "name") != "ai1" || !slices.Equal(ipRules(lookup(a, "properties.networkAcls")), []string{"203.0.113.0/24"}) {
		t.Errorf("network-rule add printed %v", a)
	}
	c.ok(with("network-rule", "add", "--ip-address", "203.0.113.0/24", "-o", "none")...)
	acls := c.okJSON(with("network-rule", "list")...)
	if got := ipRules(acls); !slices.Equal(got, []string{"203.0.113.0/24"}) {
		t.Errorf("after adding the rule twice: %v", got)
	}
	// Adding a rule leaves the default action alone, as az does.
	if str(acls, "defaultAction") != "Allow" {
		t.Errorf("network-rule add changed defaultAction to %q", str(acls, "defaultAction"))
	}

	// A private address is refused by the server.
	r := c.run(with("network-rule", "add", "--ip-address", "10.1.2.3")...)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (IpRulePrivateAddress) ") || r.stdout != "" {
		t.Errorf("private IP rule: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// A subnet rule, by name: the subnet has the service endpoint.
	c.ok(with("network-rule", "add", "--vnet-name", "vnet1", "--subnet", "apps", "-o", "none")...)
	// One without it is refused, unless told to add it anyway.
	r = c.run(with("network-rule", "add", "--vnet-name", "vnet1", "--subnet", "plain")...)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (SubnetMissingServiceEndpoint) ") {
		t.Errorf("subnet without the endpoint: exit %d, stderr %q", r.code, r.stderr)
	}
	c.ok(with("network-rule", "add", "--vnet-name", "vnet1", "--subnet", "plain", "--ignore-missing-vnet-service-endpoint", "-o", "none")...)
	golden(t, "cs_network_rule_list_table", c.normalise(c.ok(with("network-rule", "list", "-o", "table")...)))

	// A subnet in use by a rule cannot be deleted.
	r = c.run("network", "vnet", "subnet", "delete", "-g", "ai", "--vnet-name", "vnet1", "-n", "apps")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (InUseSubnetCannotBeDeleted) ") {
		t.Errorf("deleting a subnet in use: exit %d, stderr %q", r.code, r.stderr)
	}

	// update --default-action keeps the rules.
	a = c.okJSON(with("update", "--default-action", "Deny", "--bypass", "AzureServices")...)
	if str(a, "properties.networkAcls.defaultAction") != "Deny" || str(a, "properties.networkAcls.bypass") != "AzureServices" ||
		len(ipRules(lookup(a, "properties.networkAcls"))) != 1 || len(lookup(a, "properties.networkAcls.virtualNetworkRules").([]any)) != 2 {
		t.Errorf("update --default-action printed %v", lookup(a, "properties.networkAcls"))
	}

	// Remove: by value, by subnet id (any casing), and a rule not there.
	subnetID := str(c.okJSON("network", "vnet", "subnet", "show", "-g", "ai", "--vnet-name", "vnet1", "-n", "apps"), "id")
	c.ok(with("network-rule", "remove", "--ip-address", "203.0.113.0/24", "--subnet", strings.ToUpper(subnetID), "-o", "none")...)
	c.ok(with("network-rule", "remove", "--vnet-name", "vnet1", "--subnet", "plain", "-o", "none")...)
	acls = c.okJSON(with("network-rule", "list")...)
	if len(ipRules(acls)) != 0 || len(lookup(acls, "virtualNetworkRules").([]any)) != 0 || str(acls, "defaultAction") != "Deny" {
		t.Errorf("after removing every rule: %v", acls)
	}
	r = c.run(with("network-rule", "remove", "--ip-address", "203.0.113.0/24", "-o", "none")...)
	if r.code != 0 || !strings.HasPrefix(r.stderr, "WARNING: The account 'ai1' has no IP rule '203.0.113.0/24'") {
		t.Errorf("removing a missing rule: exit %d, stderr %q", r.code, r.stderr)
	}
	if out := c.ok(with("network-rule", "list", "-o", "table")...); out != "" {
		t.Errorf("empty rule table printed %q", out)
	}
	// Now the subnet can go.
	c.ok("network", "vnet", "subnet", "delete", "-g", "ai", "--vnet-name", "vnet1", "-n", "apps")
}

// Concurrent rule additions each read the account, append and write back
// with If-Match: a write that lost the race is retried, so no rule is lost.
func TestCognitiveNetworkRuleAddsDoNotLoseConcurrentChanges(t *testing.T) {
	c := cognitiveSetup(t)
	const n = 4
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = c.run(with("network-rule", "add", "--ip-address", fmt.Sprintf("203.0.113.%d", 10+i), "-o", "none")...)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("concurrent add %d: exit %d, stderr %q", i, r.code, r.stderr)
		}
	}
	got := ipRules(c.okJSON(with("network-rule", "list")...))
	slices.Sort(got)
	want := []string{"203.0.113.10", "203.0.113.11", "203.0.113.12", "203.0.113.13"}
	if !slices.Equal(got, want) {
		t.Errorf("after %d concurrent adds the rules are %v, want %v", n, got, want)
	}
}

func TestCognitiveDeployments(t *testing.T) {
	c := cognitiveSetup(t)
	d := c.okJSON(with("deployment", "create", "--deployment-name", "chat", "--model-format", "Perimeter", "--model-name", "mock",
		"--model-version", "1", "--capacity", "5")...)
	if str(d, "name") != "chat" || str(d, "sku.name") != "Standard" || cell(lookup(d, "sku.capacity")) != "5" ||
		str(d, "properties.model.name") != "mock" || str(d, "properties.provisioningState") != "Succeeded" {
		t.Errorf("deployment create printed %v", d)
	}
	c.ok(with("deployment", "create", "--deployment-name", "bulk", "--model-format", "Perimeter", "--model-name", "mock",
		"--model-version", "1", "--sku", "GlobalStandard", "-o", "none")...)
	golden(t, "cs_deployment_list_table", c.ok(with("deployment", "list", "-o", "table")...))
	golden(t, "cs_deployment_show_table", c.ok(with("deployment", "show", "--deployment-name", "chat", "-o", "table")...))

	r := c.run(with("deployment", "create", "--deployment-name", "other", "--model-format", "Perimeter", "--model-name", "nope", "--model-version", "1")...)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (DeploymentModelNotSupported) ") {
		t.Errorf("unknown model: exit %d, stderr %q", r.code, r.stderr)
	}

	if out := c.ok(with("deployment", "delete", "--deployment-name", "chat")...); out != "" {
		t.Errorf("deployment delete printed %q", out)
	}
	if got := names(c.okJSON(with("deployment", "list")...)); !slices.Equal(got, []string{"bulk"}) {
		t.Errorf("after delete: %v", got)
	}
	r = c.run(with("deployment", "show", "--deployment-name", "chat")...)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (") {
		t.Errorf("show of a deleted deployment: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestCognitiveProjects(t *testing.T) {
	c := cognitiveSetup(t)
	p := c.okJSON(with("project", "create", "--project-name", "team-a", "--display-name", "Team A", "--description", "first")...)
	if str(p, "name") != "team-a" || str(p, "location") != "eastus" || str(p, "identity.type") != "SystemAssigned" ||
		str(p, "properties.displayName") != "Team A" || lookup(p, "properties.isDefault") != true {
		t.Errorf("project create printed %v", p)
	}
	c.ok(with("project", "create", "--project-name", "team-b", "-l", "eastus", "-o", "none")...)
	golden(t, "cs_project_list_table", c.ok(with("project", "list", "-o", "table")...))
	if lookup(c.okJSON(with("project", "show", "--project-name", "team-b")...), "properties.isDefault") != false {
		t.Error("team-b claims to be the default project")
	}
	r := c.run(with("project", "create", "--project-name", "elsewhere", "-l", "westus")...)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (ProjectLocationMismatch) ") {
		t.Errorf("project in another location: exit %d, stderr %q", r.code, r.stderr)
	}
	if out := c.ok(with("project", "delete", "--project-name", "team-b")...); out != "" {
		t.Errorf("project delete printed %q", out)
	}
	if got := names(c.okJSON(with("project", "list")...)); !slices.Equal(got, []string{"team-a"}) {
		t.Errorf("after delete: %v", got)
	}
}

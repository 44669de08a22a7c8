package main

import (
	"slices"
	"strings"
	"testing"
)

// dockerWarning is the start of the warning about Docker's bridge network.
const dockerWarning = "WARNING: The address prefix "

func TestNetworkVnetLifecycle(t *testing.T) {
	c, _ := loggedIn(t)
	c.ok("group", "create", "-n", "net", "-l", "westus", "-o", "none")

	// The first Microsoft.Network write registers the provider, as az does.
	r := c.run("network", "vnet", "create", "-g", "net", "-n", "vnet1", "--address-prefixes", "10.10.0.0/16", "--address-prefixes", "10.20.0.0/16",
		"--subnet-name", "apps", "--subnet-prefixes", "10.10.1.0/24")
	if r.code != 0 {
		t.Fatalf("vnet create: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "Resource provider 'Microsoft.Network' used by this operation is not registered. We are registering for you.") ||
		strings.Contains(r.stderr, "WARNING") {
		t.Errorf("vnet create stderr: %q", r.stderr)
	}
	v, err := decodeValue([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	if str(v, "location") != "westus" || str(v, "properties.provisioningState") != "Succeeded" {
		t.Errorf("vnet create printed %v; want the group's location and Succeeded", v)
	}
	if got := names(lookup(v, "properties.subnets")); !slices.Equal(got, []string{"apps"}) {
		t.Errorf("vnet subnets = %v", got)
	}
	// A network in Docker's bridge range is created, with a warning.
	r = c.run("network", "vnet", "create", "-g", "net", "-n", "dock", "-l", "westus", "--address-prefixes", "172.16.0.0/12",
		"--subnet-name", "s1", "--subnet-prefixes", "172.17.1.0/24", "--tags", "env=dev", "-o", "none")
	if r.code != 0 {
		t.Fatalf("vnet create in 172.16/12: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, dockerWarning+"172.16.0.0/12 of virtual network 'dock' overlaps 172.17.0.0/16") ||
		!strings.Contains(r.stderr, dockerWarning+"172.17.1.0/24 of subnet 's1' overlaps 172.17.0.0/16") {
		t.Errorf("no Docker bridge warnings: %q", r.stderr)
	}

	golden(t, "network_vnet_show_table", c.ok("network", "vnet", "show", "-g", "net", "-n", "vnet1", "-o", "table"))
	golden(t, "network_vnet_list_table", c.ok("network", "vnet", "list", "-g", "net", "-o", "table"))
	if got := names(c.okJSON("network", "vnet", "list")); len(got) != 2 {
		t.Errorf("subscription-wide vnet list = %v", got)
	}

	// Subnets: create with a service endpoint, update, list, show.
	sn := c.okJSON("network", "vnet", "subnet", "create", "-g", "net", "--vnet-name", "vnet1", "-n", "data",
		"--address-prefixes", "10.20.1.0/24", "--service-endpoints", "Microsoft.CognitiveServices")
	if str(sn, "properties.addressPrefix") != "10.20.1.0/24" || str(lookup(sn, "properties.serviceEndpoints").([]any)[0], "service") != "Microsoft.CognitiveServices" {
		t.Errorf("subnet create printed %v", sn)
	}
	r = c.run("network", "vnet", "subnet", "update", "-g", "net", "--vnet-name", "vnet1", "-n", "apps",
		"--address-prefixes", "10.10.2.0/24", "--service-endpoints", "Microsoft.CognitiveServices", "-o", "none")
	if r.code != 0 || r.stderr != "" {
		t.Errorf("subnet update: exit %d, stderr %q", r.code, r.stderr)
	}
	golden(t, "network_subnet_list_table", c.ok("network", "vnet", "subnet", "list", "-g", "net", "--vnet-name", "vnet1", "-o", "table"))
	golden(t, "network_subnet_show_table", c.ok("network", "vnet", "subnet", "show", "-g", "net", "--vnet-name", "vnet1", "-n", "data", "-o", "table"))

	// Clearing the service endpoints; a subnet update into Docker's range
	// warns.
	sn = c.okJSON("network", "vnet", "subnet", "update", "-g", "net", "--vnet-name", "vnet1", "-n", "data", "--service-endpoints", "")
	if eps, _ := lookup(sn, "properties.serviceEndpoints").([]any); len(eps) != 0 {
		t.Errorf("--service-endpoints \"\" left %v", eps)
	}
	r = c.run("network", "vnet", "subnet", "create", "-g", "net", "--vnet-name", "dock", "-n", "s2", "--address-prefixes", "172.17.2.0/24", "-o", "none")
	if r.code != 0 || !strings.Contains(r.stderr, dockerWarning+"172.17.2.0/24 of subnet 's2'") {
		t.Errorf("subnet in the bridge range: exit %d, stderr %q", r.code, r.stderr)
	}

	// vnet update changes the address space and keeps the subnets.
	v = c.okJSON("network", "vnet", "update", "-g", "net", "-n", "vnet1", "--address-prefixes", "10.10.0.0/16", "10.20.0.0/16", "10.30.0.0/16")
	if got := lookup(v, "properties.addressSpace.addressPrefixes").([]any); len(got) != 3 {
		t.Errorf("vnet update address space = %v", got)
	}
	if got := names(lookup(v, "properties.subnets")); len(got) != 2 {
		t.Errorf("vnet update lost subnets: %v", got)
	}
	r = c.run("network", "vnet", "update", "-g", "net", "-n", "vnet1", "--address-prefixes", "172.17.0.0/16", "-o", "none")
	if r.code != 1 || !strings.Contains(r.stderr, dockerWarning+"172.17.0.0/16") || !strings.Contains(r.stderr, "ERROR: (") {
		t.Errorf("shrinking the address space away from its subnets: exit %d, stderr %q; want the warning and the server's refusal", r.code, r.stderr)
	}

	// A refused subnet is the server's ARM error, exit 1.
	r = c.run("network", "vnet", "subnet", "create", "-g", "net", "--vnet-name", "vnet1", "-n", "outside", "--address-prefixes", "192.168.0.0/24")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (") || r.stdout != "" {
		t.Errorf("subnet outside the address space: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// Deletes.
	if out := c.ok("network", "vnet", "subnet", "delete", "-g", "net", "--vnet-name", "vnet1", "-n", "data"); out != "" {
		t.Errorf("subnet delete printed %q", out)
	}
	if got := names(c.okJSON("network", "vnet", "subnet", "list", "-g", "net", "--vnet-name", "vnet1")); !slices.Equal(got, []string{"apps"}) {
		t.Errorf("after subnet delete: %v", got)
	}
	if out := c.ok("network", "vnet", "delete", "-g", "net", "-n", "vnet1"); out != "" {
		t.Errorf("vnet delete printed %q", out)
	}
	r = c.run("network", "vnet", "show", "-g", "net", "-n", "vnet1")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ERROR: (") {
		t.Errorf("show after delete: exit %d, stderr %q", r.code, r.stderr)
	}
}

// Usage errors of the network and cognitiveservices commands exit 2 before
// anything is sent: the CLI here is not even logged in.
func TestResourceCommandUsageErrorsNeedNoServer(t *testing.T) {
	c := newCLI(t)
	cs := func(args ...string) []string { return append([]string{"cognitiveservices", "account"}, args...) }
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"network", "vnet", "create", "-g", "net", "-n", "v", "--subnet-prefixes", "10.0.0.0/24"},
			"ERROR: usage error: --subnet-prefixes needs --subnet-name\n"},
		{[]string{"network", "vnet", "create", "-g", "net"}, "ERROR: the following arguments are required: --name/-n\n"},
		{[]string{"network", "vnet", "subnet", "create", "-g", "net", "--vnet-name", "v", "-n", "s"},
			"ERROR: the following arguments are required: --address-prefixes\n"},
		{[]string{"network", "vnet", "subnet", "create", "-g", "net", "--vnet-name", "v", "-n", "s", "--address-prefixes", "10.0.0.0/24",
			"--private-link-service-network-policies", "Sometimes"},
			"ERROR: argument --private-link-service-network-policies: invalid choice: 'Sometimes' (choose from 'Enabled', 'Disabled')\n"},
		// Space-separated values after two list flags cannot be assigned.
		{[]string{"network", "vnet", "create", "-g", "net", "-n", "v", "--address-prefixes", "10.0.0.0/16", "--subnet-name", "s",
			"--subnet-prefixes", "10.0.0.0/24", "10.0.1.0/24"}, "ERROR: unrecognized arguments: 10.0.1.0/24\n"},
		{[]string{"network", "vnet", "frobnicate"}, "ERROR: 'frobnicate' is misspelled or not recognized by the system. See 'perimeter network vnet --help'.\n"},
		{[]string{"network", "vnet", "show", "-n", "v"}, "ERROR: the following arguments are required: --resource-group/-g\n"},
		{cs("create", "-g", "ai", "-n", "x", "-l", "eastus", "--kind", "AIServices"), "ERROR: the following arguments are required: --sku\n"},
		{cs("create", "-g", "ai", "-n", "x", "-l", "eastus", "--kind", "AIServices", "--sku-name", "S0", "--public-network-access", "Sometimes"),
			"ERROR: argument --public-network-access: invalid choice: 'Sometimes' (choose from 'Enabled', 'Disabled')\n"},
		{cs("update", "-g", "ai", "-n", "x", "--default-action", "Block"),
			"ERROR: argument --default-action: invalid choice: 'Block' (choose from 'Allow', 'Deny')\n"},
		{cs("update", "-g", "ai", "-n", "x", "--kind", "Face"), "ERROR: argument --kind: invalid choice: 'Face' (choose from 'AIServices', 'OpenAI')\n"},
		{cs("keys", "regenerate", "-g", "ai", "-n", "x", "--key-name", "Key3"),
			"ERROR: argument --key-name: invalid choice: 'Key3' (choose from 'Key1', 'Key2')\n"},
		{cs("network-rule", "add", "-g", "ai", "-n", "x"), "ERROR: usage error: --ip-address IP | --subnet ID | --subnet NAME --vnet-name NAME\n"},
		{cs("network-rule", "add", "-g", "ai", "-n", "x", "--subnet", "apps"), "ERROR: incorrect usage: [--subnet ID | --subnet NAME --vnet-name NAME]\n"},
		{cs("network-rule", "remove", "-g", "ai", "-n", "x", "--vnet-name", "v", "--subnet", "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/s"),
			"ERROR: incorrect usage: [--subnet ID | --subnet NAME --vnet-name NAME]\n"},
		{cs("deployment", "create", "-g", "ai", "-n", "x", "--deployment-name", "d", "--model-name", "mock"),
			"ERROR: the following arguments are required: --model-format, --model-version\n"},
		{cs("deployment", "create", "-g", "ai", "-n", "x", "--deployment-name", "d", "--model-format", "Perimeter", "--model-name", "mock",
			"--model-version", "1", "--capacity", "0"), "ERROR: argument --sku-capacity: must be a positive integer\n"},
		{cs("project", "create", "-g", "ai", "-n", "x"), "ERROR: the following arguments are required: --project-name\n"},
		{cs("delete", "-g", "ai", "-n", "x"), "ERROR: Unable to prompt for confirmation as no tty available. Use --yes.\n"},
	} {
		r := c.run(tc.args...)
		if r.code != 2 || r.stderr != tc.stderr || r.stdout != "" {
			t.Errorf("perimeter %s: exit %d, stderr %q, stdout %q; want exit 2, stderr %q",
				strings.Join(tc.args, " "), r.code, r.stderr, r.stdout, tc.stderr)
		}
	}
}

package cognitive_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"testing"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/models"
	"github.com/perimeterhq/perimeter/internal/providers/cognitive"
	"github.com/perimeterhq/perimeter/internal/providers/managedidentity"
	"github.com/perimeterhq/perimeter/internal/providers/network"
	"github.com/perimeterhq/perimeter/internal/secrets"
	"github.com/perimeterhq/perimeter/internal/store"
)

const (
	tenant = armtest.TenantID
	sub    = armtest.SubscriptionID
	// sub2 is a second subscription of the installation.
	sub2        = "33333333-3333-3333-3333-333333333333"
	api         = "?api-version=2025-06-01"
	rgAPI       = armtest.ResourcesAPI
	msiAPI      = "?api-version=2023-01-31"
	netAPI      = "?api-version=2025-09-01"
	gatewayPort = 8444
)

// env is the armtest harness with the network and cognitive kinds.
type env struct {
	*armtest.Env
	subnets int // subnets created, for distinct address prefixes
	box     *secrets.Box
	catalog *models.Catalog
}

// testCatalog is the mock plus an OpenAI-style model in two versions with
// a small capacity, for the range checks.
func testCatalog(t *testing.T) *models.Catalog {
	c, err := models.New([]models.Model{
		{Format: "OpenAI", Name: "gpt-4o-mini", Version: "2024-07-18", Upstream: "http://127.0.0.1:11434/v1", Capabilities: []string{models.ChatCompletion}, MaxCapacity: 50},
		{Format: "OpenAI", Name: "gpt-4o-mini", Version: "2025-01-01", Upstream: "http://127.0.0.1:11434/v1", Capabilities: []string{models.ChatCompletion}, MaxCapacity: 50},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newBox(t *testing.T) *secrets.Box {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	b, err := secrets.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newEnv starts the harness; opts add to its options (an Authorizer).
func newEnv(t *testing.T, opts ...armtest.Option) *env {
	t.Helper()
	e := &env{box: newBox(t), catalog: testCatalog(t)}
	e.Env = armtest.New(t, append([]armtest.Option{armtest.Subscriptions(sub2),
		armtest.Kinds(func(srv *arm.Server, _ store.Store) []arm.Kind {
			kinds := append(network.Kinds(srv), managedidentity.Kinds(srv)...)
			return append(kinds, cognitive.Kinds(srv, cognitive.Config{Catalog: e.catalog, Secrets: e.box, GatewayPort: gatewayPort})...)
		})}, opts...)...)
	e.Register("Microsoft.CognitiveServices")
	e.Register("Microsoft.Network")
	e.Register("Microsoft.ManagedIdentity")
	e.RegisterIn(sub2, "Microsoft.Network")
	for _, g := range []string{"rg", "other"} {
		e.Must(http.StatusCreated, http.MethodPut, "/subscriptions/"+sub+"/resourceGroups/"+g+rgAPI, map[string]any{"location": "eastus"})
	}
	e.Must(http.StatusCreated, http.MethodPut, "/subscriptions/"+sub2+"/resourceGroups/rg"+rgAPI, map[string]any{"location": "eastus"})
	return e
}

// put writes a resource, waits for its operation if it has one, and
// returns the final state of the resource.
func (e *env) put(want int, path string, body any) armtest.Response {
	e.T.Helper()
	r := e.Must(want, http.MethodPut, path+api, body)
	if loc := r.Header.Get("Location"); loc != "" {
		if final := e.WaitOperation(loc); final.Status != http.StatusOK {
			e.T.Fatalf("operation of PUT %s: %d %s", path, final.Status, final.Body)
		}
		return e.Must(http.StatusOK, http.MethodGet, path+api, nil)
	}
	return r
}

// del deletes a resource and waits for its operation if it has one.
func (e *env) del(path string) {
	e.T.Helper()
	r := e.Do(http.MethodDelete, path+api, nil)
	switch r.Status {
	case http.StatusOK, http.StatusNoContent:
	case http.StatusAccepted:
		if final := e.WaitOperation(r.Header.Get("Location")); final.Status != http.StatusOK {
			e.T.Fatalf("delete %s: %d %s", path, final.Status, final.Body)
		}
	default:
		e.T.Fatalf("delete %s: %d %s", path, r.Status, r.Body)
	}
}

func accountPath(subscription, rg, name string) string {
	return "/subscriptions/" + subscription + "/resourceGroups/" + rg + "/providers/Microsoft.CognitiveServices/accounts/" + name
}

func acct(name string) string { return accountPath(sub, "rg", name) }

// account is a minimal valid AIServices account body with extra
// properties merged in.
func account(subdomain string, props map[string]any) map[string]any {
	p := map[string]any{"customSubDomainName": subdomain}
	for k, v := range props {
		p[k] = v
	}
	return map[string]any{"location": "eastus", "kind": "AIServices", "sku": map[string]any{"name": "S0"}, "properties": p}
}

func subnetPath(subscription, vnet, subnet string) string {
	return "/subscriptions/" + subscription + "/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/" + vnet + "/subnets/" + subnet
}

// subnet creates a subnet (and its virtual network if needed) through the
// network provider, with or without the Microsoft.CognitiveServices
// service endpoint, and returns its id.
func (e *env) subnet(subscription, vnet, name string, endpoint bool) string {
	e.T.Helper()
	vnetPath := "/subscriptions/" + subscription + "/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/" + vnet
	if e.Do(http.MethodGet, vnetPath+netAPI, nil).Status == http.StatusNotFound {
		e.Must(http.StatusCreated, http.MethodPut, vnetPath+netAPI, map[string]any{"location": "eastus", "properties": map[string]any{"addressSpace": map[string]any{"addressPrefixes": []string{"10.0.0.0/16"}}}})
	}
	endpoints := []map[string]any{{"service": "Microsoft.Storage"}}
	if endpoint {
		endpoints = append(endpoints, map[string]any{"service": "Microsoft.CognitiveServices", "locations": []string{"*"}})
	}
	path := subnetPath(subscription, vnet, name)
	e.subnets++
	prefix := fmt.Sprintf("10.0.%d.0/24", e.subnets)
	r := e.Do(http.MethodPut, path+netAPI, map[string]any{"properties": map[string]any{"addressPrefix": prefix, "serviceEndpoints": endpoints}})
	if r.Status != http.StatusOK && r.Status != http.StatusCreated {
		e.T.Fatalf("put subnet %s: %d %s", path, r.Status, r.Body)
	}
	return path
}

// props returns the properties of a resource response.
func props(t *testing.T, r armtest.Response) map[string]any {
	t.Helper()
	p, ok := r.JSON(t)["properties"].(map[string]any)
	if !ok {
		t.Fatalf("no properties: %s", r.Body)
	}
	return p
}

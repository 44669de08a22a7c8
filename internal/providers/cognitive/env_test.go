package cognitive_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/models"
	"github.com/perimeterhq/perimeter/internal/providers/cognitive"
	"github.com/perimeterhq/perimeter/internal/providers/network"
	"github.com/perimeterhq/perimeter/internal/providers/resources"
	"github.com/perimeterhq/perimeter/internal/secrets"
	"github.com/perimeterhq/perimeter/internal/store"
	"github.com/perimeterhq/perimeter/internal/store/sqlite"
)

const (
	tenant = "11111111-1111-1111-1111-111111111111"
	sub    = "22222222-2222-2222-2222-222222222222"
	// sub2 is a second subscription of the installation.
	sub2        = "33333333-3333-3333-3333-333333333333"
	api         = "?api-version=2025-06-01"
	rgAPI       = "?api-version=2025-04-01"
	netAPI      = "?api-version=2025-09-01"
	gatewayPort = 8444
)

// tokenAuth accepts every request as the test administrator.
type tokenAuth struct{}

func (tokenAuth) Authenticate(*http.Request) (arm.Caller, error) {
	return arm.Caller{TenantID: tenant, ObjectID: "admin-oid", AppID: "admin-app", Type: "Application"}, nil
}

type env struct {
	t       *testing.T
	subnets int // subnets created, for distinct address prefixes
	st      store.Store
	srv     *arm.Server
	http    *httptest.Server
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

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "arm.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, s := range []string{sub, sub2} {
		if err := resources.EnsureSubscription(t.Context(), st, tenant, s, "test"); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, st: st, box: newBox(t), catalog: testCatalog(t)}
	e.srv = arm.NewServer(arm.Config{Store: st, Authenticator: tokenAuth{}, Logger: slog.New(slog.DiscardHandler)})
	kinds := append(resources.Kinds(e.srv, resources.PreviewFeatures), network.Kinds(e.srv)...)
	kinds = append(kinds, cognitive.Kinds(e.srv, cognitive.Config{Catalog: e.catalog, Secrets: e.box, GatewayPort: gatewayPort})...)
	if err := e.srv.Register(kinds...); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv)
	srv, hs := e.srv, e.http
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	e.must(http.StatusOK, http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.CognitiveServices/register"+rgAPI, nil)
	e.must(http.StatusOK, http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.Network/register"+rgAPI, nil)
	e.must(http.StatusOK, http.MethodPost, "/subscriptions/"+sub2+"/providers/Microsoft.Network/register"+rgAPI, nil)
	for _, g := range []string{"rg", "other"} {
		e.must(http.StatusCreated, http.MethodPut, "/subscriptions/"+sub+"/resourceGroups/"+g+rgAPI, map[string]any{"location": "eastus"})
	}
	e.must(http.StatusCreated, http.MethodPut, "/subscriptions/"+sub2+"/resourceGroups/rg"+rgAPI, map[string]any{"location": "eastus"})
	return e
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

// armError is the ARM error envelope's error.
type armError struct {
	Code, Message, Target string
	Details               []struct{ Code, Message, Target string }
}

func (r response) armError(t *testing.T) armError {
	t.Helper()
	var env struct{ Error armError }
	if err := json.Unmarshal(r.body, &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
		t.Fatalf("status %d: not an ARM error envelope: %s", r.status, r.body)
	}
	return env.Error
}

func (e *env) do(method, path string, body any, headers ...string) response {
	e.t.Helper()
	var rdr io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rdr = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rdr = bytes.NewReader(j)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = e.http.URL + path
	}
	req, err := http.NewRequest(method, url, rdr)
	if err != nil {
		e.t.Fatal(err)
	}
	if rdr != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func (e *env) must(want int, method, path string, body any, headers ...string) response {
	e.t.Helper()
	r := e.do(method, path, body, headers...)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

func (e *env) revision() int64 {
	e.t.Helper()
	rev, err := e.st.Revision(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return rev
}

// waitOperation polls an operation's Location until it stops answering 202
// and returns the final response.
func (e *env) waitOperation(location string) response {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r := e.do(http.MethodGet, location, nil)
		if r.status != http.StatusAccepted {
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("operation %s did not finish in 10s", location)
	return response{}
}

// put writes a resource, waits for its operation if it has one, and
// returns the final state of the resource.
func (e *env) put(want int, path string, body any) response {
	e.t.Helper()
	r := e.must(want, http.MethodPut, path+api, body)
	if loc := r.header.Get("Location"); loc != "" {
		if final := e.waitOperation(loc); final.status != http.StatusOK {
			e.t.Fatalf("operation of PUT %s: %d %s", path, final.status, final.body)
		}
		return e.must(http.StatusOK, http.MethodGet, path+api, nil)
	}
	return r
}

// del deletes a resource and waits for its operation if it has one.
func (e *env) del(path string) {
	e.t.Helper()
	r := e.do(http.MethodDelete, path+api, nil)
	switch r.status {
	case http.StatusOK, http.StatusNoContent:
	case http.StatusAccepted:
		if final := e.waitOperation(r.header.Get("Location")); final.status != http.StatusOK {
			e.t.Fatalf("delete %s: %d %s", path, final.status, final.body)
		}
	default:
		e.t.Fatalf("delete %s: %d %s", path, r.status, r.body)
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
	e.t.Helper()
	vnetPath := "/subscriptions/" + subscription + "/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/" + vnet
	if e.do(http.MethodGet, vnetPath+netAPI, nil).status == http.StatusNotFound {
		e.must(http.StatusCreated, http.MethodPut, vnetPath+netAPI, map[string]any{"location": "eastus", "properties": map[string]any{"addressSpace": map[string]any{"addressPrefixes": []string{"10.0.0.0/16"}}}})
	}
	endpoints := []map[string]any{{"service": "Microsoft.Storage"}}
	if endpoint {
		endpoints = append(endpoints, map[string]any{"service": "Microsoft.CognitiveServices", "locations": []string{"*"}})
	}
	path := subnetPath(subscription, vnet, name)
	e.subnets++
	prefix := fmt.Sprintf("10.0.%d.0/24", e.subnets)
	r := e.do(http.MethodPut, path+netAPI, map[string]any{"properties": map[string]any{"addressPrefix": prefix, "serviceEndpoints": endpoints}})
	if r.status != http.StatusOK && r.status != http.StatusCreated {
		e.t.Fatalf("put subnet %s: %d %s", path, r.status, r.body)
	}
	return path
}

// props returns the properties of a resource response.
func props(t *testing.T, r response) map[string]any {
	t.Helper()
	p, ok := r.json(t)["properties"].(map[string]any)
	if !ok {
		t.Fatalf("no properties: %s", r.body)
	}
	return p
}

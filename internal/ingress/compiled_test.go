package ingress

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/mockmodel"
	"github.com/perimeterhq/perimeter/internal/models"
	"github.com/perimeterhq/perimeter/internal/providers/cognitive"
	"github.com/perimeterhq/perimeter/internal/providers/network"
	"github.com/perimeterhq/perimeter/internal/secrets"
	"github.com/perimeterhq/perimeter/internal/snapshot"
	"github.com/perimeterhq/perimeter/internal/store"
)

// TestThroughTheControlPlane: accounts, rules, keys and deployments made
// through the ARM API, compiled by the real Source, enforced by the
// gateway in front of the built-in mock model; a change through the API
// is enforced at once.
func TestThroughTheControlPlane(t *testing.T) {
	const (
		api    = "?api-version=2025-06-01"
		netAPI = "?api-version=2025-09-01"
		rg     = "/subscriptions/" + armtest.SubscriptionID + "/resourceGroups/rg"
		acct   = rg + "/providers/Microsoft.CognitiveServices/accounts/acct"
		vnet   = rg + "/providers/Microsoft.Network/virtualNetworks/vnet"
	)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secrets.New(key)
	if err != nil {
		t.Fatal(err)
	}
	mock := httptest.NewServer(mockmodel.Handler(mockmodel.Config{}))
	t.Cleanup(mock.Close)
	catalog, err := models.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	catalog = catalog.WithMockUpstream(mock.URL + "/v1")
	e := armtest.New(t, armtest.InlineWait(5*time.Second), armtest.Kinds(func(srv *arm.Server, _ store.Store) []arm.Kind {
		return append(network.Kinds(srv), cognitive.Kinds(srv, cognitive.Config{Catalog: catalog, Secrets: box, BaseDomain: base, GatewayPort: 443})...)
	}))
	e.Register("Microsoft.CognitiveServices")
	e.Register("Microsoft.Network")
	e.Must(http.StatusCreated, http.MethodPut, rg+armtest.ResourcesAPI, map[string]any{"location": "eastus"})
	e.Must(http.StatusCreated, http.MethodPut, vnet+netAPI, map[string]any{"location": "eastus", "properties": map[string]any{
		"addressSpace": map[string]any{"addressPrefixes": []string{"10.1.0.0/16"}},
		"subnets": []any{map[string]any{"name": "apps", "properties": map[string]any{
			"addressPrefix": "10.1.1.0/24", "serviceEndpoints": []any{map[string]any{"service": "Microsoft.CognitiveServices"}}}}},
	}})
	e.Must(http.StatusCreated, http.MethodPut, acct+api, map[string]any{
		"location": "eastus", "kind": "AIServices", "sku": map[string]any{"name": "S0"},
		"properties": map[string]any{
			"customSubDomainName": "acct-sub",
			"networkAcls": map[string]any{"defaultAction": "Deny",
				"ipRules":             []any{map[string]any{"value": "203.0.113.0/24"}},
				"virtualNetworkRules": []any{map[string]any{"id": vnet + "/subnets/apps"}}},
		},
	})
	e.Must(http.StatusCreated, http.MethodPut, acct+"/deployments/chat"+api, map[string]any{
		"sku": map[string]any{"name": "Standard", "capacity": 5}, "properties": map[string]any{"model": map[string]any{"format": "Perimeter", "name": "mock", "version": "1"}},
	})
	var keys struct{ Key1, Key2 string }
	_ = json.Unmarshal(e.Must(http.StatusOK, http.MethodPost, acct+"/listKeys"+api, nil).Body, &keys)

	src := snapshot.NewSource(snapshot.SourceConfig{Store: e.Store, Secrets: box, Catalog: catalog, BaseDomain: base, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-src.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("no snapshot")
	}
	h := newHarness(t, func(c *Config) { c.Snapshots = src })
	c := h.client(true)
	endpoint := "https://acct-sub.openai." + base

	post := func(path, body string, headers ...string) answer {
		return h.do(c, http.MethodPost, endpoint+path, body, append([]string{"api-key: " + keys.Key1}, headers...)...)
	}
	a := post(chatPath, chatBody, "X-Forwarded-For: 203.0.113.9")
	if a.StatusCode != http.StatusOK {
		t.Fatalf("chat: %d %s", a.StatusCode, a.Body)
	}
	var reply struct {
		Choices []struct{ Message struct{ Content string } }
		Usage   struct{ PromptTokens, CompletionTokens int }
	}
	if err := json.Unmarshal(a.Body, &reply); err != nil || len(reply.Choices) != 1 || reply.Choices[0].Message.Content == "" {
		t.Fatalf("chat reply %s", a.Body)
	}
	r := h.log.find(t, a.ID)
	if r.ResourceID != acct || r.Rule != "ipRules[0]: 203.0.113.0/24" || r.PromptTokens == 0 || r.CompletionTokens == 0 {
		t.Errorf("record %+v", r)
	}
	if a := post("/openai/deployments/chat/embeddings?api-version=2024-06-01", `{"input":"hello"}`, "X-Forwarded-For: 10.1.1.20"); a.StatusCode != http.StatusOK {
		t.Errorf("embeddings from the subnet: %d %s", a.StatusCode, a.Body)
	} else if r := h.log.find(t, a.ID); r.ArrivalPath != accesslog.PathServiceEndpoint || !strings.EqualFold(r.SubnetID, vnet+"/subnets/apps") {
		t.Errorf("record %+v", r)
	}
	if a := post(chatPath, chatBody, "X-Forwarded-For: 198.51.100.1"); a.StatusCode != http.StatusForbidden {
		t.Errorf("refused address: %d", a.StatusCode)
	}
	if a := post(chatPath, chatBody, "X-Forwarded-For: 203.0.113.9", "api-key: "+keys.Key2); a.StatusCode != http.StatusOK {
		t.Errorf("key2: %d", a.StatusCode)
	}

	// A change through the API is enforced on the next request.
	e.Must(http.StatusOK, http.MethodPatch, acct+api, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Disabled"}})
	changed := time.Now()
	for {
		a := post(chatPath, chatBody, "X-Forwarded-For: 203.0.113.9")
		if a.StatusCode == http.StatusForbidden && a.errorMessage() == msgPublicDisabled {
			break
		}
		if time.Since(changed) > 2*time.Second {
			t.Fatalf("still %d 2s after the change", a.StatusCode)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("enforced %v after the PATCH returned", time.Since(changed))
}

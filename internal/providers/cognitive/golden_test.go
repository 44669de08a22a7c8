package cognitive_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current responses")

// volatile reports fields whose values differ between runs: times, ETags
// and generated ids.
func volatile(key string) bool {
	switch key {
	case "etag", "createdAt", "lastModifiedAt", "dateCreated", "principalId":
		return true
	}
	return false
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if volatile(k) {
				x[k] = "<" + k + ">"
				continue
			}
			x[k] = normalize(val)
		}
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
	}
	return v
}

// golden compares a JSON response with testdata/{name}.golden.json after
// normalizing volatile fields; -update rewrites the file.
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: %v: %s", name, err, body)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(normalize(v)); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (run go test -update if the change is intended):\n%s", name, path, got)
	}
}

func TestGolden(t *testing.T) {
	e := newEnv(t)
	e.subnet(sub, "vnet1", "apps", true)
	body := map[string]any{
		"location": "eastus", "kind": "AIServices", "sku": map[string]any{"name": "S0"},
		"tags":     map[string]string{"env": "test"},
		"identity": map[string]any{"type": "SystemAssigned"},
		"properties": map[string]any{
			"customSubDomainName": "golden-ai",
			"networkAcls": map[string]any{"defaultAction": "Deny", "bypass": "AzureServices",
				"ipRules":             []map[string]any{{"value": "124.56.78.0/24"}},
				"virtualNetworkRules": []map[string]any{{"id": subnetPath(sub, "vnet1", "apps")}}},
			"restrictOutboundNetworkAccess": true,
			"allowedFqdnList":               []string{"contoso.blob.core.windows.net"},
			"allowProjectManagement":        true,
		},
	}
	golden(t, "account", e.put(http.StatusCreated, acct("golden"), body).body)
	golden(t, "deployment", e.put(http.StatusCreated, acct("golden")+"/deployments/chat", deployment("Perimeter", "mock", "1", "Standard", 20)).body)
	golden(t, "project", e.put(http.StatusCreated, acct("golden")+"/projects/proj", map[string]any{
		"location": "eastus", "properties": map[string]any{"displayName": "Project", "description": "A project"},
	}).body)
	golden(t, "location_models", e.must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.CognitiveServices/locations/eastus/models"+api, nil).body)
	golden(t, "account_models", e.must(http.StatusOK, http.MethodGet, acct("golden")+"/models"+api, nil).body)
}

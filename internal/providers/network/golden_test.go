package network_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// normalize replaces the values that differ between runs (ETags, the
// generated resourceGuid) and indents the JSON with sorted keys. The test
// server's clock is fixed, so systemData times stay as they are.
func normalize(t *testing.T, body []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				switch k {
				case "etag":
					x[k] = "<etag>"
				case "resourceGuid":
					x[k] = "<guid>"
				default:
					walk(c)
				}
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	got := normalize(t, body)
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("GET differs from %s (rerun with -update if the change is intended):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// TestGoldenGET records the JSON a GET returns for each type.
func TestGoldenGET(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusCreated, http.MethodPut, vnetID("golden-vnet")+netAPI, map[string]any{
		"location": "westeurope",
		"tags":     map[string]string{"env": "test"},
		"properties": map[string]any{
			"addressSpace": map[string]any{"addressPrefixes": []string{"10.20.0.0/16"}},
			"dhcpOptions":  map[string]any{"dnsServers": []string{"10.20.0.4"}},
			"subnets": []any{
				subnet("apps", "10.20.1.0/24", map[string]any{"serviceEndpoints": []any{map[string]any{"service": "Microsoft.CognitiveServices"}}}),
				subnet("endpoints", "10.20.2.0/24", map[string]any{"privateEndpointNetworkPolicies": "Enabled"}),
			},
		},
	})
	vnet := e.must(http.StatusOK, http.MethodGet, vnetID("golden-vnet")+netAPI, nil)
	golden(t, "vnet", vnet.body)
	sn := e.must(http.StatusOK, http.MethodGet, subnetID("golden-vnet", "apps")+netAPI, nil)
	golden(t, "subnet", sn.body)

	// The body's etag is the ETag header, and the GUID is a GUID.
	for _, r := range []response{vnet, sn} {
		if got := r.json(t)["etag"]; got != r.header.Get("ETag") || got == "" {
			t.Errorf("body etag %v, header %q", got, r.header.Get("ETag"))
		}
	}
	if g, _ := vnet.json(t)["properties"].(map[string]any)["resourceGuid"].(string); len(g) != 36 {
		t.Errorf("resourceGuid %q", g)
	}
}

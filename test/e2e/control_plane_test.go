package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"
	"github.com/golang-jwt/jwt/v5"
)

// TestResourceGroupsWithAzureSDK is the end-to-end scenario: the
// official SDK, over TLS trusting ca.pem, with a token from the built-in
// issuer, creates, pages through, reads, updates and deletes resource groups.
func TestResourceGroupsWithAzureSDK(t *testing.T) {
	in := start(t, t.TempDir())
	runResourceGroupScenario(t, in)
}

func runResourceGroupScenario(t *testing.T, in *instance) {
	ctx := t.Context()
	groups, err := armresources.NewResourceGroupsClient(in.admin.SubscriptionID, in.credential(), in.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	for i := range n {
		resp, err := groups.CreateOrUpdate(ctx, fmt.Sprintf("e2e-rg-%d", i), armresources.ResourceGroup{
			Location: to.Ptr("westeurope"), Tags: map[string]*string{"index": to.Ptr(fmt.Sprint(i))},
		}, nil)
		if err != nil {
			t.Fatalf("create group %d: %v", i, err)
		}
		if *resp.Name != fmt.Sprintf("e2e-rg-%d", i) || *resp.Properties.ProvisioningState != "Succeeded" || *resp.Location != "westeurope" {
			t.Fatalf("created group: %+v", resp.ResourceGroup)
		}
	}

	// More than one page: $top=2 gives pages of 2, 2 and 1.
	pager := groups.NewListPager(&armresources.ResourceGroupsClientListOptions{Top: to.Ptr[int32](2)})
	pages, seen := 0, map[string]bool{}
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, g := range page.Value {
			if seen[*g.Name] {
				t.Fatalf("group %s listed twice", *g.Name)
			}
			seen[*g.Name] = true
		}
	}
	if pages != 3 || len(seen) != n {
		t.Fatalf("listed %d groups in %d pages; want %d in 3", len(seen), pages, n)
	}

	got, err := groups.Get(ctx, "E2E-RG-3", nil)
	if err != nil {
		t.Fatal(err)
	}
	if *got.ID != "/subscriptions/"+in.admin.SubscriptionID+"/resourceGroups/e2e-rg-3" || *got.Tags["index"] != "3" {
		t.Fatalf("get: %+v", got.ResourceGroup)
	}
	upd, err := groups.Update(ctx, "e2e-rg-3", armresources.ResourceGroupPatchable{Tags: map[string]*string{"owner": to.Ptr("e2e")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(upd.Tags) != 1 || *upd.Tags["owner"] != "e2e" {
		t.Fatalf("update tags: %+v", upd.Tags)
	}

	poller, err := groups.BeginDelete(ctx, "e2e-rg-3", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	exists, err := groups.CheckExistence(ctx, "e2e-rg-3", nil)
	if err != nil || exists.Success {
		t.Fatalf("group exists after delete: %v %v", exists.Success, err)
	}
	_, err = groups.Get(ctx, "e2e-rg-3", nil)
	var re *azcore.ResponseError
	if !asResponseError(err, &re) || re.StatusCode != http.StatusNotFound || re.ErrorCode != "ResourceGroupNotFound" {
		t.Fatalf("get deleted group: %v", err)
	}

	// Providers through the SDK.
	providers, err := armresources.NewProvidersClient(in.admin.SubscriptionID, in.credential(), in.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	prov, err := providers.Get(ctx, "Microsoft.Resources", nil)
	if err != nil || *prov.RegistrationState != "Registered" {
		t.Fatalf("provider Microsoft.Resources: %v %v", prov.RegistrationState, err)
	}
}

func asResponseError(err error, target **azcore.ResponseError) bool {
	re, ok := err.(*azcore.ResponseError)
	if !ok {
		return false
	}
	*target = re
	return true
}

// TestUnauthenticatedRequestsAreRefused: every control-plane request without a
// valid token is a 401 with WWW-Authenticate, whatever is wrong with it.
func TestUnauthenticatedRequestsAreRefused(t *testing.T) {
	in := start(t, t.TempDir())
	ctx := t.Context()
	good, err := in.token("https://management.azure.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	dataPlane, err := in.token("https://cognitiveservices.azure.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	path := "/subscriptions/" + in.admin.SubscriptionID + "/resourcegroups?api-version=2025-04-01"
	claims := strings.Split(good, ".")[1]
	foreignKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var parsed jwt.MapClaims
	payload, _ := base64.RawURLEncoding.DecodeString(claims)
	_ = json.Unmarshal(payload, &parsed)
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodES256, parsed).SignedString(foreignKey)
	expiredClaims := jwt.MapClaims{}
	for k, v := range parsed {
		expiredClaims[k] = v
	}
	expiredClaims["exp"] = time.Now().Add(-time.Hour).Unix()
	tamperedExp, _ := json.Marshal(expiredClaims)
	parts := strings.Split(good, ".")

	cases := map[string]string{
		"no token":            "",
		"garbage":             "not-a-jwt",
		"alg none":            base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + claims + ".",
		"foreign signature":   forged,
		"wrong audience":      dataPlane,
		"tampered expiration": parts[0] + "." + base64.RawURLEncoding.EncodeToString(tamperedExp) + "." + parts[2],
	}
	for name, tok := range cases {
		resp, body, err := in.call(ctx, http.MethodGet, path, tok, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: status %d, WWW-Authenticate %q: %s", name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
		if !bytes.Contains(body, []byte(`"code"`)) {
			t.Errorf("%s: 401 without an ARM error envelope: %s", name, body)
		}
	}
	// Writes without a token are refused too, and write nothing.
	resp, _, err := in.call(ctx, http.MethodPut, "/subscriptions/"+in.admin.SubscriptionID+"/resourcegroups/sneaky?api-version=2025-04-01", "", strings.NewReader(`{"location":"eastus"}`))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated PUT: %v %v", resp.StatusCode, err)
	}
	resp, _, _ = in.call(ctx, http.MethodGet, "/subscriptions/"+in.admin.SubscriptionID+"/resourcegroups/sneaky?api-version=2025-04-01", good, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unauthenticated PUT created the group: %d", resp.StatusCode)
	}
	resp, body, _ := in.call(ctx, http.MethodGet, path, good, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("valid token refused: %d %s", resp.StatusCode, body)
	}
}

// TestServeContract checks the files and listeners CONTRACT.md promises,
// graceful shutdown, and that a restart keeps resources, CA and identity.
func TestServeContract(t *testing.T) {
	dir := t.TempDir()
	in := start(t, dir)
	for name, mode := range map[string]os.FileMode{"admin.json": 0o600, "ca.pem": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	if in.ready.TenantID != in.admin.TenantID || in.ready.SubscriptionID != in.admin.SubscriptionID || in.ready.CACert != filepath.Join(dir, "ca.pem") {
		t.Errorf("ready.json %+v does not match admin.json %+v", in.ready, in.admin)
	}
	for _, u := range []string{in.ready.ARM, in.ready.Gateway} {
		if !strings.HasPrefix(u, "https://127.0.0.1:") || strings.HasSuffix(u, ":0") {
			t.Errorf("listener URL %q", u)
		}
	}
	if !strings.HasPrefix(in.ready.Egress, "http://127.0.0.1:") || !strings.HasPrefix(in.ready.DNS, "127.0.0.1:") {
		t.Errorf("egress %q dns %q", in.ready.Egress, in.ready.DNS)
	}
	// The gateway and egress listeners accept and refuse (fail closed).
	resp, err := in.client.Get(in.ready.Gateway + "/openai/deployments")
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("gateway: %v %v", resp, err)
	}
	resp, err = http.Get(in.ready.Egress + "/")
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("egress: %v %v", resp, err)
	}
	resp, err = http.Get(in.ready.Admin + "/metrics")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %v %v", resp, err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(metrics, []byte("go_goroutines")) {
		t.Errorf("metrics lack the Go collector: %.200s", metrics)
	}

	tok, err := in.token("https://management.azure.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	rg := "/subscriptions/" + in.admin.SubscriptionID + "/resourcegroups/kept?api-version=2025-04-01"
	if resp, body, err := in.call(t.Context(), http.MethodPut, rg, tok, strings.NewReader(`{"location":"eastus","tags":{"a":"b"}}`)); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %v %s", err, body)
	}
	caBefore, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	adminBefore, _ := os.ReadFile(filepath.Join(dir, "admin.json"))
	in.stop()
	if _, err := os.Stat(filepath.Join(dir, "ready.json")); !os.IsNotExist(err) {
		t.Errorf("ready.json left behind after shutdown: %v", err)
	}

	// Same control-plane address: the token issuer is named by it, as
	// login.microsoftonline.com names Entra's.
	again := start(t, dir, "--arm-addr", strings.TrimPrefix(in.ready.ARM, "https://"))
	caAfter, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	adminAfter, _ := os.ReadFile(filepath.Join(dir, "admin.json"))
	if !bytes.Equal(caBefore, caAfter) || !bytes.Equal(adminBefore, adminAfter) {
		t.Error("restart replaced ca.pem or admin.json")
	}
	if again.ready.TenantID != in.ready.TenantID || again.ready.SubscriptionID != in.ready.SubscriptionID {
		t.Error("restart changed the tenant or subscription")
	}
	// A token from before the restart still verifies: the signing key is kept.
	resp2, body, err := again.call(t.Context(), http.MethodGet, rg, tok, nil)
	if err != nil || resp2.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"a":"b"`)) {
		t.Fatalf("after restart: %v %s", err, body)
	}
}

// TestKillDuringWrites: SIGKILL in the middle of a burst of writes; after a
// restart every group reads back whole and the store takes new writes.
func TestKillDuringWrites(t *testing.T) {
	dir := t.TempDir()
	in := start(t, dir)
	tok, err := in.token("https://management.azure.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]string{} // group -> last acknowledged generation
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && i < 2000; i++ {
				name := fmt.Sprintf("kill-%d-%d", w, i%10)
				gen := fmt.Sprint(i)
				body := fmt.Sprintf(`{"location":"eastus","tags":{"gen":"%s","pad":"%s"}}`, gen, pad(gen))
				resp, _, err := in.call(ctx, http.MethodPut, "/subscriptions/"+in.admin.SubscriptionID+"/resourcegroups/"+name+"?api-version=2025-04-01", tok, strings.NewReader(body))
				if err != nil {
					return
				}
				if resp.StatusCode < 300 {
					mu.Lock()
					acked[name] = gen
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	in.kill()
	cancel()
	wg.Wait()

	again := start(t, dir)
	groups, err := armresources.NewResourceGroupsClient(again.admin.SubscriptionID, again.credential(), again.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	pager := groups.NewListPager(nil)
	found := map[string]string{}
	for pager.More() {
		page, err := pager.NextPage(t.Context())
		if err != nil {
			t.Fatalf("list after kill: %v", err)
		}
		for _, g := range page.Value {
			gen, padding := *g.Tags["gen"], *g.Tags["pad"]
			if padding != pad(gen) {
				t.Errorf("group %s is torn: gen %s, pad %q", *g.Name, gen, padding)
			}
			found[*g.Name] = gen
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged before the kill; the test proved nothing")
	}
	for name, gen := range acked {
		var a, f int
		fmt.Sscan(gen, &a)
		fmt.Sscan(found[name], &f)
		if _, ok := found[name]; !ok || f < a {
			t.Errorf("group %s: acknowledged generation %s, found %q after restart", name, gen, found[name])
		}
	}
	if _, err := groups.CreateOrUpdate(t.Context(), "after-kill", armresources.ResourceGroup{Location: to.Ptr("eastus")}, nil); err != nil {
		t.Fatalf("write after restart: %v", err)
	}
}

func pad(gen string) string { return strings.Repeat(gen+"-", 200)[:200] }

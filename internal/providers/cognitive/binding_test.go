package cognitive_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/store"
)

// msiToken asks a managed identity endpoint over the env's store for a
// management token with the header; it returns the status and the token's
// principal when one was issued.
func (e *env) msiToken(t *testing.T, header string) (int, *identity.Principal) {
	t.Helper()
	key, err := identity.LoadOrCreateSigningKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := identity.NewDirectory(e.Store)
	if _, err := dir.EnsureTenant(t.Context(), tenant, "test"); err != nil {
		t.Fatal(err)
	}
	iss := identity.NewIssuer(identity.IssuerConfig{Directory: dir, Key: key, BaseURL: func() string { return "https://127.0.0.1:8443" }})
	q := url.Values{"api-version": {"2019-08-01"}, "resource": {"https://management.azure.com"}}
	req := httptest.NewRequest(http.MethodGet, "https://127.0.0.1:8443"+identity.ManagedIdentityTokenPath+"?"+q.Encode(), nil)
	req.Header.Set("X-IDENTITY-HEADER", header)
	rec := httptest.NewRecorder()
	iss.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return rec.Code, nil
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	p, err := iss.Verify(body.AccessToken, identity.AudienceManagement)
	if err != nil {
		t.Fatalf("issued token does not verify: %v", err)
	}
	return rec.Code, p
}

// TestSystemAssignedWorkloadBinding: an account's system-assigned identity
// can be bound to a workload; the binding ends when the identity is turned
// off or the account deleted.
func TestSystemAssignedWorkloadBinding(t *testing.T) {
	e := newEnv(t)
	e.put(http.StatusCreated, acct("nosys"), account("nosys", nil))
	if r := e.Do(http.MethodPost, acct("nosys")+"/createWorkloadBinding"+api, nil); r.Status != http.StatusBadRequest || r.ErrCode(t) != "SystemAssignedIdentityRequired" {
		t.Errorf("binding an account without identity: %d %s", r.Status, r.Body)
	}

	body := account("sys", nil)
	body["identity"] = map[string]any{"type": "SystemAssigned"}
	principal := e.put(http.StatusCreated, acct("sys"), body).JSON(t)["identity"].(map[string]any)["principalId"]
	header := e.Must(http.StatusOK, http.MethodPost, acct("sys")+"/createWorkloadBinding"+api, nil).JSON(t)["identityHeader"].(string)
	code, p := e.msiToken(t, header)
	if code != http.StatusOK || p.ObjectID != principal || !strings.EqualFold(p.ManagedIdentityResourceID, acct("sys")) {
		t.Fatalf("token: %d %+v", code, p)
	}
	list := e.Must(http.StatusOK, http.MethodPost, acct("sys")+"/listWorkloadBindings"+api, nil).JSON(t)["value"].([]any)
	if len(list) != 1 {
		t.Errorf("bindings %v", list)
	}

	// Turning the identity off deletes its principal and bindings.
	r := e.Must(http.StatusOK, http.MethodPatch, acct("sys")+api, map[string]any{"identity": map[string]any{"type": "None"}})
	e.WaitOperation(r.Header.Get("Location"))
	if code, _ := e.msiToken(t, header); code != http.StatusUnauthorized {
		t.Errorf("token after the identity was turned off: %d", code)
	}
	if docs, _ := e.Store.List(t.Context(), store.ListOptions{Type: identity.TypeWorkloadBinding}); len(docs) != 0 {
		t.Errorf("%d bindings left after the identity was turned off", len(docs))
	}

	// Deleting the account deletes the bindings of its identity.
	r = e.Must(http.StatusOK, http.MethodPatch, acct("sys")+api, map[string]any{"identity": map[string]any{"type": "SystemAssigned"}})
	e.WaitOperation(r.Header.Get("Location"))
	header = e.Must(http.StatusOK, http.MethodPost, acct("sys")+"/createWorkloadBinding"+api, nil).JSON(t)["identityHeader"].(string)
	if code, _ := e.msiToken(t, header); code != http.StatusOK {
		t.Fatalf("token of the new identity: %d", code)
	}
	e.del(acct("sys"))
	if docs, _ := e.Store.List(t.Context(), store.ListOptions{Type: identity.TypeWorkloadBinding}); len(docs) != 0 {
		t.Errorf("%d bindings left after the account's delete", len(docs))
	}
}

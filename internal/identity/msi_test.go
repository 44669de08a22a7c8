package identity

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/perimeterhq/perimeter/internal/store"
)

const testIdentityResource = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"

// managedIdentity creates a managed identity's service principal as a
// resource provider would, and returns it.
func (env *testEnv) managedIdentity(t *testing.T, resourceID string) ServicePrincipal {
	t.Helper()
	principal, client := newGUID(), newGUID()
	op, err := ManagedIdentityClientOp(env.tenant, principal, client, "id1", resourceID, env.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.st.Apply(t.Context(), op); err != nil {
		t.Fatal(err)
	}
	sp, err := env.dir.ServicePrincipal(t.Context(), env.tenant, principal)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// bind creates a workload binding of sp and returns it with its header.
func (env *testEnv) bind(t *testing.T, sp ServicePrincipal, resourceID string) (WorkloadBinding, string) {
	t.Helper()
	b, header, op, err := NewWorkloadBinding(WorkloadBinding{
		TenantID: env.tenant, PrincipalID: sp.ID, ClientID: sp.AppID, ResourceID: resourceID, CreatedBy: env.sp.ID,
	}, env.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.st.Apply(t.Context(), op); err != nil {
		t.Fatal(err)
	}
	return b, header
}

// msiGet asks the managed identity endpoint for a token.
func (env *testEnv) msiGet(t *testing.T, header string, params url.Values) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, testBase+ManagedIdentityTokenPath+"?"+params.Encode(), nil)
	if header != "" {
		req.Header.Set("X-IDENTITY-HEADER", header)
	}
	return env.do(t, req)
}

func msiParams(resource string, extra ...string) url.Values {
	v := url.Values{"api-version": {"2019-08-01"}, "resource": {resource}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

// TestManagedIdentityToken: a workload binding's header gets tokens for its
// identity, for the audience asked, in App Service's response shape.
func TestManagedIdentityToken(t *testing.T) {
	env := newTestEnv(t)
	sp := env.managedIdentity(t, testIdentityResource)
	b, header := env.bind(t, sp, testIdentityResource)
	if !strings.HasPrefix(header, b.ID+".") || b.Hash != nil || b.Salt != nil {
		t.Fatalf("binding %+v, header %q", b, header)
	}
	for _, tc := range []struct {
		resource, audience string
		extra              []string
	}{
		{"https://management.azure.com", AudienceManagement, nil},
		{"https://management.azure.com/", AudienceManagement, []string{"client_id", strings.ToUpper(sp.AppID)}},
		{"https://cognitiveservices.azure.com", AudienceCognitiveServices, []string{"principal_id", sp.ID}},
		{"https://cognitiveservices.azure.com/.default", AudienceCognitiveServices, []string{"object_id", sp.ID}},
		{"https://management.azure.com", AudienceManagement, []string{"mi_res_id", strings.ToLower(testIdentityResource)}},
	} {
		rec, body := env.msiGet(t, header, msiParams(tc.resource, tc.extra...))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s %v: %d %v", tc.resource, tc.extra, rec.Code, body)
		}
		if body["token_type"] != "Bearer" || body["resource"] != tc.resource || body["client_id"] != sp.AppID {
			t.Errorf("response %v", body)
		}
		exp, err := strconv.ParseInt(body["expires_on"].(string), 10, 64)
		if err != nil || exp != env.clock.Now().Add(DefaultTokenLifetime).Unix() {
			t.Errorf("expires_on %v", body["expires_on"])
		}
		p, err := env.iss.Verify(body["access_token"].(string), tc.audience)
		if err != nil {
			t.Fatalf("the issued token does not verify: %v", err)
		}
		if p.ObjectID != sp.ID || p.AppID != sp.AppID || p.Type != PrincipalTypeApp || p.TenantID != env.tenant || p.ManagedIdentityResourceID != testIdentityResource {
			t.Errorf("principal %+v", p)
		}
	}
}

// TestManagedIdentityTokenRefusals: every refusal has a status and an
// error body that says what to change; a secret never serves another
// identity.
func TestManagedIdentityTokenRefusals(t *testing.T) {
	env := newTestEnv(t)
	sp := env.managedIdentity(t, testIdentityResource)
	b, header := env.bind(t, sp, testIdentityResource)
	other := env.managedIdentity(t, testIdentityResource+"x")
	_, otherHeader := env.bind(t, other, testIdentityResource+"x")
	mgmt := "https://management.azure.com"
	id, secret, _ := strings.Cut(header, ".")
	_, otherSecret, _ := strings.Cut(otherHeader, ".")
	wrong := []byte(secret)
	wrong[0] ^= 1 // another base64url character

	for _, tc := range []struct {
		name   string
		header string
		params url.Values
		status int
		says   string
	}{
		{"missing header", "", msiParams(mgmt), http.StatusBadRequest, "X-IDENTITY-HEADER header is required"},
		{"wrong secret", id + "." + string(wrong), msiParams(mgmt), http.StatusUnauthorized, "not valid"},
		{"secret of another binding", id + "." + otherSecret, msiParams(mgmt), http.StatusUnauthorized, "not valid"},
		{"no id", secret, msiParams(mgmt), http.StatusUnauthorized, "not valid"},
		{"unknown id", newGUID() + "." + secret, msiParams(mgmt), http.StatusUnauthorized, "not valid"},
		{"client id of another identity", header, msiParams(mgmt, "client_id", other.AppID), http.StatusBadRequest, "does not name the managed identity"},
		{"principal of another identity", header, msiParams(mgmt, "principal_id", other.ID), http.StatusBadRequest, "does not name the managed identity"},
		{"resource of another identity", header, msiParams(mgmt, "mi_res_id", testIdentityResource+"x"), http.StatusBadRequest, "does not name the managed identity"},
		{"two selectors", header, msiParams(mgmt, "client_id", sp.AppID, "principal_id", sp.ID), http.StatusBadRequest, "at most one"},
		{"no resource", header, url.Values{"api-version": {"2019-08-01"}}, http.StatusBadRequest, "'resource' is required"},
		{"unknown resource", header, msiParams("https://vault.azure.net"), http.StatusBadRequest, "vault.azure.net"},
		{"old api-version", header, url.Values{"api-version": {"2017-09-01"}, "resource": {mgmt}}, http.StatusBadRequest, "api-version=2019-08-01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, body := env.msiGet(t, tc.header, tc.params)
			desc, _ := body["error_description"].(string)
			if rec.Code != tc.status || !strings.Contains(desc, tc.says) || body["error"] == nil {
				t.Errorf("%d %v, want %d saying %q", rec.Code, body, tc.status, tc.says)
			}
			if _, leaked := body["access_token"]; leaked {
				t.Error("a refusal carries a token")
			}
		})
	}

	rec, _ := env.do(t, httptest.NewRequest(http.MethodPost, testBase+ManagedIdentityTokenPath+"?"+msiParams(mgmt).Encode(), nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodGet {
		t.Errorf("POST: %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}

	// Revoked: the header stops working at once; the other binding is
	// untouched.
	if err := RevokeWorkloadBinding(t.Context(), env.st, env.tenant, other.ID, b.ID); !errors.Is(err, ErrWorkloadBindingNotFound) {
		t.Errorf("revoking a binding through another identity: %v", err)
	}
	if err := RevokeWorkloadBinding(t.Context(), env.st, env.tenant, sp.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	if rec, body := env.msiGet(t, header, msiParams(mgmt)); rec.Code != http.StatusUnauthorized {
		t.Errorf("revoked binding: %d %v", rec.Code, body)
	}
	if rec, body := env.msiGet(t, otherHeader, msiParams(mgmt)); rec.Code != http.StatusOK {
		t.Errorf("the other binding after a revocation: %d %v", rec.Code, body)
	}
	if err := RevokeWorkloadBinding(t.Context(), env.st, env.tenant, sp.ID, b.ID); !errors.Is(err, ErrWorkloadBindingNotFound) {
		t.Errorf("revoking twice: %v", err)
	}

	// The identity's service principal gone (a system-assigned identity
	// turned off): its bindings no longer authenticate.
	if _, err := store.Delete(t.Context(), env.st, ObjectDocID(env.tenant, other.ID), store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	if rec, body := env.msiGet(t, otherHeader, msiParams(mgmt)); rec.Code != http.StatusUnauthorized {
		t.Errorf("binding of a deleted identity: %d %v", rec.Code, body)
	}
}

// TestWorkloadBindingsListAndDelete: bindings are listed per identity,
// without their hashes, and removed with it.
func TestWorkloadBindingsListAndDelete(t *testing.T) {
	env := newTestEnv(t)
	sp := env.managedIdentity(t, testIdentityResource)
	other := env.managedIdentity(t, testIdentityResource+"x")
	b1, _ := env.bind(t, sp, testIdentityResource)
	b2, _ := env.bind(t, sp, testIdentityResource)
	_, otherHeader := env.bind(t, other, testIdentityResource+"x")
	list, docs, err := WorkloadBindings(t.Context(), env.st, env.tenant, sp.ID)
	if err != nil || len(list) != 2 || len(docs) != 2 {
		t.Fatalf("WorkloadBindings = %+v, %v", list, err)
	}
	for _, b := range list {
		if (b.ID != b1.ID && b.ID != b2.ID) || b.Hash != nil || b.Salt != nil || b.CreatedBy != env.sp.ID || b.ClientID != sp.AppID {
			t.Errorf("listed %+v", b)
		}
	}
	ops, err := DeleteWorkloadBindingsOps(t.Context(), env.st, env.tenant, sp.ID)
	if err != nil || len(ops) != 2 {
		t.Fatalf("DeleteWorkloadBindingsOps = %v, %v", ops, err)
	}
	if _, err := env.st.Apply(t.Context(), ops...); err != nil {
		t.Fatal(err)
	}
	if list, _, _ := WorkloadBindings(t.Context(), env.st, env.tenant, sp.ID); len(list) != 0 {
		t.Errorf("after delete: %+v", list)
	}
	if rec, _ := env.msiGet(t, otherHeader, msiParams("https://management.azure.com")); rec.Code != http.StatusOK {
		t.Errorf("another identity's binding went too: %d", rec.Code)
	}
}

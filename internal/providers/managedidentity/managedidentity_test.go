package managedidentity_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/providers/authorization"
	"github.com/perimeterhq/perimeter/internal/providers/managedidentity"
	"github.com/perimeterhq/perimeter/internal/snapshot/snapshottest"
	"github.com/perimeterhq/perimeter/internal/store"
)

const (
	sub    = armtest.SubscriptionID
	tenant = armtest.TenantID
	api    = "?api-version=2023-01-31"
	rgAPI  = armtest.ResourcesAPI
	raAPI  = "?api-version=2022-04-01"
	// reader and contributor are service principals given those roles on
	// the group "rg" by tests that need them.
	reader      = "00000000-0000-0000-0000-00000000000a"
	contributor = "00000000-0000-0000-0000-00000000000b"
)

func idPath(group, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + group + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
}

// newEnv serves resource groups, role assignments and user-assigned
// identities, with RBAC enforced; the harness administrator owns the
// subscription.
func newEnv(t *testing.T) *armtest.Env {
	t.Helper()
	e := armtest.New(t,
		armtest.Kinds(func(srv *arm.Server, st store.Store) []arm.Kind {
			lookup := func(ctx context.Context, _, id string) (string, error) {
				if id == reader || id == contributor {
					return "ServicePrincipal", nil
				}
				obj, err := identity.NewDirectory(st).Object(ctx, tenant, id)
				if err != nil {
					return "", authorization.ErrPrincipalNotFound
				}
				return obj.Type, nil
			}
			return append(managedidentity.Kinds(srv), authorization.Kinds(srv, authorization.Config{Principals: lookup, TenantID: tenant})...)
		}),
		armtest.Authorizer(snapshottest.Authorizer))
	ops, err := authorization.AssignOps("/subscriptions/"+sub, "99999999-9999-9999-9999-999999999999", authz.RoleOwner, armtest.ObjectID, "ServicePrincipal", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.Apply(t.Context(), ops...); err != nil {
		t.Fatal(err)
	}
	e.Register("Microsoft.ManagedIdentity")
	for _, g := range []string{"rg", "other"} {
		e.Must(http.StatusCreated, http.MethodPut, "/subscriptions/"+sub+"/resourceGroups/"+g+rgAPI, map[string]any{"location": "eastus"})
	}
	return e
}

func props(t *testing.T, r armtest.Response) map[string]any {
	t.Helper()
	p, ok := r.JSON(t)["properties"].(map[string]any)
	if !ok {
		t.Fatalf("no properties: %s", r.Body)
	}
	return p
}

func TestUserAssignedIdentityLifecycle(t *testing.T) {
	e := newEnv(t)
	r := e.Must(http.StatusCreated, http.MethodPut, idPath("rg", "app-id")+api, map[string]any{"location": "East US", "tags": map[string]string{"team": "ai"}})
	p := props(t, r)
	principal, _ := p["principalId"].(string)
	client, _ := p["clientId"].(string)
	if p["tenantId"] != tenant || uuid.Validate(principal) != nil || uuid.Validate(client) != nil || principal == client {
		t.Fatalf("generated properties %v", p)
	}
	doc := r.JSON(t)
	if doc["type"] != managedidentity.TypeUserAssignedIdentities || doc["location"] != "eastus" || doc["id"] != idPath("rg", "app-id") {
		t.Errorf("envelope %s", r.Body)
	}
	// Its principal is a directory object, so role assignments can name it.
	sp, err := identity.NewDirectory(e.Store).ServicePrincipal(t.Context(), tenant, principal)
	if err != nil || sp.AppID != client || sp.ServicePrincipalType != identity.ServicePrincipalTypeManagedIdentity ||
		len(sp.AlternativeNames) != 1 || sp.AlternativeNames[0] != idPath("rg", "app-id") || sp.DisplayName != "app-id" {
		t.Fatalf("service principal %+v, %v", sp, err)
	}
	e.Must(http.StatusCreated, http.MethodPut, "/subscriptions/"+sub+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+raAPI,
		map[string]any{"properties": map[string]string{"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + authz.RoleReader, "principalId": principal}})

	// Updates keep the generated properties; echoed read-only values are
	// ignored.
	r = e.Must(http.StatusOK, http.MethodPatch, idPath("rg", "app-id")+api, map[string]any{"tags": map[string]string{"team": "platform"}})
	if p := props(t, r); p["principalId"] != principal || p["clientId"] != client || r.JSON(t)["tags"].(map[string]any)["team"] != "platform" {
		t.Errorf("after PATCH: %s", r.Body)
	}
	r = e.Must(http.StatusOK, http.MethodPut, idPath("rg", "app-id")+api, map[string]any{"location": "eastus",
		"properties": map[string]any{"principalId": uuid.NewString(), "clientId": uuid.NewString(), "tenantId": uuid.NewString(), "isolationScope": "None"}})
	if p := props(t, r); p["principalId"] != principal || p["clientId"] != client || p["tenantId"] != tenant {
		t.Errorf("echoed read-only properties were taken: %s", r.Body)
	}

	// Lists: by group and by subscription, not in another group.
	for _, path := range []string{"/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities", "/subscriptions/" + sub + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities"} {
		if l := e.Must(http.StatusOK, http.MethodGet, path+api, nil); !strings.Contains(string(l.Body), `"name":"app-id"`) {
			t.Errorf("%s does not list the identity: %s", path, l.Body)
		}
	}
	if l := e.Must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/resourceGroups/other/providers/Microsoft.ManagedIdentity/userAssignedIdentities"+api, nil); string(l.Body) != `{"value":[]}` {
		t.Errorf("another group lists %s", l.Body)
	}
	// The newest stable api-version serves the same shape.
	e.Must(http.StatusOK, http.MethodGet, idPath("rg", "app-id")+"?api-version=2024-11-30", nil)

	// Delete removes the service principal with the resource.
	e.Must(http.StatusOK, http.MethodDelete, idPath("rg", "app-id")+api, nil)
	e.Must(http.StatusNotFound, http.MethodGet, idPath("rg", "app-id")+api, nil)
	if _, err := identity.NewDirectory(e.Store).ServicePrincipal(t.Context(), tenant, principal); err == nil {
		t.Error("the service principal outlived its identity")
	}
	e.Must(http.StatusNoContent, http.MethodDelete, idPath("rg", "app-id")+api, nil)
}

// TestUserAssignedIdentityGoesWithItsGroup: deleting the resource group
// removes the identity's principal too.
func TestUserAssignedIdentityGoesWithItsGroup(t *testing.T) {
	e := newEnv(t)
	principal := props(t, e.Must(http.StatusCreated, http.MethodPut, idPath("other", "batch")+api, map[string]any{"location": "eastus"}))["principalId"].(string)
	r := e.Do(http.MethodDelete, "/subscriptions/"+sub+"/resourceGroups/other"+rgAPI, nil)
	if r.Status == http.StatusAccepted {
		r = e.WaitOperation(r.Header.Get("Location"))
	}
	if r.Status != http.StatusOK {
		t.Fatalf("delete group: %d %s", r.Status, r.Body)
	}
	if _, err := identity.NewDirectory(e.Store).ServicePrincipal(t.Context(), tenant, principal); err == nil {
		t.Error("the service principal outlived its group")
	}
}

func TestUserAssignedIdentityBadInput(t *testing.T) {
	e := newEnv(t)
	before := e.Revision()
	for _, tc := range []struct {
		name, path string
		body       any
		code       string
	}{
		{"short name", idPath("rg", "ab"), map[string]any{"location": "eastus"}, arm.CodeInvalidResourceName},
		{"name with a dot", idPath("rg", "app.id"), map[string]any{"location": "eastus"}, arm.CodeInvalidResourceName},
		{"no location", idPath("rg", "app-id"), map[string]any{}, arm.CodeLocationRequired},
		{"unknown property", idPath("rg", "app-id"), map[string]any{"location": "eastus", "properties": map[string]any{"clientSecretUrl": "x"}}, managedidentity.CodeUnsupportedProperty},
		{"regional isolation", idPath("rg", "app-id"), map[string]any{"location": "eastus", "properties": map[string]any{"isolationScope": "Regional"}}, managedidentity.CodeUnsupportedProperty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.T = t
			defer func() { e.T = t }()
			r := e.Do(http.MethodPut, tc.path+api, tc.body)
			if r.Status != http.StatusBadRequest || r.ErrCode(t) != tc.code {
				t.Errorf("%d %s, want 400 %s", r.Status, r.Body, tc.code)
			}
		})
	}
	e.T = t
	if e.Revision() != before {
		t.Error("a refused write changed the store")
	}
}

// issuer serves the managed identity token endpoint over the env's store.
func issuer(t *testing.T, e *armtest.Env) *identity.Issuer {
	t.Helper()
	key, err := identity.LoadOrCreateSigningKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := identity.NewDirectory(e.Store)
	if _, err := dir.EnsureTenant(t.Context(), tenant, "test"); err != nil {
		t.Fatal(err)
	}
	return identity.NewIssuer(identity.IssuerConfig{Directory: dir, Key: key, BaseURL: func() string { return "https://127.0.0.1:8443" }})
}

// token asks the managed identity endpoint for a management token.
func token(t *testing.T, iss *identity.Issuer, header, clientID string) (int, string) {
	t.Helper()
	q := url.Values{"api-version": {"2019-08-01"}, "resource": {"https://management.azure.com"}}
	if clientID != "" {
		q.Set("client_id", clientID)
	}
	req := httptest.NewRequest(http.MethodGet, "https://127.0.0.1:8443"+identity.ManagedIdentityTokenPath+"?"+q.Encode(), nil)
	req.Header.Set("X-IDENTITY-HEADER", header)
	rec := httptest.NewRecorder()
	iss.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// TestWorkloadBindings: a binding made through ARM gets tokens as its
// identity until it is revoked or the identity is deleted.
func TestWorkloadBindings(t *testing.T) {
	e := newEnv(t)
	iss := issuer(t, e)
	p := props(t, e.Must(http.StatusCreated, http.MethodPut, idPath("rg", "app-id")+api, map[string]any{"location": "eastus"}))
	other := props(t, e.Must(http.StatusCreated, http.MethodPut, idPath("rg", "other-id")+api, map[string]any{"location": "eastus"}))

	b := e.Must(http.StatusOK, http.MethodPost, idPath("rg", "app-id")+"/createWorkloadBinding"+api, nil).JSON(t)
	header, _ := b["identityHeader"].(string)
	if b["identityEndpoint"] != e.HTTP.URL+"/msi/token" || header == "" || b["principalId"] != p["principalId"] || b["clientId"] != p["clientId"] ||
		b["resourceId"] != idPath("rg", "app-id") || b["createdBy"] != armtest.ObjectID || b["hash"] != nil {
		t.Fatalf("binding %v", b)
	}
	if code, body := token(t, iss, header, ""); code != http.StatusOK || !strings.Contains(body, p["clientId"].(string)) {
		t.Fatalf("token: %d %s", code, body)
	}
	if code, body := token(t, iss, header, other["clientId"].(string)); code != http.StatusBadRequest {
		t.Errorf("token for another identity: %d %s", code, body)
	}

	// Listed without the secret; revoked, it stops working.
	l := e.Must(http.StatusOK, http.MethodPost, idPath("rg", "app-id")+"/listWorkloadBindings"+api, nil)
	if v := l.JSON(t)["value"].([]any); len(v) != 1 || v[0].(map[string]any)["id"] != b["id"] || strings.Contains(string(l.Body), header[strings.IndexByte(header, '.')+1:]) {
		t.Errorf("list %s", l.Body)
	}
	if r := e.Do(http.MethodPost, idPath("rg", "other-id")+"/revokeWorkloadBinding"+api, map[string]any{"id": b["id"]}); r.Status != http.StatusNotFound || r.ErrCode(t) != managedidentity.CodeWorkloadBindingNotFound {
		t.Errorf("revoke through another identity: %d %s", r.Status, r.Body)
	}
	if r := e.Do(http.MethodPost, idPath("rg", "app-id")+"/revokeWorkloadBinding"+api, nil); r.Status != http.StatusBadRequest {
		t.Errorf("revoke without a body: %d %s", r.Status, r.Body)
	}
	e.Must(http.StatusNoContent, http.MethodPost, idPath("rg", "app-id")+"/revokeWorkloadBinding"+api, map[string]any{"id": b["id"]})
	if code, body := token(t, iss, header, ""); code != http.StatusUnauthorized {
		t.Errorf("token after revocation: %d %s", code, body)
	}

	// Deleting the identity ends its bindings.
	header = e.Must(http.StatusOK, http.MethodPost, idPath("rg", "app-id")+"/createWorkloadBinding"+api, nil).JSON(t)["identityHeader"].(string)
	if code, _ := token(t, iss, header, ""); code != http.StatusOK {
		t.Fatalf("second binding: %d", code)
	}
	e.Must(http.StatusOK, http.MethodDelete, idPath("rg", "app-id")+api, nil)
	if code, body := token(t, iss, header, ""); code != http.StatusUnauthorized {
		t.Errorf("token after the identity's delete: %d %s", code, body)
	}
	if docs, err := e.Store.List(t.Context(), store.ListOptions{Type: identity.TypeWorkloadBinding}); err != nil || len(docs) != 0 {
		t.Errorf("bindings left behind: %d, %v", len(docs), err)
	}
}

// TestWorkloadBindingNeedsAssign: binding an identity to a workload needs
// its assign action, which Reader lacks and Contributor holds; reading the
// identity and its bindings needs only read.
func TestWorkloadBindingNeedsAssign(t *testing.T) {
	e := newEnv(t)
	e.Must(http.StatusCreated, http.MethodPut, idPath("rg", "app-id")+api, map[string]any{"location": "eastus"})
	for name, role := range map[string]string{reader: authz.RoleReader, contributor: authz.RoleContributor} {
		e.Must(http.StatusCreated, http.MethodPut, "/subscriptions/"+sub+"/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+raAPI,
			map[string]any{"properties": map[string]string{"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + role, "principalId": name}})
	}
	e.Token = armtest.As(reader)
	e.Must(http.StatusOK, http.MethodGet, idPath("rg", "app-id")+api, nil)
	e.Must(http.StatusOK, http.MethodPost, idPath("rg", "app-id")+"/listWorkloadBindings"+api, nil)
	for _, action := range []string{"createWorkloadBinding", "revokeWorkloadBinding"} {
		r := e.Do(http.MethodPost, idPath("rg", "app-id")+"/"+action+api, map[string]any{"id": uuid.NewString()})
		if r.Status != http.StatusForbidden || !strings.Contains(r.ARMError(t).Message, managedidentity.ActionAssign) {
			t.Errorf("%s as Reader: %d %s", action, r.Status, r.Body)
		}
	}
	if r := e.Do(http.MethodPut, idPath("rg", "new-id")+api, map[string]any{"location": "eastus"}); r.Status != http.StatusForbidden ||
		!strings.Contains(r.ARMError(t).Message, "Microsoft.ManagedIdentity/userAssignedIdentities/write") {
		t.Errorf("create as Reader: %d %s", r.Status, r.Body)
	}
	e.Token = armtest.As(contributor)
	e.Must(http.StatusOK, http.MethodPost, idPath("rg", "app-id")+"/createWorkloadBinding"+api, nil)
	e.Must(http.StatusCreated, http.MethodPut, idPath("rg", "new-id")+api, map[string]any{"location": "eastus"})
	e.Must(http.StatusOK, http.MethodDelete, idPath("rg", "new-id")+api, nil)
	e.Token = armtest.Token
}

package identity

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/perimeterhq/perimeter/internal/store"
)

func TestCreateServicePrincipal(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	sp := env.sp
	if _, ok := canonicalGUID(sp.ID); !ok || sp.ID == env.app.ObjectID || sp.ID == env.app.AppID {
		t.Errorf("service principal id %q is not a new GUID", sp.ID)
	}
	want := ServicePrincipal{TenantID: env.tenant, ID: sp.ID, AppID: env.app.AppID, DisplayName: "test app",
		ServicePrincipalType: "Application", AccountEnabled: true, CreatedDateTime: env.clock.Now()}
	if !reflect.DeepEqual(sp, want) {
		t.Errorf("service principal %+v\nwant %+v", sp, want)
	}
	doc, err := env.st.Get(ctx, "/tenants/"+env.tenant+"/directoryObjects/"+sp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Type != store.Key(TypeServicePrincipal) || doc.Parent != "/tenants/"+env.tenant {
		t.Errorf("document type %q parent %q", doc.Type, doc.Parent)
	}
	app, err := env.dir.Application(ctx, env.tenant, env.app.AppID)
	if err != nil || app.ServicePrincipalID != sp.ID {
		t.Errorf("application does not link its service principal: %+v %v", app, err)
	}

	tests := []struct {
		name    string
		tenant  string
		appID   string
		wantErr error
	}{
		{"second for the same application", env.tenant, env.app.AppID, ErrServicePrincipalExists},
		{"second, client id in upper case", env.tenant, strings.ToUpper(env.app.AppID), ErrServicePrincipalExists},
		{"unknown application", env.tenant, "55555555-5555-5555-5555-555555555555", ErrApplicationNotFound},
		{"application id not a GUID", env.tenant, "test app", ErrApplicationNotFound},
		{"unknown tenant", "44444444-4444-4444-4444-444444444444", env.app.AppID, ErrApplicationNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.dir.CreateServicePrincipal(ctx, tt.tenant, tt.appID)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			var re *RequestError
			if !errors.As(err, &re) || re.Message == "" {
				t.Errorf("refusal %v has no message for the caller", err)
			}
		})
	}
	sps, err := env.dir.ServicePrincipals(ctx, env.tenant)
	if err != nil || len(sps) != 1 || !reflect.DeepEqual(sps[0], sp) {
		t.Errorf("ServicePrincipals = %+v, %v", sps, err)
	}
	if got, err := env.dir.ServicePrincipalByAppID(ctx, env.tenant, env.app.AppID); err != nil || !reflect.DeepEqual(got, sp) {
		t.Errorf("ServicePrincipalByAppID = %+v, %v", got, err)
	}
}

// TestServicePrincipalsCreatedConcurrently: of many concurrent creates for
// one application exactly one succeeds; the others are told it exists.
func TestServicePrincipalsCreatedConcurrently(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	app, err := env.dir.CreateApplication(ctx, env.tenant, "raced")
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = env.dir.CreateServicePrincipal(ctx, env.tenant, app.AppID) })
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, ErrServicePrincipalExists):
			t.Errorf("unexpected error %v", err)
		}
	}
	sps, _ := env.dir.ServicePrincipals(ctx, env.tenant)
	if created != 1 || len(sps) != 2 { // env's own and this one
		t.Errorf("%d creates succeeded, %d service principals stored; want 1 and 2", created, len(sps))
	}
}

func TestEnsureServicePrincipal(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	rev, _ := env.st.Revision(ctx)
	sp, err := env.dir.EnsureServicePrincipal(ctx, env.tenant, env.app.AppID)
	if err != nil || !reflect.DeepEqual(sp, env.sp) {
		t.Fatalf("EnsureServicePrincipal of an existing one = %+v, %v", sp, err)
	}
	if after, _ := env.st.Revision(ctx); after != rev {
		t.Error("EnsureServicePrincipal wrote although the service principal existed")
	}
	app, _ := env.dir.CreateApplication(ctx, env.tenant, "new")
	sp, err = env.dir.EnsureServicePrincipal(ctx, env.tenant, app.AppID)
	if err != nil || sp.AppID != app.AppID {
		t.Fatalf("EnsureServicePrincipal of a new one = %+v, %v", sp, err)
	}
	if _, err := env.dir.EnsureServicePrincipal(ctx, env.tenant, "55555555-5555-5555-5555-555555555555"); !errors.Is(err, ErrApplicationNotFound) {
		t.Errorf("unknown application: err = %v", err)
	}
}

func TestDeleteServicePrincipal(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	g, err := env.dir.CreateGroup(ctx, env.tenant, GroupInput{DisplayName: "ops", MailNickname: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.dir.AddMember(ctx, env.tenant, g.ID, env.sp.ID); err != nil {
		t.Fatal(err)
	}
	if err := env.dir.DeleteServicePrincipal(ctx, env.tenant, env.sp.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := env.dir.ServicePrincipal(ctx, env.tenant, env.sp.ID); !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("deleted service principal: err = %v", err)
	}
	if g, _ := env.dir.Group(ctx, env.tenant, g.ID); len(g.Members) != 0 {
		t.Errorf("the deleted service principal is still a member: %v", g.Members)
	}
	// The application stays, unlinked, and cannot get tokens until it has
	// a service principal again.
	app, err := env.dir.Application(ctx, env.tenant, env.app.AppID)
	if err != nil || app.ServicePrincipalID != "" {
		t.Errorf("application after its service principal was deleted: %+v %v", app, err)
	}
	rec, body := env.post(t, env.tenant, clientForm(env.app.AppID, env.secret, "https://management.azure.com/.default"), nil)
	checkSTSError(t, rec, body, 401, "invalid_client", 7000229)
	if _, err := env.dir.CreateServicePrincipal(ctx, env.tenant, env.app.AppID); err != nil {
		t.Errorf("a new service principal after deletion: %v", err)
	}
	for _, id := range []string{env.sp.ID, "not-a-guid", g.ID} {
		if err := env.dir.DeleteServicePrincipal(ctx, env.tenant, id); !errors.Is(err, ErrObjectNotFound) {
			t.Errorf("DeleteServicePrincipal(%s): err = %v, want ErrObjectNotFound", id, err)
		}
	}
}

func TestDeleteApplication(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	g, _ := env.dir.CreateGroup(ctx, env.tenant, GroupInput{DisplayName: "ops", MailNickname: "ops"})
	if err := env.dir.AddMember(ctx, env.tenant, g.ID, env.sp.ID); err != nil {
		t.Fatal(err)
	}
	before, _ := env.st.Revision(ctx)
	if err := env.dir.DeleteApplication(ctx, env.tenant, env.app.AppID); err != nil {
		t.Fatal(err)
	}
	// One Apply: application, index entry, service principal, membership.
	changes, _ := env.st.Changes(ctx, before, 0)
	if len(changes) != 4 {
		t.Errorf("%d changes, want 4 in one write: %+v", len(changes), changes)
	}
	if _, err := env.dir.Application(ctx, env.tenant, env.app.AppID); !errors.Is(err, ErrApplicationNotFound) {
		t.Errorf("deleted application: err = %v", err)
	}
	if _, err := env.dir.ApplicationByObjectID(ctx, env.tenant, env.app.ObjectID); !errors.Is(err, ErrApplicationNotFound) {
		t.Errorf("deleted application by object id: err = %v", err)
	}
	if _, err := env.dir.Object(ctx, env.tenant, env.sp.ID); !errors.Is(err, ErrObjectNotFound) {
		t.Errorf("service principal of a deleted application: err = %v", err)
	}
	if g, _ := env.dir.Group(ctx, env.tenant, g.ID); len(g.Members) != 0 {
		t.Errorf("membership of the deleted service principal left behind: %v", g.Members)
	}
	if _, err := env.dir.VerifyClientSecret(ctx, env.tenant, env.app.AppID, env.secret); !errors.Is(err, ErrInvalidClientSecret) {
		t.Errorf("secret of a deleted application: err = %v", err)
	}
	if err := env.dir.DeleteApplication(ctx, env.tenant, env.app.AppID); !errors.Is(err, ErrApplicationNotFound) {
		t.Errorf("second delete: err = %v", err)
	}
}

func TestApplicationByObjectID(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	got, err := env.dir.ApplicationByObjectID(ctx, env.tenant, strings.ToUpper(env.app.ObjectID))
	if err != nil || got.AppID != env.app.AppID {
		t.Fatalf("ApplicationByObjectID = %+v, %v", got, err)
	}
	// An application stored before the object id index existed is found
	// by a scan.
	if _, err := store.Delete(ctx, env.st, applicationIndexDocID(env.tenant, env.app.ObjectID), store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	got, err = env.dir.ApplicationByObjectID(ctx, env.tenant, env.app.ObjectID)
	if err != nil || got.AppID != env.app.AppID {
		t.Fatalf("ApplicationByObjectID without index = %+v, %v", got, err)
	}
	if err := env.dir.DeleteApplication(ctx, env.tenant, env.app.AppID); err != nil {
		t.Errorf("deleting an application without index entry: %v", err)
	}
	for _, id := range []string{env.app.ObjectID, env.app.AppID, "x", ""} {
		if _, err := env.dir.ApplicationByObjectID(ctx, env.tenant, id); !errors.Is(err, ErrApplicationNotFound) {
			t.Errorf("ApplicationByObjectID(%q): err = %v", id, err)
		}
	}
}

// TestManagedIdentityIsADirectoryObject: the service principal a resource
// provider writes for a managed identity is found like any other, so a
// role assignment can name it.
func TestManagedIdentityIsADirectoryObject(t *testing.T) {
	env := newTestEnv(t)
	const principal = "6a1b2c3d-0000-4000-8000-000000000001"
	op, err := ManagedIdentityOp(env.tenant, principal, "acct", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/acct", env.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.st.Apply(t.Context(), op); err != nil {
		t.Fatal(err)
	}
	obj, err := env.dir.Object(t.Context(), env.tenant, principal)
	if err != nil || obj.Type != ObjectTypeServicePrincipal || obj.DisplayName != "acct" {
		t.Fatalf("Object = %+v, %v", obj, err)
	}
	sp, err := env.dir.ServicePrincipal(t.Context(), env.tenant, principal)
	if err != nil || sp.ServicePrincipalType != ServicePrincipalTypeManagedIdentity || len(sp.AlternativeNames) != 1 {
		t.Fatalf("ServicePrincipal = %+v, %v", sp, err)
	}
}

// TestAdoptManagedIdentities: managed identities stored by an earlier
// release apart from the directory become directory objects.
func TestAdoptManagedIdentities(t *testing.T) {
	env := newTestEnv(t)
	const principal = "6a1b2c3d-0000-4000-8000-000000000002"
	old := "/tenants/" + env.tenant + "/servicePrincipals/" + principal
	body := `{"id":"` + principal + `","appId":"6a1b2c3d-0000-4000-8000-000000000003","displayName":"acct","servicePrincipalType":"ManagedIdentity","alternativeNames":["/x"]}`
	if _, err := store.Put(t.Context(), env.st, store.Document{ID: old, Type: TypeServicePrincipal, Parent: "/tenants/" + env.tenant, Body: []byte(body)}, store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a restart finds nothing left to do
		if err := env.dir.AdoptManagedIdentities(t.Context(), env.tenant); err != nil {
			t.Fatal(err)
		}
	}
	if obj, err := env.dir.Object(t.Context(), env.tenant, principal); err != nil || obj.Type != ObjectTypeServicePrincipal {
		t.Fatalf("Object = %+v, %v", obj, err)
	}
	if _, err := env.st.Get(t.Context(), old); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the old document is still there: %v", err)
	}
	if _, err := env.dir.ServicePrincipal(t.Context(), env.tenant, env.sp.ID); err != nil {
		t.Errorf("an application's service principal was disturbed: %v", err)
	}
}

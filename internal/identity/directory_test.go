package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/store"
)

func TestEnsureTenant(t *testing.T) {
	ctx := context.Background()
	d := NewDirectory(newMemStore())
	const id = "0D2B3F8C-1E4A-4F6B-9C2D-3E4F5A6B7C8D"
	t1, err := d.EnsureTenant(ctx, id, "First")
	if err != nil {
		t.Fatal(err)
	}
	if t1.ID != strings.ToLower(id) {
		t.Errorf("tenant id %q, want lower-case %q", t1.ID, strings.ToLower(id))
	}
	t2, err := d.EnsureTenant(ctx, strings.ToLower(id), "Second")
	if err != nil {
		t.Fatal(err)
	}
	if t2.DisplayName != "First" {
		t.Errorf("EnsureTenant on an existing tenant changed it: %+v", t2)
	}
	if _, err := d.EnsureTenant(ctx, "22222222-2222-2222-2222-222222222222", "Other"); err != nil {
		t.Fatal(err)
	}
	tenants, err := d.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tenants) != 2 || tenants[0].ID != strings.ToLower(id) {
		t.Errorf("Tenants = %+v", tenants)
	}
	for _, bad := range []string{"", "common", "../x", "{0d2b3f8c-1e4a-4f6b-9c2d-3e4f5a6b7c8d}", "0d2b3f8c1e4a4f6b9c2d3e4f5a6b7c8d"} {
		if _, err := d.EnsureTenant(ctx, bad, "x"); err == nil {
			t.Errorf("EnsureTenant(%q) succeeded", bad)
		}
	}
	if _, err := d.Tenant(ctx, "33333333-3333-3333-3333-333333333333"); !errors.Is(err, ErrTenantNotFound) {
		t.Errorf("Tenant(unknown) err = %v, want ErrTenantNotFound", err)
	}
}

func TestCreateApplication(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	app := env.app
	if _, ok := canonicalGUID(app.ObjectID); !ok {
		t.Errorf("object id %q is not a GUID", app.ObjectID)
	}
	if _, ok := canonicalGUID(app.AppID); !ok || app.AppID == app.ObjectID {
		t.Errorf("appId %q is not a GUID distinct from the object id", app.AppID)
	}
	if app.TenantID != env.tenant || app.DisplayName != "test app" {
		t.Errorf("application %+v", app)
	}
	doc, err := env.st.Get(ctx, "/tenants/"+env.tenant+"/applications/"+app.AppID)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Type != store.Key(TypeApplication) || doc.Parent != "/tenants/"+env.tenant {
		t.Errorf("document type %q parent %q", doc.Type, doc.Parent)
	}
	var body map[string]any
	if err := json.Unmarshal(doc.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body["id"] != app.ObjectID || body["appId"] != app.AppID || body["displayName"] != "test app" {
		t.Errorf("document body %s", doc.Body)
	}
	if _, err := env.dir.CreateApplication(ctx, "44444444-4444-4444-4444-444444444444", "x"); !errors.Is(err, ErrTenantNotFound) {
		t.Errorf("CreateApplication in unknown tenant: err = %v", err)
	}
	if _, err := env.dir.CreateApplication(ctx, env.tenant, "  "); err == nil {
		t.Error("CreateApplication without a display name succeeded")
	}
	got, err := env.dir.Application(ctx, strings.ToUpper(env.tenant), strings.ToUpper(app.AppID))
	if err != nil || got.ObjectID != app.ObjectID || len(got.PasswordCredentials) != 1 {
		t.Errorf("Application = %+v, %v", got, err)
	}
	apps, err := env.dir.Applications(ctx, env.tenant)
	if err != nil || len(apps) != 1 || apps[0].AppID != app.AppID {
		t.Errorf("Applications = %+v, %v", apps, err)
	}
	if _, err := env.dir.Application(ctx, env.tenant, "55555555-5555-5555-5555-555555555555"); !errors.Is(err, ErrApplicationNotFound) {
		t.Errorf("Application(unknown) err = %v", err)
	}
}

func TestVerifyClientSecret(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	second, cred, err := env.dir.AddPassword(ctx, env.tenant, env.app.AppID, "short", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if cred.Hint != second[:3] || !cred.EndDateTime.Equal(cred.StartDateTime.Add(time.Hour)) {
		t.Errorf("credential %+v", cred)
	}
	tests := []struct {
		name    string
		advance time.Duration
		appID   string
		secret  string
		wantErr error
	}{
		{"first secret", 0, env.app.AppID, env.secret, nil},
		{"second secret", 0, env.app.AppID, second, nil},
		{"client id in upper case", 0, strings.ToUpper(env.app.AppID), env.secret, nil},
		{"wrong secret", 0, env.app.AppID, env.secret + "x", ErrInvalidClientSecret},
		{"empty secret", 0, env.app.AppID, "", ErrInvalidClientSecret},
		{"unknown client", 0, "66666666-6666-6666-6666-666666666666", env.secret, ErrInvalidClientSecret},
		{"client id not a GUID", 0, "test app", env.secret, ErrInvalidClientSecret},
		{"second secret expired", time.Hour, env.app.AppID, second, ErrClientSecretExpired},
		{"first secret still valid", time.Hour, env.app.AppID, env.secret, nil},
		{"first secret expired", 3 * 365 * 24 * time.Hour, env.app.AppID, env.secret, ErrClientSecretExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: env.clock.Now().Add(tt.advance)}
			d := &Directory{st: env.st, now: clock.Now}
			app, err := d.VerifyClientSecret(ctx, env.tenant, tt.appID, tt.secret)
			if tt.wantErr == nil {
				if err != nil || app.AppID != env.app.AppID || app.TenantID != env.tenant {
					t.Fatalf("VerifyClientSecret = %+v, %v", app, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	if err := env.dir.RemovePassword(ctx, env.tenant, env.app.AppID, cred.KeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := env.dir.VerifyClientSecret(ctx, env.tenant, env.app.AppID, second); !errors.Is(err, ErrInvalidClientSecret) {
		t.Errorf("removed secret: err = %v", err)
	}
	if err := env.dir.RemovePassword(ctx, env.tenant, env.app.AppID, cred.KeyID); err == nil {
		t.Error("removing a removed credential succeeded")
	}
}

func TestAddPasswordConcurrently(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	const n = 12
	secrets := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, _, err := env.dir.AddPassword(ctx, env.tenant, env.app.AppID, "concurrent", 0)
			if err != nil {
				t.Error(err)
			}
			secrets[i] = s
		})
	}
	wg.Wait()
	app, err := env.dir.Application(ctx, env.tenant, env.app.AppID)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(app.PasswordCredentials); got != n+1 {
		t.Fatalf("%d credentials after %d concurrent adds (plus 1), want %d: an update was lost", got, n, n+1)
	}
	for _, s := range secrets {
		if _, err := env.dir.VerifyClientSecret(ctx, env.tenant, env.app.AppID, s); err != nil {
			t.Errorf("secret added concurrently does not verify: %v", err)
		}
	}
}

// TestSecretsNeverStored looks for every secret, in every encoding a
// careless implementation might use, in every stored document and change.
func TestSecretsNeverStored(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t)
	secrets := []string{env.secret}
	for range 3 {
		s, _, err := env.dir.AddPassword(ctx, env.tenant, env.app.AppID, "more", 0)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s)
	}
	docs, err := env.st.List(ctx, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	changes, err := env.st.Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, d := range docs {
		stored = append(stored, string(d.Body))
	}
	for _, c := range changes {
		stored = append(stored, string(c.Body))
	}
	for _, s := range secrets {
		forms := []string{s, base64.StdEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s))}
		for _, body := range stored {
			for _, f := range forms {
				if strings.Contains(body, f) {
					t.Fatalf("a secret appears in the store: %s", body)
				}
			}
		}
	}
	// The hashes are there, and each credential has its own salt.
	doc, _ := env.st.Get(ctx, "/tenants/"+env.tenant+"/applications/"+env.app.AppID)
	var body applicationDoc
	if err := json.Unmarshal(doc.Body, &body); err != nil {
		t.Fatal(err)
	}
	salts := map[string]bool{}
	for _, p := range body.PasswordCredentials {
		if len(p.Hash) != 32 || len(p.Salt) != saltBytes {
			t.Errorf("credential %s: hash %d bytes, salt %d bytes", p.KeyID, len(p.Hash), len(p.Salt))
		}
		salts[string(p.Salt)] = true
	}
	if len(salts) != len(secrets) {
		t.Errorf("%d distinct salts for %d credentials", len(salts), len(secrets))
	}
	// Nor does the public shape carry the hash.
	out, _ := json.Marshal(env.app)
	if strings.Contains(string(out), "hash") || strings.Contains(string(out), "salt") {
		t.Errorf("Application JSON carries secret material: %s", out)
	}
}

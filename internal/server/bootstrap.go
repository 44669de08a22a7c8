package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/perimeterhq/perimeter/internal/atomicfile"

	"github.com/google/uuid"

	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/providers/authorization"
	"github.com/perimeterhq/perimeter/internal/providers/resources"
	"github.com/perimeterhq/perimeter/internal/store"
)

// AdminCredential is admin.json: the bootstrap administrator's client
// credential and where it applies.
type AdminCredential struct {
	TenantID       string `json:"tenantId"`
	SubscriptionID string `json:"subscriptionId"`
	ClientID       string `json:"clientId"`
	ClientSecret   string `json:"clientSecret"`
}

// installation is the stored record of the first start: which tenant,
// subscription and application are the defaults.
type installation struct {
	TenantID       string `json:"tenantId"`
	SubscriptionID string `json:"subscriptionId"`
	AdminAppID     string `json:"adminAppId"`
	// AdminObjectID is the object id of the admin application's service
	// principal: the "oid" of its tokens and the principalId of its Owner
	// assignment. (Installations from before service principals recorded
	// the application's object id; bootstrap moves them over.)
	AdminObjectID string `json:"adminObjectId"`
}

const (
	installationID = "/perimeter/installation"
	adminFile      = "admin.json"
)

// bootstrap makes sure the installation has a tenant, a default
// subscription owned by the bootstrap admin, and that DataDir/admin.json
// holds a working credential for that admin. It is idempotent: a restart
// finds everything in place and changes nothing.
func bootstrap(ctx context.Context, st store.Store, dir *identity.Directory, dataDir string) (installation, error) {
	inst, err := loadInstallation(ctx, st)
	if errors.Is(err, store.ErrNotFound) {
		inst, err = createInstallation(ctx, st, dir)
	}
	if err != nil {
		return installation{}, err
	}
	if inst, err = ensureAdminServicePrincipal(ctx, st, dir, inst); err != nil {
		return installation{}, fmt.Errorf("give the bootstrap admin its service principal: %w", err)
	}
	if err := dir.AdoptManagedIdentities(ctx, inst.TenantID); err != nil {
		return installation{}, err
	}
	path := filepath.Join(dataDir, adminFile)
	existing, err := readAdmin(path)
	switch {
	case err == nil && existing.TenantID == inst.TenantID && strings.EqualFold(existing.ClientID, inst.AdminAppID):
		if _, err := dir.VerifyClientSecret(ctx, inst.TenantID, inst.AdminAppID, existing.ClientSecret); err == nil {
			return inst, nil
		}
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return installation{}, err
	}
	// No usable admin.json here (first start, a new data directory for a
	// shared PostgreSQL store, or an expired secret): issue a fresh secret.
	secret, _, err := dir.AddPassword(ctx, inst.TenantID, inst.AdminAppID, "admin.json", identity.DefaultPasswordLifetime)
	if err != nil {
		return installation{}, fmt.Errorf("issue the bootstrap admin secret: %w", err)
	}
	cred := AdminCredential{TenantID: inst.TenantID, SubscriptionID: inst.SubscriptionID, ClientID: inst.AdminAppID, ClientSecret: secret}
	body, err := json.MarshalIndent(cred, "", "  ")
	if err != nil {
		return installation{}, err
	}
	if err := atomicfile.Write(path, append(body, '\n'), 0o600); err != nil {
		return installation{}, fmt.Errorf("write %s: %w", path, err)
	}
	return inst, nil
}

func loadInstallation(ctx context.Context, st store.Store) (installation, error) {
	doc, err := st.Get(ctx, installationID)
	if err != nil {
		return installation{}, err
	}
	var inst installation
	if err := json.Unmarshal(doc.Body, &inst); err != nil {
		return installation{}, fmt.Errorf("installation record: %w", err)
	}
	return inst, nil
}

// createInstallation creates the tenant, the admin application, the default
// subscription and the admin's Owner role assignment on it, then records
// the installation last, so an interrupted first start is redone whole.
func createInstallation(ctx context.Context, st store.Store, dir *identity.Directory) (installation, error) {
	tenantID := uuid.NewString()
	subID := uuid.NewString()
	if _, err := dir.EnsureTenant(ctx, tenantID, "Perimeter"); err != nil {
		return installation{}, err
	}
	app, err := dir.CreateApplication(ctx, tenantID, "Perimeter bootstrap admin")
	if err != nil {
		return installation{}, err
	}
	sp, err := dir.EnsureServicePrincipal(ctx, tenantID, app.AppID)
	if err != nil {
		return installation{}, err
	}
	if err := resources.EnsureSubscription(ctx, st, tenantID, subID, "Perimeter default subscription"); err != nil {
		return installation{}, err
	}
	if err := assignOwner(ctx, st, subID, sp.ID); err != nil {
		return installation{}, err
	}
	inst := installation{TenantID: tenantID, SubscriptionID: subID, AdminAppID: app.AppID, AdminObjectID: sp.ID}
	body, err := json.Marshal(inst)
	if err != nil {
		return installation{}, err
	}
	if _, err := store.Put(ctx, st, store.Document{ID: installationID, Type: "Perimeter/installation", Body: body}, store.Precondition{IfNoneMatch: "*"}); err != nil {
		if errors.Is(err, store.ErrPreconditionFailed) {
			// Another replica finished first: use its installation.
			return loadInstallation(ctx, st)
		}
		return installation{}, fmt.Errorf("record installation: %w", err)
	}
	return inst, nil
}

// ensureAdminServicePrincipal makes sure the bootstrap admin application
// has its service principal. Tokens name the service principal in "oid",
// so in an installation from before service principals (whose record and
// Owner assignment name the application's object id) it moves the admin's
// role assignments on the default subscription to the service principal
// and updates the record, in one write. A current installation is returned
// as it is, with no write.
func ensureAdminServicePrincipal(ctx context.Context, st store.Store, dir *identity.Directory, inst installation) (installation, error) {
	const attempts = 8 // each retry means another replica wrote first
	for range attempts {
		sp, err := dir.EnsureServicePrincipal(ctx, inst.TenantID, inst.AdminAppID)
		if err != nil {
			return installation{}, err
		}
		if inst.AdminObjectID == sp.ID {
			return inst, nil
		}
		record, err := st.Get(ctx, installationID)
		if err != nil {
			return installation{}, err
		}
		ops, err := authorization.MoveOps(ctx, st, "/subscriptions/"+inst.SubscriptionID, inst.AdminObjectID, sp.ID)
		if err != nil {
			return installation{}, err
		}
		updated := inst
		updated.AdminObjectID = sp.ID
		body, err := json.Marshal(updated)
		if err != nil {
			return installation{}, err
		}
		ops = append(ops, store.Op{
			Put: &store.Document{ID: installationID, Type: "Perimeter/installation", Body: body},
			If:  store.Precondition{IfMatch: record.ETag},
		})
		_, err = st.Apply(ctx, ops...)
		if errors.Is(err, store.ErrPreconditionFailed) {
			if inst, err = loadInstallation(ctx, st); err != nil {
				return installation{}, err
			}
			continue
		}
		if err != nil {
			return installation{}, fmt.Errorf("move the admin's role assignments to its service principal: %w", err)
		}
		return updated, nil
	}
	return installation{}, errors.New("the installation record kept changing; try again")
}

// assignOwner records a role assignment of Owner at subscription scope.
func assignOwner(ctx context.Context, st store.Store, subID, principalID string) error {
	ops, err := authorization.AssignOps("/subscriptions/"+subID, uuid.NewString(), authz.RoleOwner, principalID, identity.ObjectTypeServicePrincipal, time.Now().UTC())
	if err != nil {
		return err
	}
	_, err = st.Apply(ctx, ops...)
	return err
}

func readAdmin(path string) (AdminCredential, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return AdminCredential{}, err
	}
	var c AdminCredential
	if err := json.Unmarshal(b, &c); err != nil {
		return AdminCredential{}, fmt.Errorf("%s is not valid JSON (%v); move it away to have a new one written", path, err)
	}
	return c, nil
}

package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/perimeterhq/perimeter/internal/store"
)

// ServicePrincipalTypeApplication is the servicePrincipalType of an
// application's service principal (Graph also has ManagedIdentity and
// Legacy, which Perimeter does not create).
const ServicePrincipalTypeApplication = "Application"

// ServicePrincipalTypeManagedIdentity is the servicePrincipalType of a
// resource's managed identity.
const ServicePrincipalTypeManagedIdentity = "ManagedIdentity"

// ServicePrincipal is an application's identity in a tenant, in the shape
// of a Microsoft Graph servicePrincipal. Its object id is what tokens carry
// in "oid" and what role assignments name.
type ServicePrincipal struct {
	// TenantID is the tenant the service principal belongs to (from its
	// id in the store, not part of the body).
	TenantID             string    `json:"-"`
	ID                   string    `json:"id"`
	AppID                string    `json:"appId"`
	DisplayName          string    `json:"displayName"`
	ServicePrincipalType string    `json:"servicePrincipalType"`
	AccountEnabled       bool      `json:"accountEnabled"`
	CreatedDateTime      time.Time `json:"createdDateTime"`
	// AlternativeNames holds, for a managed identity, the id of the
	// resource it belongs to.
	AlternativeNames []string `json:"alternativeNames,omitempty"`
}

// CreateServicePrincipal creates the service principal of the application
// with client id appID, as POST /v1.0/servicePrincipals {"appId"} does.
// An application has at most one: a second create is refused with
// ErrServicePrincipalExists. The application's document records the link
// in the same write, so two concurrent creates cannot both succeed.
func (d *Directory) CreateServicePrincipal(ctx context.Context, tenantID, appID string) (ServicePrincipal, error) {
	for range maxUpdateAttempts {
		tid, app, etag, err := d.getApplication(ctx, tenantID, appID)
		if err != nil {
			return ServicePrincipal{}, err
		}
		if app.ServicePrincipalID != "" {
			return ServicePrincipal{}, refusef(ErrServicePrincipalExists,
				"The service principal cannot be created because application %s already has one (id %s); an application has one service principal per tenant.",
				app.AppID, app.ServicePrincipalID)
		}
		sp := ServicePrincipal{
			ID:                   newGUID(),
			AppID:                app.AppID,
			DisplayName:          app.DisplayName,
			ServicePrincipalType: ServicePrincipalTypeApplication,
			AccountEnabled:       true,
			CreatedDateTime:      d.now().UTC(),
		}
		app.ServicePrincipalID = sp.ID
		appBody, err := json.Marshal(app)
		if err != nil {
			return ServicePrincipal{}, fmt.Errorf("identity: encode application: %w", err)
		}
		spPut, err := putObject(tid, sp.ID, TypeServicePrincipal, sp, store.Precondition{IfNoneMatch: "*"})
		if err != nil {
			return ServicePrincipal{}, err
		}
		_, err = d.st.Apply(ctx,
			store.Op{Put: &store.Document{
				ID: applicationDocID(tid, app.AppID), Type: TypeApplication, Parent: tenantDocID(tid), Body: appBody,
			}, If: store.Precondition{IfMatch: etag}},
			spPut,
		)
		if errors.Is(err, store.ErrPreconditionFailed) {
			continue // the application changed (or got its SP): read again
		}
		if err != nil {
			return ServicePrincipal{}, fmt.Errorf("identity: create service principal: %w", err)
		}
		sp.TenantID = tid
		return sp, nil
	}
	return ServicePrincipal{}, fmt.Errorf("identity: create service principal for %s: gave up after %d concurrent modifications", appID, maxUpdateAttempts)
}

// EnsureServicePrincipal returns the application's service principal,
// creating it if there is none. It writes nothing when the service
// principal exists, so it suits startup code (the bootstrap admin) that
// runs on every start and on data directories from before service
// principals.
func (d *Directory) EnsureServicePrincipal(ctx context.Context, tenantID, appID string) (ServicePrincipal, error) {
	for range maxUpdateAttempts {
		sp, err := d.ServicePrincipalByAppID(ctx, tenantID, appID)
		if !errors.Is(err, ErrObjectNotFound) {
			return sp, err
		}
		sp, err = d.CreateServicePrincipal(ctx, tenantID, appID)
		if !errors.Is(err, ErrServicePrincipalExists) {
			return sp, err
		}
		// Created concurrently: read it.
	}
	return ServicePrincipal{}, fmt.Errorf("identity: ensure service principal for %s: gave up", appID)
}

// ServicePrincipal returns the service principal with the given object id,
// or ErrObjectNotFound.
func (d *Directory) ServicePrincipal(ctx context.Context, tenantID, objectID string) (ServicePrincipal, error) {
	tid, doc, err := d.getObjectDoc(ctx, tenantID, objectID, TypeServicePrincipal)
	if err != nil {
		return ServicePrincipal{}, err
	}
	return decodeServicePrincipal(tid, doc)
}

// ServicePrincipalByAppID returns the service principal of the application
// with client id appID: ErrApplicationNotFound when there is no such
// application, ErrObjectNotFound when it has no service principal.
func (d *Directory) ServicePrincipalByAppID(ctx context.Context, tenantID, appID string) (ServicePrincipal, error) {
	tid, app, _, err := d.getApplication(ctx, tenantID, appID)
	if err != nil {
		return ServicePrincipal{}, err
	}
	if app.ServicePrincipalID == "" {
		return ServicePrincipal{}, refusef(ErrObjectNotFound, "Application %s has no service principal: create one with POST /v1.0/servicePrincipals {\"appId\": \"%s\"}.", app.AppID, app.AppID)
	}
	return d.ServicePrincipal(ctx, tid, app.ServicePrincipalID)
}

// ServicePrincipals lists the tenant's service principals, ordered by
// object id.
func (d *Directory) ServicePrincipals(ctx context.Context, tenantID string) ([]ServicePrincipal, error) {
	tid, docs, err := d.listObjects(ctx, tenantID, TypeServicePrincipal)
	if err != nil {
		return nil, err
	}
	out := make([]ServicePrincipal, 0, len(docs))
	for _, doc := range docs {
		sp, err := decodeServicePrincipal(tid, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	return out, nil
}

// DeleteServicePrincipal deletes the service principal (by object id) and
// its group memberships, and unlinks it from its application, in one
// write. The application stays and can get a new service principal; until
// then it cannot sign in.
func (d *Directory) DeleteServicePrincipal(ctx context.Context, tenantID, objectID string) error {
	return d.deleteObject(ctx, tenantID, objectID, TypeServicePrincipal, func(doc store.Document) ([]store.Op, error) {
		tid, _ := canonicalGUID(tenantID)
		sp, err := decodeServicePrincipal(tid, doc)
		if err != nil {
			return nil, err
		}
		_, app, etag, err := d.getApplication(ctx, tid, sp.AppID)
		if errors.Is(err, ErrApplicationNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if app.ServicePrincipalID != sp.ID {
			return nil, nil
		}
		app.ServicePrincipalID = ""
		body, err := json.Marshal(app)
		if err != nil {
			return nil, fmt.Errorf("identity: encode application: %w", err)
		}
		return []store.Op{{Put: &store.Document{
			ID: applicationDocID(tid, app.AppID), Type: TypeApplication, Parent: tenantDocID(tid), Body: body,
		}, If: store.Precondition{IfMatch: etag}}}, nil
	})
}

func decodeServicePrincipal(tenantID string, doc store.Document) (ServicePrincipal, error) {
	var sp ServicePrincipal
	if err := json.Unmarshal(doc.Body, &sp); err != nil {
		return ServicePrincipal{}, fmt.Errorf("identity: decode %s: %w", doc.ID, err)
	}
	sp.TenantID = tenantID
	return sp, nil
}

// ManagedIdentityOp returns the store op that creates the service principal
// of a resource's managed identity (conditional on its not existing), for
// the resource provider to commit with the resource. It is a directory
// object like any other, so role assignments can name it.
func ManagedIdentityOp(tenantID, principalID, displayName, resourceID string, now time.Time) (store.Op, error) {
	return ManagedIdentityClientOp(tenantID, principalID, newGUID(), displayName, resourceID, now)
}

// ManagedIdentityClientOp is ManagedIdentityOp with the identity's client
// id (its appId) chosen by the caller, for identities that show it, such
// as user-assigned identities (properties.clientId).
func ManagedIdentityClientOp(tenantID, principalID, clientID, displayName, resourceID string, now time.Time) (store.Op, error) {
	sp := ServicePrincipal{
		ID: principalID, AppID: clientID, DisplayName: displayName, ServicePrincipalType: ServicePrincipalTypeManagedIdentity,
		AccountEnabled: true, CreatedDateTime: now.UTC(), AlternativeNames: []string{resourceID},
	}
	return putObject(tenantID, principalID, TypeServicePrincipal, sp, store.Precondition{IfNoneMatch: "*"})
}

// ObjectDocID is where the directory object with the given id is stored.
func ObjectDocID(tenantID, objectID string) string { return objectDocID(tenantID, objectID) }

// AdoptManagedIdentities moves the service principals of managed
// identities that an earlier release stored apart from the directory
// (/tenants/{t}/servicePrincipals/{id}) to where directory objects live,
// so role assignments can name them. Each moves in one write; a restart
// finds nothing left to do.
func (d *Directory) AdoptManagedIdentities(ctx context.Context, tenantID string) error {
	docs, err := d.st.List(ctx, store.ListOptions{Type: TypeServicePrincipal, Parent: tenantDocID(tenantID)})
	if err != nil {
		return fmt.Errorf("identity: list service principals: %w", err)
	}
	legacy := store.Key(tenantDocID(tenantID) + "/servicePrincipals/")
	for _, doc := range docs {
		if !strings.HasPrefix(store.Key(doc.ID), legacy) {
			continue
		}
		id := doc.ID[len(legacy):]
		_, err := d.st.Apply(ctx,
			store.Op{Put: &store.Document{ID: objectDocID(tenantID, id), Type: TypeServicePrincipal, Parent: tenantDocID(tenantID), Body: doc.Body}, If: store.Precondition{IfNoneMatch: "*"}},
			store.Op{Delete: doc.ID, If: store.Precondition{IfMatch: doc.ETag}})
		if err != nil && !errors.Is(err, store.ErrPreconditionFailed) { // another replica moved it first
			return fmt.Errorf("identity: move service principal %s: %w", id, err)
		}
	}
	return nil
}

package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/perimeterhq/perimeter/internal/store"
)

// Document types of the directory, as Microsoft Graph names the resources.
// The store layout (ids are lower-cased by the store):
//
//	/tenants/{tenant}                                  TypeTenant
//	/tenants/{tenant}/applications/{appId}             TypeApplication
//	/tenants/{tenant}/applicationObjectIds/{objectId}  index: {"appId"} of the application with that object id
//	/tenants/{tenant}/directoryObjects/{objectId}      TypeServicePrincipal, TypeUser or TypeGroup
//	/tenants/{tenant}/userPrincipalNames/{upn}         index: {"id"} of the user with that UPN
//
// Users, groups and service principals share one key space, so an object id
// names one object whatever its kind and Directory.Object finds it with one
// read; the document's type says the kind. Every directory object's Parent
// is its tenant's document, so a List by type and parent gives one kind.
const (
	TypeTenant      = "Microsoft.Graph/tenants"
	TypeApplication = "Microsoft.Graph/applications"
	// TypeServicePrincipal documents are a ServicePrincipal (without
	// TenantID) as JSON.
	TypeServicePrincipal = "Microsoft.Graph/servicePrincipals"
	// TypeUser documents are a User (without TenantID) plus the salted
	// hash of the password.
	TypeUser = "Microsoft.Graph/users"
	// TypeGroup documents are a Group (without TenantID) as JSON:
	//
	//	{"id": "...", "displayName": "...", "mailNickname": "...",
	//	 "description": "...", "securityEnabled": true, "mailEnabled": false,
	//	 "createdDateTime": "...", "members": ["<object id>", ...]}
	//
	// "members" holds the object ids of the DIRECT members (users, service
	// principals and other groups, never the group itself), each of which
	// existed when it was added and is removed in the same write that
	// deletes it. Nesting may form cycles (A in B, B in A): code computing
	// transitive membership must keep a visited set. Directory.MemberOf
	// inverts these lists; the change feed carries a change of this type
	// whenever a membership changes.
	TypeGroup = "Microsoft.Graph/groups"

	typeApplicationObjectID = "Microsoft.Graph/applications/objectIds"
	typeUserPrincipalName   = "Microsoft.Graph/users/userPrincipalNames"
)

// DefaultPasswordLifetime is the lifetime of a password credential added
// without one, as Microsoft Graph's addPassword does (two years).
const DefaultPasswordLifetime = 2 * 365 * 24 * time.Hour

// maxUpdateAttempts bounds the optimistic-concurrency retries of an
// application update: each retry means another writer succeeded, so this is
// only reached under pathological contention.
const maxUpdateAttempts = 16

var (
	// ErrTenantNotFound: no tenant with that id.
	ErrTenantNotFound = errors.New("identity: tenant not found")
	// ErrApplicationNotFound: no application with that appId (or object
	// id) in the tenant.
	ErrApplicationNotFound = errors.New("identity: application not found")
	// ErrInvalidClientSecret: the application does not exist or none of its
	// current credentials matches the secret. The two cases are one error
	// on purpose, so that callers cannot tell a caller which it was.
	ErrInvalidClientSecret = errors.New("identity: invalid client credentials")
	// ErrClientSecretExpired: the secret matches only credentials outside
	// their validity period. Only a holder of the secret can get it.
	ErrClientSecretExpired = errors.New("identity: client secret expired")
)

// Tenant is a directory (an Entra tenant).
type Tenant struct {
	ID              string    `json:"id"`
	DisplayName     string    `json:"displayName"`
	CreatedDateTime time.Time `json:"createdDateTime"`
}

// Application is a client that may obtain tokens, in the shape of a
// Microsoft Graph application minus anything secret.
type Application struct {
	// TenantID is the tenant the application belongs to (from its id in
	// the store, not part of the body).
	TenantID string `json:"-"`
	// ObjectID is the application's object id (Graph's "id").
	ObjectID string `json:"id"`
	// AppID is the client id used to sign in.
	AppID               string               `json:"appId"`
	DisplayName         string               `json:"displayName"`
	CreatedDateTime     time.Time            `json:"createdDateTime"`
	PasswordCredentials []PasswordCredential `json:"passwordCredentials"`
	// FederatedIdentityCredentials are the external tokens the application
	// accepts instead of a secret (Graph lists them apart, at
	// /applications/{id}/federatedIdentityCredentials).
	FederatedIdentityCredentials []FederatedIdentityCredential `json:"-"`
	// ServicePrincipalID is the object id of the application's service
	// principal in its tenant, "" while it has none (then it cannot get
	// tokens from the token endpoint). Graph does not show it on the
	// application.
	ServicePrincipalID string `json:"-"`
	// IsFallbackPublicClient lets users sign in through the application
	// without its secret (password or jwt-bearer grant), as a desktop or
	// command-line app does; otherwise such a sign-in must present the
	// secret. Entra's "Allow public client flows".
	IsFallbackPublicClient bool `json:"isFallbackPublicClient"`
}

// ApplicationPatch changes an application: nil fields stay as they are.
type ApplicationPatch struct {
	DisplayName            *string
	IsFallbackPublicClient *bool
}

// PasswordCredential describes a client secret without revealing it.
type PasswordCredential struct {
	KeyID       string `json:"keyId"`
	DisplayName string `json:"displayName"`
	// Hint is the first three characters of the secret, as Graph shows, to
	// tell secrets apart.
	Hint          string    `json:"hint"`
	StartDateTime time.Time `json:"startDateTime"`
	EndDateTime   time.Time `json:"endDateTime"`
}

// applicationDoc is the stored body: the Application plus, per credential,
// the salted hash of its secret. The secret itself is never stored.
type applicationDoc struct {
	ID                  string           `json:"id"`
	AppID               string           `json:"appId"`
	DisplayName         string           `json:"displayName"`
	CreatedDateTime     time.Time        `json:"createdDateTime"`
	PasswordCredentials []storedPassword `json:"passwordCredentials"`
	// FederatedIdentityCredentials live in the application's document: the
	// token endpoint reads them with the application, they are deleted
	// with it, and each change is one guarded write.
	FederatedIdentityCredentials []FederatedIdentityCredential `json:"federatedIdentityCredentials,omitempty"`
	// ServicePrincipalID links the application to its service principal,
	// so that the token endpoint finds the object id for "oid" in the
	// document it reads anyway, and so that a second service principal
	// for the application fails the write that links it.
	ServicePrincipalID     string `json:"servicePrincipalId,omitempty"`
	IsFallbackPublicClient bool   `json:"isFallbackPublicClient,omitempty"`
}

// applicationIndexDoc is the body of an applicationObjectIds entry.
type applicationIndexDoc struct {
	AppID string `json:"appId"`
}

type storedPassword struct {
	PasswordCredential
	Hash []byte `json:"hash"` // SHA-256(salt || secret), base64 in JSON
	Salt []byte `json:"salt"`
}

// Directory keeps tenants, applications, service principals, users and
// groups in the store. It holds no state of its own and is safe for
// concurrent use; several replicas sharing one store see the same
// directory. Every change that touches several documents (a user and its
// UPN index entry, a deletion and the memberships naming the object) is
// one atomic Apply guarded by the ETags it read, so the stored directory is
// never half-written.
type Directory struct {
	st  store.Store
	now func() time.Time
	// passwordIterations is the PBKDF2 cost of new user passwords; tests
	// lower it. Stored hashes keep the cost they were made with.
	passwordIterations int
}

// NewDirectory returns a Directory backed by st.
func NewDirectory(st store.Store) *Directory {
	return &Directory{st: st, now: time.Now, passwordIterations: defaultPasswordIterations}
}

func tenantDocID(tenantID string) string { return "/tenants/" + tenantID }

func applicationDocID(tenantID, appID string) string {
	return tenantDocID(tenantID) + "/applications/" + appID
}

func applicationIndexDocID(tenantID, objectID string) string {
	return tenantDocID(tenantID) + "/applicationObjectIds/" + objectID
}

// tenantExists is an Apply step that fails the write with
// store.ErrPreconditionFailed when the tenant is gone by commit time.
func tenantExists(tenantID string) store.Op {
	return store.Op{Check: tenantDocID(tenantID), If: store.Precondition{IfMatch: "*"}}
}

// EnsureTenant creates the tenant if it does not exist and returns it. An
// existing tenant is returned unchanged (its display name is not updated).
func (d *Directory) EnsureTenant(ctx context.Context, tenantID, displayName string) (Tenant, error) {
	id, ok := canonicalGUID(tenantID)
	if !ok {
		return Tenant{}, fmt.Errorf("identity: tenant id %q is not a GUID", tenantID)
	}
	t := Tenant{ID: id, DisplayName: displayName, CreatedDateTime: d.now().UTC()}
	body, err := json.Marshal(t)
	if err != nil {
		return Tenant{}, fmt.Errorf("identity: encode tenant: %w", err)
	}
	_, err = store.Put(ctx, d.st, store.Document{ID: tenantDocID(id), Type: TypeTenant, Body: body},
		store.Precondition{IfNoneMatch: "*"})
	switch {
	case err == nil:
		return t, nil
	case errors.Is(err, store.ErrPreconditionFailed):
		return d.Tenant(ctx, id)
	default:
		return Tenant{}, fmt.Errorf("identity: create tenant %s: %w", id, err)
	}
}

// Tenant returns the tenant, or ErrTenantNotFound.
func (d *Directory) Tenant(ctx context.Context, tenantID string) (Tenant, error) {
	id, ok := canonicalGUID(tenantID)
	if !ok {
		return Tenant{}, refusef(ErrTenantNotFound, "Tenant '%s' does not exist: a tenant id is a GUID.", clip(tenantID))
	}
	doc, err := d.st.Get(ctx, tenantDocID(id))
	if errors.Is(err, store.ErrNotFound) {
		return Tenant{}, refusef(ErrTenantNotFound, "Tenant '%s' does not exist.", id)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("identity: get tenant %s: %w", id, err)
	}
	return decodeTenant(doc)
}

// Tenants lists every tenant, ordered by id.
func (d *Directory) Tenants(ctx context.Context) ([]Tenant, error) {
	docs, err := d.st.List(ctx, store.ListOptions{Type: TypeTenant})
	if err != nil {
		return nil, fmt.Errorf("identity: list tenants: %w", err)
	}
	tenants := make([]Tenant, 0, len(docs))
	for _, doc := range docs {
		t, err := decodeTenant(doc)
		if err != nil {
			return nil, err
		}
		tenants = append(tenants, t)
	}
	return tenants, nil
}

func decodeTenant(doc store.Document) (Tenant, error) {
	var t Tenant
	if err := json.Unmarshal(doc.Body, &t); err != nil {
		return Tenant{}, fmt.Errorf("identity: decode %s: %w", doc.ID, err)
	}
	return t, nil
}

// CreateApplication registers a new application with fresh object and
// client ids in an existing tenant.
func (d *Directory) CreateApplication(ctx context.Context, tenantID, displayName string) (Application, error) {
	tenant, err := d.Tenant(ctx, tenantID)
	if err != nil {
		return Application{}, err
	}
	displayName, err = checkDisplayName("application", displayName)
	if err != nil {
		return Application{}, err
	}
	doc := applicationDoc{
		ID:                  newGUID(),
		AppID:               newGUID(),
		DisplayName:         displayName,
		CreatedDateTime:     d.now().UTC(),
		PasswordCredentials: []storedPassword{},
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return Application{}, fmt.Errorf("identity: encode application: %w", err)
	}
	index, err := json.Marshal(applicationIndexDoc{AppID: doc.AppID})
	if err != nil {
		return Application{}, fmt.Errorf("identity: encode application index: %w", err)
	}
	_, err = d.st.Apply(ctx,
		tenantExists(tenant.ID),
		store.Op{Put: &store.Document{
			ID:     applicationDocID(tenant.ID, doc.AppID),
			Type:   TypeApplication,
			Parent: tenantDocID(tenant.ID),
			Body:   body,
		}, If: store.Precondition{IfNoneMatch: "*"}},
		store.Op{Put: &store.Document{
			ID:     applicationIndexDocID(tenant.ID, doc.ID),
			Type:   typeApplicationObjectID,
			Parent: tenantDocID(tenant.ID),
			Body:   index,
		}, If: store.Precondition{IfNoneMatch: "*"}},
	)
	if errors.Is(err, store.ErrPreconditionFailed) {
		// Fresh GUIDs do not collide: the tenant went away meanwhile.
		return Application{}, refusef(ErrTenantNotFound, "Tenant '%s' does not exist.", tenant.ID)
	}
	if err != nil {
		return Application{}, fmt.Errorf("identity: create application: %w", err)
	}
	return doc.public(tenant.ID), nil
}

// ApplicationByObjectID returns the application with the given object id
// (Graph's "id"), or ErrApplicationNotFound.
func (d *Directory) ApplicationByObjectID(ctx context.Context, tenantID, objectID string) (Application, error) {
	tid, appID, err := d.appIDOf(ctx, tenantID, objectID)
	if err != nil {
		return Application{}, err
	}
	return d.Application(ctx, tid, appID)
}

// appIDOf resolves an application's object id to its client id through
// the index. Applications created before the index existed are found by
// a scan of the tenant's applications.
func (d *Directory) appIDOf(ctx context.Context, tenantID, objectID string) (string, string, error) {
	tid, ok := canonicalGUID(tenantID)
	if !ok {
		return "", "", refusef(ErrTenantNotFound, "Tenant '%s' does not exist.", clip(tenantID))
	}
	oid, ok := canonicalGUID(objectID)
	if !ok {
		return "", "", refusef(ErrApplicationNotFound, "No application has the object id '%s': an object id is a GUID.", clip(objectID))
	}
	sd, err := d.st.Get(ctx, applicationIndexDocID(tid, oid))
	switch {
	case err == nil:
		var idx applicationIndexDoc
		if err := json.Unmarshal(sd.Body, &idx); err != nil {
			return "", "", fmt.Errorf("identity: decode %s: %w", sd.ID, err)
		}
		return tid, idx.AppID, nil
	case !errors.Is(err, store.ErrNotFound):
		return "", "", fmt.Errorf("identity: get application index %s: %w", oid, err)
	}
	apps, err := d.Applications(ctx, tid)
	if err != nil {
		return "", "", err
	}
	for _, a := range apps {
		if a.ObjectID == oid {
			return tid, a.AppID, nil
		}
	}
	return "", "", refusef(ErrApplicationNotFound, "No application has the object id '%s' in this tenant.", oid)
}

// DeleteApplication deletes the application (by client id), its service
// principal and the service principal's group memberships, in one write.
// Its tokens stay valid until they expire, as in Entra.
func (d *Directory) DeleteApplication(ctx context.Context, tenantID, appID string) error {
	for range maxUpdateAttempts {
		tid, doc, etag, err := d.getApplication(ctx, tenantID, appID)
		if err != nil {
			return err
		}
		ops := []store.Op{{Delete: applicationDocID(tid, doc.AppID), If: store.Precondition{IfMatch: etag}}}
		// Applications from before the index have no entry to delete.
		if _, err := d.st.Get(ctx, applicationIndexDocID(tid, doc.ID)); err == nil {
			ops = append(ops, store.Op{Delete: applicationIndexDocID(tid, doc.ID)})
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("identity: get application index %s: %w", doc.ID, err)
		}
		if doc.ServicePrincipalID != "" {
			_, spOps, err := d.objectDeletion(ctx, tid, doc.ServicePrincipalID, TypeServicePrincipal)
			if err != nil && !errors.Is(err, ErrObjectNotFound) {
				return err
			}
			ops = append(ops, spOps...)
		}
		_, err = d.st.Apply(ctx, ops...)
		if errors.Is(err, store.ErrPreconditionFailed) || errors.Is(err, store.ErrNotFound) {
			continue // a concurrent change; read again
		}
		if err != nil {
			return fmt.Errorf("identity: delete application %s: %w", doc.AppID, err)
		}
		return nil
	}
	return fmt.Errorf("identity: delete application %s: gave up after %d concurrent modifications", appID, maxUpdateAttempts)
}

// Application returns the application with the given client id, or
// ErrApplicationNotFound.
func (d *Directory) Application(ctx context.Context, tenantID, appID string) (Application, error) {
	tid, doc, _, err := d.getApplication(ctx, tenantID, appID)
	if err != nil {
		return Application{}, err
	}
	return doc.public(tid), nil
}

// Applications lists the tenant's applications, ordered by client id.
func (d *Directory) Applications(ctx context.Context, tenantID string) ([]Application, error) {
	tenant, err := d.Tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	docs, err := d.st.List(ctx, store.ListOptions{Type: TypeApplication, Parent: tenantDocID(tenant.ID)})
	if err != nil {
		return nil, fmt.Errorf("identity: list applications: %w", err)
	}
	apps := make([]Application, 0, len(docs))
	for _, sd := range docs {
		var doc applicationDoc
		if err := json.Unmarshal(sd.Body, &doc); err != nil {
			return nil, fmt.Errorf("identity: decode %s: %w", sd.ID, err)
		}
		apps = append(apps, doc.public(tenant.ID))
	}
	return apps, nil
}

// AddPassword adds a password credential valid from now for lifetime (zero
// means DefaultPasswordLifetime) and returns the secret, the only time it
// is ever available. Concurrent adds to one application all land: each
// write is conditional on the ETag it read, and a lost race re-reads and
// tries again.
func (d *Directory) AddPassword(ctx context.Context, tenantID, appID, displayName string, lifetime time.Duration) (string, PasswordCredential, error) {
	if lifetime < 0 {
		return "", PasswordCredential{}, refusef(ErrInvalidInput, "A password credential cannot have a negative lifetime (%v).", lifetime)
	}
	if lifetime == 0 {
		lifetime = DefaultPasswordLifetime
	}
	return d.addPassword(ctx, tenantID, appID, displayName, func(start time.Time) time.Time { return start.Add(lifetime) })
}

// AddPasswordUntil is AddPassword with the end of validity instead of a
// lifetime, as Graph's addPassword takes endDateTime. The end must be
// after now.
func (d *Directory) AddPasswordUntil(ctx context.Context, tenantID, appID, displayName string, end time.Time) (string, PasswordCredential, error) {
	if !end.After(d.now()) {
		return "", PasswordCredential{}, refusef(ErrInvalidInput, "The endDateTime %s of a password credential must be in the future.", end.UTC().Format(time.RFC3339))
	}
	return d.addPassword(ctx, tenantID, appID, displayName, func(time.Time) time.Time { return end.UTC() })
}

func (d *Directory) addPassword(ctx context.Context, tenantID, appID, displayName string, endOf func(start time.Time) time.Time) (string, PasswordCredential, error) {
	if utf8.RuneCountInString(displayName) > maxDisplayName {
		return "", PasswordCredential{}, refusef(ErrInvalidInput, "The displayName of a password credential is at most %d characters long.", maxDisplayName)
	}
	secret, err := NewSecret()
	if err != nil {
		return "", PasswordCredential{}, err
	}
	salt, hash, err := hashSecret(secret)
	if err != nil {
		return "", PasswordCredential{}, err
	}
	start := d.now().UTC().Truncate(time.Second)
	cred := PasswordCredential{
		KeyID:         newGUID(),
		DisplayName:   displayName,
		Hint:          secret[:3],
		StartDateTime: start,
		EndDateTime:   endOf(start),
	}
	err = d.updateApplication(ctx, tenantID, appID, func(doc *applicationDoc) error {
		doc.PasswordCredentials = append(doc.PasswordCredentials, storedPassword{PasswordCredential: cred, Hash: hash, Salt: salt})
		return nil
	})
	if err != nil {
		return "", PasswordCredential{}, err
	}
	return secret, cred, nil
}

// RemovePassword deletes the password credential with the given key id.
func (d *Directory) RemovePassword(ctx context.Context, tenantID, appID, keyID string) error {
	return d.updateApplication(ctx, tenantID, appID, func(doc *applicationDoc) error {
		for i, p := range doc.PasswordCredentials {
			if strings.EqualFold(p.KeyID, keyID) {
				doc.PasswordCredentials = append(doc.PasswordCredentials[:i], doc.PasswordCredentials[i+1:]...)
				return nil
			}
		}
		return refusef(ErrCredentialNotFound, "Application %s has no password credential with keyId '%s'.", doc.AppID, clip(keyID))
	})
}

// VerifyClientSecret returns the application if secret matches one of its
// credentials that is valid now. An unknown application and a wrong secret
// both give ErrInvalidClientSecret; a secret that matches only expired (or
// not yet valid) credentials gives ErrClientSecretExpired.
func (d *Directory) VerifyClientSecret(ctx context.Context, tenantID, appID, secret string) (Application, error) {
	tid, doc, _, err := d.getApplication(ctx, tenantID, appID)
	if errors.Is(err, ErrApplicationNotFound) || errors.Is(err, ErrTenantNotFound) {
		return Application{}, fmt.Errorf("%w (%v)", ErrInvalidClientSecret, err)
	}
	if err != nil {
		return Application{}, err
	}
	now := d.now()
	expired := false
	for _, p := range doc.PasswordCredentials {
		if !secretMatches(secret, p.Salt, p.Hash) {
			continue
		}
		if now.Before(p.StartDateTime) || !now.Before(p.EndDateTime) {
			expired = true
			continue
		}
		return doc.public(tid), nil
	}
	if expired {
		return Application{}, fmt.Errorf("%w: application %s", ErrClientSecretExpired, doc.AppID)
	}
	return Application{}, fmt.Errorf("%w: no matching credential on application %s", ErrInvalidClientSecret, doc.AppID)
}

// getApplication reads and decodes an application document, returning the
// canonical tenant id and the document's ETag.
func (d *Directory) getApplication(ctx context.Context, tenantID, appID string) (string, applicationDoc, string, error) {
	tid, ok := canonicalGUID(tenantID)
	if !ok {
		return "", applicationDoc{}, "", refusef(ErrTenantNotFound, "Tenant '%s' does not exist.", clip(tenantID))
	}
	aid, ok := canonicalGUID(appID)
	if !ok {
		return "", applicationDoc{}, "", refusef(ErrApplicationNotFound, "No application has the appId '%s': an appId is a GUID.", clip(appID))
	}
	sd, err := d.st.Get(ctx, applicationDocID(tid, aid))
	if errors.Is(err, store.ErrNotFound) {
		return "", applicationDoc{}, "", refusef(ErrApplicationNotFound, "No application has the appId '%s' in tenant %s.", aid, tid)
	}
	if err != nil {
		return "", applicationDoc{}, "", fmt.Errorf("identity: get application %s: %w", aid, err)
	}
	var doc applicationDoc
	if err := json.Unmarshal(sd.Body, &doc); err != nil {
		return "", applicationDoc{}, "", fmt.Errorf("identity: decode %s: %w", sd.ID, err)
	}
	return tid, doc, sd.ETag, nil
}

// updateApplication applies change to the current document and writes it
// back under If-Match, re-reading and retrying when another writer got in
// between.
func (d *Directory) updateApplication(ctx context.Context, tenantID, appID string, change func(*applicationDoc) error) error {
	for range maxUpdateAttempts {
		tid, doc, etag, err := d.getApplication(ctx, tenantID, appID)
		if err != nil {
			return err
		}
		if err := change(&doc); err != nil {
			return err
		}
		body, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("identity: encode application: %w", err)
		}
		_, err = store.Put(ctx, d.st, store.Document{
			ID:     applicationDocID(tid, doc.AppID),
			Type:   TypeApplication,
			Parent: tenantDocID(tid),
			Body:   body,
		}, store.Precondition{IfMatch: etag})
		if !errors.Is(err, store.ErrPreconditionFailed) {
			if err != nil {
				return fmt.Errorf("identity: update application %s: %w", doc.AppID, err)
			}
			return nil
		}
	}
	return fmt.Errorf("identity: update application %s: gave up after %d concurrent modifications", appID, maxUpdateAttempts)
}

func (doc applicationDoc) public(tenantID string) Application {
	creds := make([]PasswordCredential, len(doc.PasswordCredentials))
	for i, p := range doc.PasswordCredentials {
		creds[i] = p.PasswordCredential
	}
	return Application{
		TenantID:                     tenantID,
		ObjectID:                     doc.ID,
		AppID:                        doc.AppID,
		DisplayName:                  doc.DisplayName,
		CreatedDateTime:              doc.CreatedDateTime,
		PasswordCredentials:          creds,
		FederatedIdentityCredentials: slices.Clone(doc.FederatedIdentityCredentials),
		ServicePrincipalID:           doc.ServicePrincipalID,
		IsFallbackPublicClient:       doc.IsFallbackPublicClient,
	}
}

// UpdateApplication changes the application with this client id.
func (d *Directory) UpdateApplication(ctx context.Context, tenantID, appID string, patch ApplicationPatch) (Application, error) {
	var name string
	if patch.DisplayName != nil {
		var err error
		if name, err = checkDisplayName("application", *patch.DisplayName); err != nil {
			return Application{}, err
		}
	}
	err := d.updateApplication(ctx, tenantID, appID, func(doc *applicationDoc) error {
		if patch.DisplayName != nil {
			doc.DisplayName = name
		}
		if patch.IsFallbackPublicClient != nil {
			doc.IsFallbackPublicClient = *patch.IsFallbackPublicClient
		}
		return nil
	})
	if err != nil {
		return Application{}, err
	}
	return d.Application(ctx, tenantID, appID)
}

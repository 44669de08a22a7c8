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

// A workload binding lets a workload (a process, a container, a job) get
// tokens as one managed identity without holding a credential of the
// identity itself, the way Azure App Service hands its apps
// IDENTITY_ENDPOINT and IDENTITY_HEADER. The header value is the binding's
// secret: it is shown once, when the binding is created, and stored only
// as a salted hash (as client secrets are, see secret.go). The binding
// names exactly one principal, so its secret gets tokens for that identity
// and no other; revoking the binding (deleting its document) ends it.
//
// Bindings are stored at /perimeter/workloadBindings/{id}, with the
// identity's service principal document as Parent, so the bindings of an
// identity are listed with one query and removed with it.

// TypeWorkloadBinding is the stored type of workload bindings.
const TypeWorkloadBinding = "Perimeter.Identity/workloadBindings"

// WorkloadBinding is a stored binding, without its secret.
type WorkloadBinding struct {
	// ID is the binding's id, a GUID; the IDENTITY_HEADER starts with it.
	ID          string `json:"id"`
	TenantID    string `json:"tenantId"`
	PrincipalID string `json:"principalId"`
	// ClientID is the identity's client id (its service principal's appId).
	ClientID string `json:"clientId"`
	// ResourceID is the resource the identity belongs to: a user-assigned
	// identity, or the resource with a system-assigned identity.
	ResourceID string    `json:"resourceId"`
	CreatedAt  time.Time `json:"createdAt"`
	// CreatedBy is the object id of the principal that created it.
	CreatedBy string `json:"createdBy,omitempty"`
	// Salt and Hash check the secret; never shown.
	Salt []byte `json:"salt,omitempty"`
	Hash []byte `json:"hash,omitempty"`
}

// Public returns the binding without its salt and hash, to show.
func (b WorkloadBinding) Public() WorkloadBinding {
	b.Salt, b.Hash = nil, nil
	return b
}

func workloadBindingDocID(id string) string { return "/perimeter/workloadBindings/" + id }

// headerSeparator joins a binding's id and secret in the header value.
// Neither GUIDs nor NewSecret's base64url text contain it.
const headerSeparator = "."

// NewWorkloadBinding returns a new binding of the managed identity b names
// (TenantID, PrincipalID, ClientID, ResourceID, CreatedBy set by the
// caller), the IDENTITY_HEADER value that authenticates it (to show once),
// and the store op that creates it, for the caller to commit (with a check
// that the identity still exists).
func NewWorkloadBinding(b WorkloadBinding, now time.Time) (WorkloadBinding, string, store.Op, error) {
	if b.TenantID == "" || b.PrincipalID == "" || b.ClientID == "" || b.ResourceID == "" {
		return WorkloadBinding{}, "", store.Op{}, errors.New("identity: a workload binding needs a tenant, principal, client id and resource")
	}
	secret, err := NewSecret()
	if err != nil {
		return WorkloadBinding{}, "", store.Op{}, err
	}
	b.ID = newGUID()
	b.CreatedAt = now.UTC()
	if b.Salt, b.Hash, err = hashSecret(secret); err != nil {
		return WorkloadBinding{}, "", store.Op{}, err
	}
	body, err := json.Marshal(b)
	if err != nil {
		return WorkloadBinding{}, "", store.Op{}, fmt.Errorf("identity: encode workload binding: %w", err)
	}
	op := store.Op{Put: &store.Document{
		ID: workloadBindingDocID(b.ID), Type: TypeWorkloadBinding, Parent: objectDocID(b.TenantID, b.PrincipalID), Body: body,
	}, If: store.Precondition{IfNoneMatch: "*"}}
	return b.Public(), b.ID + headerSeparator + secret, op, nil
}

// WorkloadBindings lists the bindings of a managed identity (by its
// principal), ordered by id, with the store documents they were read from.
func WorkloadBindings(ctx context.Context, st store.Store, tenantID, principalID string) ([]WorkloadBinding, []store.Document, error) {
	docs, err := st.List(ctx, store.ListOptions{Type: TypeWorkloadBinding, Parent: objectDocID(tenantID, principalID)})
	if err != nil {
		return nil, nil, fmt.Errorf("identity: list workload bindings: %w", err)
	}
	out := make([]WorkloadBinding, 0, len(docs))
	for _, d := range docs {
		var b WorkloadBinding
		if err := json.Unmarshal(d.Body, &b); err != nil {
			return nil, nil, fmt.Errorf("identity: decode %s: %w", d.ID, err)
		}
		out = append(out, b.Public())
	}
	return out, docs, nil
}

// DeleteWorkloadBindingsOps returns the ops that delete every binding of a
// managed identity, each conditional on the version read, for a resource
// provider to commit when the identity goes away.
func DeleteWorkloadBindingsOps(ctx context.Context, st store.Store, tenantID, principalID string) ([]store.Op, error) {
	_, docs, err := WorkloadBindings(ctx, st, tenantID, principalID)
	if err != nil {
		return nil, err
	}
	ops := make([]store.Op, 0, len(docs))
	for _, d := range docs {
		ops = append(ops, store.Op{Delete: d.ID, If: store.Precondition{IfMatch: d.ETag}})
	}
	return ops, nil
}

// ErrWorkloadBindingNotFound: no binding of that identity has the id.
var ErrWorkloadBindingNotFound = errors.New("identity: workload binding not found")

// RevokeWorkloadBinding deletes the binding with the given id, if it
// belongs to the identity with that principal; its secret stops working at
// once.
func RevokeWorkloadBinding(ctx context.Context, st store.Store, tenantID, principalID, bindingID string) error {
	id, ok := canonicalGUID(bindingID)
	if !ok {
		return refusef(ErrWorkloadBindingNotFound, "The workload binding id '%s' is not a GUID.", clip(bindingID))
	}
	doc, err := st.Get(ctx, workloadBindingDocID(id))
	if errors.Is(err, store.ErrNotFound) || (err == nil && doc.Parent != store.Key(objectDocID(tenantID, principalID))) {
		return refusef(ErrWorkloadBindingNotFound, "This identity has no workload binding '%s'.", id)
	}
	if err != nil {
		return fmt.Errorf("identity: read workload binding: %w", err)
	}
	_, err = st.Apply(ctx, store.Op{Delete: doc.ID, If: store.Precondition{IfMatch: doc.ETag}})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrPreconditionFailed) {
		return refusef(ErrWorkloadBindingNotFound, "This identity has no workload binding '%s'.", id)
	}
	if err != nil {
		return fmt.Errorf("identity: revoke workload binding: %w", err)
	}
	return nil
}

// errBadIdentityHeader is every way an IDENTITY_HEADER can fail to
// authenticate: malformed, unknown, revoked, wrong secret. They answer
// alike, so the endpoint reveals nothing about which bindings exist.
var errBadIdentityHeader = errors.New("identity: invalid identity header")

// verifyWorkloadBinding returns the binding the header value authenticates.
func (d *Directory) verifyWorkloadBinding(ctx context.Context, header string) (WorkloadBinding, error) {
	rawID, secret, ok := strings.Cut(header, headerSeparator)
	id, okID := canonicalGUID(rawID)
	if !ok || !okID || secret == "" {
		return WorkloadBinding{}, errBadIdentityHeader
	}
	doc, err := d.st.Get(ctx, workloadBindingDocID(id))
	if errors.Is(err, store.ErrNotFound) {
		return WorkloadBinding{}, errBadIdentityHeader
	}
	if err != nil {
		return WorkloadBinding{}, fmt.Errorf("identity: read workload binding: %w", err)
	}
	var b WorkloadBinding
	if err := json.Unmarshal(doc.Body, &b); err != nil {
		return WorkloadBinding{}, fmt.Errorf("identity: decode %s: %w", doc.ID, err)
	}
	// The stored parent, not the body, says whose binding this is: it is
	// what listing and deletion go by.
	if len(b.Salt) == 0 || !secretMatches(secret, b.Salt, b.Hash) || doc.Parent != store.Key(objectDocID(b.TenantID, b.PrincipalID)) {
		return WorkloadBinding{}, errBadIdentityHeader
	}
	return b.Public(), nil
}

// ManagedIdentityDeletionOps returns the ops that delete a managed
// identity's service principal with everything that names it in the
// directory: its group memberships and its workload bindings. Each is
// conditional on the version read, for the resource provider to commit
// with the resource's delete; none when the principal is gone already.
func ManagedIdentityDeletionOps(ctx context.Context, st store.Store, tenantID, principalID string) ([]store.Op, error) {
	bindings, err := DeleteWorkloadBindingsOps(ctx, st, tenantID, principalID)
	if err != nil {
		return nil, err
	}
	_, ops, err := NewDirectory(st).objectDeletion(ctx, tenantID, principalID, TypeServicePrincipal)
	if errors.Is(err, ErrObjectNotFound) || errors.Is(err, ErrTenantNotFound) {
		return bindings, nil
	}
	if err != nil {
		return nil, err
	}
	return append(ops, bindings...), nil
}

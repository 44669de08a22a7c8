// Package managedidentity provides Microsoft.ManagedIdentity: user-assigned
// identities, and the workload bindings through which workloads get tokens
// as a managed identity (user-assigned, or a resource's system-assigned
// one).
//
// A user-assigned identity is a tracked resource in a resource group whose
// read-only properties (tenantId, principalId, clientId) are generated at
// creation. Its principal is a service principal in the directory
// (identity.ManagedIdentityClientOp), written in the same atomic store
// Apply as the resource, so role assignments can name it at once; the
// delete removes it again (arm.Cleaner), with its group memberships and
// workload bindings.
//
// Resources naming an identity (accounts' identity.userAssignedIdentities)
// do not hold a reference that blocks its delete: Azure lets an identity
// be deleted while resources still list it, and so does Perimeter; those
// resources keep the dangling entry, which gets no tokens.
//
// A workload binding (identity.WorkloadBinding) is created with the POST
// action createWorkloadBinding on the identity, which answers the
// IDENTITY_ENDPOINT and IDENTITY_HEADER a workload needs, once. As in
// Azure, handing an identity to something else needs
// Microsoft.ManagedIdentity/userAssignedIdentities/assign/action on it.
package managedidentity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/store"
)

// TypeUserAssignedIdentities is the type of user-assigned identities.
const TypeUserAssignedIdentities = "Microsoft.ManagedIdentity/userAssignedIdentities"

// ActionAssign is the permission to hand a user-assigned identity to a
// resource or a workload.
const ActionAssign = TypeUserAssignedIdentities + "/assign/action"

// APIVersions are the api-versions served: 2023-01-31 (armmsi v1.2.0 and
// the az CLI), 2024-11-30 (the newest stable), and the older stable and
// preview versions infrastructure-as-code templates name. They share the
// one shape served here.
func APIVersions() []string {
	return []string{"2018-11-30", "2021-09-30-preview", "2022-01-31-preview", "2023-01-31", "2023-07-31-preview", "2024-11-30"}
}

// Kinds returns the kinds of this package, bound to srv.
func Kinds(srv *arm.Server) []arm.Kind {
	return []arm.Kind{&userAssignedIdentities{srv: srv}}
}

// Properties are a user-assigned identity's properties, all read-only.
type Properties struct {
	TenantID    string `json:"tenantId"`
	PrincipalID string `json:"principalId"`
	ClientID    string `json:"clientId"`
}

// ErrNotFound is returned by Lookup for an identity that does not exist.
var ErrNotFound = errors.New("managedidentity: user-assigned identity not found")

// Lookup reads the user-assigned identity with the given resource id (any
// casing), for resources that name it. It returns the identity's
// properties and its stored document (for a commit-time check), or
// ErrNotFound.
func Lookup(ctx context.Context, st store.Store, id string) (Properties, store.Document, error) {
	doc, err := st.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && doc.Type != store.Key(TypeUserAssignedIdentities)) {
		return Properties{}, store.Document{}, ErrNotFound
	}
	if err != nil {
		return Properties{}, store.Document{}, fmt.Errorf("read %s: %w", id, err)
	}
	var r arm.Resource
	if err := json.Unmarshal(doc.Body, &r); err != nil {
		return Properties{}, store.Document{}, fmt.Errorf("stored identity %s: %w", id, err)
	}
	var p Properties
	if err := json.Unmarshal(r.Properties, &p); err != nil {
		return Properties{}, store.Document{}, fmt.Errorf("properties of %s: %w", id, err)
	}
	if r.ProvisioningState() == "Deleting" {
		return Properties{}, store.Document{}, ErrNotFound
	}
	return p, doc, nil
}

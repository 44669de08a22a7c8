package cognitive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/perimeterhq/perimeter/internal/arm"
	directory "github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/providers/managedidentity"
	"github.com/perimeterhq/perimeter/internal/providers/resources"
	"github.com/perimeterhq/perimeter/internal/store"
)

// Codes of refused identities.
const (
	CodeInvalidIdentityType         = "InvalidIdentityType"
	CodeInvalidUserAssignedIdentity = "InvalidUserAssignedIdentityId"
	CodeUserAssignedRequired        = "UserAssignedIdentitiesRequired"
	CodeUserAssignedNotAllowed      = "UserAssignedIdentitiesNotAllowed"
)

// Identity types, as Azure spells them.
const (
	identityNone       = "None"
	identitySystem     = "SystemAssigned"
	identityUser       = "UserAssigned"
	identitySystemUser = "SystemAssigned, UserAssigned"
)

const typeUserAssigned = managedidentity.TypeUserAssignedIdentities

// identity is a resource's managed identity as stored and served.
type identity struct {
	Type                   string                  `json:"type"`
	PrincipalID            string                  `json:"principalId,omitempty"`
	TenantID               string                  `json:"tenantId,omitempty"`
	UserAssignedIdentities map[string]userAssigned `json:"userAssignedIdentities,omitempty"`
}

// userAssigned is one user-assigned identity. Its principalId and clientId
// come from the identity resource (see checkUserAssigned).
type userAssigned struct {
	PrincipalID string `json:"principalId,omitempty"`
	ClientID    string `json:"clientId,omitempty"`
}

// identityType normalizes an identity type: case-insensitive, spaces
// around the comma optional, either order ("userassigned,systemassigned").
func identityType(t string) (string, bool) {
	var system, user, none bool
	for _, part := range strings.Split(t, ",") {
		switch strings.ToLower(strings.TrimSpace(part)) {
		case "systemassigned":
			system = true
		case "userassigned":
			user = true
		case "none":
			none = true
		default:
			return "", false
		}
	}
	switch {
	case none && (system || user):
		return "", false
	case none:
		return identityNone, true
	case system && user:
		return identitySystemUser, true
	case system:
		return identitySystem, true
	}
	return identityUser, true
}

func hasSystem(t string) bool { return t == identitySystem || t == identitySystemUser }
func hasUser(t string) bool   { return t == identityUser || t == identitySystemUser }

// identityResult is a resolved identity: what to store, and the directory
// writes that commit with the resource.
type identityResult struct {
	identity json.RawMessage // nil: no identity
	ops      []store.Op
}

// resolveIdentity validates a resource's identity and returns it with
// read-only fields filled in. A system-assigned identity keeps its
// principal across updates; enabling it creates a service principal,
// disabling it deletes that principal (both in the resource's Apply).
func (p *provider) resolveIdentity(ctx context.Context, w *arm.Write) (identityResult, error) {
	var in struct {
		Type                   *string                    `json:"type"`
		UserAssignedIdentities map[string]json.RawMessage `json:"userAssignedIdentities"`
	}
	if err := decodeField(w.New.Identity, "identity", &in); err != nil {
		return identityResult{}, err
	}
	var old identity
	if w.Old != nil {
		_ = json.Unmarshal(w.Old.Identity, &old) // stored by us; absent means none
	}
	if in.Type == nil {
		if len(w.New.Identity) > 0 && string(w.New.Identity) != "null" {
			return identityResult{}, arm.InvalidProperty(CodeInvalidIdentityType, "identity.type",
				"The identity has no type. Use 'None', 'SystemAssigned', 'UserAssigned' or 'SystemAssigned, UserAssigned'.")
		}
		return p.applyIdentity(ctx, w, old, identity{Type: identityNone}, false)
	}
	t := *in.Type
	typ, ok := identityType(t)
	if !ok {
		return identityResult{}, arm.InvalidProperty(CodeInvalidIdentityType, "identity.type",
			"The identity type '%s' is invalid. Use 'None', 'SystemAssigned', 'UserAssigned' or 'SystemAssigned, UserAssigned'.", t)
	}
	next := identity{Type: typ}
	var checks []store.Op
	switch {
	case hasUser(typ):
		ua, c, err := p.checkUserAssigned(ctx, in.UserAssignedIdentities, old.UserAssignedIdentities)
		if err != nil {
			return identityResult{}, err
		}
		checks = c
		if len(ua) == 0 {
			return identityResult{}, arm.InvalidProperty(CodeUserAssignedRequired, "identity.userAssignedIdentities",
				"The identity type '%s' needs at least one user-assigned identity in userAssignedIdentities, keyed by its resource id.", typ)
		}
		next.UserAssignedIdentities = ua
	case len(in.UserAssignedIdentities) > 0 && w.HTTP.Method != http.MethodPatch:
		// A PATCH that changes the type merges into the stored identities,
		// so dropping them there is what the caller asked for; a PUT that
		// sends them with a type that has none is a mistake to point out.
		return identityResult{}, arm.InvalidProperty(CodeUserAssignedNotAllowed, "identity.userAssignedIdentities",
			"userAssignedIdentities are only allowed with the identity type 'UserAssigned' or 'SystemAssigned, UserAssigned', not '%s'. Change the type or remove them.", typ)
	}
	res, err := p.applyIdentity(ctx, w, old, next, true)
	res.ops = append(res.ops, checks...)
	return res, err
}

// checkUserAssigned validates the keys of userAssignedIdentities (resource
// ids of Microsoft.ManagedIdentity/userAssignedIdentities) and returns the
// identities to store, with principalId and clientId read from the identity
// resources, and the store checks that commit with the write. A null value
// removes an identity (JSON merge patch).
//
// A newly named identity must exist, and must still be as read when the
// write commits. One already assigned may have been deleted since: Azure
// allows that, and the resource keeps the dangling entry (with the ids it
// had) rather than refusing every later update until it is removed.
// Identities are not references in arm's sense: they do not block their
// own delete.
func (p *provider) checkUserAssigned(ctx context.Context, in map[string]json.RawMessage, old map[string]userAssigned) (map[string]userAssigned, []store.Op, error) {
	out := map[string]userAssigned{}
	var checks []store.Op
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if string(in[k]) == "null" {
			continue
		}
		id, ok := userAssignedID(k)
		if !ok {
			return nil, nil, arm.InvalidProperty(CodeInvalidUserAssignedIdentity, "identity.userAssignedIdentities",
				"The user-assigned identity '%s' is not a resource id of the form /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}.", k)
		}
		if _, dup := out[id]; dup {
			return nil, nil, arm.InvalidProperty(CodeInvalidUserAssignedIdentity, "identity.userAssignedIdentities",
				"The user-assigned identity '%s' is listed twice (resource ids are case-insensitive).", k)
		}
		prev, assigned := lookupFold(old, id)
		props, doc, err := managedidentity.Lookup(ctx, p.store(), id)
		switch {
		case errors.Is(err, managedidentity.ErrNotFound) && assigned:
			out[id] = prev
			continue
		case errors.Is(err, managedidentity.ErrNotFound):
			return nil, nil, arm.InvalidProperty(CodeInvalidUserAssignedIdentity, "identity.userAssignedIdentities",
				"The user-assigned identity '%s' does not exist. Create it first (%s) or correct the id.", k, createHint(id))
		case err != nil:
			return nil, nil, err
		}
		out[id] = userAssigned{PrincipalID: props.PrincipalID, ClientID: props.ClientID}
		checks = append(checks, store.Op{Check: doc.ID, If: store.Precondition{IfMatch: doc.ETag}})
	}
	return out, checks, nil
}

// createHint is the command that creates the user-assigned identity id.
func createHint(id string) string {
	elems, _ := arm.ParseID(id) // id is canonical: userAssignedID parsed it
	return fmt.Sprintf("perimeter identity create --name %s --resource-group %s", elems[2].Name, elems[1].Name)
}

// lookupFold finds id among the keys of m, ignoring case.
func lookupFold(m map[string]userAssigned, id string) (userAssigned, bool) {
	for k, v := range m {
		if strings.EqualFold(k, id) {
			return v, true
		}
	}
	return userAssigned{}, false
}

// userAssignedID parses a user-assigned identity id and returns it with
// canonical type casing.
func userAssignedID(id string) (string, bool) {
	elems, err := arm.ParseID(id)
	if err != nil || len(elems) != 3 ||
		!strings.EqualFold(elems[0].Type, arm.TypeSubscription) ||
		!strings.EqualFold(elems[1].Type, arm.TypeResourceGroup) ||
		!strings.EqualFold(elems[2].Type, typeUserAssigned) {
		return "", false
	}
	return arm.FormatID([]arm.Elem{
		{Type: arm.TypeSubscription, Name: elems[0].Name},
		{Type: arm.TypeResourceGroup, Name: elems[1].Name},
		{Type: typeUserAssigned, Name: elems[2].Name},
	}), true
}

// applyIdentity fills in the system-assigned principal of next and returns
// it with the directory writes the change from old needs. show says
// whether to store an identity at all (a resource sent without one shows
// none).
func (p *provider) applyIdentity(ctx context.Context, w *arm.Write, old, next identity, show bool) (identityResult, error) {
	var res identityResult
	oldSystem := hasSystem(old.Type) && old.PrincipalID != ""
	switch {
	case hasSystem(next.Type) && oldSystem:
		next.PrincipalID, next.TenantID = old.PrincipalID, old.TenantID
	case hasSystem(next.Type):
		tenant, err := p.subscriptionTenant(ctx, w)
		if err != nil {
			return res, err
		}
		next.PrincipalID, next.TenantID = uuid.NewString(), tenant
		op, err := directory.ManagedIdentityOp(tenant, next.PrincipalID, w.New.Name, w.New.ID, p.srv.Now())
		if err != nil {
			return res, err
		}
		res.ops = append(res.ops, op)
	}
	if oldSystem && !hasSystem(next.Type) {
		ops, err := p.principalDeletionOps(ctx, old)
		if err != nil {
			return res, err
		}
		res.ops = append(res.ops, ops...)
	}
	if show {
		b, err := json.Marshal(next)
		if err != nil {
			return res, err
		}
		res.identity = b
	}
	return res, nil
}

// principalDeletionOps delete the service principal of a system-assigned
// identity with its group memberships and workload bindings, each
// conditional on the version read; none when it is gone already.
func (p *provider) principalDeletionOps(ctx context.Context, id identity) ([]store.Op, error) {
	return directory.ManagedIdentityDeletionOps(ctx, p.store(), id.TenantID, id.PrincipalID)
}

// subscriptionTenant is the tenant a managed identity belongs to.
func (p *provider) subscriptionTenant(ctx context.Context, w *arm.Write) (string, error) {
	return resources.ManagedIdentityTenant(ctx, p.store(), w.SubscriptionID(), w.Caller)
}

// CodeNoSystemAssignedIdentity refuses a workload binding of an account
// without a system-assigned identity.
const CodeNoSystemAssignedIdentity = "SystemAssignedIdentityRequired"

// workloadBinding answers the workload binding actions on an account: they
// bind its system-assigned identity (see package managedidentity).
func (a *accounts) workloadBinding(ctx context.Context, act *arm.Action) (*arm.Result, error) {
	var id identity
	_ = json.Unmarshal(act.Resource.Identity, &id) // stored by Prepare; absent means none
	if !hasSystem(id.Type) || id.PrincipalID == "" {
		return nil, arm.BadRequest(CodeNoSystemAssignedIdentity,
			"The account '%s' has no system-assigned identity to bind to a workload. Set identity.type to 'SystemAssigned' first, or bind a user-assigned identity instead.", act.Resource.Name)
	}
	return managedidentity.BindingAction(ctx, a.srv, act, id.TenantID, id.PrincipalID)
}

package cognitive

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/providers/managedidentity"
)

// Writes and deletes of accounts and projects are authorized here rather
// than by their own action alone (arm.AccessChecker): what they name can
// need permissions on other resources.

var (
	_ arm.AccessChecker      = (*accounts)(nil)
	_ arm.AccessChecker      = (*projects)(nil)
	_ arm.EarlyAccessChecker = (*accounts)(nil)
	_ arm.EarlyAccessChecker = (*projects)(nil)
)

// EarlyAccesses: the subnets and identities the body as sent newly names
// (ids not of their form are left to Prepare, which refuses them for the
// form alone), checked before Prepare looks them up, so a caller who may
// not join a subnet or assign an identity is refused alike whether it
// exists or not. A body that does not decode is left to Prepare too.
func (a *accounts) EarlyAccesses(_ context.Context, _ *arm.Request, old, new *arm.Resource) ([]arm.Access, error) {
	joins, err := subnetJoins(old, new)
	if err != nil {
		joins = nil
	}
	return append(joins, userAssignedAccesses(old, new)...), nil
}

// EarlyAccesses: the identities the body as sent newly names.
func (p *projects) EarlyAccesses(_ context.Context, _ *arm.Request, old, new *arm.Resource) ([]arm.Access, error) {
	return userAssignedAccesses(old, new), nil
}

// Accesses: the account's own action and, as linked accesses, joining
// each subnet its network rules newly name (see subnetJoins) and the
// assign action of each user-assigned identity it newly names.
func (a *accounts) Accesses(_ context.Context, op string, req *arm.Request, old, new *arm.Resource) ([]arm.Access, error) {
	all := []arm.Access{{Action: TypeAccounts + "/" + op, Scope: req.ID}}
	if op != "write" {
		return all, nil
	}
	joins, err := subnetJoins(old, new)
	if err != nil {
		return nil, err
	}
	all = append(all, joins...)
	return append(all, userAssignedAccesses(old, new)...), nil
}

// Accesses: the project's own action, plus those of the user-assigned
// identities it newly names.
func (p *projects) Accesses(_ context.Context, op string, req *arm.Request, old, new *arm.Resource) ([]arm.Access, error) {
	return append([]arm.Access{{Action: TypeProjects + "/" + op, Scope: req.ID}}, userAssignedAccesses(old, new)...), nil
}

// userAssignedAccesses: attaching a user-assigned identity to a resource
// lets the resource act as it, so Azure asks for the identity's assign
// action of whoever attaches it. Identities the resource already had need
// nothing more (a tag change by someone without it still works), nor does
// removing one.
func userAssignedAccesses(old, new *arm.Resource) []arm.Access {
	if new == nil {
		return nil
	}
	var before, after identity
	if old != nil {
		_ = json.Unmarshal(old.Identity, &before) // stored by Prepare; absent means none
	}
	_ = json.Unmarshal(new.Identity, &after) // just made by Prepare
	var out []arm.Access
	for raw := range after.UserAssignedIdentities {
		id, ok := userAssignedID(raw)
		if !ok {
			continue // not an identity id: Prepare refuses it as such
		}
		if _, had := lookupFold(before.UserAssignedIdentities, id); !had {
			out = append(out, arm.Access{Action: managedidentity.ActionAssign, Scope: id, Linked: true})
		}
	}
	// In scope order, so the refusal names the same identity every time.
	slices.SortFunc(out, func(a, b arm.Access) int { return strings.Compare(a.Scope, b.Scope) })
	return out
}

package authorization

import (
	"context"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/authz"
)

// Authorizer decides control-plane requests with the compiled policy.
type Authorizer struct {
	fresh func(context.Context) (*authz.Policy, error)
}

var _ arm.Authorizer = (*Authorizer)(nil)

// NewAuthorizer returns an Authorizer that asks fresh for a policy
// including every commit made before each request, so a role assignment
// is in force for the next request (snapshot.Source.Fresh gives one).
func NewAuthorizer(fresh func(context.Context) (*authz.Policy, error)) *Authorizer {
	return &Authorizer{fresh: fresh}
}

// Permissions implements arm.Authorizer: one policy per request.
func (a *Authorizer) Permissions(ctx context.Context, c arm.Caller) (arm.Permissions, error) {
	p, err := a.fresh(ctx)
	if err != nil {
		return nil, err
	}
	return permissions{p: p, principal: strings.ToLower(c.ObjectID)}, nil
}

type permissions struct {
	p         *authz.Policy
	principal string
}

func (ps permissions) Allows(a arm.Access) bool {
	return ps.p.Check(authz.Request{
		PrincipalID: ps.principal, Scope: a.Scope, Action: a.Action,
		RequestAttrs: a.RequestAttrs, ResourceAttrs: a.ResourceAttrs,
	}).Allowed
}

func (ps permissions) HoldsBelow(scope string) bool { return ps.p.HasAccessBelow(ps.principal, scope) }

func (ps permissions) MayEver(a arm.Access, within bool) bool {
	return ps.p.MayEver(ps.principal, a.Scope, a.Action, within)
}

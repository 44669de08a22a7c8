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

// Authorize implements arm.Authorizer. A policy that cannot be had fails
// the request (never a pass).
func (a *Authorizer) Authorize(ctx context.Context, c arm.Caller, acc arm.Access) error {
	p, err := a.fresh(ctx)
	if err != nil {
		return err
	}
	d := p.Check(authz.Request{
		PrincipalID: strings.ToLower(c.ObjectID), Scope: acc.Scope, Action: acc.Action,
		RequestAttrs: acc.RequestAttrs, ResourceAttrs: acc.ResourceAttrs,
	})
	if !d.Allowed {
		return arm.Denied(c, acc)
	}
	return nil
}

// Within implements arm.Authorizer.
func (a *Authorizer) Within(ctx context.Context, c arm.Caller, scope string) (bool, error) {
	p, err := a.fresh(ctx)
	if err != nil {
		return false, err
	}
	return p.HasAccessBelow(strings.ToLower(c.ObjectID), scope), nil
}

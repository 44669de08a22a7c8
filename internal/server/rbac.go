package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/providers/authorization"
	"github.com/perimeterhq/perimeter/internal/snapshot"
)

// freshWait bounds how long a control-plane request waits for the snapshot
// to catch up with the store (normally a few milliseconds).
const freshWait = 5 * time.Second

// freshPolicy gives the control plane a policy that includes every commit
// made before the request: a role assignment just made is in force for
// the next request.
func freshPolicy(src *snapshot.Source) func(context.Context) (*authz.Policy, error) {
	return func(ctx context.Context) (*authz.Policy, error) {
		ctx, cancel := context.WithTimeout(ctx, freshWait)
		defer cancel()
		snap, err := src.Fresh(ctx)
		if err != nil {
			return nil, fmt.Errorf("wait for the authorization snapshot: %w", err)
		}
		return snap.Policy(), nil
	}
}

// principalLookup validates role assignments' principals in the directory.
func principalLookup(dir *identity.Directory) authorization.PrincipalLookup {
	return func(ctx context.Context, tenantID, objectID string) (string, error) {
		obj, err := dir.Object(ctx, tenantID, objectID)
		if errors.Is(err, identity.ErrObjectNotFound) {
			return "", authorization.ErrPrincipalNotFound
		}
		if err != nil {
			return "", err
		}
		return obj.Type, nil
	}
}

// dataPlaneAuthorizer checks bearer tokens' data actions at the account
// with the current snapshot's policy (keys carry every permission of the
// account, as in Azure, and are not checked here).
type dataPlaneAuthorizer struct{ src *snapshot.Source }

func (a dataPlaneAuthorizer) Authorize(_ context.Context, p *identity.Principal, accountID, dataAction string) error {
	d := a.src.Current().Policy().Check(authz.Request{
		PrincipalID: strings.ToLower(p.ObjectID), Scope: accountID, Action: dataAction, Data: true,
	})
	if !d.Allowed {
		return fmt.Errorf("no role assignment of %s grants %s at %s", p.ObjectID, dataAction, accountID)
	}
	return nil
}

// directoryAuthorizer decides Graph requests. Every principal of the
// tenant may read the directory (as Entra's default user permissions
// allow); changing it (applications, users, groups, members) takes an
// administrator: a principal that may assign Owner on the default
// subscription (its Owner, as the bootstrap admin is).
//
// The check names the assignment it stands for (Owner, to the caller
// itself) rather than none: whoever may change the directory can add a
// secret to any application, the bootstrap admin's included, so the power
// is Owner's. Without request attributes a delegation condition would be
// read with every @Request comparison false, and a negated one, such as
// "anything but Owner", would then pass.
func directoryAuthorizer(fresh func(context.Context) (*authz.Policy, error), subscriptionID string) func(context.Context, identity.Principal, bool) error {
	const action = "Microsoft.Authorization/roleAssignments/write"
	scope := "/subscriptions/" + subscriptionID
	return func(ctx context.Context, p identity.Principal, write bool) error {
		if !write {
			return nil
		}
		policy, err := fresh(ctx)
		if err != nil {
			return err
		}
		caller := strings.ToLower(p.ObjectID)
		req := authz.Request{PrincipalID: caller, Scope: scope, Action: action, RequestAttrs: map[string][]string{
			authz.AttrRoleAssignmentRoleDefinitionID: {authz.RoleOwner},
			authz.AttrRoleAssignmentPrincipalID:      {caller},
			authz.AttrRoleAssignmentPrincipalType:    {principalType(p)},
		}}
		if !policy.Check(req).Allowed {
			return fmt.Errorf("changing the directory needs %s for the Owner role on the default subscription %s (its Owner has it)", action, scope)
		}
		return nil
	}
}

// principalType is a token's principal as role assignments name its kind.
func principalType(p identity.Principal) string {
	if p.Type == identity.PrincipalTypeUser {
		return "User"
	}
	return "ServicePrincipal"
}

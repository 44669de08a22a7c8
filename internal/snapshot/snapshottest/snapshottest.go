// Package snapshottest helps provider tests enforce role assignments:
// Authorizer decides each ARM request with a policy compiled from the
// store as it is then, so an assignment written by one request (or
// directly to the store) is in force for the next. It is imported only by
// _test.go files.
package snapshottest

import (
	"context"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/authz"
	"github.com/perimeterhq/perimeter/internal/providers/authorization"
	"github.com/perimeterhq/perimeter/internal/snapshot"
	"github.com/perimeterhq/perimeter/internal/store"
)

// Authorizer is the RBAC of st, compiled afresh for every request; pass
// it to armtest.Authorizer.
func Authorizer(st store.Store) arm.Authorizer {
	return authorization.NewAuthorizer(func(ctx context.Context) (*authz.Policy, error) {
		snap, err := snapshot.Compile(ctx, snapshot.SourceConfig{Store: st})
		if err != nil {
			return nil, err
		}
		return snap.Policy(), nil
	})
}

// RBAC returns the armtest options of a provider test with role
// assignments enforced: Microsoft.Authorization served for tenant, its
// principalIds checked by principals, and Authorizer deciding.
func RBAC(tenant string, principals authorization.PrincipalLookup) []armtest.Option {
	return []armtest.Option{
		armtest.Kinds(func(srv *arm.Server, _ store.Store) []arm.Kind {
			return authorization.Kinds(srv, authorization.Config{Principals: principals, TenantID: tenant})
		}),
		armtest.Authorizer(Authorizer),
	}
}

// Assign writes to st, as bootstrap does and bypassing authorization, an
// assignment of role (a GUID) to principal at scope, named name.
func Assign(t testing.TB, st store.Store, scope, name, role, principal, principalType string) {
	t.Helper()
	ops, err := authorization.AssignOps(scope, name, role, principal, principalType, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(context.Background(), ops...); err != nil {
		t.Fatal(err)
	}
}

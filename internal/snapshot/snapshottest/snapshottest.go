// Package snapshottest helps provider tests enforce role assignments:
// Authorizer decides each ARM request with a policy compiled from the
// store as it is then, so an assignment written by one request (or
// directly to the store) is in force for the next. It is imported only by
// _test.go files.
package snapshottest

import (
	"context"

	"github.com/perimeterhq/perimeter/internal/arm"
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

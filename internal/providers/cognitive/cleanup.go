package cognitive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/store"
)

// An account owns two documents outside its subtree, which the generic
// delete (the resource, then everything below it) would leave behind: its
// subdomain reservation and its system-assigned identity's service
// principal (with its group memberships and workload bindings). A project owns a service principal. Cleanup removes them in
// the delete's own Apply (arm.Cleaner), whether the resource is deleted
// itself or with its account, group or subscription.

var (
	_ arm.Cleaner = (*accounts)(nil)
	_ arm.Cleaner = (*projects)(nil)
)

// Cleanup removes an account's service principal and subdomain
// reservation. root is never an ancestor of these documents (they live
// under /tenants and /perimeter), so it needs no check.
func (a *accounts) Cleanup(ctx context.Context, r *arm.Resource, _ string) ([]store.Op, error) {
	return a.cleanupOwned(ctx, r)
}

// Cleanup removes a project's service principal.
func (p *projects) Cleanup(ctx context.Context, r *arm.Resource, _ string) ([]store.Op, error) {
	return p.cleanupOwned(ctx, r)
}

// cleanupOwned returns the ops that remove what an account or project owns
// outside its subtree; each is conditional on the version read, and only
// documents that exist are named, so a resumed delete finds nothing left.
func (p *provider) cleanupOwned(ctx context.Context, r *arm.Resource) ([]store.Op, error) {
	var ops []store.Op
	var id identity
	_ = json.Unmarshal(r.Identity, &id) // stored by Prepare; absent means none
	if hasSystem(id.Type) && id.PrincipalID != "" {
		more, err := p.principalDeletionOps(ctx, id)
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	if !strings.EqualFold(r.Type, TypeAccounts) {
		return ops, nil
	}
	var props accountProperties
	_ = json.Unmarshal(r.Properties, &props)
	if props.CustomSubDomainName == "" {
		return ops, nil
	}
	doc, err := p.store().Get(ctx, subdomainDocID(props.CustomSubDomainName))
	if errors.Is(err, store.ErrNotFound) {
		return ops, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read subdomain reservation: %w", err)
	}
	var res reservation
	if err := json.Unmarshal(doc.Body, &res); err != nil {
		return nil, fmt.Errorf("subdomain reservation %s: %w", doc.ID, err)
	}
	if strings.EqualFold(res.Account, r.ID) {
		ops = append(ops, store.Op{Delete: doc.ID, If: store.Precondition{IfMatch: doc.ETag}})
	}
	return ops, nil
}

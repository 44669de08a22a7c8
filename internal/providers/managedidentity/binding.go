package managedidentity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/perimeterhq/perimeter/internal/arm"
	directory "github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/store"
)

// The workload binding actions, on a user-assigned identity or on a
// resource with a system-assigned identity.
const (
	// ActionCreateWorkloadBinding answers a new binding with its
	// IDENTITY_ENDPOINT and IDENTITY_HEADER, once.
	ActionCreateWorkloadBinding = "createWorkloadBinding"
	// ActionListWorkloadBindings lists the identity's bindings, without
	// their secrets.
	ActionListWorkloadBindings = "listWorkloadBindings"
	// ActionRevokeWorkloadBinding deletes one binding: {"id": "..."}.
	ActionRevokeWorkloadBinding = "revokeWorkloadBinding"
)

// CodeWorkloadBindingNotFound answers a revocation of an unknown binding.
const CodeWorkloadBindingNotFound = "WorkloadBindingNotFound"

// BindingActions returns the workload binding actions, for arm.Spec.Actions.
func BindingActions() []string {
	return []string{ActionCreateWorkloadBinding, ActionListWorkloadBindings, ActionRevokeWorkloadBinding}
}

// ActionBindSystemAssigned is what binding a resource's system-assigned
// identity to a workload, or revoking such a binding, needs at the
// resource. A resource's own write is not enough: an account runs no code
// of its owner's, so in Azure nobody gets its identity's tokens, and a
// Cognitive Services Contributor must not inherit the roles the identity
// holds elsewhere (nor its trusted-service bypass of firewalls). Only
// roles granting every action (Owner, Contributor) or a custom role naming
// it hold this one.
const ActionBindSystemAssigned = directory.TypeWorkloadBinding + "/write"

// BindingOperations maps the workload binding actions to the operations
// RBAC checks for them (arm.Spec.ActionOperations): manage is needed to
// create or revoke a binding (for a user-assigned identity its assign
// action; for a resource's system-assigned identity
// ActionBindSystemAssigned), read to list them.
func BindingOperations(manage, read string) map[string]string {
	return map[string]string{
		ActionCreateWorkloadBinding: manage,
		ActionRevokeWorkloadBinding: manage,
		ActionListWorkloadBindings:  read,
	}
}

// BindingResult is the answer of createWorkloadBinding: the binding and
// the two environment variables a workload sets.
type BindingResult struct {
	directory.WorkloadBinding
	IdentityEndpoint string `json:"identityEndpoint"`
	IdentityHeader   string `json:"identityHeader"`
}

// BindingAction answers a workload binding action on a.Resource, whose
// managed identity is the service principal principalID of tenantID.
func BindingAction(ctx context.Context, srv *arm.Server, a *arm.Action, tenantID, principalID string) (*arm.Result, error) {
	st := srv.Store()
	switch a.Name {
	case ActionListWorkloadBindings:
		list, _, err := directory.WorkloadBindings(ctx, st, tenantID, principalID)
		if err != nil {
			return nil, err
		}
		return &arm.Result{Body: map[string]any{"value": list}}, nil
	case ActionRevokeWorkloadBinding:
		var in struct {
			ID string `json:"id"`
		}
		if body := bytes.TrimSpace(a.Body); len(body) == 0 || body[0] != '{' || json.Unmarshal(body, &in) != nil || in.ID == "" {
			return nil, arm.BadRequest(arm.CodeInvalidRequestContent, `Name the binding to revoke: send {"id": "<binding id>"} (listWorkloadBindings shows the ids).`)
		}
		err := directory.RevokeWorkloadBinding(ctx, st, tenantID, principalID, in.ID)
		var re *directory.RequestError
		if errors.Is(err, directory.ErrWorkloadBindingNotFound) && errors.As(err, &re) {
			return nil, arm.Errorf(http.StatusNotFound, CodeWorkloadBindingNotFound, "%s", re.Message)
		}
		if err != nil {
			return nil, err
		}
		return &arm.Result{Status: http.StatusNoContent}, nil
	}
	return createBinding(ctx, srv, a, tenantID, principalID)
}

// createBinding writes a new binding, conditional on the resource and its
// identity's service principal being unchanged and present at commit.
func createBinding(ctx context.Context, srv *arm.Server, a *arm.Action, tenantID, principalID string) (*arm.Result, error) {
	if a.Resource.ProvisioningState() == "Deleting" {
		return nil, arm.Errorf(http.StatusConflict, "ResourceBeingDeleted", "'%s' is being deleted; its identity cannot be bound to a workload.", a.Resource.ID)
	}
	sp, err := directory.NewDirectory(srv.Store()).ServicePrincipal(ctx, tenantID, principalID)
	if err != nil {
		// Written with the resource and removed with it: missing means the
		// stored state is inconsistent, not that the caller erred.
		return nil, fmt.Errorf("service principal of %s: %w", a.Resource.ID, err)
	}
	b, header, op, err := directory.NewWorkloadBinding(directory.WorkloadBinding{
		TenantID: tenantID, PrincipalID: principalID, ClientID: sp.AppID, ResourceID: a.Resource.ID, CreatedBy: a.Caller.ObjectID,
	}, srv.Now())
	if err != nil {
		return nil, err
	}
	_, err = srv.Store().Apply(ctx, op,
		store.Op{Check: a.Resource.ID, If: store.Precondition{IfMatch: a.Resource.ETag}},
		store.Op{Check: directory.ObjectDocID(tenantID, principalID), If: store.Precondition{IfMatch: "*"}})
	if errors.Is(err, store.ErrPreconditionFailed) || errors.Is(err, store.ErrNotFound) {
		return nil, arm.Errorf(http.StatusConflict, arm.CodeConflict, "'%s' was changed by another request while this one ran. Retry the request.", a.Resource.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("store workload binding: %w", err)
	}
	return &arm.Result{Body: BindingResult{
		WorkloadBinding:  b,
		IdentityEndpoint: arm.BaseURL(a.HTTP) + directory.ManagedIdentityTokenPath,
		IdentityHeader:   header,
	}}, nil
}

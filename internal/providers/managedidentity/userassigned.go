package managedidentity

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/perimeterhq/perimeter/internal/arm"
	directory "github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/providers/resources"
	"github.com/perimeterhq/perimeter/internal/store"
)

// CodeUnsupportedProperty refuses a property Perimeter does not implement.
const CodeUnsupportedProperty = "UnsupportedProperty"

// userAssignedIdentities are Microsoft.ManagedIdentity/userAssignedIdentities.
type userAssignedIdentities struct{ srv *arm.Server }

var (
	_ arm.Preparer = (*userAssignedIdentities)(nil)
	_ arm.Cleaner  = (*userAssignedIdentities)(nil)
	_ arm.Actioner = (*userAssignedIdentities)(nil)
)

func (*userAssignedIdentities) Spec() arm.Spec {
	return arm.Spec{
		Type: TypeUserAssignedIdentities, APIVersions: APIVersions(), ParentType: arm.TypeResourceGroup,
		ListUnder: []string{arm.TypeSubscription}, Location: arm.LocationRequired, Tracked: true,
		Name: arm.NameRule(`^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$`,
			"Use 3 to 128 characters: letters, digits, '-' and '_', starting with a letter or digit."),
		Actions:          BindingActions(),
		ActionOperations: BindingOperations(ActionAssign, TypeUserAssignedIdentities+"/read"),
	}
}

// readOnlyProperties are echoed by clients that PUT back what they read;
// they are recomputed, as Azure does.
var readOnlyProperties = []string{"tenantId", "principalId", "clientId", "provisioningState"}

// Prepare keeps an identity's generated properties across updates and, on
// create, generates them and writes the identity's service principal with
// the resource. Only location and tags are the caller's to set.
func (k *userAssignedIdentities) Prepare(ctx context.Context, w *arm.Write) error {
	if err := checkProperties(w.New.Properties); err != nil {
		return err
	}
	w.New.Identity, w.New.Kind, w.New.SKU, w.New.ManagedBy = nil, "", nil, ""
	var p Properties
	if w.Old != nil {
		if err := json.Unmarshal(w.Old.Properties, &p); err != nil {
			return err
		}
	} else {
		tenant, err := resources.ManagedIdentityTenant(ctx, k.srv.Store(), w.SubscriptionID(), w.Caller)
		if err != nil {
			return err
		}
		p = Properties{TenantID: tenant, PrincipalID: uuid.NewString(), ClientID: uuid.NewString()}
		op, err := directory.ManagedIdentityClientOp(p.TenantID, p.PrincipalID, p.ClientID, w.New.Name, w.New.ID, k.srv.Now())
		if err != nil {
			return err
		}
		w.Ops = append(w.Ops, op)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	w.New.Properties = raw
	return nil
}

// checkProperties refuses properties other than the read-only ones. The
// only other property Azure has, isolationScope, restricts where federated
// credentials may be used: accepting "Regional" without enforcing it would
// claim a protection Perimeter does not give, so only "None" is taken.
func checkProperties(raw json.RawMessage) error {
	var props map[string]json.RawMessage
	if err := arm.DecodeProperties(raw, &props); err != nil {
		return err
	}
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		switch {
		case containsFold(readOnlyProperties, name):
		case strings.EqualFold(name, "isolationScope"):
			var v string
			if json.Unmarshal(props[name], &v) != nil || !strings.EqualFold(v, "None") {
				return arm.InvalidProperty(CodeUnsupportedProperty, "properties.isolationScope",
					"isolationScope %s is not supported: Perimeter has no federated identity credentials to restrict. Leave it out or set 'None'.", props[name])
			}
		default:
			return arm.InvalidProperty(CodeUnsupportedProperty, "properties."+name,
				"A user-assigned identity has no property '%s': its properties (tenantId, principalId, clientId) are read-only. Remove it.", name)
		}
	}
	return nil
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// Cleanup removes the identity's service principal, its group memberships
// and its workload bindings with the resource. They live under /tenants
// and /perimeter, never below root.
func (k *userAssignedIdentities) Cleanup(ctx context.Context, r *arm.Resource, _ string) ([]store.Op, error) {
	var p Properties
	if err := json.Unmarshal(r.Properties, &p); err != nil || p.PrincipalID == "" {
		return nil, err // a resource stored by Prepare always has them
	}
	return directory.ManagedIdentityDeletionOps(ctx, k.srv.Store(), p.TenantID, p.PrincipalID)
}

// Action answers the workload binding actions of the identity.
func (k *userAssignedIdentities) Action(ctx context.Context, a *arm.Action) (*arm.Result, error) {
	var p Properties
	if err := json.Unmarshal(a.Resource.Properties, &p); err != nil {
		return nil, err
	}
	return BindingAction(ctx, k.srv, a, p.TenantID, p.PrincipalID)
}

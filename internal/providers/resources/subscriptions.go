package resources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/store"
)

// SubscriptionAPIVersions are the api-versions of Microsoft.Resources/subscriptions.
var SubscriptionAPIVersions = append([]string{"2016-06-01", "2019-06-01", "2019-11-01", "2020-01-01", "2021-01-01", "2022-01-01", "2022-12-01"}, arm.ResourcesAPIVersions...)

// subscriptions are read-only through ARM: they are created by the
// installation (the default subscription at first start), not by clients.
type subscriptions struct{}

func (subscriptions) Spec() arm.Spec {
	return arm.Spec{Type: arm.TypeSubscription, APIVersions: SubscriptionAPIVersions, ReadOnly: true, NoProperties: true}
}

// Subscription is the stored and served shape of a subscription.
type Subscription struct {
	ID                   string   `json:"id"`
	Type                 string   `json:"type"`
	Name                 string   `json:"name"`
	SubscriptionID       string   `json:"subscriptionId"`
	DisplayName          string   `json:"displayName"`
	State                string   `json:"state"`
	TenantID             string   `json:"tenantId"`
	AuthorizationSource  string   `json:"authorizationSource"`
	SubscriptionPolicies Policies `json:"subscriptionPolicies"`
}

// Policies are a subscription's policies as ARM reports them.
type Policies struct {
	LocationPlacementID string `json:"locationPlacementId"`
	QuotaID             string `json:"quotaId"`
	SpendingLimit       string `json:"spendingLimit"`
}

// EnsureSubscription creates a subscription if it does not exist yet.
func EnsureSubscription(ctx context.Context, st store.Store, tenantID, subscriptionID, displayName string) error {
	id := "/subscriptions/" + subscriptionID
	body, err := json.Marshal(Subscription{
		ID: id, Type: arm.TypeSubscription, Name: subscriptionID, SubscriptionID: subscriptionID,
		DisplayName: displayName, State: "Enabled", TenantID: tenantID, AuthorizationSource: "RoleBased",
		SubscriptionPolicies: Policies{LocationPlacementID: "Public_2014-09-01", QuotaID: "Perimeter_2026-01-01", SpendingLimit: "Off"},
	})
	if err != nil {
		return err
	}
	_, err = store.Put(ctx, st, store.Document{ID: id, Type: arm.TypeSubscription, Body: body}, store.Precondition{IfNoneMatch: "*"})
	if err != nil && !isExists(err) {
		return fmt.Errorf("create subscription %s: %w", subscriptionID, err)
	}
	return nil
}

func isExists(err error) bool { return errors.Is(err, store.ErrPreconditionFailed) }

// ManagedIdentityTenant is the tenant a managed identity created in a
// subscription belongs to: the subscription's tenant, as in Azure, or the
// caller's when the subscription does not say.
func ManagedIdentityTenant(ctx context.Context, st store.Store, subscriptionID string, caller arm.Caller) (string, error) {
	doc, err := st.Get(ctx, "/subscriptions/"+subscriptionID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("read subscription: %w", err)
	}
	if err == nil {
		var s Subscription
		if json.Unmarshal(doc.Body, &s) == nil && s.TenantID != "" {
			return s.TenantID, nil
		}
	}
	if caller.TenantID == "" {
		return "", errors.New("neither the subscription nor the caller names a tenant for the managed identity")
	}
	return caller.TenantID, nil
}

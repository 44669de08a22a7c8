package resources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/store"
)

// Feature is a preview feature a subscription can register. Registration
// is approved automatically: there is no one to approve it in a
// self-hosted installation.
type Feature struct {
	Namespace         string
	Name              string
	DisplayName       string
	Description       string
	DocumentationLink string
}

// PreviewFeatures are the preview features this installation knows.
// Providers gate behaviour on them with FeatureRegistered.
var PreviewFeatures = []Feature{
	{
		Namespace: "Microsoft.CognitiveServices", Name: "OpenAI.NspPreview",
		DisplayName: "Network security perimeter for Azure AI Foundry",
		Description: "Associate AI services accounts with network security perimeters (public preview).",
	},
}

// FeatureAPIVersions are the Microsoft.Features api-versions served.
var FeatureAPIVersions = []string{"2015-12-01", "2021-07-01"}

const (
	typeFeatureProviders = "Microsoft.Features/featureProviders"
	typeRegistrations    = "Microsoft.Features/featureProviders/subscriptionFeatureRegistrations"
	typeAllRegistrations = "Microsoft.Features/subscriptionFeatureRegistrations"
	typeFeatureNS        = "Microsoft.Features/providers"
	typeFeatures         = "Microsoft.Features/providers/features"
	typeAllFeatures      = "Microsoft.Features/features"
)

// FeatureRegistered reports whether a subscription has registered a preview
// feature ("Microsoft.CognitiveServices", "OpenAI.NspPreview").
func FeatureRegistered(ctx context.Context, st store.Store, subscriptionID, namespace, name string) (bool, error) {
	_, err := st.Get(ctx, registrationID(subscriptionID, namespace, name))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func registrationID(sub, ns, name string) string {
	return fmt.Sprintf("/subscriptions/%s/providers/Microsoft.Features/featureProviders/%s/subscriptionFeatureRegistrations/%s", sub, ns, name)
}

type features struct {
	srv     *arm.Server
	catalog []Feature
}

func (f *features) find(ns, name string) (Feature, error) {
	for _, ft := range f.catalog {
		if strings.EqualFold(ft.Namespace, ns) && strings.EqualFold(ft.Name, name) {
			return ft, nil
		}
	}
	return Feature{}, arm.Errorf(http.StatusNotFound, "FeatureNotFound",
		"The feature '%s' could not be found in namespace '%s'. GET /subscriptions/{id}/providers/Microsoft.Features/features lists the known features.", name, ns)
}

func (f *features) inNamespace(ns string) []Feature {
	var out []Feature
	for _, ft := range f.catalog {
		if ns == "" || strings.EqualFold(ft.Namespace, ns) {
			out = append(out, ft)
		}
	}
	return out
}

// registration is the properties of a subscriptionFeatureRegistration.
type registration struct {
	TenantID          string `json:"tenantId"`
	SubscriptionID    string `json:"subscriptionId"`
	FeatureName       string `json:"featureName"`
	DisplayName       string `json:"displayName"`
	ProviderNamespace string `json:"providerNamespace"`
	State             string `json:"state"`
	ApprovalType      string `json:"approvalType"`
	RegistrationDate  string `json:"registrationDate"`
	Description       string `json:"description,omitempty"`
	DocumentationLink string `json:"documentationLink,omitempty"`
	ShouldDisplay     bool   `json:"shouldFeatureDisplayInPortal"`
}

// featureProviders is the virtual parent .../featureProviders/{namespace}.
type featureProviders struct{ *features }

func (featureProviders) Spec() arm.Spec {
	return arm.Spec{Type: typeFeatureProviders, APIVersions: FeatureAPIVersions, ParentType: arm.TypeSubscription}
}

func (f featureProviders) Get(_ context.Context, r *arm.Request) (any, error) {
	ns := r.Elems[len(r.Elems)-1].Name
	return map[string]string{"id": r.ID, "name": ns, "type": typeFeatureProviders}, nil
}

func (f featureProviders) List(context.Context, *arm.Request) ([]any, error) { return []any{}, nil }

// featureRegistrations are subscriptionFeatureRegistrations: PUT registers
// a preview feature (az feature registration create), DELETE unregisters it.
type featureRegistrations struct{ *features }

func (featureRegistrations) Spec() arm.Spec {
	return arm.Spec{Type: typeRegistrations, APIVersions: FeatureAPIVersions, ParentType: typeFeatureProviders}
}

func (f featureRegistrations) Prepare(_ context.Context, w *arm.Write) error {
	ft, err := f.find(w.Elems[len(w.Elems)-2].Name, w.Elems[len(w.Elems)-1].Name)
	if err != nil {
		return err
	}
	w.New.Name = ft.Name
	w.New.Properties, err = registrationProperties(w.Request, ft, w.New.SystemData.CreatedAt)
	return err
}

func registrationProperties(r *arm.Request, ft Feature, at time.Time) (json.RawMessage, error) {
	return json.Marshal(registration{
		TenantID: r.Caller.TenantID, SubscriptionID: r.SubscriptionID(), FeatureName: ft.Name, DisplayName: ft.DisplayName,
		ProviderNamespace: ft.Namespace, State: "Registered", ApprovalType: "AutoApproval",
		RegistrationDate: at.UTC().Format(time.RFC3339), Description: ft.Description,
		DocumentationLink: ft.DocumentationLink, ShouldDisplay: true,
	})
}

// subscriptionFeatureRegistrations lists every registration of a
// subscription: .../providers/Microsoft.Features/subscriptionFeatureRegistrations.
type subscriptionFeatureRegistrations struct{ *features }

func (subscriptionFeatureRegistrations) Spec() arm.Spec {
	return arm.Spec{Type: typeAllRegistrations, APIVersions: FeatureAPIVersions, ParentType: arm.TypeSubscription}
}

func (f subscriptionFeatureRegistrations) Get(context.Context, *arm.Request) (any, error) {
	return nil, arm.Errorf(http.StatusNotFound, arm.CodeResourceNotFound, "Read a registration under .../featureProviders/{namespace}/subscriptionFeatureRegistrations/{feature}.")
}

func (f subscriptionFeatureRegistrations) List(ctx context.Context, r *arm.Request) ([]any, error) {
	docs, err := f.srv.Store().List(ctx, store.ListOptions{Type: typeRegistrations, Under: r.ID})
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(docs))
	for _, d := range docs {
		out = append(out, json.RawMessage(d.Body))
	}
	return out, nil
}

// legacyFeature is the older Microsoft.Features/providers/{ns}/features
// shape that `az feature register|show|list` use.
type legacyFeature struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Properties struct {
		State string `json:"state"`
	} `json:"properties"`
}

func (f *features) legacy(ctx context.Context, sub string, ft Feature) (legacyFeature, error) {
	var out legacyFeature
	out.ID = fmt.Sprintf("/subscriptions/%s/providers/Microsoft.Features/providers/%s/features/%s", sub, ft.Namespace, ft.Name)
	out.Name = ft.Namespace + "/" + ft.Name
	out.Type = typeFeatures
	ok, err := FeatureRegistered(ctx, f.srv.Store(), sub, ft.Namespace, ft.Name)
	out.Properties.State = "NotRegistered"
	if ok {
		out.Properties.State = "Registered"
	}
	return out, err
}

func (f *features) legacyList(ctx context.Context, sub, ns string) ([]any, error) {
	out := []any{}
	for _, ft := range f.inNamespace(ns) {
		v, err := f.legacy(ctx, sub, ft)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// featureNamespaces is the virtual parent .../Microsoft.Features/providers/{namespace}.
type featureNamespaces struct{ *features }

func (featureNamespaces) Spec() arm.Spec {
	return arm.Spec{Type: typeFeatureNS, APIVersions: FeatureAPIVersions, ParentType: arm.TypeSubscription}
}

func (f featureNamespaces) Get(_ context.Context, r *arm.Request) (any, error) {
	return map[string]string{"id": r.ID, "name": r.Elems[len(r.Elems)-1].Name}, nil
}

func (f featureNamespaces) List(context.Context, *arm.Request) ([]any, error) { return []any{}, nil }

// legacyFeatures serves .../Microsoft.Features/providers/{ns}/features[/{f}[/register|/unregister]].
type legacyFeatures struct{ *features }

func (legacyFeatures) Spec() arm.Spec {
	return arm.Spec{Type: typeFeatures, APIVersions: FeatureAPIVersions, ParentType: typeFeatureNS, Actions: []string{"register", "unregister"}}
}

func (f legacyFeatures) Get(ctx context.Context, r *arm.Request) (any, error) {
	n := len(r.Elems)
	ft, err := f.find(r.Elems[n-2].Name, r.Elems[n-1].Name)
	if err != nil {
		return nil, err
	}
	return f.legacy(ctx, r.SubscriptionID(), ft)
}

func (f legacyFeatures) List(ctx context.Context, r *arm.Request) ([]any, error) {
	return f.legacyList(ctx, r.SubscriptionID(), r.Elems[len(r.Elems)-1].Name)
}

func (f legacyFeatures) Action(ctx context.Context, a *arm.Action) (*arm.Result, error) {
	n := len(a.Elems)
	ft, err := f.find(a.Elems[n-2].Name, a.Elems[n-1].Name)
	if err != nil {
		return nil, err
	}
	sub := a.SubscriptionID()
	id := registrationID(sub, ft.Namespace, ft.Name)
	if a.Name == "unregister" {
		if _, err := store.Delete(ctx, f.srv.Store(), id, store.Precondition{}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	} else if err := f.register(ctx, a.Request, ft, id); err != nil {
		return nil, err
	}
	v, err := f.legacy(ctx, sub, ft)
	if err != nil {
		return nil, err
	}
	return &arm.Result{Body: v}, nil
}

// register stores the document a PUT of the subscriptionFeatureRegistration
// would; registering twice keeps the first registration.
func (f *features) register(ctx context.Context, r *arm.Request, ft Feature, id string) error {
	now := f.srv.Now().UTC()
	props, err := registrationProperties(r, ft, now)
	if err != nil {
		return err
	}
	res := arm.Resource{ID: id, Name: ft.Name, Type: typeRegistrations, Properties: props, SystemData: &arm.SystemData{
		CreatedBy: r.Caller.Name(), CreatedByType: r.Caller.Type, CreatedAt: now,
		LastModifiedBy: r.Caller.Name(), LastModifiedByType: r.Caller.Type, LastModifiedAt: now,
	}}
	if err := res.SetProperty("provisioningState", "Succeeded"); err != nil {
		return err
	}
	body, err := json.Marshal(res)
	if err != nil {
		return err
	}
	parent := fmt.Sprintf("/subscriptions/%s/providers/Microsoft.Features/featureProviders/%s", r.SubscriptionID(), ft.Namespace)
	_, err = store.Put(ctx, f.srv.Store(), store.Document{ID: id, Type: typeRegistrations, Parent: parent, Body: body}, store.Precondition{IfNoneMatch: "*"})
	if errors.Is(err, store.ErrPreconditionFailed) {
		return nil
	}
	return err
}

// allLegacyFeatures lists every feature: .../providers/Microsoft.Features/features.
type allLegacyFeatures struct{ *features }

func (allLegacyFeatures) Spec() arm.Spec {
	return arm.Spec{Type: typeAllFeatures, APIVersions: FeatureAPIVersions, ParentType: arm.TypeSubscription}
}

func (f allLegacyFeatures) Get(context.Context, *arm.Request) (any, error) {
	return nil, arm.Errorf(http.StatusNotFound, "FeatureNotFound", "Read a feature under .../providers/Microsoft.Features/providers/{namespace}/features/{feature}.")
}

func (f allLegacyFeatures) List(ctx context.Context, r *arm.Request) ([]any, error) {
	return f.legacyList(ctx, r.SubscriptionID(), "")
}

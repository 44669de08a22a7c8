package cognitive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/models"
	"github.com/perimeterhq/perimeter/internal/store"
)

// The model catalog is shown in Azure's shapes: GET
// .../locations/{location}/models answers ModelListResult (each model per
// account kind that can deploy it), GET .../accounts/{a}/models answers
// AccountModelListResult (the models the account can deploy). The catalog
// is the same in every location.

// catalogModel is Azure's AccountModel for a catalog entry.
type catalogModel struct {
	Format           string            `json:"format"`
	Name             string            `json:"name"`
	Version          string            `json:"version"`
	Capabilities     map[string]string `json:"capabilities"`
	IsDefaultVersion bool              `json:"isDefaultVersion"`
	LifecycleStatus  string            `json:"lifecycleStatus"`
	MaxCapacity      int               `json:"maxCapacity"`
	SKUs             []modelSKU        `json:"skus"`
}

// modelSKU is a deployment SKU a model can be deployed with.
type modelSKU struct {
	Name      string         `json:"name"`
	UsageName string         `json:"usageName"`
	Capacity  capacityConfig `json:"capacity"`
}

type capacityConfig struct {
	Minimum int `json:"minimum"`
	Maximum int `json:"maximum"`
	Default int `json:"default"`
}

// locationModel is Azure's Model: a catalog model for one account kind.
type locationModel struct {
	Kind    string       `json:"kind"`
	SKUName string       `json:"skuName"`
	Model   catalogModel `json:"model"`
}

// describe shows a catalog entry as Azure shows a model.
func describe(c *models.Catalog, m models.Model) catalogModel {
	def, _ := c.Find(m.Format, m.Name, "")
	out := catalogModel{
		Format: m.Format, Name: m.Name, Version: m.Version, Capabilities: capabilities(m),
		IsDefaultVersion: def.Version == m.Version, LifecycleStatus: "GenerallyAvailable", MaxCapacity: m.Capacity(),
	}
	for _, sku := range deploymentSKUs() {
		out.SKUs = append(out.SKUs, modelSKU{
			Name: sku, UsageName: fmt.Sprintf("%s.%s.%s", m.Format, sku, m.Name),
			Capacity: capacityConfig{Minimum: 1, Maximum: m.Capacity(), Default: min(defaultCapacity, m.Capacity())},
		})
	}
	return out
}

// locations is the virtual parent
// /subscriptions/{s}/providers/Microsoft.CognitiveServices/locations/{location}.
type locations struct{ *provider }

func (*locations) Spec() arm.Spec {
	return arm.Spec{Type: TypeLocations, APIVersions: accountAPIVersions(), ParentType: arm.TypeSubscription, ReadOnly: true}
}

// location returns the canonical name of a known location, or a 404.
func (p *provider) location(name string) (string, error) {
	loc := arm.NormalizeLocation(name)
	for _, l := range p.srv.Locations() {
		if arm.NormalizeLocation(l) == loc {
			return loc, nil
		}
	}
	return "", arm.Errorf(http.StatusNotFound, arm.CodeInvalidLocation,
		"The location '%s' is not available. Use one of: %s.", name, strings.Join(p.srv.Locations(), ", "))
}

func (l *locations) Get(_ context.Context, r *arm.Request) (any, error) {
	loc, err := l.location(r.Elems[len(r.Elems)-1].Name)
	if err != nil {
		return nil, err
	}
	return map[string]string{"id": "/subscriptions/" + r.SubscriptionID() + "/providers/" + namespace + "/locations/" + loc, "name": loc, "type": TypeLocations}, nil
}

func (l *locations) List(_ context.Context, r *arm.Request) ([]any, error) {
	var out []any
	for _, loc := range l.srv.Locations() {
		out = append(out, map[string]string{"id": "/subscriptions/" + r.SubscriptionID() + "/providers/" + namespace + "/locations/" + loc, "name": loc, "type": TypeLocations})
	}
	return out, nil
}

// locationModels is GET .../locations/{location}/models.
type locationModels struct{ *provider }

func (*locationModels) Spec() arm.Spec {
	return arm.Spec{Type: TypeLocationModels, APIVersions: accountAPIVersions(), ParentType: TypeLocations, ReadOnly: true}
}

func (*locationModels) Get(context.Context, *arm.Request) (any, error) {
	return nil, arm.Errorf(http.StatusNotFound, arm.CodeResourceNotFound, "Models are listed, not read one by one: GET .../locations/{location}/models.")
}

func (m *locationModels) List(_ context.Context, r *arm.Request) ([]any, error) {
	if _, err := m.location(r.Elems[len(r.Elems)-1].Name); err != nil {
		return nil, err
	}
	var out []any
	for _, model := range m.cfg.Catalog.All() {
		for _, kind := range []string{kindAIServices, kindOpenAI} {
			out = append(out, locationModel{Kind: kind, SKUName: "S0", Model: describe(m.cfg.Catalog, model)})
		}
	}
	return out, nil
}

// accountModels is GET .../accounts/{a}/models: what the account can
// deploy — the whole catalog for the kinds with deployments, nothing for
// the others.
type accountModels struct{ *provider }

func (*accountModels) Spec() arm.Spec {
	return arm.Spec{Type: TypeAccountModels, APIVersions: accountAPIVersions(), ParentType: TypeAccounts, ReadOnly: true}
}

func (*accountModels) Get(context.Context, *arm.Request) (any, error) {
	return nil, arm.Errorf(http.StatusNotFound, arm.CodeResourceNotFound, "Models are listed, not read one by one: GET .../accounts/{account}/models.")
}

func (m *accountModels) List(ctx context.Context, r *arm.Request) ([]any, error) {
	doc, err := m.store().Get(ctx, r.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, arm.Errorf(http.StatusNotFound, arm.CodeResourceNotFound, "The account '%s' was not found.", r.ID)
	}
	if err != nil {
		return nil, err
	}
	var acct arm.Resource
	if err := json.Unmarshal(doc.Body, &acct); err != nil {
		return nil, fmt.Errorf("account %s: %w", r.ID, err)
	}
	out := []any{}
	if !servedKind(acct.Kind) {
		return out, nil
	}
	for _, model := range m.cfg.Catalog.All() {
		out = append(out, describe(m.cfg.Catalog, model))
	}
	return out, nil
}

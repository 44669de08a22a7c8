package resources

import (
	"context"
	"net/http"
	"sort"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/store"
)

// providers is the view of resource providers (namespaces) and their
// registration in a subscription: GET .../providers, GET
// .../providers/{namespace}, POST .../providers/{namespace}/register and
// /unregister. Registration completes at once: nothing has to be set up
// behind it, so clients polling for "Registered" see it on the first poll.
type providers struct{ srv *arm.Server }

func (*providers) Spec() arm.Spec {
	return arm.Spec{
		Type:        arm.TypeProvider,
		APIVersions: arm.ResourcesAPIVersions,
		ParentType:  arm.TypeSubscription,
		Actions:     []string{"register", "unregister"},
		// Azure's read of providers is "Microsoft.Resources/subscriptions/providers/read",
		// which custom roles name.
		Operation: "Microsoft.Resources/subscriptions/providers",
	}
}

// Provider is ARM's provider shape.
type Provider struct {
	ID                 string         `json:"id"`
	Namespace          string         `json:"namespace"`
	RegistrationState  string         `json:"registrationState"`
	RegistrationPolicy string         `json:"registrationPolicy"`
	ResourceTypes      []ProviderType `json:"resourceTypes"`
}

// ProviderType is one resource type of a provider.
type ProviderType struct {
	ResourceType string   `json:"resourceType"`
	Locations    []string `json:"locations"`
	APIVersions  []string `json:"apiVersions"`
	Capabilities string   `json:"capabilities"`
}

// namespaces groups the registered types by namespace, with canonical casing.
func (p *providers) namespaces() map[string][]arm.Spec {
	out := map[string][]arm.Spec{}
	for _, s := range p.srv.Specs() {
		ns := arm.Namespace(s.Type)
		out[ns] = append(out[ns], s)
	}
	return out
}

func (p *providers) lookup(name string) (string, []arm.Spec, error) {
	for ns, specs := range p.namespaces() {
		if strings.EqualFold(ns, name) {
			return ns, specs, nil
		}
	}
	return "", nil, arm.Errorf(http.StatusNotFound, "InvalidResourceNamespace",
		"The resource namespace '%s' is invalid. GET /subscriptions/{id}/providers lists the namespaces this server provides.", name)
}

func (p *providers) view(ctx context.Context, sub, ns string, specs []arm.Spec) (Provider, error) {
	state, err := p.srv.RegistrationState(ctx, sub, ns)
	if err != nil {
		return Provider{}, err
	}
	policy := "RegistrationRequired"
	if arm.AlwaysRegistered(ns) {
		policy = "RegistrationFree"
	}
	out := Provider{ID: arm.RegistrationID(sub, ns), Namespace: ns, RegistrationState: state, RegistrationPolicy: policy, ResourceTypes: []ProviderType{}}
	for _, s := range specs {
		_, rest, _ := strings.Cut(s.Type, "/")
		locs := []string{}
		if s.Location != arm.LocationNone {
			locs = p.srv.Locations()
		}
		out.ResourceTypes = append(out.ResourceTypes, ProviderType{ResourceType: rest, Locations: locs, APIVersions: s.APIVersions, Capabilities: "None"})
	}
	return out, nil
}

func (p *providers) Get(ctx context.Context, r *arm.Request) (any, error) {
	ns, specs, err := p.lookup(r.Elems[len(r.Elems)-1].Name)
	if err != nil {
		return nil, err
	}
	return p.view(ctx, r.SubscriptionID(), ns, specs)
}

func (p *providers) List(ctx context.Context, r *arm.Request) ([]any, error) {
	all := p.namespaces()
	names := make([]string, 0, len(all))
	for ns := range all {
		names = append(names, ns)
	}
	sort.Strings(names)
	out := make([]any, 0, len(names))
	for _, ns := range names {
		v, err := p.view(ctx, r.SubscriptionID(), ns, all[ns])
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (p *providers) Action(ctx context.Context, a *arm.Action) (*arm.Result, error) {
	ns, specs, err := p.lookup(a.Elems[len(a.Elems)-1].Name)
	if err != nil {
		return nil, err
	}
	sub := a.SubscriptionID()
	if !arm.AlwaysRegistered(ns) {
		state := arm.Registered
		if a.Name == "unregister" {
			if err := p.checkUnused(ctx, sub, ns); err != nil {
				return nil, err
			}
			state = arm.Unregistered
		}
		if err := p.srv.SetRegistrationState(ctx, sub, ns, state); err != nil {
			return nil, err
		}
	}
	v, err := p.view(ctx, sub, ns, specs)
	if err != nil {
		return nil, err
	}
	return &arm.Result{Body: v}, nil
}

// checkUnused refuses to unregister a namespace whose resources still exist.
func (p *providers) checkUnused(ctx context.Context, sub, ns string) error {
	prefix := strings.ToLower(ns) + "/"
	after := ""
	for {
		docs, err := p.srv.Store().List(ctx, store.ListOptions{Under: "/subscriptions/" + sub, After: after, Limit: 500})
		if err != nil {
			return err
		}
		for _, d := range docs {
			if strings.HasPrefix(d.Type, prefix) {
				return arm.Errorf(http.StatusConflict, "ResourcesStillExist",
					"The namespace '%s' cannot be unregistered while its resources exist, for example '%s'. Delete them first.", ns, d.ID)
			}
		}
		if len(docs) < 500 {
			return nil
		}
		after = docs[len(docs)-1].ID
	}
}

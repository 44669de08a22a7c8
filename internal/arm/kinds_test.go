package arm_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/store"
)

// widgets are a test resource type: tracked, async provisioning, with a
// validated property, a child type and an action.
type widgets struct{}

func (widgets) Spec() arm.Spec {
	return arm.Spec{
		Type: "Microsoft.Test/widgets", APIVersions: []string{"2030-01-01"}, ParentType: arm.TypeResourceGroup,
		ListUnder: []string{arm.TypeSubscription}, Location: arm.LocationRequired, Tracked: true,
		AsyncProvisioning: true, BodyETag: true, Actions: []string{"ping"},
	}
}

type widgetProps struct {
	Size      int      `json:"size"`
	Color     string   `json:"color,omitempty"`
	Ready     bool     `json:"ready,omitempty"`
	DependsOn []string `json:"dependsOn,omitempty"`
	// Reserve claims a name across the installation, in a document outside
	// the widget's subtree (the Cleaner removes it).
	Reserve string `json:"reserve,omitempty"`
}

func reservationID(name string) string { return "/perimeter/test-reservations/" + name }

func (widgets) Prepare(_ context.Context, w *arm.Write) error {
	var p widgetProps
	if err := arm.DecodeProperties(w.New.Properties, &p); err != nil {
		return err
	}
	if p.Size < 0 || p.Size > 10 {
		return arm.InvalidProperty("InvalidSize", "properties.size", "The size %d is out of range; use 0 to 10.", p.Size)
	}
	w.References = p.DependsOn
	if p.Reserve != "" && w.Old == nil {
		w.Ops = append(w.Ops, store.Op{Put: &store.Document{ID: reservationID(p.Reserve), Type: "Test/reservation", Body: json.RawMessage(`{}`)},
			If: store.Precondition{IfNoneMatch: "*"}})
	}
	return nil
}

type cleanerWidgets struct {
	widgets
	st store.Store
}

func (c cleanerWidgets) Cleanup(ctx context.Context, r *arm.Resource, _ string) ([]store.Op, error) {
	var p widgetProps
	_ = json.Unmarshal(r.Properties, &p)
	if p.Reserve == "" {
		return nil, nil
	}
	if _, err := c.st.Get(ctx, reservationID(p.Reserve)); errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return []store.Op{{Delete: reservationID(p.Reserve)}}, nil
}

func (widgets) Provision(_ context.Context, r *arm.Resource) (json.RawMessage, error) {
	var p widgetProps
	_ = json.Unmarshal(r.Properties, &p)
	if p.Color == "fail" {
		return nil, arm.BadRequest("ProvisioningFailed", "widgets cannot be colored 'fail'")
	}
	p.Ready = true
	return json.Marshal(p)
}

func (widgets) Action(_ context.Context, a *arm.Action) (*arm.Result, error) {
	return &arm.Result{Body: map[string]string{"pong": a.Resource.Name}}, nil
}

// gadgets are children of widgets. A gadget named "race" deletes its parent
// while its own PUT is being prepared, as a concurrent delete would.
// checks is a subscription-level collection action:
// POST .../providers/Microsoft.Test/checkWidgetName.
type checks struct{}

func (checks) Spec() arm.Spec {
	return arm.Spec{Type: "Microsoft.Test/checkWidgetName", APIVersions: []string{"2030-01-01"}, ParentType: arm.TypeSubscription, ReadOnly: true, Actions: []string{""}}
}

func (checks) Get(context.Context, *arm.Request) (any, error) {
	return nil, arm.BadRequest("NotReadable", "POST it")
}
func (checks) List(context.Context, *arm.Request) ([]any, error) {
	return nil, arm.Errorf(http.StatusMethodNotAllowed, arm.CodeMethodNotAllowed, "POST it")
}

func (checks) Action(_ context.Context, a *arm.Action) (*arm.Result, error) {
	var in struct{ Name string }
	if err := json.Unmarshal(a.Body, &in); err != nil {
		return nil, arm.BadRequest(arm.CodeInvalidRequestContent, "send {\"name\": ...}")
	}
	return &arm.Result{Body: map[string]any{"name": in.Name, "available": in.Name != "taken", "subscription": a.SubscriptionID()}}, nil
}

type gadgets struct{ st store.Store }

func (g gadgets) Prepare(ctx context.Context, w *arm.Write) error {
	if w.Elems[len(w.Elems)-1].Name == "race" {
		_, err := store.Delete(ctx, g.st, w.Parent.ID, store.Precondition{})
		return err
	}
	return nil
}

func (gadgets) Spec() arm.Spec {
	return arm.Spec{Type: "Microsoft.Test/widgets/gadgets", APIVersions: []string{"2030-01-01"}, ParentType: "Microsoft.Test/widgets", Location: arm.LocationInherited}
}

package arm_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/store"
)

// grant is one role assignment of the fake authorizer: an action ("*",
// "*/read" or an exact action) at a scope and below.
type grant struct{ action, scope string }

// grants is a fake RBAC: what each object id holds. The harness
// administrator holds "*" at the root.
type grants map[string][]grant

func (g grants) Permissions(_ context.Context, c arm.Caller) (arm.Permissions, error) {
	if c.ObjectID == armtest.ObjectID {
		return held{{"*", "/"}}, nil
	}
	return held(g[c.ObjectID]), nil
}

type held []grant

func (h held) Allows(a arm.Access) bool {
	for _, g := range h {
		if within(a.Scope, g.scope) && (g.action == "*" || strings.EqualFold(g.action, a.Action) ||
			(g.action == "*/read" && strings.HasSuffix(a.Action, "/read"))) {
			return true
		}
	}
	return false
}

// MayEver: a grant of the action at or above the scope (or below it,
// with within), whatever its conditions (this fake has none).
func (h held) MayEver(a arm.Access, below bool) bool {
	for _, g := range h {
		if (within(a.Scope, g.scope) || (below && within(g.scope, a.Scope))) && (g.action == "*" || strings.EqualFold(g.action, a.Action) ||
			(g.action == "*/read" && strings.HasSuffix(a.Action, "/read"))) {
			return true
		}
	}
	return false
}

func (h held) HoldsBelow(scope string) bool {
	for _, g := range h {
		if !strings.EqualFold(g.scope, scope) && within(g.scope, scope) {
			return true
		}
	}
	return false
}

// within reports whether id is scope or lies below it.
func within(id, scope string) bool {
	id, scope = strings.ToLower(id), strings.ToLower(strings.TrimSuffix(scope, "/"))
	return scope == "" || id == scope || strings.HasPrefix(id, scope+"/")
}

// notes is a Reader kind that declares it honours Request.MayRead: one
// note per resource group of the test, each shown only if readable.
type notes struct{}

func (notes) Spec() arm.Spec {
	return arm.Spec{Type: "Microsoft.Test/notes", APIVersions: []string{"2030-01-01"}, ParentType: arm.TypeSubscription,
		ReadOnly: true, HonoursMayRead: true}
}

func (notes) Get(context.Context, *arm.Request) (any, error) {
	return nil, arm.Errorf(http.StatusNotFound, arm.CodeResourceNotFound, "list them")
}

func (notes) List(_ context.Context, r *arm.Request) ([]any, error) {
	out := []any{}
	for _, g := range []string{"g", "h"} {
		id := rgPath(g) + "/providers/Microsoft.Test/notes/n"
		if r.MayRead == nil || r.MayRead(id, "Microsoft.Test/notes") {
			out = append(out, map[string]any{"id": id, "filtered": r.MayRead != nil})
		}
	}
	return out, nil
}

// newRBACEnv is the test kinds (and notes) with the fake RBAC g, and
// groups g and h with a widget w in g that has a gadget x.
func newRBACEnv(t *testing.T, g grants) *env {
	t.Helper()
	e := newEnv(t, armtest.Authorizer(func(store.Store) arm.Authorizer { return g }),
		armtest.Kinds(func(*arm.Server, store.Store) []arm.Kind { return []arm.Kind{notes{}} }))
	e.Register("Microsoft.Test")
	for _, rg := range []string{"g", "h"} {
		e.Must(http.StatusCreated, http.MethodPut, rgPath(rg)+rgAPI, map[string]any{"location": "eastus"})
	}
	r := e.Must(http.StatusCreated, http.MethodPut, widgetPath("g", "w")+testAPI, map[string]any{"location": "eastus"})
	e.WaitOperation(r.Header.Get("Location"))
	e.Must(http.StatusCreated, http.MethodPut, widgetPath("g", "w")+"/gadgets/x"+testAPI, map[string]any{})
	return e
}

// as runs f with requests made as the principal oid.
func (e *env) as(oid string, f func()) {
	e.Token = armtest.As(oid)
	defer func() { e.Token = armtest.Token }()
	f()
}

// names lists the "name" (or "id") of every item of a list response.
func names(t *testing.T, r armtest.Response) []string {
	t.Helper()
	var out []string
	for _, it := range r.JSON(t)["value"].([]any) {
		m := it.(map[string]any)
		n, _ := m["name"].(string)
		if n == "" {
			n, _ = m["id"].(string)
		}
		out = append(out, n)
	}
	return out
}

// A role on a child makes its resource group (and subscription) appear in
// lists, as Azure shows them, but not the parent resource itself, which
// the caller may not GET: its document (networkAcls, identity) stays
// hidden.
func TestFilteredListsHideParentsTheCallerCannotRead(t *testing.T) {
	const child = "gadget-reader"
	e := newRBACEnv(t, grants{child: {{"*/read", widgetPath("g", "w") + "/gadgets/x"}}})
	e.as(child, func() {
		e.Must(http.StatusForbidden, http.MethodGet, widgetPath("g", "w")+testAPI, nil)
		e.Must(http.StatusOK, http.MethodGet, widgetPath("g", "w")+"/gadgets/x"+testAPI, nil)
		if got := names(t, e.Must(http.StatusOK, http.MethodGet, "/subscriptions"+rgAPI, nil)); len(got) != 1 {
			t.Errorf("subscriptions: %v, want the one holding the gadget", got)
		}
		if got := names(t, e.Must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/resourcegroups"+rgAPI, nil)); len(got) != 1 || got[0] != "g" {
			t.Errorf("resource groups: %v, want g", got)
		}
		for _, path := range []string{
			rgPath("g") + "/providers/Microsoft.Test/widgets" + testAPI,
			"/subscriptions/" + sub + "/providers/Microsoft.Test/widgets" + testAPI,
			rgPath("g") + "/resources" + rgAPI,
		} {
			if got := names(t, e.Must(http.StatusOK, http.MethodGet, path, nil)); len(got) != 0 {
				t.Errorf("GET %s lists %v: the widget the caller cannot GET", path, got)
			}
		}
		if got := names(t, e.Must(http.StatusOK, http.MethodGet, widgetPath("g", "w")+"/gadgets"+testAPI, nil)); len(got) != 1 || got[0] != "x" {
			t.Errorf("gadgets: %v, want x", got)
		}
	})
}

// A view kind (Reader) that does not say it honours MayRead refuses a
// list the caller may only see in part, rather than showing all of it;
// one that does gets the caller's MayRead.
func TestFilteredListsOfReaderKinds(t *testing.T) {
	const reader = "group-reader"
	e := newRBACEnv(t, grants{reader: {{"*/read", rgPath("g")}}})
	e.as(reader, func() {
		r := e.Must(http.StatusForbidden, http.MethodGet, "/subscriptions/"+sub+"/providers"+rgAPI, nil)
		if r.ErrCode(t) != arm.CodeAuthorizationFailed || !strings.Contains(r.ARMError(t).Message, "providers/read") {
			t.Errorf("providers list below the subscription: %s", r.Body)
		}
		got := e.Must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.Test/notes"+testAPI, nil).JSON(t)["value"].([]any)
		if len(got) != 1 || got[0].(map[string]any)["id"] != rgPath("g")+"/providers/Microsoft.Test/notes/n" || got[0].(map[string]any)["filtered"] != true {
			t.Errorf("notes: %v, want g's note only, filtered", got)
		}
	})
	// Allowed at the scope: no filter.
	got := e.Must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.Test/notes"+testAPI, nil).JSON(t)["value"].([]any)
	if len(got) != 2 || got[0].(map[string]any)["filtered"] != false {
		t.Errorf("notes for the administrator: %v", got)
	}
}

// An operation's URLs answer the caller who started it and whoever may
// read its resource; anyone else gets the 404 of an unknown operation,
// so the URL (logged, shared) reveals nothing.
func TestOperationsAnswerTheirCallerAndReaders(t *testing.T) {
	const writer, reader, other, nobody = "writer", "reader", "other-reader", "nobody"
	e := newRBACEnv(t, grants{
		writer: {{"*", rgPath("g")}},
		reader: {{"*/read", widgetPath("g", "w2")}},
		other:  {{"*/read", rgPath("h")}},
	})
	var started armtest.Response
	e.as(writer, func() {
		started = e.Must(http.StatusCreated, http.MethodPut, widgetPath("g", "w2")+testAPI, map[string]any{"location": "eastus"})
		if r := e.WaitOperation(started.Header.Get("Location")); r.Status != http.StatusOK {
			t.Fatalf("the caller's result: %d %s", r.Status, r.Body)
		}
	})
	urls := []string{started.Header.Get("Location"), started.Header.Get("Azure-AsyncOperation")}
	name := urls[1][strings.LastIndex(urls[1], "/")+1 : strings.Index(urls[1], "?")]
	unknown := e.Must(http.StatusNotFound, http.MethodGet, strings.Replace(urls[1], name, "00000000-0000-0000-0000-000000000000", 1), nil)
	for _, u := range urls {
		for _, who := range []string{writer, reader, armtest.ObjectID} {
			e.as(who, func() {
				r := e.Do(http.MethodGet, u, nil)
				if r.Status != http.StatusOK {
					t.Errorf("%s polls %s: %d %s", who, u, r.Status, r.Body)
				}
				if strings.Contains(u, "operationResults") && r.JSON(t)["name"] != "w2" {
					t.Errorf("%s reads the result %s", who, r.Body)
				}
			})
		}
		for _, who := range []string{other, nobody} {
			e.as(who, func() {
				r := e.Do(http.MethodGet, u, nil)
				if r.Status != http.StatusNotFound || r.ErrCode(t) != arm.CodeOperationNotFound {
					t.Fatalf("%s polls %s: %d %s, want 404 %s", who, u, r.Status, r.Body, arm.CodeOperationNotFound)
				}
				var got, want map[string]any
				_ = json.Unmarshal(r.Body, &got)
				_ = json.Unmarshal(unknown.Body, &want)
				gotMsg := got["error"].(map[string]any)["message"].(string)
				wantMsg := strings.Replace(want["error"].(map[string]any)["message"].(string), "00000000-0000-0000-0000-000000000000", name, 1)
				if gotMsg != wantMsg {
					t.Errorf("refusal %q differs from an unknown operation's %q", gotMsg, wantMsg)
				}
			})
		}
	}
}

// Listing resource providers is Azure's
// "Microsoft.Resources/subscriptions/providers/read", which custom roles
// name.
func TestProvidersListNeedsAzuresAction(t *testing.T) {
	const lister = "provider-lister"
	e := newRBACEnv(t, grants{lister: {{"Microsoft.Resources/subscriptions/providers/read", "/subscriptions/" + sub}}})
	e.as(lister, func() {
		e.Must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/providers"+rgAPI, nil)
	})
}

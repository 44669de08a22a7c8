package arm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/store"
)

func widget(deps ...string) map[string]any {
	return map[string]any{"location": "eastus", "properties": map[string]any{"dependsOn": deps}}
}

// putWidget PUTs a widget and waits for its provisioning to finish.
func (e *env) putWidget(rg, name string, body map[string]any, want int) armtest.Response {
	e.T.Helper()
	r := e.Must(want, http.MethodPut, widgetPath(rg, name)+testAPI, body)
	if loc := r.Header.Get("Location"); loc != "" {
		e.WaitOperation(loc)
	}
	return r
}

func TestReferencesGuardDeletes(t *testing.T) {
	e := newEnv(t)
	e.Register("Microsoft.Test")
	for _, g := range []string{"users", "targets"} {
		e.Must(http.StatusCreated, http.MethodPut, rgPath(g)+rgAPI, map[string]any{"location": "eastus"})
	}
	target := "/subscriptions/" + sub + "/resourceGroups/targets/providers/Microsoft.Test/widgets/t"
	e.putWidget("targets", "t", widget(), http.StatusCreated)

	// A reference to something missing is refused and writes nothing.
	before := e.Revision()
	r := e.Must(http.StatusBadRequest, http.MethodPut, widgetPath("users", "u")+testAPI, widget(target+"-missing"))
	if r.ErrCode(t) != "LinkedInvalidPropertyId" || e.Revision() != before {
		t.Fatalf("reference to a missing resource: %s (revision %d -> %d)", r.Body, before, e.Revision())
	}

	e.putWidget("users", "u", widget(strings.ToUpper(target)), http.StatusCreated)
	r = e.Must(http.StatusConflict, http.MethodDelete, widgetPath("targets", "t")+testAPI, nil)
	if r.ErrCode(t) != "InUseCannotBeDeleted" || !strings.Contains(string(r.Body), "/widgets/u") {
		t.Fatalf("delete of a referenced widget: %s", r.Body)
	}
	// Its group cannot be deleted either: something outside references inside.
	e.Must(http.StatusConflict, http.MethodDelete, rgPath("targets")+rgAPI, nil)

	// Dropping the reference frees the target.
	e.putWidget("users", "u", widget(), http.StatusOK)
	e.Must(http.StatusOK, http.MethodDelete, widgetPath("targets", "t")+testAPI, nil)

	// Deleting the referencing group releases its references.
	e.putWidget("targets", "t2", widget(), http.StatusCreated)
	t2 := "/subscriptions/" + sub + "/resourceGroups/targets/providers/Microsoft.Test/widgets/t2"
	e.putWidget("users", "u2", widget(t2), http.StatusCreated)
	del := e.Must(http.StatusAccepted, http.MethodDelete, rgPath("users")+rgAPI, nil)
	if final := e.WaitOperation(del.Header.Get("Location")); final.Status != http.StatusOK {
		t.Fatalf("delete of the referencing group: %d %s", final.Status, final.Body)
	}
	e.Must(http.StatusOK, http.MethodDelete, widgetPath("targets", "t2")+testAPI, nil)

	// References inside one subtree do not block deleting the subtree.
	e.putWidget("targets", "a", widget(), http.StatusCreated)
	a := "/subscriptions/" + sub + "/resourceGroups/targets/providers/Microsoft.Test/widgets/a"
	e.putWidget("targets", "b", widget(a), http.StatusCreated)
	del = e.Must(http.StatusAccepted, http.MethodDelete, rgPath("targets")+rgAPI, nil)
	if final := e.WaitOperation(del.Header.Get("Location")); final.Status != http.StatusOK {
		t.Fatalf("delete of a group whose resources reference each other: %d %s", final.Status, final.Body)
	}
	if docs, _ := e.Store.List(t.Context(), store.ListOptions{Under: "/subscriptions/" + sub + "/resourceGroups/targets"}); len(docs) != 0 {
		t.Errorf("bookkeeping left behind: %v", docs)
	}
}

func TestConcurrentReferencesToOneTarget(t *testing.T) {
	e := newEnv(t)
	e.Register("Microsoft.Test")
	e.Must(http.StatusCreated, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "eastus"})
	e.putWidget("g", "target", widget(), http.StatusCreated)
	target := "/subscriptions/" + sub + "/resourceGroups/g/providers/Microsoft.Test/widgets/target"
	const n = 6
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.Do(http.MethodPut, widgetPath("g", fmt.Sprintf("user-%d", i))+testAPI, widget(target))
			if r.Status != http.StatusCreated {
				t.Errorf("concurrent reference %d: %d %s", i, r.Status, r.Body)
				return
			}
			e.WaitOperation(r.Header.Get("Location"))
		}()
	}
	wg.Wait()
	e.Must(http.StatusConflict, http.MethodDelete, widgetPath("g", "target")+testAPI, nil)
	users, err := e.Server.ReferencedBy(t.Context(), target)
	if err != nil || len(users) != n {
		t.Fatalf("%d concurrent references recorded, want %d: %v %v", len(users), n, users, err)
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := e.Do(http.MethodDelete, widgetPath("g", fmt.Sprintf("user-%d", i))+testAPI, nil); r.Status != http.StatusOK {
				t.Errorf("delete user %d: %d %s", i, r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	e.Must(http.StatusOK, http.MethodDelete, widgetPath("g", "target")+testAPI, nil)
	if users, err := e.Server.ReferencedBy(t.Context(), target); err != nil || len(users) != 0 {
		t.Fatalf("references left after every user was deleted: %v %v", users, err)
	}
}

// hookStore runs before once, just before the first Apply that writes an
// inbound reference list: the moment a racing delete would hurt most.
type hookStore struct {
	store.Store
	once   sync.Once
	before func()
}

func (h *hookStore) Apply(ctx context.Context, ops ...store.Op) ([]store.Document, error) {
	for _, op := range ops {
		if op.Put != nil && strings.HasSuffix(op.Put.ID, "/%inbound") {
			h.once.Do(h.before)
		}
	}
	return h.Store.Apply(ctx, ops...)
}

// TestReferenceRacingGroupDelete: a reference to a resource inside a group
// whose delete starts after the reference was validated, but before it
// commits, must not survive as a reference to a deleted resource.
func TestReferenceRacingGroupDelete(t *testing.T) {
	var hook *hookStore
	e := newEnv(t, armtest.WrapStore(func(st store.Store) store.Store {
		hook = &hookStore{Store: st}
		return hook
	}))
	e.Register("Microsoft.Test")
	for _, g := range []string{"users", "targets"} {
		e.Must(http.StatusCreated, http.MethodPut, rgPath(g)+rgAPI, map[string]any{"location": "eastus"})
	}
	e.putWidget("targets", "t", widget(), http.StatusCreated)
	target := "/subscriptions/" + sub + "/resourceGroups/targets/providers/Microsoft.Test/widgets/t"
	var deleteLocation string
	hook.before = func() {
		r := e.Must(http.StatusAccepted, http.MethodDelete, rgPath("targets")+rgAPI, nil)
		deleteLocation = r.Header.Get("Location")
	}
	r := e.Do(http.MethodPut, widgetPath("users", "u")+testAPI, widget(target))
	if deleteLocation == "" {
		t.Fatal("the hook did not run: the test proved nothing")
	}
	final := e.WaitOperation(deleteLocation)
	switch {
	case r.Status < 300 && final.Status == http.StatusOK:
		t.Fatalf("both the reference (%d) and the group delete succeeded: the reference dangles", r.Status)
	case r.Status >= 300 && final.Status != http.StatusOK:
		t.Fatalf("both failed: reference %d %s, delete %d %s", r.Status, r.Body, final.Status, final.Body)
	}
	// Whatever won, every recorded reference points at something that exists.
	outbound, err := e.Store.List(t.Context(), store.ListOptions{Type: "Perimeter/outbound"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range outbound {
		var l struct{ IDs []string }
		_ = json.Unmarshal(d.Body, &l)
		for _, id := range l.IDs {
			if _, err := e.Store.Get(t.Context(), id); err != nil {
				t.Errorf("%s references %s, which is gone: %v", d.ID, id, err)
			}
		}
	}
}

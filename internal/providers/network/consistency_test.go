package network_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/perimeterhq/perimeter/internal/store"
)

// checkInSync asserts that the network's inline subnets and its child
// subnet documents agree exactly: same names, same properties.
func (e *env) checkInSync(vnet string) {
	e.T.Helper()
	inline := e.inline(vnet)
	var page struct{ Value []map[string]any }
	if err := json.Unmarshal(e.Must(http.StatusOK, http.MethodGet, vnetID(vnet)+"/subnets"+netAPI, nil).Body, &page); err != nil {
		e.T.Fatal(err)
	}
	if len(page.Value) != len(inline) {
		e.T.Fatalf("%d inline subnets, %d child subnets", len(inline), len(page.Value))
	}
	for _, child := range page.Value {
		name := child["name"].(string)
		in, ok := inline[name]
		if !ok {
			e.T.Fatalf("child subnet %s is missing from the network's subnets", name)
		}
		if in["id"] != child["id"] || in["type"] != child["type"] || !reflect.DeepEqual(in["properties"], child["properties"]) {
			e.T.Fatalf("subnet %s differs:\ninline %v\nchild  %v", name, in, child)
		}
	}
}

func names(m map[string]map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestInlineAndChildSubnetsStayInSync(t *testing.T) {
	e := newEnv(t)
	space := []string{"10.0.0.0/16"}
	e.Must(http.StatusCreated, http.MethodPut, vnetID("vnet")+netAPI, vnetBody(space, subnet("a", "10.0.0.0/24"), subnet("b", "10.0.1.0/24")))
	e.checkInSync("vnet")
	a := e.Must(http.StatusOK, http.MethodGet, subnetID("vnet", "a")+netAPI, nil).JSON(t)
	if a["properties"].(map[string]any)["addressPrefix"] != "10.0.0.0/24" {
		t.Fatalf("child a: %v", a)
	}

	// A child PUT appears in the network.
	e.Must(http.StatusCreated, http.MethodPut, subnetID("vnet", "c")+netAPI, subnetBody("10.0.2.0/24"))
	e.checkInSync("vnet")
	if got := names(e.inline("vnet")); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("inline subnets after child PUT: %v", got)
	}

	// A child update (here by PATCH) shows in the network.
	e.Must(http.StatusOK, http.MethodPatch, subnetID("vnet", "A")+netAPI, map[string]any{"properties": map[string]any{
		"serviceEndpoints": []any{map[string]any{"service": "Microsoft.CognitiveServices"}}}})
	e.checkInSync("vnet")
	if ses := e.inline("vnet")["a"]["properties"].(map[string]any)["serviceEndpoints"].([]any); len(ses) != 1 {
		t.Fatalf("service endpoint not shown inline: %v", ses)
	}

	// A child delete removes it from the network.
	e.Must(http.StatusOK, http.MethodDelete, subnetID("vnet", "b")+netAPI, nil)
	e.Must(http.StatusNotFound, http.MethodGet, subnetID("vnet", "b")+netAPI, nil)
	e.checkInSync("vnet")
	if got := names(e.inline("vnet")); !reflect.DeepEqual(got, []string{"a", "c"}) {
		t.Fatalf("inline subnets after child DELETE: %v", got)
	}
	e.Must(http.StatusNoContent, http.MethodDelete, subnetID("vnet", "b")+netAPI, nil)

	// Tags-only PATCH (the SDK's UpdateTags) keeps the subnets.
	e.Must(http.StatusOK, http.MethodPatch, vnetID("vnet")+netAPI, map[string]any{"tags": map[string]string{"k": "v"}})
	e.checkInSync("vnet")

	// A network PUT defines the subnet set: b is back, c is gone, a changes.
	e.Must(http.StatusOK, http.MethodPut, vnetID("vnet")+netAPI, vnetBody(space, subnet("a", "10.0.0.0/25"), subnet("b", "10.0.1.0/24")))
	e.Must(http.StatusNotFound, http.MethodGet, subnetID("vnet", "c")+netAPI, nil)
	e.checkInSync("vnet")
	if got := names(e.inline("vnet")); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("inline subnets after network PUT: %v", got)
	}

	// Omitting subnets removes them all, as in Azure.
	e.Must(http.StatusOK, http.MethodPut, vnetID("vnet")+netAPI, vnetBody(space))
	e.checkInSync("vnet")
	if got := e.inline("vnet"); len(got) != 0 {
		t.Fatalf("subnets left: %v", names(got))
	}

	// Deleting the network deletes its subnets and leaves nothing behind.
	e.Must(http.StatusOK, http.MethodPut, vnetID("vnet")+netAPI, vnetBody(space, subnet("a", "10.0.0.0/24")))
	e.Must(http.StatusOK, http.MethodDelete, vnetID("vnet")+netAPI, nil)
	e.Must(http.StatusNotFound, http.MethodGet, subnetID("vnet", "a")+netAPI, nil)
	if docs, err := e.Store.List(t.Context(), store.ListOptions{Under: vnetID("vnet")}); err != nil || len(docs) != 0 {
		t.Fatalf("documents left below a deleted network: %v %v", docs, err)
	}
}

func TestReferencedSubnetCannotBeDeleted(t *testing.T) {
	e := newEnv(t)
	space := []string{"10.0.0.0/16"}
	e.Must(http.StatusCreated, http.MethodPut, vnetID("vnet")+netAPI, vnetBody(space, subnet("used", "10.0.0.0/24"), subnet("free", "10.0.1.0/24")))
	used := subnetID("vnet", "used")
	e.Must(http.StatusCreated, http.MethodPut, userPath("rule"), map[string]any{"properties": map[string]any{"subnetIds": []string{used}}})

	refusals := []struct {
		name, method, path string
		body               any
	}{
		{"network PUT without the subnet", http.MethodPut, vnetID("vnet") + netAPI, vnetBody(space, subnet("free", "10.0.1.0/24"))},
		{"network PUT without subnets", http.MethodPut, vnetID("vnet") + netAPI, vnetBody(space)},
		{"subnet DELETE", http.MethodDelete, used + netAPI, nil},
		{"network DELETE", http.MethodDelete, vnetID("vnet") + netAPI, nil},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			before := e.Revision()
			r := e.Do(tc.method, tc.path, tc.body)
			if r.Status != http.StatusConflict {
				t.Fatalf("status %d, want 409: %s", r.Status, r.Body)
			}
			if ae := r.ARMError(t); ae.Code != "InUseSubnetCannotBeDeleted" {
				t.Errorf("code %s: %s", ae.Code, ae.Message)
			}
			if after := e.Revision(); after != before {
				t.Errorf("a refused request wrote to the store (revision %d -> %d)", before, after)
			}
		})
	}
	e.checkInSync("vnet")
	if got := names(e.inline("vnet")); !reflect.DeepEqual(got, []string{"free", "used"}) {
		t.Fatalf("subnets after refusals: %v", got)
	}

	// Changing the referenced subnet is fine; removing the other one too.
	e.Must(http.StatusOK, http.MethodPut, vnetID("vnet")+netAPI, vnetBody(space, subnet("used", "10.0.0.0/23")))
	e.checkInSync("vnet")

	// Once the reference is gone, the subnet can go.
	e.Must(http.StatusOK, http.MethodDelete, userPath("rule"), nil)
	e.Must(http.StatusOK, http.MethodPut, vnetID("vnet")+netAPI, vnetBody(space))
	e.Must(http.StatusNotFound, http.MethodGet, used+netAPI, nil)
}

// TestConcurrentReferenceAndDelete makes a reference commit between the
// in-use check of a delete and its commit: the delete must fail, and the
// reference must stay valid.
func TestConcurrentReferenceAndDelete(t *testing.T) {
	space := []string{"10.0.0.0/16"}
	deletes := []struct {
		name, method, path string
		body               any
		code               string
		hook               string // the first write of this id is where the race is
	}{
		{"network PUT", http.MethodPut, vnetID("vnet") + netAPI, vnetBody(space), "Conflict", "/subnets/s"},
		{"subnet DELETE", http.MethodDelete, subnetID("vnet", "s") + netAPI, nil, "InUseSubnetCannotBeDeleted", "/subnets/s"},
		{"network DELETE", http.MethodDelete, vnetID("vnet") + netAPI, nil, "InUseSubnetCannotBeDeleted", "/virtualNetworks/vnet"},
	}
	for _, tc := range deletes {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.Must(http.StatusCreated, http.MethodPut, vnetID("vnet")+netAPI, vnetBody(space, subnet("s", "10.0.0.0/24")))
			e.hook.deleting = tc.hook
			e.hook.before = func() {
				r := e.Do(http.MethodPut, userPath("late"), map[string]any{"properties": map[string]any{"subnetIds": []string{subnetID("vnet", "s")}}})
				if r.Status != http.StatusCreated {
					t.Errorf("concurrent reference: %d %s", r.Status, r.Body)
				}
			}
			r := e.Do(tc.method, tc.path, tc.body)
			if !e.hook.fired.Load() {
				t.Fatal("the concurrent reference was not made")
			}
			if r.Status != http.StatusConflict || r.ARMError(t).Code != tc.code {
				t.Fatalf("got %d %s, want 409 %s", r.Status, r.Body, tc.code)
			}
			e.Must(http.StatusOK, http.MethodGet, subnetID("vnet", "s")+netAPI, nil)
			e.checkInSync("vnet")
			// Retrying now gives the precise answer.
			if r := e.Do(tc.method, tc.path, tc.body); r.Status != http.StatusConflict || r.ARMError(t).Code != "InUseSubnetCannotBeDeleted" {
				t.Fatalf("retry: %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestConcurrentSubnetWrites races child PUTs and DELETEs on one network:
// each either commits or is refused with a conflict, and the network's
// inline list always matches its subnets.
func TestConcurrentSubnetWrites(t *testing.T) {
	e := newEnv(t)
	e.Must(http.StatusCreated, http.MethodPut, vnetID("vnet")+netAPI, vnetBody([]string{"10.0.0.0/16"}, subnet("keep", "10.0.200.0/24")))
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.Do(http.MethodPut, subnetID("vnet", fmt.Sprintf("s%d", i))+netAPI, subnetBody(fmt.Sprintf("10.0.%d.0/24", i)))
			if r.Status != http.StatusCreated && r.Status != http.StatusConflict {
				t.Errorf("PUT s%d: %d %s", i, r.Status, r.Body)
			}
			r = e.Do(http.MethodDelete, subnetID("vnet", "keep")+netAPI, nil)
			if r.Status != http.StatusOK && r.Status != http.StatusNoContent && r.Status != http.StatusConflict {
				t.Errorf("DELETE keep: %d %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	e.checkInSync("vnet")
}

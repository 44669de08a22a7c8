package arm_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/providers/resources"
	"github.com/perimeterhq/perimeter/internal/store"
)

func TestAuthenticationRequired(t *testing.T) {
	e := newEnv(t)
	e.Token = ""
	r := e.Must(http.StatusUnauthorized, http.MethodGet, rgPath("")+rgAPI, nil)
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	if r.ErrCode(t) != arm.CodeAuthenticationFailed {
		t.Errorf("code %s", r.ErrCode(t))
	}
	e.Token = "forged"
	e.Must(http.StatusUnauthorized, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "eastus"})
	e.Token = "good"
	e.Must(http.StatusNotFound, http.MethodGet, rgPath("g")+rgAPI, nil)
}

func TestResourceGroupLifecycle(t *testing.T) {
	e := newEnv(t)
	r := e.Must(http.StatusCreated, http.MethodPut, rgPath("Demo-RG")+rgAPI, map[string]any{"location": "East US", "tags": map[string]string{"env": "dev"}})
	got := r.JSON(t)
	wantID := "/subscriptions/" + sub + "/resourceGroups/Demo-RG"
	if got["id"] != wantID || got["name"] != "Demo-RG" || got["type"] != arm.TypeResourceGroup || got["location"] != "eastus" {
		t.Errorf("created group = %s", r.Body)
	}
	if p, _ := got["properties"].(map[string]any); p["provisioningState"] != "Succeeded" {
		t.Errorf("provisioningState = %v", got["properties"])
	}
	sd, _ := got["systemData"].(map[string]any)
	if sd["createdBy"] != "admin-app" || sd["createdByType"] != "Application" {
		t.Errorf("systemData = %v", sd)
	}
	if r.Header.Get("ETag") == "" {
		t.Error("PUT without ETag header")
	}

	// Ids are case-insensitive; the stored casing of the name wins.
	r = e.Must(http.StatusOK, http.MethodGet, "/SUBSCRIPTIONS/"+sub+"/RESOURCEGROUPS/demo-rg"+rgAPI, nil)
	if r.JSON(t)["id"] != wantID {
		t.Errorf("GET by other casing: %s", r.Body)
	}
	e.Must(http.StatusNoContent, http.MethodHead, rgPath("demo-rg")+rgAPI, nil)
	e.Must(http.StatusNotFound, http.MethodHead, rgPath("nope")+rgAPI, nil)

	// Update: 200, tags replaced, createdAt kept.
	r = e.Must(http.StatusOK, http.MethodPut, rgPath("demo-rg")+rgAPI, map[string]any{"location": "eastus", "tags": map[string]string{"env": "prod"}})
	upd := r.JSON(t)
	if tags := upd["tags"].(map[string]any); tags["env"] != "prod" {
		t.Errorf("tags after update: %v", tags)
	}
	if upd["systemData"].(map[string]any)["createdAt"] != sd["createdAt"] {
		t.Error("update changed systemData.createdAt")
	}

	// Moving a group is refused.
	if code := e.Must(http.StatusConflict, http.MethodPut, rgPath("demo-rg")+rgAPI, map[string]any{"location": "westus"}).ErrCode(t); code != "InvalidResourceLocation" {
		t.Errorf("move: code %s", code)
	}

	// PATCH replaces tags and keeps the rest.
	r = e.Must(http.StatusOK, http.MethodPatch, rgPath("demo-rg")+rgAPI, map[string]any{"tags": map[string]string{"team": "ai"}})
	if tags := r.JSON(t)["tags"].(map[string]any); len(tags) != 1 || tags["team"] != "ai" {
		t.Errorf("tags after PATCH: %v", tags)
	}
	if r.JSON(t)["location"] != "eastus" {
		t.Errorf("PATCH lost location: %s", r.Body)
	}
	e.Must(http.StatusNotFound, http.MethodPatch, rgPath("missing")+rgAPI, map[string]any{"tags": map[string]string{}})
}

func TestETagPreconditions(t *testing.T) {
	e := newEnv(t)
	etag := e.Must(http.StatusCreated, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "eastus"}).Header.Get("ETag")
	body := map[string]any{"location": "eastus", "tags": map[string]string{"a": "b"}}
	e.Must(http.StatusPreconditionFailed, http.MethodPut, rgPath("g")+rgAPI, body, "If-None-Match", "*")
	before := e.Revision()
	if code := e.Must(http.StatusPreconditionFailed, http.MethodPut, rgPath("g")+rgAPI, body, "If-Match", `"stale"`).ErrCode(t); code != arm.CodePreconditionFailed {
		t.Errorf("code %s", code)
	}
	if e.Revision() != before {
		t.Error("a refused conditional PUT wrote to the store")
	}
	newTag := e.Must(http.StatusOK, http.MethodPut, rgPath("g")+rgAPI, body, "If-Match", etag).Header.Get("ETag")
	if newTag == etag {
		t.Error("ETag did not change on update")
	}
	e.Must(http.StatusPreconditionFailed, http.MethodDelete, rgPath("g")+rgAPI, nil, "If-Match", etag)
	e.Must(http.StatusCreated, http.MethodPut, rgPath("new")+rgAPI, body, "If-None-Match", "*")
}

func TestBadInputWritesNothing(t *testing.T) {
	e := newEnv(t)
	e.Must(http.StatusCreated, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "eastus"})
	huge := `{"location":"eastus","tags":{"x":"` + strings.Repeat("a", 5<<20) + `"}}`
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
		mention            string // the message must say this
	}{
		{"malformed JSON", "PUT", rgPath("h") + rgAPI, "{\n  \"location\": \"eastus\",\n  \"tags\": {\"a\" 1}\n}", 400, arm.CodeInvalidRequestContent, "line 3"},
		{"wrong JSON type", "PUT", rgPath("h") + rgAPI, `{"location": 42}`, 400, arm.CodeInvalidRequestContent, "location"},
		{"not an object", "PUT", rgPath("h") + rgAPI, `["eastus"]`, 400, arm.CodeInvalidRequestContent, "object"},
		{"empty body", "PUT", rgPath("h") + rgAPI, "", 400, arm.CodeInvalidRequestContent, "empty"},
		{"missing api-version", "GET", rgPath("g"), nil, 400, arm.CodeMissingAPIVersion, "api-version"},
		{"unknown api-version", "GET", rgPath("g") + "?api-version=1999-01-01", nil, 400, arm.CodeInvalidAPIVersion, "2025-04-01"},
		{"name with forbidden characters", "PUT", rgPath("bad*name") + rgAPI, map[string]any{"location": "eastus"}, 400, arm.CodeInvalidResourceName, "bad*name"},
		{"name ending with a period", "PUT", rgPath("dot.") + rgAPI, map[string]any{"location": "eastus"}, 400, arm.CodeInvalidResourceName, "period"},
		{"name too long", "PUT", rgPath(strings.Repeat("n", 91)) + rgAPI, map[string]any{"location": "eastus"}, 400, arm.CodeInvalidResourceName, "90"},
		{"missing location", "PUT", rgPath("h") + rgAPI, map[string]any{}, 400, arm.CodeLocationRequired, "location"},
		{"unknown location", "PUT", rgPath("h") + rgAPI, map[string]any{"location": "atlantis"}, 400, arm.CodeInvalidLocation, "atlantis"},
		{"too many tags", "PUT", rgPath("h") + rgAPI, map[string]any{"location": "eastus", "tags": manyTags(51)}, 400, "InvalidTag", "50"},
		{"body over 4 MiB", "PUT", rgPath("h") + rgAPI, huge, 413, arm.CodeRequestTooLarge, "MiB"},
		{"unknown subscription", "PUT", "/subscriptions/33333333-3333-3333-3333-333333333333/resourcegroups/h" + rgAPI, map[string]any{"location": "eastus"}, 404, arm.CodeSubscriptionNotFound, "33333333"},
		{"unknown resource group", "PUT", widgetPath("nope", "w") + testAPI, map[string]any{"location": "eastus"}, 404, arm.CodeResourceGroupNotFound, "nope"},
		{"extra segment", "GET", rgPath("g") + "/extra" + rgAPI, nil, 400, arm.CodeInvalidResourceType, "extra"},
		{"empty segment", "GET", "/subscriptions//resourcegroups" + rgAPI, nil, 400, arm.CodeInvalidResourceID, "empty segment"},
		{"type in the wrong place", "PUT", "/subscriptions/" + sub + "/providers/Microsoft.Test/widgets/w" + testAPI, map[string]any{"location": "eastus"}, 400, arm.CodeInvalidResourceID, "resourceGroups"},
		{"invalid property", "PUT", widgetPath("g", "w") + testAPI, map[string]any{"location": "eastus", "properties": map[string]any{"size": 11}}, 400, "InvalidSize", "0 to 10"},
		{"property of the wrong type", "PUT", widgetPath("g", "w") + testAPI, map[string]any{"location": "eastus", "properties": map[string]any{"size": "big"}}, 400, arm.CodeInvalidRequestContent, "properties.size"},
		{"unsupported content type", "PUT", rgPath("h") + rgAPI, nil, 415, arm.CodeUnsupportedMediaType, "application/json"},
	}
	// Registering the test namespace first so that the widget cases reach validation.
	e.Register("Microsoft.Test")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.Revision()
			var r armtest.Response
			if tt.status == 415 {
				r = e.Do(tt.method, tt.path, `location=eastus`, "Content-Type", "application/x-www-form-urlencoded")
			} else {
				r = e.Do(tt.method, tt.path, tt.body)
			}
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if code := r.ErrCode(t); code != tt.code {
				t.Errorf("code %s, want %s", code, tt.code)
			}
			if !strings.Contains(string(r.Body), tt.mention) {
				t.Errorf("message does not mention %q: %s", tt.mention, r.Body)
			}
			if e.Revision() != before {
				t.Errorf("refused request wrote to the store (revision %d -> %d)", before, e.Revision())
			}
		})
	}
}

func manyTags(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("t%d", i)] = "v"
	}
	return m
}

func TestListPaging(t *testing.T) {
	e := newEnv(t)
	const n = 7
	for i := range n {
		e.Must(http.StatusCreated, http.MethodPut, rgPath(fmt.Sprintf("rg-%02d", i))+rgAPI, map[string]any{"location": "eastus"})
	}
	var names []string
	next := "/subscriptions/" + sub + "/resourcegroups" + rgAPI + "&$top=3"
	pages := 0
	for next != "" {
		pages++
		r := e.Must(http.StatusOK, http.MethodGet, next, nil)
		var p struct {
			Value    []struct{ Name string }
			NextLink *string
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Value) > 3 {
			t.Fatalf("page of %d items with $top=3", len(p.Value))
		}
		for _, v := range p.Value {
			names = append(names, v.Name)
		}
		next = ""
		if p.NextLink != nil {
			if *p.NextLink == "" {
				t.Fatal("nextLink is an empty string; it must be omitted on the last page")
			}
			next = *p.NextLink
		}
	}
	if pages != 3 || len(names) != n {
		t.Fatalf("%d pages, names %v", pages, names)
	}
	for i, name := range names {
		if name != fmt.Sprintf("rg-%02d", i) {
			t.Fatalf("names out of order or duplicated: %v", names)
		}
	}
	e.Must(http.StatusBadRequest, http.MethodGet, "/subscriptions/"+sub+"/resourcegroups"+rgAPI+"&$top=0", nil)
	e.Must(http.StatusBadRequest, http.MethodGet, "/subscriptions/"+sub+"/resourcegroups"+rgAPI+"&$skipToken=bm90YW5pZA", nil)
	// An empty collection is 200 with an empty value.
	r := e.Must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/resourceGroups/rg-00/providers/Microsoft.Test/widgets"+testAPI, nil)
	if string(r.Body) != `{"value":[]}` {
		t.Errorf("empty list = %s", r.Body)
	}
}

func TestProviderRegistrationAndAsyncProvisioning(t *testing.T) {
	e := newEnv(t)
	e.Must(http.StatusCreated, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "eastus"})
	body := map[string]any{"location": "eastus", "properties": map[string]any{"size": 3, "provisioningState": "Succeeded"}}
	if code := e.Must(http.StatusConflict, http.MethodPut, widgetPath("g", "w1")+testAPI, body).ErrCode(t); code != arm.CodeMissingRegistration {
		t.Fatalf("unregistered namespace: %s", code)
	}
	prov := e.Must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/providers/microsoft.test"+rgAPI, nil).JSON(t)
	if prov["registrationState"] != "NotRegistered" || prov["namespace"] != "Microsoft.Test" {
		t.Errorf("provider before register: %v", prov)
	}
	reg := e.Must(http.StatusOK, http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.Test/register"+rgAPI, nil).JSON(t)
	if reg["registrationState"] != "Registered" {
		t.Errorf("register answered %v", reg)
	}

	r := e.Must(http.StatusCreated, http.MethodPut, widgetPath("g", "w1")+testAPI, body)
	if p := r.JSON(t)["properties"].(map[string]any); p["provisioningState"] != "Accepted" {
		t.Errorf("async PUT provisioningState = %v", p["provisioningState"])
	}
	if r.JSON(t)["etag"] == nil {
		t.Error("BodyETag type without etag in body")
	}
	async := r.Header.Get("Azure-AsyncOperation")
	if !strings.HasPrefix(async, e.HTTP.URL+"/subscriptions/"+sub+"/providers/Microsoft.Test/locations/eastus/operationStatuses/") {
		t.Fatalf("Azure-AsyncOperation = %q", async)
	}
	final := e.WaitOperation(r.Header.Get("Location"))
	if final.Status != http.StatusOK {
		t.Fatalf("operation result %d: %s", final.Status, final.Body)
	}
	props := final.JSON(t)["properties"].(map[string]any)
	if props["provisioningState"] != "Succeeded" || props["ready"] != true {
		t.Errorf("provisioned widget properties = %v", props)
	}
	status := e.Must(http.StatusOK, http.MethodGet, async, nil).JSON(t)
	if status["status"] != "Succeeded" || status["endTime"] == nil {
		t.Errorf("operation status = %v", status)
	}
	if _, leaked := status["perimeterAction"]; leaked {
		t.Error("operation status shows internal fields")
	}

	// A failing provisioning ends Failed, with the error on the operation.
	body["properties"] = map[string]any{"size": 1, "color": "fail"}
	r = e.Must(http.StatusCreated, http.MethodPut, widgetPath("g", "w2")+testAPI, body)
	final = e.WaitOperation(r.Header.Get("Location"))
	if final.Status != http.StatusBadRequest || final.ErrCode(t) != "ProvisioningFailed" {
		t.Errorf("failed operation result %d: %s", final.Status, final.Body)
	}
	got := e.Must(http.StatusOK, http.MethodGet, widgetPath("g", "w2")+testAPI, nil).JSON(t)
	if got["properties"].(map[string]any)["provisioningState"] != "Failed" {
		t.Errorf("failed widget: %v", got)
	}

	// Actions reach the kind; unknown actions do not.
	if pong := e.Must(http.StatusOK, http.MethodPost, widgetPath("g", "w1")+"/ping"+testAPI, nil).JSON(t); pong["pong"] != "w1" {
		t.Errorf("action answered %v", pong)
	}
	e.Must(http.StatusNotFound, http.MethodPost, widgetPath("g", "w1")+"/explode"+testAPI, nil)
	e.Must(http.StatusNotFound, http.MethodPost, widgetPath("g", "missing")+"/ping"+testAPI, nil)

	// Unregistering is refused while widgets exist.
	e.Must(http.StatusConflict, http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.Test/unregister"+rgAPI, nil)
}

func TestDeleteGroupRemovesEverythingInside(t *testing.T) {
	e := newEnv(t)
	e.Register("Microsoft.Test")
	e.Must(http.StatusCreated, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "westus"})
	e.Must(http.StatusCreated, http.MethodPut, rgPath("other")+rgAPI, map[string]any{"location": "westus"})
	r := e.Must(http.StatusCreated, http.MethodPut, widgetPath("g", "w")+testAPI, map[string]any{"location": "westus"})
	e.WaitOperation(r.Header.Get("Location"))
	g := e.Must(http.StatusCreated, http.MethodPut, widgetPath("g", "w")+"/gadgets/x"+testAPI, map[string]any{})
	if g.JSON(t)["location"] != "westus" {
		t.Errorf("child did not inherit location: %s", g.Body)
	}
	e.Must(http.StatusCreated, http.MethodPut, widgetPath("other", "keep")+testAPI, map[string]any{"location": "westus"})
	e.Must(http.StatusNotFound, http.MethodPut, widgetPath("g", "missing")+"/gadgets/x"+testAPI, map[string]any{})

	// /resources lists tracked resources only.
	list := e.Must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/resources"+rgAPI, nil)
	var l struct{ Value []struct{ ID string } }
	_ = json.Unmarshal(list.Body, &l)
	if len(l.Value) != 2 {
		t.Errorf("/resources listed %d items, want the 2 widgets: %s", len(l.Value), list.Body)
	}
	inGroup := e.Must(http.StatusOK, http.MethodGet, rgPath("g")+"/resources"+rgAPI, nil)
	_ = json.Unmarshal(inGroup.Body, &l)
	if len(l.Value) != 1 {
		t.Errorf("group /resources listed %d items: %s", len(l.Value), inGroup.Body)
	}

	r = e.Must(http.StatusAccepted, http.MethodDelete, rgPath("g")+rgAPI, nil)
	for _, h := range []string{"Location", "Azure-AsyncOperation", "Retry-After"} {
		if r.Header.Get(h) == "" {
			t.Errorf("202 DELETE without %s", h)
		}
	}
	if final := e.WaitOperation(r.Header.Get("Location")); final.Status != http.StatusOK {
		t.Fatalf("delete result %d: %s", final.Status, final.Body)
	}
	e.Must(http.StatusNotFound, http.MethodGet, rgPath("g")+rgAPI, nil)
	docs, err := e.Store.List(t.Context(), store.ListOptions{Under: "/subscriptions/" + sub + "/resourceGroups/g"})
	if err != nil || len(docs) != 0 {
		t.Fatalf("documents left below the deleted group: %v %v", docs, err)
	}
	e.Must(http.StatusOK, http.MethodGet, widgetPath("other", "keep")+testAPI, nil)
	e.Must(http.StatusNoContent, http.MethodDelete, rgPath("g")+rgAPI, nil)
}

// TestChildOfDeletedParentIsRefused: a child whose parent disappears
// between validation and commit is refused, and no orphan is stored.
func TestChildOfDeletedParentIsRefused(t *testing.T) {
	e := newEnv(t)
	e.Register("Microsoft.Test")
	e.Must(http.StatusCreated, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "eastus"})
	e.Must(http.StatusCreated, http.MethodPut, widgetPath("g", "w")+testAPI, map[string]any{"location": "eastus"})
	r := e.Must(http.StatusNotFound, http.MethodPut, widgetPath("g", "w")+"/gadgets/race"+testAPI, map[string]any{})
	if code := r.ErrCode(t); code != arm.CodeParentResourceNotFound {
		t.Errorf("code %s: %s", code, r.Body)
	}
	if _, err := e.Store.Get(t.Context(), widgetPath("g", "w")+"/gadgets/race"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("orphan gadget stored: %v", err)
	}
}

func TestOperationsResumeAfterRestart(t *testing.T) {
	e := newEnv(t)
	e.Must(http.StatusCreated, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "eastus"})
	// A delete that a killed process accepted but never finished.
	opID := "/subscriptions/" + sub + "/providers/Microsoft.Resources/locations/eastus/operationStatuses/op1"
	body, _ := json.Marshal(map[string]any{
		"id": opID, "name": "op1", "status": "InProgress", "startTime": time.Now(),
		"perimeterAction": "delete", "perimeterResourceId": "/subscriptions/" + sub + "/resourceGroups/g",
		"perimeterResourceType": arm.TypeResourceGroup, "perimeterApiVersion": "2025-04-01",
	})
	if _, err := store.Put(t.Context(), e.Store, store.Document{ID: opID, Type: "Perimeter/operations", Body: body}, store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	e.Restart() // a new server on the same store
	loc := strings.Replace(opID, "operationStatuses", "operationResults", 1) + rgAPI
	if final := e.WaitOperation(loc); final.Status != http.StatusOK {
		t.Fatalf("resumed operation result %d: %s", final.Status, final.Body)
	}
	e.Must(http.StatusNotFound, http.MethodGet, rgPath("g")+rgAPI, nil)
	e.Must(http.StatusNotFound, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.Resources/locations/eastus/operationResults/nope"+rgAPI, nil)

	// Finished operations past their retention are removed at start.
	done, _ := json.Marshal(map[string]any{"id": opID + "-old", "name": "op1-old", "status": "Succeeded",
		"startTime": time.Now().Add(-49 * time.Hour), "endTime": time.Now().Add(-48 * time.Hour), "perimeterAction": "delete"})
	if _, err := store.Put(t.Context(), e.Store, store.Document{ID: opID + "-old", Type: "Perimeter/operations", Body: done}, store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	e.Restart()
	if _, err := e.Store.Get(t.Context(), opID+"-old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired operation kept: %v", err)
	}
	e.Must(http.StatusOK, http.MethodGet, strings.Replace(opID, "operationResults", "operationStatuses", 1)+rgAPI, nil)
}

func TestConcurrentConditionalUpdates(t *testing.T) {
	e := newEnv(t)
	e.Must(http.StatusCreated, http.MethodPut, rgPath("counter")+rgAPI, map[string]any{"location": "eastus", "tags": map[string]string{"n": "0"}})
	const workers, each = 6, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < each; {
				r := e.Do(http.MethodGet, rgPath("counter")+rgAPI, nil)
				var g struct{ Tags map[string]string }
				if err := json.Unmarshal(r.Body, &g); err != nil {
					errs <- err
					return
				}
				var n int
				fmt.Sscan(g.Tags["n"], &n)
				u := e.Do(http.MethodPut, rgPath("counter")+rgAPI, map[string]any{"location": "eastus", "tags": map[string]string{"n": fmt.Sprint(n + 1)}}, "If-Match", r.Header.Get("ETag"))
				switch u.Status {
				case http.StatusOK:
					done++
				case http.StatusPreconditionFailed, http.StatusConflict:
				default:
					errs <- fmt.Errorf("update answered %d: %s", u.Status, u.Body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r := e.Must(http.StatusOK, http.MethodGet, rgPath("counter")+rgAPI, nil)
	if n := r.JSON(t)["tags"].(map[string]any)["n"]; n != fmt.Sprint(workers*each) {
		t.Fatalf("counter = %v after %d conditional increments: updates were lost", n, workers*each)
	}
}

func TestFeatureRegistration(t *testing.T) {
	e := newEnv(t)
	base := "/subscriptions/" + sub + "/providers/Microsoft.Features"
	const api = "?api-version=2021-07-01"
	ok, err := resources.FeatureRegistered(t.Context(), e.Store, sub, "Microsoft.CognitiveServices", "OpenAI.NspPreview")
	if err != nil || ok {
		t.Fatalf("registered before registering: %v %v", ok, err)
	}
	legacy := e.Must(http.StatusOK, http.MethodGet, base+"/providers/Microsoft.CognitiveServices/features/OpenAI.NspPreview"+api, nil).JSON(t)
	if legacy["properties"].(map[string]any)["state"] != "NotRegistered" {
		t.Errorf("legacy feature before registering: %v", legacy)
	}
	r := e.Must(http.StatusCreated, http.MethodPut, base+"/featureProviders/Microsoft.CognitiveServices/subscriptionFeatureRegistrations/OpenAI.NspPreview"+api, map[string]any{"properties": map[string]any{}})
	props := r.JSON(t)["properties"].(map[string]any)
	if props["state"] != "Registered" || props["providerNamespace"] != "Microsoft.CognitiveServices" || props["subscriptionId"] != sub {
		t.Errorf("registration = %s", r.Body)
	}
	if ok, _ := resources.FeatureRegistered(t.Context(), e.Store, sub, "microsoft.cognitiveservices", "openai.nsppreview"); !ok {
		t.Error("FeatureRegistered false after PUT")
	}
	legacy = e.Must(http.StatusOK, http.MethodGet, base+"/providers/Microsoft.CognitiveServices/features/OpenAI.NspPreview"+api, nil).JSON(t)
	if legacy["properties"].(map[string]any)["state"] != "Registered" {
		t.Errorf("legacy feature after registering: %v", legacy)
	}
	list := e.Must(http.StatusOK, http.MethodGet, base+"/featureProviders/Microsoft.CognitiveServices/subscriptionFeatureRegistrations"+api, nil)
	if !strings.Contains(string(list.Body), "OpenAI.NspPreview") {
		t.Errorf("registration list: %s", list.Body)
	}
	if code := e.Must(http.StatusNotFound, http.MethodPut, base+"/featureProviders/Microsoft.CognitiveServices/subscriptionFeatureRegistrations/NoSuchFeature"+api, map[string]any{}).ErrCode(t); code != "FeatureNotFound" {
		t.Errorf("unknown feature: %s", code)
	}
	// The older API unregisters and registers too.
	e.Must(http.StatusOK, http.MethodPost, base+"/providers/Microsoft.CognitiveServices/features/OpenAI.NspPreview/unregister"+api, nil)
	if ok, _ := resources.FeatureRegistered(t.Context(), e.Store, sub, "Microsoft.CognitiveServices", "OpenAI.NspPreview"); ok {
		t.Error("still registered after unregister")
	}
	reg := e.Must(http.StatusOK, http.MethodPost, base+"/providers/Microsoft.CognitiveServices/features/OpenAI.NspPreview/register"+api, nil).JSON(t)
	if reg["properties"].(map[string]any)["state"] != "Registered" {
		t.Errorf("legacy register answered %v", reg)
	}
	all := e.Must(http.StatusOK, http.MethodGet, base+"/features"+api, nil)
	if !strings.Contains(string(all.Body), `"Microsoft.CognitiveServices/OpenAI.NspPreview"`) {
		t.Errorf("feature list: %s", all.Body)
	}
}

func TestSubscriptionsAndProviders(t *testing.T) {
	e := newEnv(t)
	subs := e.Must(http.StatusOK, http.MethodGet, "/subscriptions?api-version=2022-12-01", nil)
	var l struct {
		Value []struct{ SubscriptionID, State, TenantID string }
	}
	_ = json.Unmarshal(subs.Body, &l)
	if len(l.Value) != 1 || l.Value[0].SubscriptionID != sub || l.Value[0].State != "Enabled" || l.Value[0].TenantID != tenant {
		t.Errorf("subscriptions = %s", subs.Body)
	}
	e.Must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"?api-version=2022-12-01", nil)
	if code := e.Must(http.StatusNotFound, http.MethodGet, "/subscriptions/nope?api-version=2022-12-01", nil).ErrCode(t); code != arm.CodeSubscriptionNotFound {
		t.Errorf("code %s", code)
	}
	e.Must(http.StatusMethodNotAllowed, http.MethodPut, "/subscriptions/"+sub+"?api-version=2022-12-01", map[string]any{})
	providers := e.Must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/providers"+rgAPI, nil)
	for _, ns := range []string{"Microsoft.Resources", "Microsoft.Features", "Microsoft.Test"} {
		if !strings.Contains(string(providers.Body), `"namespace":"`+ns+`"`) {
			t.Errorf("providers list lacks %s", ns)
		}
	}
	if code := e.Must(http.StatusNotFound, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.Nothing"+rgAPI, nil).ErrCode(t); code != "InvalidResourceNamespace" {
		t.Errorf("unknown namespace: %s", code)
	}
}

func TestRequestIDs(t *testing.T) {
	e := newEnv(t)
	r := e.Do(http.MethodGet, rgPath("x")+rgAPI, nil, "x-ms-correlation-request-id", "corr-1", "x-ms-client-request-id", "client-1", "x-ms-return-client-request-id", "true")
	if r.Header.Get("x-ms-correlation-request-id") != "corr-1" || r.Header.Get("x-ms-client-request-id") != "client-1" {
		t.Errorf("ids not echoed: %v", r.Header)
	}
}

func TestStoreFailureIsOpaque500(t *testing.T) {
	// A store failure is a 500 whose detail stays out of the response.
	e := newEnv(t)
	e.Store.Close()
	r := e.Do(http.MethodGet, rgPath("g")+rgAPI, nil)
	if r.Status != http.StatusInternalServerError || r.ErrCode(t) != arm.CodeInternalServerError {
		t.Fatalf("closed store: %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "sql") {
		t.Errorf("internal detail leaked: %s", r.Body)
	}
}

func TestCollectionAction(t *testing.T) {
	e := newEnv(t)
	path := "/subscriptions/" + sub + "/providers/Microsoft.Test/checkWidgetName" + testAPI
	r := e.Must(http.StatusOK, http.MethodPost, path, map[string]string{"name": "taken"}).JSON(t)
	if r["available"] != false || r["subscription"] != sub {
		t.Errorf("collection action answered %v", r)
	}
	e.Must(http.StatusBadRequest, http.MethodPost, path, "[1]")
	e.Must(http.StatusNotFound, http.MethodPost, "/subscriptions/33333333-3333-3333-3333-333333333333/providers/Microsoft.Test/checkWidgetName"+testAPI, map[string]string{"name": "x"})
}

// TestCleanupOnGroupDelete: documents a resource owns outside its subtree
// go with it, also when its whole group is deleted.
func TestCleanupOnGroupDelete(t *testing.T) {
	e := newEnv(t)
	e.Register("Microsoft.Test")
	for _, g := range []string{"g1", "g2"} {
		e.Must(http.StatusCreated, http.MethodPut, rgPath(g)+rgAPI, map[string]any{"location": "eastus"})
	}
	reserve := map[string]any{"location": "eastus", "properties": map[string]any{"reserve": "shared"}}
	e.putWidget("g1", "a", reserve, http.StatusCreated)
	e.Must(http.StatusConflict, http.MethodPut, widgetPath("g2", "b")+testAPI, reserve)

	// Deleting the widget itself frees the name.
	e.Must(http.StatusOK, http.MethodDelete, widgetPath("g1", "a")+testAPI, nil)
	e.putWidget("g2", "b", reserve, http.StatusCreated)

	// So does deleting its group.
	del := e.Must(http.StatusAccepted, http.MethodDelete, rgPath("g2")+rgAPI, nil)
	if final := e.WaitOperation(del.Header.Get("Location")); final.Status != http.StatusOK {
		t.Fatalf("group delete: %d %s", final.Status, final.Body)
	}
	if _, err := e.Store.Get(t.Context(), reservationID("shared")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("reservation left after its group was deleted: %v", err)
	}
	e.putWidget("g1", "c", reserve, http.StatusCreated)
}

// TestInlineCompletion: with InlineWait, operations that finish in time are
// answered with their final result, without 202 and polling.
func TestInlineCompletion(t *testing.T) {
	e := newEnv(t, armtest.InlineWait(5*time.Second))
	e.Register("Microsoft.Test")
	e.Must(http.StatusCreated, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "eastus"})
	r := e.Must(http.StatusCreated, http.MethodPut, widgetPath("g", "w")+testAPI, map[string]any{"location": "eastus"})
	props := r.JSON(t)["properties"].(map[string]any)
	if props["provisioningState"] != "Succeeded" || props["ready"] != true || r.Header.Get("Azure-AsyncOperation") != "" {
		t.Errorf("inline PUT: %s %v", r.Body, r.Header)
	}
	if r.Header.Get("ETag") != `"`+strings.Trim(r.JSON(t)["etag"].(string), `"`)+`"` {
		t.Errorf("ETag header %q does not match the body's etag %v", r.Header.Get("ETag"), r.JSON(t)["etag"])
	}
	fail := e.Must(http.StatusBadRequest, http.MethodPut, widgetPath("g", "f")+testAPI, map[string]any{"location": "eastus", "properties": map[string]any{"color": "fail"}})
	if fail.ErrCode(t) != "ProvisioningFailed" {
		t.Errorf("inline failure: %s", fail.Body)
	}
	if r := e.Must(http.StatusOK, http.MethodDelete, rgPath("g")+rgAPI, nil); r.Header.Get("Location") != "" {
		t.Errorf("inline delete advertised an operation: %v", r.Header)
	}
	e.Must(http.StatusNotFound, http.MethodGet, rgPath("g")+rgAPI, nil)
}

// mappedAction declares an operation for an action it does not have.
type mappedAction struct{ widgets }

func (mappedAction) Spec() arm.Spec {
	sp := widgets{}.Spec()
	sp.Type = "Microsoft.Test/mapped"
	sp.ActionOperations = map[string]string{"pong": "Microsoft.Test/mapped/assign/action"}
	return sp
}

// TestActionOperationsNameDeclaredActions: mapping the operation of an
// action the type does not declare is a wiring mistake, caught at start.
func TestActionOperationsNameDeclaredActions(t *testing.T) {
	srv := arm.NewServer(arm.Config{})
	err := srv.Register(mappedAction{})
	if err == nil || !strings.Contains(err.Error(), `"pong"`) {
		t.Errorf("Register = %v, want a refusal naming the undeclared action", err)
	}
}

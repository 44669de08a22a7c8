package arm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/providers/resources"
	"github.com/perimeterhq/perimeter/internal/store"
	"github.com/perimeterhq/perimeter/internal/store/sqlite"
)

const (
	tenant  = "11111111-1111-1111-1111-111111111111"
	sub     = "22222222-2222-2222-2222-222222222222"
	rgAPI   = "?api-version=2025-04-01"
	testAPI = "?api-version=2030-01-01"
)

// tokenAuth accepts "Bearer good" only.
type tokenAuth struct{}

func (tokenAuth) Authenticate(r *http.Request) (arm.Caller, error) {
	if r.Header.Get("Authorization") != "Bearer good" {
		e := arm.Errorf(http.StatusUnauthorized, arm.CodeAuthenticationFailed, "no valid token")
		e.Header = http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}
		return arm.Caller{}, e
	}
	return arm.Caller{TenantID: tenant, ObjectID: "admin-oid", AppID: "admin-app", Type: "Application"}, nil
}

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

type env struct {
	inline time.Duration // Config.InlineWait
	t      *testing.T
	st     store.Store
	srv    *arm.Server
	http   *httptest.Server
	token  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "arm.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := resources.EnsureSubscription(t.Context(), st, tenant, sub, "test"); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, token: "good"}
	e.start()
	return e
}

func (e *env) start() {
	e.srv = arm.NewServer(arm.Config{Store: e.st, Authenticator: tokenAuth{}, Logger: discardLogger(), InlineWait: e.inline})
	if err := e.srv.Register(resources.Kinds(e.srv, resources.PreviewFeatures)...); err != nil {
		e.t.Fatal(err)
	}
	if err := e.srv.Register(cleanerWidgets{st: e.st}, gadgets{st: e.st}, checks{}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.srv.Start(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv)
	srv, hs := e.srv, e.http
	e.t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

// errCode returns the ARM error code of a response, failing the test if
// the body is not an ARM error envelope with a message.
func (r response) errCode(t *testing.T) string {
	t.Helper()
	var env struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(r.body, &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
		t.Fatalf("status %d: not an ARM error envelope: %s", r.status, r.body)
	}
	return env.Error.Code
}

func (e *env) do(method, path string, body any, headers ...string) response {
	e.t.Helper()
	var rdr io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rdr = strings.NewReader(b)
	case []byte:
		rdr = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rdr = bytes.NewReader(j)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = e.http.URL + path
	}
	req, err := http.NewRequest(method, url, rdr)
	if err != nil {
		e.t.Fatal(err)
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	if rdr != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("x-ms-request-id") == "" {
		e.t.Errorf("%s %s: no x-ms-request-id header", method, path)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func (e *env) must(want int, method, path string, body any, headers ...string) response {
	e.t.Helper()
	r := e.do(method, path, body, headers...)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

func (e *env) revision() int64 {
	e.t.Helper()
	rev, err := e.st.Revision(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return rev
}

func rgPath(name string) string { return "/subscriptions/" + sub + "/resourcegroups/" + name }

func widgetPath(rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Test/widgets/" + name
}

// waitOperation polls an operation's Location until it stops answering 202
// and returns the final response.
func (e *env) waitOperation(location string) response {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r := e.do(http.MethodGet, location, nil)
		if r.status != http.StatusAccepted {
			return r
		}
		if r.header.Get("Retry-After") == "" {
			e.t.Fatalf("202 from %s without Retry-After", location)
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("operation %s did not finish in 10s", location)
	return response{}
}

func TestAuthenticationRequired(t *testing.T) {
	e := newEnv(t)
	e.token = ""
	r := e.must(http.StatusUnauthorized, http.MethodGet, rgPath("")+rgAPI, nil)
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	if r.errCode(t) != arm.CodeAuthenticationFailed {
		t.Errorf("code %s", r.errCode(t))
	}
	e.token = "forged"
	e.must(http.StatusUnauthorized, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "eastus"})
	e.token = "good"
	e.must(http.StatusNotFound, http.MethodGet, rgPath("g")+rgAPI, nil)
}

func TestResourceGroupLifecycle(t *testing.T) {
	e := newEnv(t)
	r := e.must(http.StatusCreated, http.MethodPut, rgPath("Demo-RG")+rgAPI, map[string]any{"location": "East US", "tags": map[string]string{"env": "dev"}})
	got := r.json(t)
	wantID := "/subscriptions/" + sub + "/resourceGroups/Demo-RG"
	if got["id"] != wantID || got["name"] != "Demo-RG" || got["type"] != arm.TypeResourceGroup || got["location"] != "eastus" {
		t.Errorf("created group = %s", r.body)
	}
	if p, _ := got["properties"].(map[string]any); p["provisioningState"] != "Succeeded" {
		t.Errorf("provisioningState = %v", got["properties"])
	}
	sd, _ := got["systemData"].(map[string]any)
	if sd["createdBy"] != "admin-app" || sd["createdByType"] != "Application" {
		t.Errorf("systemData = %v", sd)
	}
	if r.header.Get("ETag") == "" {
		t.Error("PUT without ETag header")
	}

	// Ids are case-insensitive; the stored casing of the name wins.
	r = e.must(http.StatusOK, http.MethodGet, "/SUBSCRIPTIONS/"+sub+"/RESOURCEGROUPS/demo-rg"+rgAPI, nil)
	if r.json(t)["id"] != wantID {
		t.Errorf("GET by other casing: %s", r.body)
	}
	e.must(http.StatusNoContent, http.MethodHead, rgPath("demo-rg")+rgAPI, nil)
	e.must(http.StatusNotFound, http.MethodHead, rgPath("nope")+rgAPI, nil)

	// Update: 200, tags replaced, createdAt kept.
	r = e.must(http.StatusOK, http.MethodPut, rgPath("demo-rg")+rgAPI, map[string]any{"location": "eastus", "tags": map[string]string{"env": "prod"}})
	upd := r.json(t)
	if tags := upd["tags"].(map[string]any); tags["env"] != "prod" {
		t.Errorf("tags after update: %v", tags)
	}
	if upd["systemData"].(map[string]any)["createdAt"] != sd["createdAt"] {
		t.Error("update changed systemData.createdAt")
	}

	// Moving a group is refused.
	if code := e.must(http.StatusConflict, http.MethodPut, rgPath("demo-rg")+rgAPI, map[string]any{"location": "westus"}).errCode(t); code != "InvalidResourceLocation" {
		t.Errorf("move: code %s", code)
	}

	// PATCH replaces tags and keeps the rest.
	r = e.must(http.StatusOK, http.MethodPatch, rgPath("demo-rg")+rgAPI, map[string]any{"tags": map[string]string{"team": "ai"}})
	if tags := r.json(t)["tags"].(map[string]any); len(tags) != 1 || tags["team"] != "ai" {
		t.Errorf("tags after PATCH: %v", tags)
	}
	if r.json(t)["location"] != "eastus" {
		t.Errorf("PATCH lost location: %s", r.body)
	}
	e.must(http.StatusNotFound, http.MethodPatch, rgPath("missing")+rgAPI, map[string]any{"tags": map[string]string{}})
}

func TestETagPreconditions(t *testing.T) {
	e := newEnv(t)
	etag := e.must(http.StatusCreated, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "eastus"}).header.Get("ETag")
	body := map[string]any{"location": "eastus", "tags": map[string]string{"a": "b"}}
	e.must(http.StatusPreconditionFailed, http.MethodPut, rgPath("g")+rgAPI, body, "If-None-Match", "*")
	before := e.revision()
	if code := e.must(http.StatusPreconditionFailed, http.MethodPut, rgPath("g")+rgAPI, body, "If-Match", `"stale"`).errCode(t); code != arm.CodePreconditionFailed {
		t.Errorf("code %s", code)
	}
	if e.revision() != before {
		t.Error("a refused conditional PUT wrote to the store")
	}
	newTag := e.must(http.StatusOK, http.MethodPut, rgPath("g")+rgAPI, body, "If-Match", etag).header.Get("ETag")
	if newTag == etag {
		t.Error("ETag did not change on update")
	}
	e.must(http.StatusPreconditionFailed, http.MethodDelete, rgPath("g")+rgAPI, nil, "If-Match", etag)
	e.must(http.StatusCreated, http.MethodPut, rgPath("new")+rgAPI, body, "If-None-Match", "*")
}

func TestBadInputWritesNothing(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusCreated, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "eastus"})
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
	e.must(http.StatusOK, http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.Test/register"+rgAPI, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.revision()
			var r response
			if tt.status == 415 {
				r = e.do(tt.method, tt.path, `location=eastus`, "Content-Type", "application/x-www-form-urlencoded")
			} else {
				r = e.do(tt.method, tt.path, tt.body)
			}
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if code := r.errCode(t); code != tt.code {
				t.Errorf("code %s, want %s", code, tt.code)
			}
			if !strings.Contains(string(r.body), tt.mention) {
				t.Errorf("message does not mention %q: %s", tt.mention, r.body)
			}
			if e.revision() != before {
				t.Errorf("refused request wrote to the store (revision %d -> %d)", before, e.revision())
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
		e.must(http.StatusCreated, http.MethodPut, rgPath(fmt.Sprintf("rg-%02d", i))+rgAPI, map[string]any{"location": "eastus"})
	}
	var names []string
	next := "/subscriptions/" + sub + "/resourcegroups" + rgAPI + "&$top=3"
	pages := 0
	for next != "" {
		pages++
		r := e.must(http.StatusOK, http.MethodGet, next, nil)
		var p struct {
			Value    []struct{ Name string }
			NextLink *string
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
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
	e.must(http.StatusBadRequest, http.MethodGet, "/subscriptions/"+sub+"/resourcegroups"+rgAPI+"&$top=0", nil)
	e.must(http.StatusBadRequest, http.MethodGet, "/subscriptions/"+sub+"/resourcegroups"+rgAPI+"&$skipToken=bm90YW5pZA", nil)
	// An empty collection is 200 with an empty value.
	r := e.must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/resourceGroups/rg-00/providers/Microsoft.Test/widgets"+testAPI, nil)
	if string(r.body) != `{"value":[]}` {
		t.Errorf("empty list = %s", r.body)
	}
}

func TestProviderRegistrationAndAsyncProvisioning(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusCreated, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "eastus"})
	body := map[string]any{"location": "eastus", "properties": map[string]any{"size": 3, "provisioningState": "Succeeded"}}
	if code := e.must(http.StatusConflict, http.MethodPut, widgetPath("g", "w1")+testAPI, body).errCode(t); code != arm.CodeMissingRegistration {
		t.Fatalf("unregistered namespace: %s", code)
	}
	prov := e.must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/providers/microsoft.test"+rgAPI, nil).json(t)
	if prov["registrationState"] != "NotRegistered" || prov["namespace"] != "Microsoft.Test" {
		t.Errorf("provider before register: %v", prov)
	}
	reg := e.must(http.StatusOK, http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.Test/register"+rgAPI, nil).json(t)
	if reg["registrationState"] != "Registered" {
		t.Errorf("register answered %v", reg)
	}

	r := e.must(http.StatusCreated, http.MethodPut, widgetPath("g", "w1")+testAPI, body)
	if p := r.json(t)["properties"].(map[string]any); p["provisioningState"] != "Accepted" {
		t.Errorf("async PUT provisioningState = %v", p["provisioningState"])
	}
	if r.json(t)["etag"] == nil {
		t.Error("BodyETag type without etag in body")
	}
	async := r.header.Get("Azure-AsyncOperation")
	if !strings.HasPrefix(async, e.http.URL+"/subscriptions/"+sub+"/providers/Microsoft.Test/locations/eastus/operationStatuses/") {
		t.Fatalf("Azure-AsyncOperation = %q", async)
	}
	final := e.waitOperation(r.header.Get("Location"))
	if final.status != http.StatusOK {
		t.Fatalf("operation result %d: %s", final.status, final.body)
	}
	props := final.json(t)["properties"].(map[string]any)
	if props["provisioningState"] != "Succeeded" || props["ready"] != true {
		t.Errorf("provisioned widget properties = %v", props)
	}
	status := e.must(http.StatusOK, http.MethodGet, async, nil).json(t)
	if status["status"] != "Succeeded" || status["endTime"] == nil {
		t.Errorf("operation status = %v", status)
	}
	if _, leaked := status["perimeterAction"]; leaked {
		t.Error("operation status shows internal fields")
	}

	// A failing provisioning ends Failed, with the error on the operation.
	body["properties"] = map[string]any{"size": 1, "color": "fail"}
	r = e.must(http.StatusCreated, http.MethodPut, widgetPath("g", "w2")+testAPI, body)
	final = e.waitOperation(r.header.Get("Location"))
	if final.status != http.StatusBadRequest || final.errCode(t) != "ProvisioningFailed" {
		t.Errorf("failed operation result %d: %s", final.status, final.body)
	}
	got := e.must(http.StatusOK, http.MethodGet, widgetPath("g", "w2")+testAPI, nil).json(t)
	if got["properties"].(map[string]any)["provisioningState"] != "Failed" {
		t.Errorf("failed widget: %v", got)
	}

	// Actions reach the kind; unknown actions do not.
	if pong := e.must(http.StatusOK, http.MethodPost, widgetPath("g", "w1")+"/ping"+testAPI, nil).json(t); pong["pong"] != "w1" {
		t.Errorf("action answered %v", pong)
	}
	e.must(http.StatusNotFound, http.MethodPost, widgetPath("g", "w1")+"/explode"+testAPI, nil)
	e.must(http.StatusNotFound, http.MethodPost, widgetPath("g", "missing")+"/ping"+testAPI, nil)

	// Unregistering is refused while widgets exist.
	e.must(http.StatusConflict, http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.Test/unregister"+rgAPI, nil)
}

func TestDeleteGroupRemovesEverythingInside(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusOK, http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.Test/register"+rgAPI, nil)
	e.must(http.StatusCreated, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "westus"})
	e.must(http.StatusCreated, http.MethodPut, rgPath("other")+rgAPI, map[string]any{"location": "westus"})
	r := e.must(http.StatusCreated, http.MethodPut, widgetPath("g", "w")+testAPI, map[string]any{"location": "westus"})
	e.waitOperation(r.header.Get("Location"))
	g := e.must(http.StatusCreated, http.MethodPut, widgetPath("g", "w")+"/gadgets/x"+testAPI, map[string]any{})
	if g.json(t)["location"] != "westus" {
		t.Errorf("child did not inherit location: %s", g.body)
	}
	e.must(http.StatusCreated, http.MethodPut, widgetPath("other", "keep")+testAPI, map[string]any{"location": "westus"})
	e.must(http.StatusNotFound, http.MethodPut, widgetPath("g", "missing")+"/gadgets/x"+testAPI, map[string]any{})

	// /resources lists tracked resources only.
	list := e.must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/resources"+rgAPI, nil)
	var l struct{ Value []struct{ ID string } }
	_ = json.Unmarshal(list.body, &l)
	if len(l.Value) != 2 {
		t.Errorf("/resources listed %d items, want the 2 widgets: %s", len(l.Value), list.body)
	}
	inGroup := e.must(http.StatusOK, http.MethodGet, rgPath("g")+"/resources"+rgAPI, nil)
	_ = json.Unmarshal(inGroup.body, &l)
	if len(l.Value) != 1 {
		t.Errorf("group /resources listed %d items: %s", len(l.Value), inGroup.body)
	}

	r = e.must(http.StatusAccepted, http.MethodDelete, rgPath("g")+rgAPI, nil)
	for _, h := range []string{"Location", "Azure-AsyncOperation", "Retry-After"} {
		if r.header.Get(h) == "" {
			t.Errorf("202 DELETE without %s", h)
		}
	}
	if final := e.waitOperation(r.header.Get("Location")); final.status != http.StatusOK {
		t.Fatalf("delete result %d: %s", final.status, final.body)
	}
	e.must(http.StatusNotFound, http.MethodGet, rgPath("g")+rgAPI, nil)
	docs, err := e.st.List(t.Context(), store.ListOptions{Under: "/subscriptions/" + sub + "/resourceGroups/g"})
	if err != nil || len(docs) != 0 {
		t.Fatalf("documents left below the deleted group: %v %v", docs, err)
	}
	e.must(http.StatusOK, http.MethodGet, widgetPath("other", "keep")+testAPI, nil)
	e.must(http.StatusNoContent, http.MethodDelete, rgPath("g")+rgAPI, nil)
}

// TestChildOfDeletedParentIsRefused: a child whose parent disappears
// between validation and commit is refused, and no orphan is stored.
func TestChildOfDeletedParentIsRefused(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusOK, http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.Test/register"+rgAPI, nil)
	e.must(http.StatusCreated, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "eastus"})
	e.must(http.StatusCreated, http.MethodPut, widgetPath("g", "w")+testAPI, map[string]any{"location": "eastus"})
	r := e.must(http.StatusNotFound, http.MethodPut, widgetPath("g", "w")+"/gadgets/race"+testAPI, map[string]any{})
	if code := r.errCode(t); code != arm.CodeParentResourceNotFound {
		t.Errorf("code %s: %s", code, r.body)
	}
	if _, err := e.st.Get(t.Context(), widgetPath("g", "w")+"/gadgets/race"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("orphan gadget stored: %v", err)
	}
}

func TestOperationsResumeAfterRestart(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusCreated, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "eastus"})
	// A delete that a killed process accepted but never finished.
	opID := "/subscriptions/" + sub + "/providers/Microsoft.Resources/locations/eastus/operationStatuses/op1"
	body, _ := json.Marshal(map[string]any{
		"id": opID, "name": "op1", "status": "InProgress", "startTime": time.Now(),
		"perimeterAction": "delete", "perimeterResourceId": "/subscriptions/" + sub + "/resourceGroups/g",
		"perimeterResourceType": arm.TypeResourceGroup, "perimeterApiVersion": "2025-04-01",
	})
	if _, err := store.Put(t.Context(), e.st, store.Document{ID: opID, Type: "Perimeter/operations", Body: body}, store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	e.start() // a new server on the same store
	loc := strings.Replace(opID, "operationStatuses", "operationResults", 1) + rgAPI
	if final := e.waitOperation(loc); final.status != http.StatusOK {
		t.Fatalf("resumed operation result %d: %s", final.status, final.body)
	}
	e.must(http.StatusNotFound, http.MethodGet, rgPath("g")+rgAPI, nil)
	e.must(http.StatusNotFound, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.Resources/locations/eastus/operationResults/nope"+rgAPI, nil)

	// Finished operations past their retention are removed at start.
	done, _ := json.Marshal(map[string]any{"id": opID + "-old", "name": "op1-old", "status": "Succeeded",
		"startTime": time.Now().Add(-49 * time.Hour), "endTime": time.Now().Add(-48 * time.Hour), "perimeterAction": "delete"})
	if _, err := store.Put(t.Context(), e.st, store.Document{ID: opID + "-old", Type: "Perimeter/operations", Body: done}, store.Precondition{}); err != nil {
		t.Fatal(err)
	}
	e.start()
	if _, err := e.st.Get(t.Context(), opID+"-old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired operation kept: %v", err)
	}
	e.must(http.StatusOK, http.MethodGet, strings.Replace(opID, "operationResults", "operationStatuses", 1)+rgAPI, nil)
}

func TestConcurrentConditionalUpdates(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusCreated, http.MethodPut, rgPath("counter")+rgAPI, map[string]any{"location": "eastus", "tags": map[string]string{"n": "0"}})
	const workers, each = 6, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < each; {
				r := e.do(http.MethodGet, rgPath("counter")+rgAPI, nil)
				var g struct{ Tags map[string]string }
				if err := json.Unmarshal(r.body, &g); err != nil {
					errs <- err
					return
				}
				var n int
				fmt.Sscan(g.Tags["n"], &n)
				u := e.do(http.MethodPut, rgPath("counter")+rgAPI, map[string]any{"location": "eastus", "tags": map[string]string{"n": fmt.Sprint(n + 1)}}, "If-Match", r.header.Get("ETag"))
				switch u.status {
				case http.StatusOK:
					done++
				case http.StatusPreconditionFailed, http.StatusConflict:
				default:
					errs <- fmt.Errorf("update answered %d: %s", u.status, u.body)
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
	r := e.must(http.StatusOK, http.MethodGet, rgPath("counter")+rgAPI, nil)
	if n := r.json(t)["tags"].(map[string]any)["n"]; n != fmt.Sprint(workers*each) {
		t.Fatalf("counter = %v after %d conditional increments: updates were lost", n, workers*each)
	}
}

func TestFeatureRegistration(t *testing.T) {
	e := newEnv(t)
	base := "/subscriptions/" + sub + "/providers/Microsoft.Features"
	const api = "?api-version=2021-07-01"
	ok, err := resources.FeatureRegistered(t.Context(), e.st, sub, "Microsoft.CognitiveServices", "OpenAI.NspPreview")
	if err != nil || ok {
		t.Fatalf("registered before registering: %v %v", ok, err)
	}
	legacy := e.must(http.StatusOK, http.MethodGet, base+"/providers/Microsoft.CognitiveServices/features/OpenAI.NspPreview"+api, nil).json(t)
	if legacy["properties"].(map[string]any)["state"] != "NotRegistered" {
		t.Errorf("legacy feature before registering: %v", legacy)
	}
	r := e.must(http.StatusCreated, http.MethodPut, base+"/featureProviders/Microsoft.CognitiveServices/subscriptionFeatureRegistrations/OpenAI.NspPreview"+api, map[string]any{"properties": map[string]any{}})
	props := r.json(t)["properties"].(map[string]any)
	if props["state"] != "Registered" || props["providerNamespace"] != "Microsoft.CognitiveServices" || props["subscriptionId"] != sub {
		t.Errorf("registration = %s", r.body)
	}
	if ok, _ := resources.FeatureRegistered(t.Context(), e.st, sub, "microsoft.cognitiveservices", "openai.nsppreview"); !ok {
		t.Error("FeatureRegistered false after PUT")
	}
	legacy = e.must(http.StatusOK, http.MethodGet, base+"/providers/Microsoft.CognitiveServices/features/OpenAI.NspPreview"+api, nil).json(t)
	if legacy["properties"].(map[string]any)["state"] != "Registered" {
		t.Errorf("legacy feature after registering: %v", legacy)
	}
	list := e.must(http.StatusOK, http.MethodGet, base+"/featureProviders/Microsoft.CognitiveServices/subscriptionFeatureRegistrations"+api, nil)
	if !strings.Contains(string(list.body), "OpenAI.NspPreview") {
		t.Errorf("registration list: %s", list.body)
	}
	if code := e.must(http.StatusNotFound, http.MethodPut, base+"/featureProviders/Microsoft.CognitiveServices/subscriptionFeatureRegistrations/NoSuchFeature"+api, map[string]any{}).errCode(t); code != "FeatureNotFound" {
		t.Errorf("unknown feature: %s", code)
	}
	// The older API unregisters and registers too.
	e.must(http.StatusOK, http.MethodPost, base+"/providers/Microsoft.CognitiveServices/features/OpenAI.NspPreview/unregister"+api, nil)
	if ok, _ := resources.FeatureRegistered(t.Context(), e.st, sub, "Microsoft.CognitiveServices", "OpenAI.NspPreview"); ok {
		t.Error("still registered after unregister")
	}
	reg := e.must(http.StatusOK, http.MethodPost, base+"/providers/Microsoft.CognitiveServices/features/OpenAI.NspPreview/register"+api, nil).json(t)
	if reg["properties"].(map[string]any)["state"] != "Registered" {
		t.Errorf("legacy register answered %v", reg)
	}
	all := e.must(http.StatusOK, http.MethodGet, base+"/features"+api, nil)
	if !strings.Contains(string(all.body), `"Microsoft.CognitiveServices/OpenAI.NspPreview"`) {
		t.Errorf("feature list: %s", all.body)
	}
}

func TestSubscriptionsAndProviders(t *testing.T) {
	e := newEnv(t)
	subs := e.must(http.StatusOK, http.MethodGet, "/subscriptions?api-version=2022-12-01", nil)
	var l struct {
		Value []struct{ SubscriptionID, State, TenantID string }
	}
	_ = json.Unmarshal(subs.body, &l)
	if len(l.Value) != 1 || l.Value[0].SubscriptionID != sub || l.Value[0].State != "Enabled" || l.Value[0].TenantID != tenant {
		t.Errorf("subscriptions = %s", subs.body)
	}
	e.must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"?api-version=2022-12-01", nil)
	if code := e.must(http.StatusNotFound, http.MethodGet, "/subscriptions/nope?api-version=2022-12-01", nil).errCode(t); code != arm.CodeSubscriptionNotFound {
		t.Errorf("code %s", code)
	}
	e.must(http.StatusMethodNotAllowed, http.MethodPut, "/subscriptions/"+sub+"?api-version=2022-12-01", map[string]any{})
	providers := e.must(http.StatusOK, http.MethodGet, "/subscriptions/"+sub+"/providers"+rgAPI, nil)
	for _, ns := range []string{"Microsoft.Resources", "Microsoft.Features", "Microsoft.Test"} {
		if !strings.Contains(string(providers.body), `"namespace":"`+ns+`"`) {
			t.Errorf("providers list lacks %s", ns)
		}
	}
	if code := e.must(http.StatusNotFound, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.Nothing"+rgAPI, nil).errCode(t); code != "InvalidResourceNamespace" {
		t.Errorf("unknown namespace: %s", code)
	}
}

func TestRequestIDs(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodGet, rgPath("x")+rgAPI, nil, "x-ms-correlation-request-id", "corr-1", "x-ms-client-request-id", "client-1", "x-ms-return-client-request-id", "true")
	if r.header.Get("x-ms-correlation-request-id") != "corr-1" || r.header.Get("x-ms-client-request-id") != "client-1" {
		t.Errorf("ids not echoed: %v", r.header)
	}
}

func TestStoreFailureIsOpaque500(t *testing.T) {
	// A store failure is a 500 whose detail stays out of the response.
	e := newEnv(t)
	e.st.Close()
	r := e.do(http.MethodGet, rgPath("g")+rgAPI, nil)
	if r.status != http.StatusInternalServerError || r.errCode(t) != arm.CodeInternalServerError {
		t.Fatalf("closed store: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "sql") {
		t.Errorf("internal detail leaked: %s", r.body)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestCollectionAction(t *testing.T) {
	e := newEnv(t)
	path := "/subscriptions/" + sub + "/providers/Microsoft.Test/checkWidgetName" + testAPI
	r := e.must(http.StatusOK, http.MethodPost, path, map[string]string{"name": "taken"}).json(t)
	if r["available"] != false || r["subscription"] != sub {
		t.Errorf("collection action answered %v", r)
	}
	e.must(http.StatusBadRequest, http.MethodPost, path, "[1]")
	e.must(http.StatusNotFound, http.MethodPost, "/subscriptions/33333333-3333-3333-3333-333333333333/providers/Microsoft.Test/checkWidgetName"+testAPI, map[string]string{"name": "x"})
}

// TestCleanupOnGroupDelete: documents a resource owns outside its subtree
// go with it, also when its whole group is deleted.
func TestCleanupOnGroupDelete(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusOK, http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.Test/register"+rgAPI, nil)
	for _, g := range []string{"g1", "g2"} {
		e.must(http.StatusCreated, http.MethodPut, rgPath(g)+rgAPI, map[string]any{"location": "eastus"})
	}
	reserve := map[string]any{"location": "eastus", "properties": map[string]any{"reserve": "shared"}}
	e.putWidget("g1", "a", reserve, http.StatusCreated)
	e.must(http.StatusConflict, http.MethodPut, widgetPath("g2", "b")+testAPI, reserve)

	// Deleting the widget itself frees the name.
	e.must(http.StatusOK, http.MethodDelete, widgetPath("g1", "a")+testAPI, nil)
	e.putWidget("g2", "b", reserve, http.StatusCreated)

	// So does deleting its group.
	del := e.must(http.StatusAccepted, http.MethodDelete, rgPath("g2")+rgAPI, nil)
	if final := e.waitOperation(del.header.Get("Location")); final.status != http.StatusOK {
		t.Fatalf("group delete: %d %s", final.status, final.body)
	}
	if _, err := e.st.Get(t.Context(), reservationID("shared")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("reservation left after its group was deleted: %v", err)
	}
	e.putWidget("g1", "c", reserve, http.StatusCreated)
}

// TestInlineCompletion: with InlineWait, operations that finish in time are
// answered with their final result, without 202 and polling.
func TestInlineCompletion(t *testing.T) {
	e := newEnv(t)
	e.inline = 5 * time.Second
	e.start()
	e.must(http.StatusOK, http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.Test/register"+rgAPI, nil)
	e.must(http.StatusCreated, http.MethodPut, rgPath("g")+rgAPI, map[string]any{"location": "eastus"})
	r := e.must(http.StatusCreated, http.MethodPut, widgetPath("g", "w")+testAPI, map[string]any{"location": "eastus"})
	props := r.json(t)["properties"].(map[string]any)
	if props["provisioningState"] != "Succeeded" || props["ready"] != true || r.header.Get("Azure-AsyncOperation") != "" {
		t.Errorf("inline PUT: %s %v", r.body, r.header)
	}
	if r.header.Get("ETag") != `"`+strings.Trim(r.json(t)["etag"].(string), `"`)+`"` {
		t.Errorf("ETag header %q does not match the body's etag %v", r.header.Get("ETag"), r.json(t)["etag"])
	}
	fail := e.must(http.StatusBadRequest, http.MethodPut, widgetPath("g", "f")+testAPI, map[string]any{"location": "eastus", "properties": map[string]any{"color": "fail"}})
	if fail.errCode(t) != "ProvisioningFailed" {
		t.Errorf("inline failure: %s", fail.body)
	}
	if r := e.must(http.StatusOK, http.MethodDelete, rgPath("g")+rgAPI, nil); r.header.Get("Location") != "" {
		t.Errorf("inline delete advertised an operation: %v", r.header)
	}
	e.must(http.StatusNotFound, http.MethodGet, rgPath("g")+rgAPI, nil)
}

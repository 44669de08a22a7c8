package network_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/providers/network"
	"github.com/perimeterhq/perimeter/internal/providers/resources"
	"github.com/perimeterhq/perimeter/internal/store"
	"github.com/perimeterhq/perimeter/internal/store/sqlite"
)

const (
	tenant  = "11111111-1111-1111-1111-111111111111"
	sub     = "22222222-2222-2222-2222-222222222222"
	rgAPI   = "?api-version=2025-04-01"
	netAPI  = "?api-version=2025-09-01"
	userAPI = "?api-version=2030-01-01"
	group   = "net-rg"
)

// tokenAuth accepts "Bearer good" only.
type tokenAuth struct{}

func (tokenAuth) Authenticate(r *http.Request) (arm.Caller, error) {
	if r.Header.Get("Authorization") != "Bearer good" {
		return arm.Caller{}, arm.Errorf(http.StatusUnauthorized, arm.CodeAuthenticationFailed, "no valid token")
	}
	return arm.Caller{TenantID: tenant, ObjectID: "admin-oid", AppID: "admin-app", Type: "Application"}, nil
}

// subnetUsers stand for what will reference subnets (account firewall
// rules, private endpoints): properties.subnetIds become references.
type subnetUsers struct{}

func (subnetUsers) Spec() arm.Spec {
	return arm.Spec{Type: "Microsoft.Test/subnetUsers", APIVersions: []string{"2030-01-01"}, ParentType: arm.TypeResourceGroup}
}

func (subnetUsers) Prepare(_ context.Context, w *arm.Write) error {
	var p struct {
		SubnetIDs []string `json:"subnetIds"`
	}
	if err := arm.DecodeProperties(w.New.Properties, &p); err != nil {
		return err
	}
	w.References = p.SubnetIDs
	return nil
}

// hookStore runs before once, ahead of the first Apply that writes or
// deletes a document whose id ends with deleting (for a delete, that is the
// Apply marking it Deleting): a write that commits just before the one
// under test, as a concurrent request would.
type hookStore struct {
	store.Store
	deleting string
	before   func()
	fired    atomic.Bool
}

func (h *hookStore) Apply(ctx context.Context, ops ...store.Op) ([]store.Document, error) {
	if h.before != nil && h.deleting != "" {
		for _, op := range ops {
			if op.Check == "" && strings.HasSuffix(strings.ToLower(op.ID()), strings.ToLower(h.deleting)) && h.fired.CompareAndSwap(false, true) {
				h.before()
				break
			}
		}
	}
	return h.Store.Apply(ctx, ops...)
}

type env struct {
	t    *testing.T
	st   *hookStore
	srv  *arm.Server
	http *httptest.Server
}

// clock is the fixed time of every test server, so systemData is stable.
func clock() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// newEnv starts an ARM server with the network kinds and the subnetUsers
// test kind on a fresh store, with a resource group ready and both
// namespaces registered.
func newEnv(t *testing.T) *env {
	t.Helper()
	inner, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "arm.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inner.Close() })
	st := &hookStore{Store: inner}
	ctx := t.Context()
	if err := resources.EnsureSubscription(ctx, st, tenant, sub, "test"); err != nil {
		t.Fatal(err)
	}
	srv := arm.NewServer(arm.Config{Store: st, Authenticator: tokenAuth{}, Logger: slog.New(slog.DiscardHandler), Now: clock})
	for _, kinds := range [][]arm.Kind{resources.Kinds(srv, resources.PreviewFeatures), network.Kinds(srv), {subnetUsers{}}} {
		if err := srv.Register(kinds...); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	e := &env{t: t, st: st, srv: srv, http: hs}
	for _, ns := range []string{"Microsoft.Network", "Microsoft.Test"} {
		e.must(http.StatusOK, http.MethodPost, "/subscriptions/"+sub+"/providers/"+ns+"/register"+rgAPI, nil)
	}
	e.must(http.StatusCreated, http.MethodPut, "/subscriptions/"+sub+"/resourceGroups/"+group+rgAPI, map[string]any{"location": "westeurope"})
	return e
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

// armError returns the error of an ARM error envelope, failing the test if
// the body is not one.
func (r response) armError(t *testing.T) arm.Error {
	t.Helper()
	var env struct{ Error arm.Error }
	if err := json.Unmarshal(r.body, &env); err != nil || env.Error.Code == "" || env.Error.Message == "" {
		t.Fatalf("status %d: not an ARM error envelope: %s", r.status, r.body)
	}
	return env.Error
}

func (e *env) do(method, path string, body any) response {
	e.t.Helper()
	var rdr io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rdr = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rdr = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rdr)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer good")
	if rdr != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func (e *env) must(want int, method, path string, body any) response {
	e.t.Helper()
	r := e.do(method, path, body)
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

func vnetID(name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + group + "/providers/Microsoft.Network/virtualNetworks/" + name
}

func subnetID(vnet, name string) string { return vnetID(vnet) + "/subnets/" + name }

func userPath(name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + group + "/providers/Microsoft.Test/subnetUsers/" + name + userAPI
}

// vnetBody is a virtual network request with the given address space and
// inline subnets.
func vnetBody(space []string, subnets ...map[string]any) map[string]any {
	props := map[string]any{"addressSpace": map[string]any{"addressPrefixes": space}}
	if subnets != nil {
		props["subnets"] = subnets
	}
	return map[string]any{"location": "westeurope", "properties": props}
}

// subnet is an inline subnet; extra properties are merged in.
func subnet(name, prefix string, extra ...map[string]any) map[string]any {
	props := map[string]any{"addressPrefix": prefix}
	for _, x := range extra {
		for k, v := range x {
			props[k] = v
		}
	}
	return map[string]any{"name": name, "properties": props}
}

// subnetBody is a child subnet request.
func subnetBody(prefix string, extra ...map[string]any) map[string]any {
	return map[string]any{"properties": subnet("", prefix, extra...)["properties"]}
}

// inline returns the subnets a virtual network GET shows, by name.
func (e *env) inline(vnet string) map[string]map[string]any {
	e.t.Helper()
	got := e.must(http.StatusOK, http.MethodGet, vnetID(vnet)+netAPI, nil).json(e.t)
	props, _ := got["properties"].(map[string]any)
	list, _ := props["subnets"].([]any)
	out := map[string]map[string]any{}
	for _, s := range list {
		m := s.(map[string]any)
		out[m["name"].(string)] = m
	}
	return out
}

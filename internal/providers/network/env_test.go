package network_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/providers/network"
	"github.com/perimeterhq/perimeter/internal/store"
)

const (
	sub     = armtest.SubscriptionID
	netAPI  = "?api-version=2025-09-01"
	userAPI = "?api-version=2030-01-01"
	group   = "net-rg"
)

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

// env is the armtest harness with the network kinds and subnetUsers, on
// a store behind a hookStore.
type env struct {
	*armtest.Env
	hook *hookStore
}

// clock is the fixed time of every test server, so systemData is stable.
func clock() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// newEnv starts an ARM server with the network kinds and the subnetUsers
// test kind on a fresh store, with a resource group ready and both
// namespaces registered.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{}
	e.Env = armtest.New(t, armtest.Clock(clock),
		armtest.WrapStore(func(st store.Store) store.Store {
			e.hook = &hookStore{Store: st}
			return e.hook
		}),
		armtest.Kinds(func(srv *arm.Server, _ store.Store) []arm.Kind { return network.Kinds(srv) }),
		armtest.Kinds(func(*arm.Server, store.Store) []arm.Kind { return []arm.Kind{subnetUsers{}} }))
	for _, ns := range []string{"Microsoft.Network", "Microsoft.Test"} {
		e.Register(ns)
	}
	e.Must(http.StatusCreated, http.MethodPut, "/subscriptions/"+sub+"/resourceGroups/"+group+armtest.ResourcesAPI, map[string]any{"location": "westeurope"})
	return e
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
	e.T.Helper()
	got := e.Must(http.StatusOK, http.MethodGet, vnetID(vnet)+netAPI, nil).JSON(e.T)
	props, _ := got["properties"].(map[string]any)
	list, _ := props["subnets"].([]any)
	out := map[string]map[string]any{}
	for _, s := range list {
		m := s.(map[string]any)
		out[m["name"].(string)] = m
	}
	return out
}

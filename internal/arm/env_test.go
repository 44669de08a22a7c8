package arm_test

import (
	"testing"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/store"
)

const (
	tenant  = armtest.TenantID
	sub     = armtest.SubscriptionID
	rgAPI   = armtest.ResourcesAPI
	testAPI = "?api-version=2030-01-01"
)

// env is the armtest harness with the test kinds: widgets, their
// gadgets and the checkWidgetName action.
type env struct{ *armtest.Env }

func newEnv(t *testing.T, opts ...armtest.Option) *env {
	t.Helper()
	kinds := armtest.Kinds(func(_ *arm.Server, st store.Store) []arm.Kind {
		return []arm.Kind{cleanerWidgets{st: st}, gadgets{st: st}, checks{}}
	})
	return &env{armtest.New(t, append([]armtest.Option{kinds}, opts...)...)}
}

func rgPath(name string) string { return "/subscriptions/" + sub + "/resourcegroups/" + name }

func widgetPath(rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Test/widgets/" + name
}

package network_test

import (
	"net/http"
	"net/netip"
	"reflect"
	"testing"

	"github.com/perimeterhq/perimeter/internal/providers/network"
)

func TestOverlapsDockerBridge(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		want   bool
	}{
		{"172.17.0.0/16", true},
		{"172.17.5.0/24", true},
		{"172.16.0.0/12", true},
		{"172.17.0.1/16", true}, // host bits do not matter
		{"172.18.0.0/16", false},
		{"10.0.0.0/16", false},
		{"fd00::/64", false},
	} {
		if got := network.OverlapsDockerBridge(netip.MustParsePrefix(tc.prefix)); got != tc.want {
			t.Errorf("OverlapsDockerBridge(%s) = %v, want %v", tc.prefix, got, tc.want)
		}
	}
	if network.OverlapsDockerBridge(netip.Prefix{}) {
		t.Error("the zero prefix overlaps the bridge")
	}
}

func TestSubnetServiceEndpoints(t *testing.T) {
	e := newEnv(t)
	e.Must(http.StatusCreated, http.MethodPut, vnetID("vnet")+netAPI, vnetBody([]string{"10.0.0.0/16"},
		subnet("ai", "10.0.0.0/24", map[string]any{"serviceEndpoints": []any{
			map[string]any{"service": "microsoft.cognitiveservices"}, map[string]any{"service": "Microsoft.Storage"}}}),
		subnet("plain", "10.0.1.0/24")))
	ctx := t.Context()
	for _, tc := range []struct {
		id    string
		want  []string
		found bool
	}{
		{subnetID("vnet", "AI"), []string{network.ServiceCognitiveServices, "Microsoft.Storage"}, true},
		{subnetID("vnet", "plain"), []string{}, true},
		{subnetID("vnet", "missing"), nil, false},
		{vnetID("vnet"), nil, false}, // not a subnet
	} {
		got, found, err := network.SubnetServiceEndpoints(ctx, e.Store, tc.id)
		if err != nil || found != tc.found || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SubnetServiceEndpoints(%s) = %v, %v, %v; want %v, %v", tc.id, got, found, err, tc.want, tc.found)
		}
	}
}

package accesslog_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/access"
	"github.com/perimeterhq/perimeter/internal/accesslog"
)

func TestCategoryOf(t *testing.T) {
	in, out := accesslog.Inbound, accesslog.Outbound
	ok, no := accesslog.Allowed, accesslog.Denied
	tests := []struct {
		plane, dir, layer, result string
		want                      string
	}{
		{"ingress", in, "privateLink", ok, "NspPrivateInboundAllowed"},
		{"ingress", in, "privateLink", no, ""},
		{"ingress", in, "networkSecurityPerimeter", ok, "NspPublicInboundPerimeterRulesAllowed"},
		{"ingress", in, "networkSecurityPerimeter", no, "NspPublicInboundPerimeterRulesDenied"},
		{"ingress", in, "publicNetworkAccess", no, "NspPublicInboundResourceRulesDenied"},
		{"ingress", in, "networkAcls", ok, "NspPublicInboundResourceRulesAllowed"},
		{"ingress", in, "networkAcls", no, "NspPublicInboundResourceRulesDenied"},
		{"ingress", in, "trustedService", ok, "NspPublicInboundResourceRulesAllowed"},
		{"ingress", in, "system", no, ""},
		{"ingress", in, "resource", no, ""},
		{"ingress", in, "authentication", no, ""},
		{"ingress", in, "networkAcls", "", ""},
		{"egress", out, "networkSecurityPerimeter", ok, "NspPublicOutboundPerimeterRulesAllowed"},
		{"egress", out, "networkSecurityPerimeter", no, "NspPublicOutboundPerimeterRulesDenied"},
		{"egress", out, "managedNetwork", ok, "NspPublicOutboundResourceRulesAllowed"},
		{"egress", out, "allowedFqdnList", no, "NspPublicOutboundResourceRulesDenied"},
		{"egress", out, "system", no, ""},
		{"egress", out, "", no, ""},
		{"dns", in, "privateLink", ok, ""},
		{"dns", out, "managedNetwork", ok, ""},
		{"ingress", "", "networkAcls", ok, ""},
	}
	for _, tc := range tests {
		r := accesslog.Record{Plane: tc.plane, Direction: tc.dir, Layer: tc.layer, Result: tc.result}
		if got := accesslog.CategoryOf(r); got != tc.want {
			t.Errorf("CategoryOf(%s %s %s %s) = %q, want %q", tc.plane, tc.dir, tc.layer, tc.result, got, tc.want)
		}
	}
}

// TestNamesMatchTheEvaluator keeps the names the log shares with
// internal/access in step with it.
func TestNamesMatchTheEvaluator(t *testing.T) {
	pairs := [][2]string{
		{accesslog.LayerPrivateLink, access.LayerPrivateLink},
		{accesslog.LayerPerimeter, access.LayerPerimeter},
		{accesslog.LayerPublicNetworkAccess, access.LayerPublicNetworkAccess},
		{accesslog.LayerNetworkACLs, access.LayerNetworkACLs},
		{accesslog.LayerTrustedService, access.LayerTrustedService},
		{accesslog.LayerSystem, access.LayerSystem},
		{accesslog.LayerResource, access.LayerResource},
		{accesslog.PathPublic, string(access.PathPublic)},
		{accesslog.PathServiceEndpoint, string(access.PathServiceEndpoint)},
		{accesslog.PathPrivateEndpoint, string(access.PathPrivateEndpoint)},
		{accesslog.Inbound, string(access.Inbound)},
		{accesslog.Outbound, string(access.Outbound)},
	}
	for _, p := range pairs {
		if p[0] != p[1] {
			t.Errorf("accesslog says %q where internal/access says %q", p[0], p[1])
		}
	}
}

// full is a record with every field set.
func full() accesslog.Record {
	return accesslog.Record{
		Seq: 7, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), RequestID: "r", Plane: "ingress", Direction: "Inbound",
		SourceIP: "203.0.113.7", SourcePort: 1234, SourceVia: "tcp", ArrivalPath: "privateEndpoint", SubnetID: "/s", PrivateEndpointID: "/pe",
		ResourceID: "/subscriptions/s/x", SubscriptionID: "s", Host: "h", DestinationPort: 443, Deployment: "d", Operation: "chat/completions",
		Result: "Allowed", Layer: "privateLink", Rule: "pe", Code: "Allowed", Reason: "approved", Category: "NspPrivateInboundAllowed",
		SnapshotRevision: 9, PrincipalID: "oid", AuthType: "bearer", Status: 200, LatencyMs: 1.5, PromptTokens: 1, CompletionTokens: 2,
	}
}

// TestAttrsUseTheJSONNames checks that slog lines built with Attrs name
// every field as the JSON does (time aside: slog has its own).
func TestAttrsUseTheJSONNames(t *testing.T) {
	r := full()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var jsonKeys, attrKeys []string
	for k := range m {
		if k != accesslog.FieldTime {
			jsonKeys = append(jsonKeys, k)
		}
	}
	for _, a := range r.Attrs() {
		attrKeys = append(attrKeys, a.Key)
		if got, want := a.Value.String(), jsonString(m[a.Key]); got != want {
			t.Errorf("attr %s = %s, JSON has %s", a.Key, got, want)
		}
	}
	slices.Sort(jsonKeys)
	slices.Sort(attrKeys)
	if !slices.Equal(jsonKeys, attrKeys) {
		t.Errorf("attr keys %q differ from JSON keys %q", attrKeys, jsonKeys)
	}
	if n := reflect.TypeOf(r).NumField(); n != len(jsonKeys)+1 {
		t.Errorf("Record has %d fields, the full record sets %d: set the new ones in full()", n, len(jsonKeys)+1)
	}
	if len((accesslog.Record{}).Attrs()) != 0 {
		t.Error("an empty record has attributes")
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

func TestSubscriptionOf(t *testing.T) {
	for id, want := range map[string]string{
		"/subscriptions/ABC/resourceGroups/rg": "abc",
		"/SUBSCRIPTIONS/abc":                   "abc",
		"/subscriptions/":                      "",
		"/providers/Microsoft.Foo/x":           "",
		"":                                     "",
	} {
		if got := accesslog.SubscriptionOf(id); got != want {
			t.Errorf("SubscriptionOf(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestSourceRange(t *testing.T) {
	tests := []struct {
		source  string
		in, out []string
	}{
		{"203.0.113.7", []string{"203.0.113.7", "::ffff:203.0.113.7"}, []string{"203.0.113.6", "203.0.113.8", "::cb00:7107"}},
		{"10.0.0.0/8", []string{"10.0.0.0", "10.255.255.255", "10.1.2.3"}, []string{"9.255.255.255", "11.0.0.0", "::a00:1"}},
		{"10.1.2.3/8", []string{"10.0.0.0", "10.255.255.255"}, []string{"11.0.0.0"}},
		{"0.0.0.0/0", []string{"0.0.0.0", "255.255.255.255"}, []string{"::", "2001:db8::1"}},
		{"::/0", []string{"::", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, []string{"0.0.0.0", "10.0.0.1"}},
		{"2001:db8::/33", []string{"2001:db8::", "2001:db8:7fff:ffff:ffff:ffff:ffff:ffff"}, []string{"2001:db8:8000::", "2001:db7:ffff::"}},
		{"::ffff:10.0.0.0/104", []string{"10.0.0.1"}, []string{"11.0.0.1"}},
		{" 192.0.2.1/32 ", []string{"192.0.2.1"}, []string{"192.0.2.0"}},
	}
	for _, tc := range tests {
		lo, hi, err := accesslog.SourceRange(tc.source)
		if err != nil {
			t.Errorf("SourceRange(%q): %v", tc.source, err)
			continue
		}
		inRange := func(ip string) bool {
			k := accesslog.SourceKey(ip)
			return bytes.Compare(lo, k) <= 0 && bytes.Compare(k, hi) <= 0
		}
		for _, ip := range tc.in {
			if !inRange(ip) {
				t.Errorf("%s does not cover %s", tc.source, ip)
			}
		}
		for _, ip := range tc.out {
			if inRange(ip) {
				t.Errorf("%s covers %s", tc.source, ip)
			}
		}
	}
	for _, bad := range []string{"", "x", "10.0.0.0/33", "10.0.0", "fe80::1%eth0", "::ffff:0:0/95", "2001:db8::/129"} {
		if _, _, err := accesslog.SourceRange(bad); err == nil {
			t.Errorf("SourceRange(%q) succeeded", bad)
		} else if !strings.Contains(err.Error(), "source") {
			t.Errorf("SourceRange(%q): error %q does not name the source", bad, err)
		}
	}
	if accesslog.SourceKey("nope") != nil {
		t.Error("SourceKey of a non-address is not nil")
	}
}

// FuzzSourceRange checks the parser against netip: an address lies in the
// range of a prefix exactly when the prefix contains it.
func FuzzSourceRange(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "203.0.113.7", "::/0", "2001:db8::/32", "::ffff:10.0.0.0/104", "0.0.0.0/0", "1.2.3.4/31"} {
		f.Add(s, "10.1.2.3")
		f.Add(s, "2001:db8::1")
	}
	f.Fuzz(func(t *testing.T, source, ip string) {
		lo, hi, err := accesslog.SourceRange(source)
		if err != nil {
			return
		}
		if bytes.Compare(lo, hi) > 0 {
			t.Fatalf("SourceRange(%q): lo %x > hi %x", source, lo, hi)
		}
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return
		}
		a = a.Unmap().WithZone("")
		p, err := netip.ParsePrefix(strings.TrimSpace(source))
		if err != nil {
			b, _ := netip.ParseAddr(strings.TrimSpace(source))
			p = netip.PrefixFrom(b, b.BitLen())
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		k := accesslog.SourceKey(a.String())
		got := bytes.Compare(lo, k) <= 0 && bytes.Compare(k, hi) <= 0
		if want := p.Contains(a); got != want {
			t.Fatalf("SourceRange(%q) covers %s = %v, netip says %v", source, a, got, want)
		}
	})
}

func TestQueryFilter(t *testing.T) {
	f, err := accesslog.Query{Result: "DENIED", Host: " A.Example ", ResourceID: "/Subscriptions/S/", Limit: 0}.Filter()
	if err != nil {
		t.Fatal(err)
	}
	if f.Result != "Denied" || f.Host != "a.example" || f.Resource != "/subscriptions/s" || f.Limit != accesslog.DefaultLimit {
		t.Errorf("filter = %+v", f)
	}
	if f, _ := (accesslog.Query{Limit: 1e6}).Filter(); f.Limit != accesslog.MaxLimit {
		t.Errorf("limit 1e6 became %d, want %d", f.Limit, accesslog.MaxLimit)
	}
	_, err = accesslog.Query{From: time.Unix(10, 0), To: time.Unix(5, 0)}.Filter()
	if err == nil || !strings.Contains(err.Error(), "from") {
		t.Errorf("reversed window: %v", err)
	}
}

package diagnostics_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/arm/armtest"
	"github.com/perimeterhq/perimeter/internal/providers/diagnostics"
	"github.com/perimeterhq/perimeter/internal/store"
)

const other = "33333333-3333-3333-3333-333333333333"

var (
	sub      = armtest.SubscriptionID
	accountA = "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/alpha"
	accountB = "/subscriptions/" + sub + "/resourceGroups/rg2/providers/Microsoft.CognitiveServices/accounts/beta"
	accountX = "/subscriptions/" + other + "/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/x"
	base     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// env is an ARM server with the diagnostics kinds; its store keeps the
// test's access log.
type env struct {
	*armtest.Env
	t    *testing.T
	sink accesslog.Sink
}

func newEnv(t *testing.T, opts ...armtest.Option) *env {
	t.Helper()
	e := &env{t: t}
	e.Env = armtest.New(t, append([]armtest.Option{armtest.Subscriptions(other), armtest.Kinds(func(srv *arm.Server, st store.Store) []arm.Kind {
		e.sink = st.(accesslog.Sink) // both stores keep the log
		return diagnostics.Kinds(srv, e.sink)
	})}, opts...)...)
	e.seed()
	return e
}

// seed writes the test records: five in sub, one in the other subscription.
func (e *env) seed() {
	at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	rs := []accesslog.Record{
		{Time: at(1), RequestID: "a1", Plane: "ingress", Direction: "Inbound", SourceIP: "203.0.113.7", SourcePort: 40000, SourceVia: "tcp",
			ArrivalPath: "public", ResourceID: accountA, Host: "alpha.openai.perimeter.localhost", Deployment: "gpt-4o", Operation: "chat/completions",
			Result: "Allowed", Layer: "networkAcls", Rule: "ipRules[0]: 203.0.113.0/24", Code: "Allowed", Category: accesslog.CategoryPublicInboundResourceRulesAllowed,
			SnapshotRevision: 12, PrincipalID: "oid-1", AuthType: "bearer", Status: 200, LatencyMs: 35.5, PromptTokens: 12, CompletionTokens: 30},
		{Time: at(2), RequestID: "a2", Plane: "ingress", Direction: "Inbound", SourceIP: "198.51.100.9", ArrivalPath: "public", ResourceID: accountA,
			Host: "alpha.openai.perimeter.localhost", Deployment: "gpt-4o", Result: "Denied", Layer: "networkAcls", Rule: "defaultAction: Deny",
			Code: "FirewallDenied", Reason: "no IP rule matches 198.51.100.9", Status: 403, SnapshotRevision: 12},
		{Time: at(3), RequestID: "b1", Plane: "ingress", Direction: "Inbound", SourceIP: "10.0.1.4", ArrivalPath: "privateEndpoint",
			PrivateEndpointID: "/subscriptions/" + sub + "/resourceGroups/rg2/providers/Microsoft.Network/privateEndpoints/pe", ResourceID: accountB,
			Host: "beta.openai.perimeter.localhost", Deployment: "embed", Result: "Allowed", Layer: "privateLink", Rule: "privateEndpointConnections/pe", Status: 200},
		{Time: at(4), RequestID: "b2", Plane: "ingress", Direction: "Inbound", SourceIP: "10.0.2.5", ArrivalPath: "serviceEndpoint", ResourceID: accountB,
			Host: "beta.openai.perimeter.localhost", Result: "Denied", Layer: "publicNetworkAccess", Rule: "publicNetworkAccess: Disabled", Status: 403},
		{Time: at(5), RequestID: "a3", Plane: "ingress", Direction: "Inbound", SourceIP: "2001:db8::1", ArrivalPath: "public", ResourceID: accountA + "/projects/p",
			Host: "alpha.services.ai.perimeter.localhost", Result: "Allowed", Layer: "networkAcls", Rule: "defaultAction: Allow", Status: 200},
		{Time: at(6), RequestID: "x1", Plane: "ingress", Direction: "Inbound", SourceIP: "203.0.113.7", ResourceID: accountX, Result: "Denied", Layer: "networkAcls", Rule: "defaultAction: Deny"},
	}
	if err := e.sink.AppendLogs(e.t.Context(), rs); err != nil {
		e.t.Fatal(err)
	}
}

type response struct {
	status int
	body   []byte
}

func (e *env) get(path string, query url.Values) response {
	e.t.Helper()
	r := e.Do(http.MethodGet, path+"?"+query.Encode(), nil)
	return response{r.Status, r.Body}
}

func logsPath(s string) string {
	return "/subscriptions/" + s + "/providers/Perimeter.Diagnostics/accessLogs"
}

// list GETs the access log with the given filters and returns the request
// ids, failing unless the answer is 200.
func (e *env) list(filters ...string) ([]string, []accesslog.Record) {
	e.t.Helper()
	q := url.Values{"api-version": {diagnostics.APIVersion}}
	for i := 0; i+1 < len(filters); i += 2 {
		q.Set(filters[i], filters[i+1])
	}
	r := e.get(logsPath(sub), q)
	if r.status != http.StatusOK {
		e.t.Fatalf("list %v: %d %s", filters, r.status, r.body)
	}
	var page struct {
		Value []accesslog.Record `json:"value"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil || page.Value == nil {
		e.t.Fatalf("list %v: not a page (%v): %s", filters, err, r.body)
	}
	ids := make([]string, len(page.Value))
	for i, rec := range page.Value {
		ids[i] = rec.RequestID
	}
	return ids, page.Value
}

func TestListScopedToTheSubscription(t *testing.T) {
	e := newEnv(t)
	ids, recs := e.list()
	if want := []string{"a3", "b2", "b1", "a2", "a1"}; !slices.Equal(ids, want) {
		t.Fatalf("records %q, want %q (this subscription's, newest first)", ids, want)
	}
	for _, r := range recs {
		if r.SubscriptionID != sub {
			t.Errorf("record %s has subscriptionId %q", r.RequestID, r.SubscriptionID)
		}
	}
	q := url.Values{"api-version": {diagnostics.APIVersion}}
	var page struct{ Value []accesslog.Record }
	r := e.get(logsPath(strings.ToUpper(other)), q)
	if err := json.Unmarshal(r.body, &page); r.status != 200 || err != nil || len(page.Value) != 1 || page.Value[0].RequestID != "x1" {
		t.Fatalf("the other subscription: %d %s", r.status, r.body)
	}
}

func TestListFilters(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name    string
		filters []string
		want    []string
	}{
		{"resource and below", []string{"resourceId", accountA}, []string{"a3", "a2", "a1"}},
		{"resource group", []string{"resourceId", "/subscriptions/" + sub + "/resourceGroups/RG2"}, []string{"b2", "b1"}},
		{"result", []string{"result", "denied"}, []string{"b2", "a2"}},
		{"rule", []string{"rule", "defaultAction"}, []string{"a3", "a2"}},
		{"source IP", []string{"source", "203.0.113.7"}, []string{"a1"}},
		{"source CIDR", []string{"source", "10.0.0.0/16"}, []string{"b2", "b1"}},
		{"source IPv6 CIDR", []string{"source", "2001:db8::/32"}, []string{"a3"}},
		{"host", []string{"host", "BETA.openai.perimeter.localhost"}, []string{"b2", "b1"}},
		{"deployment", []string{"deployment", "gpt-4o"}, []string{"a2", "a1"}},
		{"from", []string{"from", base.Add(3 * time.Minute).Format(time.RFC3339)}, []string{"a3", "b2", "b1"}},
		{"to", []string{"to", base.Add(2 * time.Minute).Format(time.RFC3339)}, []string{"a1"}},
		{"window with a zone offset", []string{"from", base.Add(2 * time.Minute).In(time.FixedZone("", 3600)).Format(time.RFC3339), "to", "2026-03-01T12:04:00Z"}, []string{"b1", "a2"}},
		{"top", []string{"$top", "2"}, []string{"a3", "b2"}},
		{"combined", []string{"resourceId", accountA, "result", "Allowed", "source", "203.0.113.0/24"}, []string{"a1"}},
		{"nothing matches", []string{"host", "nope"}, []string{}},
	}
	for _, tc := range tests {
		if got, _ := e.list(tc.filters...); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}

	// Keyset paging with before.
	var all []string
	before := ""
	for range 10 {
		f := []string{"$top", "2"}
		if before != "" {
			f = append(f, "before", before)
		}
		ids, recs := e.list(f...)
		if len(ids) == 0 {
			break
		}
		all = append(all, ids...)
		before = strconv.FormatInt(recs[len(recs)-1].Seq, 10)
	}
	if want := []string{"a3", "b2", "b1", "a2", "a1"}; !slices.Equal(all, want) {
		t.Errorf("paging with before: %q, want %q", all, want)
	}
}

func TestListRefusesBadFilters(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		param, value string
		status       int
		mention      string
	}{
		{"from", "yesterday", 400, "RFC 3339"},
		{"to", "2026-13-01T00:00:00Z", 400, "to"},
		{"source", "10.0.0.0/33", 400, "CIDR"},
		{"source", "host.example", 400, "IP address"},
		{"result", "Approved", 400, "Allowed or Denied"},
		{"$top", "0", 400, "1 to 1000"},
		{"$top", "1001", 400, "1 to 1000"},
		{"$top", "ten", 400, "$top"},
		{"before", "-3", 400, "seq"},
		{"resourceId", accountX, 400, "not a resource id in subscription"},
	}
	for _, tc := range tests {
		q := url.Values{"api-version": {diagnostics.APIVersion}, tc.param: {tc.value}}
		r := e.get(logsPath(sub), q)
		var env struct {
			Error struct{ Code, Message, Target string }
		}
		_ = json.Unmarshal(r.body, &env)
		if r.status != tc.status || env.Error.Code != diagnostics.CodeInvalidQuery || !strings.Contains(env.Error.Message, tc.mention) || env.Error.Target != tc.param {
			t.Errorf("%s=%s: %d %s, want %d %s naming %q and target %s", tc.param, tc.value, r.status, r.body, tc.status, diagnostics.CodeInvalidQuery, tc.mention, tc.param)
		}
	}
	q := url.Values{"api-version": {diagnostics.APIVersion}, "from": {"2026-03-02T00:00:00Z"}, "to": {"2026-03-01T00:00:00Z"}}
	if r := e.get(logsPath(sub), q); r.status != 400 || !bytes.Contains(r.body, []byte("empty")) {
		t.Errorf("reversed window: %d %s", r.status, r.body)
	}
}

func TestARMBehaviour(t *testing.T) {
	e := newEnv(t)
	api := url.Values{"api-version": {diagnostics.APIVersion}}
	for _, tc := range []struct {
		name   string
		path   string
		query  url.Values
		status int
		code   string
	}{
		{"unknown subscription", logsPath("44444444-4444-4444-4444-444444444444"), api, 404, arm.CodeSubscriptionNotFound},
		{"wrong api-version", logsPath(sub), url.Values{"api-version": {"2025-04-01"}}, 400, arm.CodeInvalidAPIVersion},
		{"one record", logsPath(sub) + "/1", api, 404, arm.CodeResourceNotFound},
	} {
		r := e.get(tc.path, tc.query)
		var env struct{ Error struct{ Code string } }
		_ = json.Unmarshal(r.body, &env)
		if r.status != tc.status || env.Error.Code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.status, r.body, tc.status, tc.code)
		}
	}
	// The log cannot be written through the API.
	if r := e.Do(http.MethodPut, logsPath(sub)+"/1?api-version="+diagnostics.APIVersion, map[string]any{}); r.Status < 400 || r.Status >= 500 {
		t.Errorf("PUT of a record: %d %s, want a 4xx refusal", r.Status, r.Body)
	}
	// Without a token: 401.
	e.Token = ""
	if r := e.Do(http.MethodGet, logsPath(sub)+"?api-version="+diagnostics.APIVersion, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", r.Status)
	}
}

func TestNilSinkServesAnEmptyLog(t *testing.T) {
	e := armtest.New(t, armtest.Kinds(func(srv *arm.Server, _ store.Store) []arm.Kind {
		return diagnostics.Kinds(srv, nil)
	}))
	r := e.Must(http.StatusOK, http.MethodGet, logsPath(sub)+"?api-version="+diagnostics.APIVersion, nil)
	if strings.TrimSpace(string(r.Body)) != `{"value":[]}` {
		t.Errorf("nil sink: %s", r.Body)
	}
}

// TestGolden pins the payload of a list.
func TestGolden(t *testing.T) {
	e := newEnv(t)
	r := e.get(logsPath(sub), url.Values{"api-version": {diagnostics.APIVersion}, "resourceId": {accountA}, "$top": {"2"}})
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	armtest.Golden(t, "accesslogs_list", r.body)
}

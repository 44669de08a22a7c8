package main

import (
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/providers/diagnostics"
	"github.com/perimeterhq/perimeter/internal/providers/resources"
	"github.com/perimeterhq/perimeter/internal/store/sqlite"
)

const (
	logsTenant = "22222222-2222-2222-2222-222222222222"
	logsSub    = "11111111-1111-1111-1111-111111111111"
	logsToken  = "logs-test-token"
)

// logsAuth accepts the one token the test caches in the profile.
type logsAuth struct{}

func (logsAuth) Authenticate(r *http.Request) (arm.Caller, error) {
	if r.Header.Get("Authorization") != "Bearer "+logsToken {
		return arm.Caller{}, arm.Errorf(http.StatusUnauthorized, arm.CodeAuthenticationFailed, "no valid token")
	}
	return arm.Caller{TenantID: logsTenant, ObjectID: "cli", AppID: "cli", Type: "Application"}, nil
}

// logsServer runs, in-process over HTTPS, an ARM server with the
// diagnostics kinds on a store the test writes records to, and logs the
// CLI in to it with a cached token. (serve wires the same kinds; this
// server stands alone so the test can feed the log directly.)
func logsServer(t *testing.T) (*cli, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := resources.EnsureSubscription(t.Context(), st, logsTenant, logsSub, "test"); err != nil {
		t.Fatal(err)
	}
	srv := arm.NewServer(arm.Config{Store: st, Authenticator: logsAuth{}, Logger: slog.New(slog.DiscardHandler)})
	for _, kinds := range [][]arm.Kind{resources.Kinds(srv, nil), diagnostics.Kinds(srv, st)} {
		if err := srv.Register(kinds...); err != nil {
			t.Fatal(err)
		}
	}
	hs := httptest.NewTLSServer(srv)
	t.Cleanup(hs.Close)

	c := newCLI(t)
	ps := &profileStore{dir: c.configDir}
	p := &profile{
		Name: defaultProfile, Endpoint: hs.URL, TenantID: logsTenant, SubscriptionID: logsSub,
		CACertificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw})),
		ClientID:      "cli", ClientSecret: "unused",
	}
	if err := ps.save(p); err != nil {
		t.Fatal(err)
	}
	if err := ps.tokenCache(defaultProfile).save(cachedToken{
		Endpoint: hs.URL, TenantID: logsTenant, ClientID: "cli", AccessToken: logsToken, ExpiresOn: time.Now().Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	return c, st
}

func logsAccount(name string) string {
	return "/subscriptions/" + logsSub + "/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/" + name
}

// seedLogs writes fixed records at fixed times.
func seedLogs(t *testing.T, st *sqlite.Store) {
	t.Helper()
	at := func(m int) time.Time { return time.Date(2026, 3, 1, 12, m, 0, 0, time.UTC) }
	err := st.AppendLogs(t.Context(), []accesslog.Record{
		{Time: at(1), RequestID: "r1", Plane: "ingress", Direction: "Inbound", SourceIP: "203.0.113.7", ArrivalPath: "public",
			ResourceID: logsAccount("alpha"), Deployment: "gpt-4o", Result: "Allowed", Layer: "networkAcls", Rule: "ipRules[0]: 203.0.113.0/24", Status: 200},
		{Time: at(2), RequestID: "r2", Plane: "ingress", Direction: "Inbound", SourceIP: "198.51.100.9", ArrivalPath: "public",
			ResourceID: logsAccount("alpha"), Deployment: "gpt-4o", Result: "Denied", Layer: "networkAcls", Rule: "defaultAction: Deny", Status: 403},
		{Time: at(3), RequestID: "r3", Plane: "ingress", Direction: "Inbound", SourceIP: "10.0.1.4", ArrivalPath: "privateEndpoint",
			ResourceID: logsAccount("beta"), Deployment: "embed", Result: "Allowed", Layer: "privateLink", Rule: "privateEndpointConnections/pe", Status: 200},
		{Time: at(4), RequestID: "r4", Plane: "ingress", Direction: "Inbound", SourceIP: "10.0.2.5", ArrivalPath: "serviceEndpoint",
			ResourceID: logsAccount("beta"), Result: "Denied", Layer: "publicNetworkAccess", Rule: "publicNetworkAccess: Disabled", Status: 403},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// requestIDsOf reads the requestId of each record of decoded JSON output.
func requestIDsOf(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, str(it, "requestId"))
	}
	return out
}

func TestLogsQuery(t *testing.T) {
	c, st := logsServer(t)
	seedLogs(t, st)

	tests := []struct {
		args []string
		want []string
	}{
		{nil, []string{"r4", "r3", "r2", "r1"}},
		{[]string{"--result", "denied"}, []string{"r4", "r2"}},
		{[]string{"--resource", logsAccount("ALPHA")}, []string{"r2", "r1"}},
		{[]string{"--resource", "/subscriptions/" + logsSub + "/resourceGroups/rg"}, []string{"r4", "r3", "r2", "r1"}},
		{[]string{"--rule", "defaultaction"}, []string{"r2"}},
		{[]string{"--source", "10.0.0.0/16"}, []string{"r4", "r3"}},
		{[]string{"--source", "203.0.113.7"}, []string{"r1"}},
		{[]string{"--deployment", "embed"}, []string{"r3"}},
		{[]string{"--since", "2026-03-01T12:02:00Z", "--until", "2026-03-01T12:04:00Z"}, []string{"r3", "r2"}},
		{[]string{"--top", "1"}, []string{"r4"}},
		{[]string{"--host", "nowhere"}, []string{}},
	}
	for _, tc := range tests {
		got := requestIDsOf(c.okJSON(append([]string{"logs", "query"}, tc.args...)...))
		if !slices.Equal(got, tc.want) {
			t.Errorf("logs query %s: %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}

	// Paging with --before: the seq of the last record printed.
	first, _ := c.okJSON("logs", "query", "--top", "2").([]any)
	if len(first) != 2 {
		t.Fatalf("first page: %v", first)
	}
	seq := cell(lookup(first[1], "seq"))
	if seq == "" {
		t.Fatalf("no seq in the output: %v", first)
	}
	if got := requestIDsOf(c.okJSON("logs", "query", "--top", "2", "--before", seq)); !slices.Equal(got, []string{"r2", "r1"}) {
		t.Errorf("second page: %q, want r2 r1", got)
	}

	golden(t, "logs_query_table", c.ok("logs", "query", "-o", "table"))
}

func TestLogsQuerySinceIsRelative(t *testing.T) {
	c, st := logsServer(t)
	now := time.Now().UTC()
	if err := st.AppendLogs(t.Context(), []accesslog.Record{
		{Time: now.Add(-2 * time.Hour), RequestID: "old", ResourceID: logsAccount("a"), Result: "Allowed"},
		{Time: now.Add(-30 * time.Minute), RequestID: "recent", ResourceID: logsAccount("a"), Result: "Allowed"},
		{Time: now.Add(-3 * 24 * time.Hour), RequestID: "days", ResourceID: logsAccount("a"), Result: "Allowed"},
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--since", "1h"}, []string{"recent"}},
		{[]string{"--since", "3h", "--until", "1h"}, []string{"old"}},
		{[]string{"--since", "4d", "--until", "2d"}, []string{"days"}},
		{[]string{"--since", "1.5d"}, []string{"recent", "old"}},
	} {
		if got := requestIDsOf(c.okJSON(append([]string{"logs", "query"}, tc.args...)...)); !slices.Equal(got, tc.want) {
			t.Errorf("logs query %s: %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}
}

func TestLogsQueryErrors(t *testing.T) {
	c, _ := logsServer(t)
	for _, tc := range []struct {
		args    []string
		code    int
		mention string
	}{
		{[]string{"--result", "Approved"}, 2, "--result"},
		{[]string{"--source", "10.0.0.0/33"}, 2, "--source"},
		{[]string{"--since", "yesterday"}, 2, "--since"},
		{[]string{"--until", "-1h"}, 2, "--until"},
		{[]string{"--top", "0"}, 2, "--top"},
		{[]string{"--top", "1001"}, 2, "--top"},
		{[]string{"--before", "0"}, 2, "--before"},
		{[]string{"--resource", "alpha"}, 2, "resource id"},
		{[]string{"extra"}, 2, "unrecognized"},
		// Refused by the server: a resource of another subscription.
		{[]string{"--resource", "/subscriptions/99999999-9999-9999-9999-999999999999/resourceGroups/rg"}, 1, "InvalidQueryParameterValue"},
		{[]string{"--since", "2026-03-02T00:00:00Z", "--until", "2026-03-01T00:00:00Z"}, 1, "empty"},
	} {
		r := c.run(append([]string{"logs", "query"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.mention) || r.stdout != "" {
			t.Errorf("logs query %s: exit %d, stderr %q, stdout %q; want exit %d mentioning %q",
				strings.Join(tc.args, " "), r.code, r.stderr, r.stdout, tc.code, tc.mention)
		}
	}
}

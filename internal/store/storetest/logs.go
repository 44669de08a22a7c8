package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/store"
)

// RunLogs runs the conformance suite of the access-log sink. open must
// return a fresh, empty store (registering its cleanup with t.Cleanup) and
// be safe to call from parallel tests.
func RunLogs(t *testing.T, open func(t *testing.T) accesslog.Sink) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s accesslog.Sink)
	}{
		{"AppendAndRead", testLogsAppendAndRead},
		{"Filters", testLogsFilters},
		{"Ordering", testLogsOrdering},
		{"LimitAndPaging", testLogsPaging},
		{"Prune", testLogsPrune},
		{"LargeAppendOutOfOrder", testLogsLargeAppendOutOfOrder},
		{"PruneInterleaved", testLogsPruneInterleaved},
		{"InvalidQueries", testLogsInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// logBase is the time of the first test record.
var logBase = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	subA     = "aaaaaaaa-0000-0000-0000-000000000001"
	subB     = "bbbbbbbb-0000-0000-0000-000000000002"
	rgA      = "/subscriptions/" + subA + "/resourceGroups/rg"
	accountA = rgA + "/providers/Microsoft.CognitiveServices/accounts/alpha"
	accountB = "/subscriptions/" + subB + "/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/beta"
)

func appendLogs(t *testing.T, s accesslog.Sink, records ...accesslog.Record) {
	t.Helper()
	if err := s.AppendLogs(t.Context(), records); err != nil {
		t.Fatalf("append %d records: %v", len(records), err)
	}
}

func queryLogs(t *testing.T, s accesslog.Sink, q accesslog.Query) []accesslog.Record {
	t.Helper()
	got, err := s.QueryLogs(t.Context(), q)
	if err != nil {
		t.Fatalf("query %+v: %v", q, err)
	}
	return got
}

// requestIDs are the request ids of records, in order.
func requestIDs(rs []accesslog.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.RequestID
	}
	return out
}

func wantRequests(t *testing.T, what string, got []accesslog.Record, want ...string) {
	t.Helper()
	if ids := requestIDs(got); !slices.Equal(ids, want) {
		t.Fatalf("%s: got requests %q, want %q", what, ids, want)
	}
}

func testLogsAppendAndRead(t *testing.T, s accesslog.Sink) {
	var before int64
	st, isStore := s.(store.Store)
	if isStore {
		before = revision(t, st)
	}
	if err := s.AppendLogs(t.Context(), nil); err != nil {
		t.Fatalf("append nothing: %v", err)
	}
	full := accesslog.Record{
		Time: logBase.In(time.FixedZone("CET", 3600)), RequestID: "req-full", Plane: accesslog.PlaneIngress,
		Direction: accesslog.Inbound, SourceIP: "203.0.113.7", SourcePort: 50123, SourceVia: accesslog.ViaProxyProtocol,
		ArrivalPath: accesslog.PathServiceEndpoint, SubnetID: "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s",
		PrivateEndpointID: "", ResourceID: accountA, SubscriptionID: subA, Host: "alpha.openai.perimeter.localhost",
		DestinationPort: 443, Deployment: "gpt", Operation: "chat/completions", Result: accesslog.Denied,
		Layer: accesslog.LayerNetworkACLs, Rule: "defaultAction: Deny", Code: "FirewallDenied", Reason: "no IP rule matches 203.0.113.7",
		Category: accesslog.CategoryPublicInboundResourceRulesDenied, SnapshotRevision: 42, PrincipalID: "oid-1",
		AuthType: accesslog.AuthBearer, Status: 403, LatencyMs: 1.25, PromptTokens: 10, CompletionTokens: 20,
	}
	minimal := accesslog.Record{Time: logBase.Add(time.Second), RequestID: "req-min", Plane: accesslog.PlaneDNS, Direction: accesslog.Inbound, Result: accesslog.Allowed}
	appendLogs(t, s, full, minimal)

	got := queryLogs(t, s, accesslog.Query{})
	wantRequests(t, "all records, newest first", got, "req-min", "req-full")
	if got[0].Seq <= 0 || got[1].Seq <= 0 || got[0].Seq == got[1].Seq {
		t.Fatalf("seqs %d and %d: want distinct positive seqs", got[0].Seq, got[1].Seq)
	}
	want := full
	want.Time = full.Time.UTC()
	want.Seq = got[1].Seq
	if !reflect.DeepEqual(got[1], want) {
		a, _ := json.Marshal(got[1])
		b, _ := json.Marshal(want)
		t.Fatalf("record read back differs:\n got %s\nwant %s", a, b)
	}
	if got[1].Time.Location() != time.UTC {
		t.Errorf("time read back in %v, want UTC", got[1].Time.Location())
	}
	if isStore {
		if rev := revision(t, st); rev != before {
			t.Fatalf("appending logs moved the revision from %d to %d", before, rev)
		}
		if cs := changes(t, st, 0); len(cs) != 0 {
			t.Fatalf("appending logs wrote %d change-feed entries", len(cs))
		}
	}
}

func testLogsFilters(t *testing.T, s accesslog.Sink) {
	at := func(i int) time.Time { return logBase.Add(time.Duration(i) * time.Minute) }
	appendLogs(t, s,
		accesslog.Record{RequestID: "r1", Time: at(1), ResourceID: accountA, Result: accesslog.Allowed, Rule: "ipRules[0]: 203.0.113.0/24",
			SourceIP: "203.0.113.7", Host: "alpha.openai.example", Deployment: "gpt-4o"},
		accesslog.Record{RequestID: "r2", Time: at(2), ResourceID: accountA + "/projects/p1", Result: accesslog.Denied, Rule: "defaultAction: Deny",
			SourceIP: "198.51.100.9", Host: "alpha.services.ai.example", Deployment: "GPT-4o"},
		accesslog.Record{RequestID: "r3", Time: at(3), ResourceID: accountA + "x", SubscriptionID: subA, Result: accesslog.Denied, Rule: "publicNetworkAccess: Disabled",
			SourceIP: "2001:db8::1", Host: "alphax.openai.example"},
		accesslog.Record{RequestID: "r4", Time: at(4), ResourceID: accountB, Result: accesslog.Allowed, Rule: "IPRULES[1]: 10.0.0.0/8",
			SourceIP: "::ffff:10.1.2.3", Host: "beta.openai.example", Deployment: "embed"},
		accesslog.Record{RequestID: "r5", Time: at(5), Result: accesslog.Denied, Layer: accesslog.LayerResource,
			SourceIP: "10.200.0.1", Host: "unknown.example"},
	)
	tests := []struct {
		name string
		q    accesslog.Query
		want []string
	}{
		{"no filter", accesslog.Query{}, []string{"r5", "r4", "r3", "r2", "r1"}},
		{"subscription (derived from the resource id)", accesslog.Query{SubscriptionID: subA}, []string{"r3", "r2", "r1"}},
		{"subscription, other case", accesslog.Query{SubscriptionID: "BBBBBBBB-0000-0000-0000-000000000002"}, []string{"r4"}},
		{"resource and what is below it, not its prefix siblings", accesslog.Query{ResourceID: accountA}, []string{"r2", "r1"}},
		{"resource, other case, trailing slash", accesslog.Query{ResourceID: "/SUBSCRIPTIONS/" + subA + "/resourcegroups/RG/providers/microsoft.cognitiveservices/accounts/ALPHA/"}, []string{"r2", "r1"}},
		{"resource group", accesslog.Query{ResourceID: rgA}, []string{"r3", "r2", "r1"}},
		{"child resource only", accesslog.Query{ResourceID: accountA + "/projects/p1"}, []string{"r2"}},
		{"result Denied", accesslog.Query{Result: "denied"}, []string{"r5", "r3", "r2"}},
		{"result Allowed", accesslog.Query{Result: accesslog.Allowed}, []string{"r4", "r1"}},
		{"rule contains, any case", accesslog.Query{Rule: "iprules"}, []string{"r4", "r1"}},
		{"rule contains with LIKE metacharacters", accesslog.Query{Rule: "[0]"}, []string{"r1"}},
		{"rule contains '%'", accesslog.Query{Rule: "%"}, nil},
		{"host", accesslog.Query{Host: "ALPHA.openai.example"}, []string{"r1"}},
		{"deployment, any case", accesslog.Query{Deployment: "gpt-4o"}, []string{"r2", "r1"}},
		{"source IPv4", accesslog.Query{Source: "203.0.113.7"}, []string{"r1"}},
		{"source IPv4 CIDR", accesslog.Query{Source: "203.0.113.0/24"}, []string{"r1"}},
		{"source CIDR not masked", accesslog.Query{Source: "10.9.9.9/8"}, []string{"r5", "r4"}},
		{"source IPv4-mapped address stored unmapped", accesslog.Query{Source: "10.1.2.3"}, []string{"r4"}},
		{"source IPv4-mapped CIDR", accesslog.Query{Source: "::ffff:10.0.0.0/104"}, []string{"r5", "r4"}},
		{"source IPv6 CIDR", accesslog.Query{Source: "2001:db8::/32"}, []string{"r3"}},
		{"IPv6 /0 excludes IPv4", accesslog.Query{Source: "::/0"}, []string{"r3"}},
		{"IPv4 /0 excludes IPv6", accesslog.Query{Source: "0.0.0.0/0"}, []string{"r5", "r4", "r2", "r1"}},
		{"source /32 neighbour", accesslog.Query{Source: "203.0.113.8/32"}, nil},
		{"from is inclusive", accesslog.Query{From: at(3)}, []string{"r5", "r4", "r3"}},
		{"to is exclusive", accesslog.Query{To: at(3)}, []string{"r2", "r1"}},
		{"time window", accesslog.Query{From: at(2), To: at(4)}, []string{"r3", "r2"}},
		{"time window in another zone", accesslog.Query{From: at(2).In(time.FixedZone("X", -5*3600)), To: at(2).Add(time.Nanosecond)}, []string{"r2"}},
		{"everything at once", accesslog.Query{SubscriptionID: subA, ResourceID: accountA, Result: "Denied", Rule: "deny", Source: "198.51.100.0/24",
			Host: "alpha.services.ai.example", Deployment: "gpt-4o", From: at(1), To: at(5)}, []string{"r2"}},
		{"filters that exclude each other", accesslog.Query{SubscriptionID: subB, ResourceID: accountA}, nil},
	}
	for _, tc := range tests {
		got := queryLogs(t, s, tc.q)
		if tc.want == nil {
			tc.want = []string{}
		}
		wantRequests(t, tc.name, got, tc.want...)
	}
}

func testLogsOrdering(t *testing.T, s accesslog.Sink) {
	// Appended out of time order (a long stream logged when it ended, a
	// plane with its own batch): results follow Time, newest first; records
	// with the same Time come most recently stored first.
	appendLogs(t, s,
		accesslog.Record{RequestID: "t2", Time: logBase.Add(2 * time.Second)},
		accesslog.Record{RequestID: "t0", Time: logBase},
		accesslog.Record{RequestID: "t3a", Time: logBase.Add(3 * time.Second)},
	)
	appendLogs(t, s,
		accesslog.Record{RequestID: "t1", Time: logBase.Add(time.Second)},
		accesslog.Record{RequestID: "t3b", Time: logBase.Add(3 * time.Second)},
		accesslog.Record{RequestID: "t2ns", Time: logBase.Add(2*time.Second + time.Nanosecond)},
	)
	wantRequests(t, "newest first", queryLogs(t, s, accesslog.Query{}), "t3b", "t3a", "t2ns", "t2", "t1", "t0")
}

func testLogsPaging(t *testing.T, s accesslog.Sink) {
	const n = 1100
	var all []accesslog.Record
	for i := range n {
		r := accesslog.Record{RequestID: fmt.Sprintf("p%04d", i), Time: logBase.Add(time.Duration(i/3) * time.Millisecond), Result: accesslog.Allowed}
		if i%2 == 1 {
			r.Result = accesslog.Denied
		}
		all = append(all, r)
	}
	appendLogs(t, s, all...)

	if got := queryLogs(t, s, accesslog.Query{}); len(got) != accesslog.DefaultLimit {
		t.Fatalf("no limit returned %d records, want %d", len(got), accesslog.DefaultLimit)
	}
	if got := queryLogs(t, s, accesslog.Query{Limit: 5000}); len(got) != accesslog.MaxLimit {
		t.Fatalf("limit 5000 returned %d records, want the cap %d", len(got), accesslog.MaxLimit)
	}
	if got := queryLogs(t, s, accesslog.Query{Limit: 3}); len(got) != 3 || got[0].RequestID != "p1099" {
		t.Fatalf("limit 3 returned %q, want 3 records from p1099", requestIDs(got))
	}

	// Page through the denied records (ties in Time cross page boundaries).
	var want []string
	for i := n - 1; i >= 0; i-- {
		if i%2 == 1 {
			want = append(want, all[i].RequestID)
		}
	}
	got := pageAll(t, s, accesslog.Query{Result: accesslog.Denied, Limit: 7})
	if !slices.Equal(got, want) {
		t.Fatalf("paging returned %d records (%q...), want %d (%q...)", len(got), got[:min(len(got), 5)], len(want), want[:5])
	}

	// A cursor that does not exist selects nothing.
	if got := queryLogs(t, s, accesslog.Query{Before: 1 << 40}); len(got) != 0 {
		t.Fatalf("unknown cursor returned %d records", len(got))
	}
}

func testLogsPrune(t *testing.T, s accesslog.Sink) {
	// More than one prune chunk of old records, and recent ones to keep.
	const old = 5200
	var rs []accesslog.Record
	for i := range old {
		rs = append(rs, accesslog.Record{RequestID: fmt.Sprintf("old%d", i), Time: logBase.Add(-time.Hour - time.Duration(i)*time.Millisecond)})
	}
	rs = append(rs,
		accesslog.Record{RequestID: "edge", Time: logBase},
		accesslog.Record{RequestID: "new", Time: logBase.Add(time.Minute)},
	)
	appendLogs(t, s, rs...)
	// Keep a cursor into what will be pruned.
	oldest := queryLogs(t, s, accesslog.Query{To: logBase.Add(-time.Hour + time.Nanosecond), Limit: 1})
	if len(oldest) != 1 {
		t.Fatalf("found %d old records before pruning", len(oldest))
	}

	n, err := s.PruneLogs(t.Context(), logBase)
	if err != nil || n != old {
		t.Fatalf("prune = (%d, %v), want (%d, nil)", n, err, old)
	}
	wantRequests(t, "after pruning: the record at the cut-off stays", queryLogs(t, s, accesslog.Query{}), "new", "edge")
	if got := queryLogs(t, s, accesslog.Query{Before: oldest[0].Seq}); len(got) != 0 {
		t.Fatalf("a cursor to a pruned record returned %q", requestIDs(got))
	}
	if n, err := s.PruneLogs(t.Context(), logBase); err != nil || n != 0 {
		t.Fatalf("second prune = (%d, %v), want (0, nil)", n, err)
	}
	if n, err := s.PruneLogs(t.Context(), logBase.Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("prune everything = (%d, %v), want (2, nil)", n, err)
	}
	wantRequests(t, "after pruning everything", queryLogs(t, s, accesslog.Query{}))
}

func testLogsInvalid(t *testing.T, s accesslog.Sink) {
	appendLogs(t, s, accesslog.Record{RequestID: "x", Time: logBase, Result: accesslog.Allowed})
	for _, q := range []accesslog.Query{
		{Result: "Approved"},
		{Source: "not-an-ip"},
		{Source: "10.0.0.0/33"},
		{Source: "fe80::1%eth0"},
		{From: logBase, To: logBase},
		{From: logBase.Add(time.Second), To: logBase},
		{Before: -1},
	} {
		if got, err := s.QueryLogs(t.Context(), q); err == nil {
			t.Errorf("query %+v succeeded with %d records, want an error", q, len(got))
		}
	}
}

// shuffledRecords returns n records with distinct times, in an order
// unrelated to time (a fixed permutation), named by their time's rank.
func shuffledRecords(n int) []accesslog.Record {
	rs := make([]accesslog.Record, n)
	for i := range rs {
		rank := (i * 7919) % n // 7919 is prime: a permutation when n is not a multiple
		rs[i] = accesslog.Record{RequestID: fmt.Sprintf("t%05d", rank), Time: logBase.Add(time.Duration(rank) * time.Millisecond),
			Result: []string{accesslog.Allowed, accesslog.Denied}[rank%2]}
	}
	return rs
}

// pageAll pages through q, returning the request ids in order. Only the
// last page may be short; none may exceed q.Limit.
func pageAll(t *testing.T, s accesslog.Sink, q accesslog.Query) []string {
	t.Helper()
	var got []string
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("paging does not terminate")
		}
		page := queryLogs(t, s, q)
		if len(page) > q.Limit {
			t.Fatalf("page of %d records exceeds limit %d", len(page), q.Limit)
		}
		got = append(got, requestIDs(page)...)
		if len(page) < q.Limit {
			return got
		}
		q.Before = page[len(page)-1].Seq
	}
}

func testLogsLargeAppendOutOfOrder(t *testing.T, s accesslog.Sink) {
	// One append larger than a store may keep together, in no time order:
	// pages follow Time across however the store splits it.
	const n = 2500
	appendLogs(t, s, shuffledRecords(n)...)
	var all, denied []string
	for rank := n - 1; rank >= 0; rank-- {
		all = append(all, fmt.Sprintf("t%05d", rank))
		if rank%2 == 1 {
			denied = append(denied, fmt.Sprintf("t%05d", rank))
		}
	}
	if got := pageAll(t, s, accesslog.Query{Limit: 97}); !slices.Equal(got, all) {
		t.Fatalf("paging everything returned %d records (%q...), want %d newest first", len(got), got[:min(len(got), 5)], n)
	}
	if got := pageAll(t, s, accesslog.Query{Result: accesslog.Denied, Limit: 250}); !slices.Equal(got, denied) {
		t.Fatalf("paging the denied records returned %d records (%q...), want %d newest first", len(got), got[:min(len(got), 5)], len(denied))
	}
	window := queryLogs(t, s, accesslog.Query{From: logBase.Add(1000 * time.Millisecond), To: logBase.Add(1003 * time.Millisecond)})
	wantRequests(t, "a window in the middle", window, "t01002", "t01001", "t01000")
}

func testLogsPruneInterleaved(t *testing.T, s accesslog.Sink) {
	// Old and recent records alternate within one append, so whatever a
	// store keeps together straddles the cut-off; the survivors keep their
	// seqs, so cursors taken before the prune still page correctly.
	const n = 2100
	rs := shuffledRecords(n)
	cut := logBase.Add(n / 2 * time.Millisecond)
	appendLogs(t, s, rs...)
	before := queryLogs(t, s, accesslog.Query{From: cut, Limit: accesslog.MaxLimit})
	removed, err := s.PruneLogs(t.Context(), cut)
	if err != nil || removed != n/2 {
		t.Fatalf("prune = (%d, %v), want (%d, nil)", removed, err, n/2)
	}
	after := queryLogs(t, s, accesslog.Query{Limit: accesslog.MaxLimit})
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("after pruning, the newest %d records differ from before (seqs kept?): first %+v, want %+v", len(after), after[0], before[0])
	}
	rest := pageAll(t, s, accesslog.Query{Before: after[len(after)-1].Seq, Limit: 33})
	if len(rest) != n/2-accesslog.MaxLimit || rest[len(rest)-1] != fmt.Sprintf("t%05d", n/2) {
		t.Fatalf("paging on after the prune returned %d records ending at %q, want %d ending at t%05d", len(rest), rest[len(rest)-1], n/2-accesslog.MaxLimit, n/2)
	}
}

package sqlite_test

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/store/internal/logsql"
	"github.com/perimeterhq/perimeter/internal/store/sqlite"
)

// ingressBatch returns n records shaped like the ingress gateway's: a few
// accounts in two subscriptions, mostly allowed chat requests with token
// counts, some denied by a network rule.
func ingressBatch(start time.Time, n int) []accesslog.Record {
	subs := []string{"aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002"}
	out := make([]accesslog.Record, n)
	for i := range out {
		sub := subs[i%len(subs)]
		account := fmt.Sprintf("acct%d", i%5)
		r := accesslog.Record{
			Time:             start.Add(time.Duration(i) * 150 * time.Microsecond),
			RequestID:        fmt.Sprintf("3f2c9a1e-7b4d-4e5f-9a8b-%012x", i),
			Plane:            accesslog.PlaneIngress,
			Direction:        accesslog.Inbound,
			SourceIP:         fmt.Sprintf("203.0.113.%d", i%250),
			SourcePort:       40000 + i%20000,
			SourceVia:        accesslog.ViaTCP,
			ArrivalPath:      accesslog.PathPublic,
			ResourceID:       "/subscriptions/" + sub + "/resourceGroups/rg-prod/providers/Microsoft.CognitiveServices/accounts/" + account,
			Host:             account + ".openai.perimeter.localhost",
			Deployment:       "gpt-4o-mini",
			Operation:        "chat/completions",
			Result:           accesslog.Allowed,
			Layer:            accesslog.LayerNetworkACLs,
			Rule:             "ipRules[0]: 203.0.113.0/24",
			Code:             "Allowed",
			Reason:           "source matches ipRules[0]",
			Category:         accesslog.CategoryPublicInboundResourceRulesAllowed,
			SnapshotRevision: 1234,
			AuthType:         accesslog.AuthKey,
			Status:           200,
			LatencyMs:        3.417,
			PromptTokens:     42,
			CompletionTokens: 128,
		}
		if i%10 == 9 {
			r.Result, r.Rule, r.Code, r.Reason = accesslog.Denied, "defaultAction: Deny", "FirewallDenied", "no IP rule matches "+r.SourceIP
			r.Category = accesslog.CategoryPublicInboundResourceRulesDenied
			r.Status, r.PromptTokens, r.CompletionTokens = 403, 0, 0
		}
		out[i] = r
	}
	return out
}

// TestAppendLogsChunks appends batches that fill none, one or several
// full INSERT statements, with and without a remainder, and checks every
// stored column and seq against what was appended: a value bound one
// place off, or a row out of order, would show.
func TestAppendLogsChunks(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, n := range []int{1, sqlite.LogChunk - 1, sqlite.LogChunk, sqlite.LogChunk + 1, 3*sqlite.LogChunk + 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "perimeter.db")
			s := openAt(t, path)
			first := ingressBatch(start, 3) // a batch before, so seqs do not start at 1
			records := ingressBatch(start.Add(time.Hour), n)
			for _, batch := range [][]accesslog.Record{first, records} {
				if err := s.AppendLogs(t.Context(), batch); err != nil {
					t.Fatalf("append %d records: %v", len(batch), err)
				}
			}

			rows, err := rawDB(t, path).Query(`SELECT seq, ` + strings.Join(logsql.Columns, ", ") + ` FROM access_log WHERE seq > 3 ORDER BY seq`)
			if err != nil {
				t.Fatalf("read back: %v", err)
			}
			defer rows.Close()
			i := 0
			for ; rows.Next(); i++ {
				var seq int64
				var got accesslog.Columns
				var source, body []byte
				if err := rows.Scan(&seq, &got.Time, &got.Subscription, &got.Resource, &got.Result, &got.Rule,
					&got.Host, &got.Deployment, &source, &body); err != nil {
					t.Fatalf("scan: %v", err)
				}
				got.Source = source
				if i >= n {
					continue // counted below
				}
				wantBody, want, err := accesslog.Encode(records[i])
				if err != nil {
					t.Fatal(err)
				}
				if seq != int64(4+i) {
					t.Errorf("record %d (%s) has seq %d, want %d: rows are not stored in the order given", i, records[i].RequestID, seq, 4+i)
				}
				if !reflect.DeepEqual(got, want) || !bytes.Equal(body, wantBody) {
					t.Fatalf("record %d stored as\n %+v %s\nwant\n %+v %s", i, got, body, want, wantBody)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if i != n {
				t.Fatalf("stored %d records, want %d", i, n)
			}
		})
	}
}

// TestAppendLogsAllOrNone checks that a batch which fails partway, in
// encoding or in a statement after others have run, leaves nothing behind
// (INSERT OR FAIL keeps a failed statement's earlier rows until the
// transaction is rolled back), and that the store takes the next batch.
func TestAppendLogsAllOrNone(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "perimeter.db")
	s := openAt(t, path)
	db := rawDB(t, path)
	count := func() int {
		t.Helper()
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM access_log`).Scan(&n); err != nil {
			t.Fatalf("count: %v", err)
		}
		return n
	}
	n := 2*sqlite.LogChunk + 5

	unencodable := ingressBatch(start, n)
	unencodable[n-1].LatencyMs = math.NaN()
	if err := s.AppendLogs(t.Context(), unencodable); err == nil {
		t.Fatal("appended a record JSON cannot encode")
	}
	if got := count(); got != 0 {
		t.Fatalf("a batch that failed to encode left %d records", got)
	}

	// A record in the middle of the second statement fails.
	if _, err := db.Exec(`CREATE TRIGGER refuse BEFORE INSERT ON access_log WHEN NEW.rule = 'refuse me'
		BEGIN SELECT RAISE(FAIL, 'refused'); END`); err != nil {
		t.Fatalf("create trigger: %v", err)
	}
	refused := ingressBatch(start, n)
	refused[sqlite.LogChunk+sqlite.LogChunk/2].Rule = "Refuse me"
	if err := s.AppendLogs(t.Context(), refused); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("append with a refused record = %v, want the trigger's error", err)
	}
	if got := count(); got != 0 {
		t.Fatalf("a batch that failed partway left %d records", got)
	}

	if err := s.AppendLogs(t.Context(), ingressBatch(start, n)); err != nil {
		t.Fatalf("append after failures: %v", err)
	}
	if got := count(); got != n {
		t.Fatalf("after failures, a good batch stored %d records, want %d", got, n)
	}
}

// TestLogQueryPlans pins how SQLite answers the query shapes of the
// access log now that no index leads with result (schema step 3): from an
// index in the order of results, never by sorting what matches, and from
// the subscription index rather than the time index when a subscription
// is given. Filtering on a resource is left out: its OR of two ranges is
// answered from the resource index and sorted.
func TestLogQueryPlans(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perimeter.db")
	openAt(t, path)
	db := rawDB(t, path)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		q     accesslog.Query
		index string
	}{
		{"everything", accesslog.Query{}, "access_log_time"},
		{"result", accesslog.Query{Result: accesslog.Denied}, "access_log_time"},
		{"result, next page", accesslog.Query{Result: accesslog.Denied, Before: 1000}, "access_log_time"},
		{"result in a time window", accesslog.Query{Result: accesslog.Denied, From: at, To: at.Add(time.Hour)}, "access_log_time"},
		{"subscription", accesslog.Query{SubscriptionID: "s"}, "access_log_subscription"},
		{"subscription and result", accesslog.Query{SubscriptionID: "s", Result: accesslog.Denied}, "access_log_subscription"},
		{"source and host", accesslog.Query{Source: "10.0.0.0/8", Host: "h"}, "access_log_time"},
	}
	for _, tc := range tests {
		f, err := tc.q.Filter()
		if err != nil {
			t.Fatal(err)
		}
		var args []any
		query := logsql.Select(f, func(v any) string { args = append(args, v); return "?" },
			func(col, arg string) string { return "instr(" + col + ", " + arg + ") > 0" })
		rows, err := db.Query(`EXPLAIN QUERY PLAN `+query, args...)
		if err != nil {
			t.Fatalf("%s: explain: %v", tc.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "; ")
		if len(plan) == 0 || !strings.Contains(plan[0]+" ", "access_log USING INDEX "+tc.index+" ") ||
			strings.Contains(text, "TEMP B-TREE") {
			t.Errorf("%s: plan %q, want access_log read from %s with no sort", tc.name, text, tc.index)
		}
	}
}

// BenchmarkAppendLogs appends batches to a growing log: full ones of the
// Logger's default size, as the gateway writes under load, and ones a
// flush interval cuts short, as at a lower rate.
func BenchmarkAppendLogs(b *testing.B) {
	for _, size := range []int{accesslog.DefaultBatchSize, 50} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) { benchmarkAppendLogs(b, size) })
	}
}

func benchmarkAppendLogs(b *testing.B, size int) {
	s := openAt(b, filepath.Join(b.TempDir(), "perimeter.db"))
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	records := ingressBatch(start, size)
	b.ReportAllocs()
	cpu0, cpuKnown := processCPU()
	for i := 0; b.Loop(); i++ {
		// Each batch later than the last, as in a live log.
		shift := time.Duration(i) * time.Second
		for j := range records {
			records[j].Time = start.Add(shift + time.Duration(j)*150*time.Microsecond)
		}
		if err := s.AppendLogs(b.Context(), records); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(b.N * size)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/record")
	// CPU as well as wall time: the commit waits on the disk, while CPU is
	// what the gateway shares with the log writer. It counts the whole
	// process (the garbage collector too), so other tests must not run.
	if cpu1, ok := processCPU(); ok && cpuKnown {
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/n, "cpu-ns/record")
	}
}

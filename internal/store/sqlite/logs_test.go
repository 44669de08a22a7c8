package sqlite_test

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/accesslog"
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

// TestAppendLogsBatches appends calls that fill part of a batch, one, or
// several with a remainder, and checks the batches stored, that every
// record reads back as appended, and that Seq is batch id * BatchSlots +
// the record's place in its batch, so it grows in the order given.
func TestAppendLogsBatches(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	slots := sqlite.BatchSlots
	for _, n := range []int{1, slots - 1, slots, slots + 1, 2*slots + 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "perimeter.db")
			s := openAt(t, path)
			first := ingressBatch(start, 3) // a batch before, so ids do not start at 1
			records := ingressBatch(start.Add(time.Hour), n)
			for _, batch := range [][]accesslog.Record{first, records} {
				if err := s.AppendLogs(t.Context(), batch); err != nil {
					t.Fatalf("append %d records: %v", len(batch), err)
				}
			}
			var ids, sizes []int64
			rows, err := rawDB(t, path).Query(`SELECT id, n FROM access_log_batch ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id, size int64
				if err := rows.Scan(&id, &size); err != nil {
					t.Fatal(err)
				}
				ids, sizes = append(ids, id), append(sizes, size)
			}
			rows.Close()
			wantSizes := []int64{3}
			for rest := n; rest > 0; rest -= slots {
				wantSizes = append(wantSizes, int64(min(rest, slots)))
			}
			if !slices.Equal(sizes, wantSizes) {
				t.Fatalf("batches of %v records, want %v", sizes, wantSizes)
			}

			got := allLogs(t, s, accesslog.Query{From: start.Add(time.Hour)})
			if len(got) != n {
				t.Fatalf("read back %d records, want %d", len(got), n)
			}
			for i, r := range got {
				j := n - 1 - i // newest first
				wantSeq := ids[1+j/slots]*int64(slots) + int64(j%slots)
				if r.Seq != wantSeq {
					t.Fatalf("record %d (%s) has seq %d, want %d", j, r.RequestID, r.Seq, wantSeq)
				}
				wantJSON, _, _ := accesslog.Encode(records[j])
				gotJSON, _, _ := accesslog.Encode(r)
				if !bytes.Equal(gotJSON, wantJSON) {
					t.Fatalf("record %d read back as\n %s\nwant\n %s", j, gotJSON, wantJSON)
				}
			}
		})
	}
}

// allLogs pages through everything q selects.
func allLogs(t *testing.T, s accesslog.Sink, q accesslog.Query) []accesslog.Record {
	t.Helper()
	q.Limit = accesslog.MaxLimit
	var out []accesslog.Record
	for {
		page, err := s.QueryLogs(t.Context(), q)
		if err != nil {
			t.Fatalf("query %+v: %v", q, err)
		}
		out = append(out, page...)
		if len(page) < q.Limit {
			return out
		}
		q.Before = page[len(page)-1].Seq
	}
}

// TestAppendLogsAllOrNone checks that a call which fails partway, in
// encoding or in storing its second batch, leaves nothing behind, and that
// the store takes the next call.
func TestAppendLogsAllOrNone(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "perimeter.db")
	s := openAt(t, path)
	db := rawDB(t, path)
	count := func() int {
		t.Helper()
		var n int
		if err := db.QueryRow(`SELECT COALESCE(SUM(n), 0) FROM access_log_batch`).Scan(&n); err != nil {
			t.Fatalf("count: %v", err)
		}
		return n
	}
	n := sqlite.BatchSlots + 5

	unencodable := ingressBatch(start, n)
	unencodable[n-1].LatencyMs = math.NaN()
	if err := s.AppendLogs(t.Context(), unencodable); err == nil {
		t.Fatal("appended a record JSON cannot encode")
	}
	if got := count(); got != 0 {
		t.Fatalf("a call that failed to encode left %d records", got)
	}

	if _, err := db.Exec(`CREATE TRIGGER refuse BEFORE INSERT ON access_log_batch WHEN NEW.n = 5
		BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
		t.Fatalf("create trigger: %v", err)
	}
	if err := s.AppendLogs(t.Context(), ingressBatch(start, n)); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("append with a refused batch = %v, want the trigger's error", err)
	}
	if got := count(); got != 0 {
		t.Fatalf("a call that failed in its second batch left %d records", got)
	}

	if err := s.AppendLogs(t.Context(), ingressBatch(start, n-1)); err != nil {
		t.Fatalf("append after failures: %v", err)
	}
	if got := count(); got != n-1 {
		t.Fatalf("after failures, a good call stored %d records, want %d", got, n-1)
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

// BenchmarkQueryLogs reads the newest page from a log of 100k ingress
// records written as the Logger writes them (batches of 512): filtered on
// an account that a fifth of the records target, on a subscription and
// result together, on a host that only the oldest records have (every
// batch must be looked at), and the next page behind a cursor.
func BenchmarkQueryLogs(b *testing.B) {
	const total, size = 100_000, accesslog.DefaultBatchSize
	s := openAt(b, filepath.Join(b.TempDir(), "perimeter.db"))
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	records := ingressBatch(start, total)
	records[0].Host = "rare.openai.perimeter.localhost"
	for i := 0; i < total; i += size {
		if err := s.AppendLogs(b.Context(), records[i:min(i+size, total)]); err != nil {
			b.Fatal(err)
		}
	}
	account := records[0].ResourceID
	first, err := s.QueryLogs(b.Context(), accesslog.Query{ResourceID: account})
	if err != nil || len(first) != accesslog.DefaultLimit {
		b.Fatalf("first page = (%d records, %v)", len(first), err)
	}
	for _, tc := range []struct {
		name string
		q    accesslog.Query
		want int
	}{
		{"resource", accesslog.Query{ResourceID: account}, accesslog.DefaultLimit},
		{"subscription,denied", accesslog.Query{SubscriptionID: "bbbbbbbb-0000-0000-0000-000000000002", Result: accesslog.Denied}, accesslog.DefaultLimit},
		{"rare host", accesslog.Query{Host: "rare.openai.perimeter.localhost"}, 1},
		{"resource,next page", accesslog.Query{ResourceID: account, Before: first[len(first)-1].Seq}, accesslog.DefaultLimit},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				got, err := s.QueryLogs(b.Context(), tc.q)
				if err != nil || len(got) != tc.want {
					b.Fatalf("query = (%d records, %v), want %d", len(got), err, tc.want)
				}
			}
		})
	}
}

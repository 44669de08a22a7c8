package sqlite

import (
	"bytes"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/accesslog"
)

func oneBatch(t testing.TB, records ...accesslog.Record) *batchBuilder {
	t.Helper()
	bs, err := encodeBatches(records, newBatchBuilder)
	if err != nil || len(bs) != 1 {
		t.Fatalf("encode = (%d batches, %v), want one", len(bs), err)
	}
	return bs[0]
}

// TestBatchSummary checks what a summary lists (each distinct value once,
// as recorded; the source range), and that a query skips a batch by it
// exactly when no record could match.
func TestBatchSummary(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	acct := "/subscriptions/S1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/Alpha"
	b := oneBatch(t,
		accesslog.Record{Time: at, ResourceID: acct, Result: accesslog.Allowed, Host: "A.example", SourceIP: "10.0.0.9", Rule: "ipRules[0]"},
		accesslog.Record{Time: at.Add(-time.Second), ResourceID: acct + "/", Result: accesslog.Allowed, Host: "a.example", SourceIP: "10.0.0.2"},
		accesslog.Record{Time: at.Add(time.Second), ResourceID: acct + "/projects/p", Result: accesslog.Denied, Host: "A.example", SourceIP: "::ffff:10.0.0.5"},
	)
	s, err := parseSummary(b.sum)
	if err != nil {
		t.Fatal(err)
	}
	str := func(vs [][]byte) []string {
		out := []string{}
		for _, v := range vs {
			out = append(out, string(v))
		}
		return out
	}
	for f, want := range map[int][]string{
		fieldSubscription: {"s1"}, // taken from the resource id, lower-cased
		fieldResource:     {acct, acct + "/", acct + "/projects/p"},
		fieldResult:       {accesslog.Allowed, accesslog.Denied},
		fieldRule:         {"ipRules[0]", ""},
		fieldHost:         {"A.example", "a.example"},
		fieldDeployment:   {""},
	} {
		if got := str(s.dicts[f]); !slices.Equal(got, want) {
			t.Errorf("field %d lists %q, want %q", f, got, want)
		}
	}
	if string(s.srcLo) != string(accesslog.SourceKey("10.0.0.2")) || string(s.srcHi) != string(accesslog.SourceKey("10.0.0.9")) {
		t.Errorf("source range %v-%v, want 10.0.0.2-10.0.0.9", s.srcLo, s.srcHi)
	}
	if !s.stripped || bytes.Contains(b.records, []byte(`"resourceId"`)) || bytes.Contains(b.records, []byte(`"A.example"`)) {
		t.Errorf("records %s, want their JSON without the values the summary holds", b.records)
	}
	if b.minTime != at.Add(-time.Second).UnixNano() || b.maxTime != at.Add(time.Second).UnixNano() || b.n != 3 {
		t.Errorf("batch of %d from %d to %d, want 3 records a second either side of %d", b.n, b.minTime, b.maxTime, at.UnixNano())
	}

	for _, tc := range []struct {
		q     accesslog.Query
		admit bool
	}{
		{accesslog.Query{}, true},
		{accesslog.Query{SubscriptionID: "s1"}, true},
		{accesslog.Query{SubscriptionID: "s2"}, false},
		{accesslog.Query{ResourceID: strings.ToUpper(acct)}, true},
		{accesslog.Query{ResourceID: "/subscriptions/s1/resourcegroups/rg"}, true},
		{accesslog.Query{ResourceID: acct[:len(acct)-1]}, false}, // a prefix, not a parent
		{accesslog.Query{Host: "a.EXAMPLE"}, true},
		{accesslog.Query{Host: "b.example"}, false},
		{accesslog.Query{Rule: "RULES"}, true},
		{accesslog.Query{Rule: "deny"}, false},
		{accesslog.Query{Deployment: "gpt"}, false},
		{accesslog.Query{Result: "denied"}, true},
		{accesslog.Query{Source: "10.0.0.0/29"}, true},
		{accesslog.Query{Source: "10.0.0.10"}, false},
		{accesslog.Query{Source: "::/0"}, false},
	} {
		f, err := tc.q.Filter()
		if err != nil {
			t.Fatal(err)
		}
		if got := newLogMatcher(f).admit(&s); got != tc.admit {
			t.Errorf("query %+v admits the batch: %v, want %v", tc.q, got, tc.admit)
		}
	}
}

// TestStrippedRecordsReadBack checks that records read back exactly as
// stored, with the values that their batch keeps only in its summary
// (case, a trailing slash and empty values included).
func TestStrippedRecordsReadBack(t *testing.T) {
	st, err := Open(t.Context(), filepath.Join(t.TempDir(), "perimeter.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	in := []accesslog.Record{
		{RequestID: "a", Time: at, ResourceID: "/subscriptions/S1/resourceGroups/RG/", Host: "A.Example", Rule: "ipRules[0]", Deployment: "GPT", Result: accesslog.Denied},
		{RequestID: "b", Time: at.Add(time.Second), SubscriptionID: "Other", ResourceID: "/subscriptions/S1/x", Result: accesslog.Allowed},
		{RequestID: "c", Time: at.Add(2 * time.Second)},
	}
	if err := st.AppendLogs(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	got, err := st.QueryLogs(t.Context(), accesslog.Query{})
	if err != nil || len(got) != len(in) {
		t.Fatalf("query = (%d records, %v), want %d", len(got), err, len(in))
	}
	for i, r := range got {
		want, _ := accesslog.Stored(in[len(in)-1-i])
		want.Seq = r.Seq
		if !reflect.DeepEqual(r, want) {
			t.Errorf("read back\n %+v\nwant\n %+v", r, want)
		}
	}
}

// TestDamagedBatch checks that a batch whose blobs do not read back is an
// error naming the batch, never a panic or a wrong record.
func TestDamagedBatch(t *testing.T) {
	b := oneBatch(t, accesslog.Record{RequestID: "a", SourceIP: "10.0.0.1"}, accesslog.Record{RequestID: "b"})
	s, err := parseSummary(b.sum)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseKeys(nil, b.keys, b.n, &s); err != nil {
		t.Fatalf("keys as written: %v", err)
	}
	for name, damage := range map[string]func() error{
		"summary version": func() error { _, err := parseSummary(append([]byte{9}, b.sum[1:]...)); return err },
		"summary cut":     func() error { _, err := parseSummary(b.sum[:len(b.sum)-1]); return err },
		"summary longer":  func() error { _, err := parseSummary(append(slices.Clone(b.sum), 0)); return err },
		"keys cut":        func() error { _, err := parseKeys(nil, b.keys[:len(b.keys)-1], b.n, &s); return err },
		"more records":    func() error { _, err := parseKeys(nil, b.keys, b.n+1, &s); return err },
		"value index": func() error {
			short := s
			short.dicts[fieldResult] = nil
			_, err := parseKeys(nil, b.keys, b.n, &short)
			return err
		},
	} {
		if err := damage(); err == nil {
			t.Errorf("%s: read without an error", name)
		}
	}

	path := filepath.Join(t.TempDir(), "perimeter.db")
	st, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.AppendLogs(t.Context(), []accesslog.Record{{RequestID: "a"}, {RequestID: "b"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.writer.Exec(`UPDATE access_log_batch SET records = substr(records, 1, 10)`); err != nil {
		t.Fatal(err)
	}
	if got, err := st.QueryLogs(t.Context(), accesslog.Query{}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("query of a cut batch = (%v, %v), want an error saying it is damaged", got, err)
	}
}

// FuzzParseBatch feeds damaged summaries and keys to the parsers: they
// must fail or read keys that lie within the summary, never panic.
func FuzzParseBatch(f *testing.F) {
	b := oneBatch(f, accesslog.Record{RequestID: "a", SourceIP: "10.0.0.1", Host: "h"}, accesslog.Record{RequestID: "b"})
	f.Add(b.sum, b.keys, b.n)
	f.Fuzz(func(t *testing.T, sum, keys []byte, n int) {
		s, err := parseSummary(sum)
		if err != nil {
			return
		}
		ks, err := parseKeys(nil, keys, n, &s)
		if err != nil {
			return
		}
		for _, k := range ks {
			_ = k.columns(&s) // indexes are in range
			if k.slot < 0 || k.slot >= batchSlots || k.size < 0 {
				t.Fatalf("key %+v out of range", k)
			}
		}
	})
}

// TestLogQueryPlans pins how SQLite finds batches: the walk newest first
// from the max_time index with no sort, prunes from the time indexes.
func TestLogQueryPlans(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perimeter.db")
	st, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	plan := func(query string, args ...any) string {
		t.Helper()
		rows, err := st.reader.Query(`EXPLAIN QUERY PLAN `+query, args...)
		if err != nil {
			t.Fatalf("explain %s: %v", query, err)
		}
		defer rows.Close()
		var steps []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			steps = append(steps, detail)
		}
		return strings.Join(steps, "; ")
	}
	for _, q := range []accesslog.Query{{}, {Result: accesslog.Denied}, {From: at}, {To: at}, {From: at, To: at.Add(time.Hour), Before: 5000}} {
		f, err := q.Filter()
		if err != nil {
			t.Fatal(err)
		}
		m := newLogMatcher(f)
		query, args := walkQuery(m)
		if p := plan(query, args...); !strings.Contains(p, "access_log_batch_max_time") || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("query %+v: plan %q, want batches read from the max_time index with no sort", q, p)
		}
	}
	if p := plan(oldBatches, 1, pruneBatches); !strings.Contains(p, "access_log_batch_max_time") {
		t.Errorf("prune of whole batches: plan %q, want the max_time index", p)
	}
	if p := plan(straddlingBatch, 1, 1); !strings.Contains(p, "access_log_batch_min_time") {
		t.Errorf("prune of straddling batches: plan %q, want the min_time index", p)
	}
}

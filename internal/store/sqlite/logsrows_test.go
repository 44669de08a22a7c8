package sqlite_test

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/store/internal/logsql"
	"github.com/perimeterhq/perimeter/internal/store/sqlite"
)

// These tests hold the batched access log to the per-record table it
// replaced (schema versions 2 and 3), whose SQL (logsql) PostgreSQL still
// runs: a database of that version is the reference.

// insertRowLogs inserts records into the per-record table as the store
// of schema version 3 did; a record's Seq, when set, is its row's seq.
func insertRowLogs(t *testing.T, db *sql.DB, records ...accesslog.Record) {
	t.Helper()
	q := `INSERT INTO access_log (seq, ` + strings.Join(logsql.Columns, ", ") + `) VALUES (?` +
		strings.Repeat(", ?", len(logsql.Columns)) + `)`
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, r := range records {
		body, cols, err := accesslog.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		var seq any
		if r.Seq != 0 {
			seq = r.Seq
		}
		if _, err := tx.Exec(q, append([]any{seq}, logsql.Values(cols, body)...)...); err != nil {
			t.Fatalf("insert into access_log: %v", err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// rowLogs answers q from the per-record table, with logsql's SQL.
func rowLogs(t *testing.T, db *sql.DB, q accesslog.Query) []string {
	t.Helper()
	f, err := q.Filter()
	if err != nil {
		t.Fatal(err)
	}
	var args []any
	query := logsql.Select(f, func(v any) string { args = append(args, v); return "?" },
		func(col, arg string) string { return "instr(" + col + ", " + arg + ") > 0" })
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("query the per-record table: %v", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var seq int64
		var body []byte
		if err := rows.Scan(&seq, &body); err != nil {
			t.Fatal(err)
		}
		r, err := accesslog.Decode(seq, body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, hitOf(r))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// hitOf names a result: its request and its seq.
func hitOf(r accesslog.Record) string { return fmt.Sprintf("%s@%d", r.RequestID, r.Seq) }

func storeLogs(t *testing.T, s accesslog.Sink, q accesslog.Query) []string {
	t.Helper()
	got, err := s.QueryLogs(t.Context(), q)
	if err != nil {
		t.Fatalf("query %+v: %v", q, err)
	}
	out := []string{}
	for _, r := range got {
		out = append(out, hitOf(r))
	}
	return out
}

const (
	randSubA = "aaaaaaaa-0000-0000-0000-000000000001"
	randSubB = "bbbbbbbb-0000-0000-0000-000000000002"
	randRG   = "/subscriptions/" + randSubA + "/resourceGroups/rg"
	randAcct = randRG + "/providers/Microsoft.CognitiveServices/accounts/alpha"
)

var (
	randResources = []string{randAcct, randAcct + "/projects/p1", randAcct + "x", strings.ToUpper(randAcct), randAcct + "/",
		"/subscriptions/" + randSubB + "/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/beta", ""}
	randRules   = []string{"ipRules[0]: 203.0.113.0/24", "defaultAction: Deny", "IPRULES[1]: 10.0.0.0/8", "100%", ""}
	randHosts   = []string{"alpha.openai.example", "ALPHA.openai.example", "beta.openai.example", ""}
	randDeploys = []string{"gpt-4o", "GPT-4o", "embed", ""}
	randSources = []string{"203.0.113.7", "203.0.113.200", "10.1.2.3", "::ffff:10.9.9.9", "2001:db8::1", "2001:db8:1::5", "", "not-an-ip"}
	randResults = []string{accesslog.Allowed, accesslog.Denied, accesslog.Denied, ""}
)

func pick[T any](rng *rand.Rand, from []T) T { return from[rng.IntN(len(from))] }

// randomRecords returns n records whose fields take few values, in several
// cases, and whose times collide and come out of order.
func randomRecords(rng *rand.Rand, n int) []accesslog.Record {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	out := make([]accesslog.Record, n)
	for i := range out {
		r := accesslog.Record{
			RequestID: fmt.Sprintf("r%05d", i),
			Time:      base.Add(time.Duration(i/2+rng.IntN(300)) * time.Millisecond),
			Plane:     accesslog.PlaneIngress, Direction: accesslog.Inbound,
			ResourceID: pick(rng, randResources), Rule: pick(rng, randRules), Host: pick(rng, randHosts),
			Deployment: pick(rng, randDeploys), SourceIP: pick(rng, randSources), Result: pick(rng, randResults),
		}
		if rng.IntN(5) == 0 {
			r.SubscriptionID = strings.ToUpper(randSubB)
		}
		out[i] = r
	}
	return out
}

// randomQuery filters on a few fields at random; seqs are cursors to use.
func randomQuery(rng *rand.Rand, seqs []int64) accesslog.Query {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	maybe := func() bool { return rng.IntN(4) == 0 }
	var q accesslog.Query
	if maybe() {
		q.SubscriptionID = pick(rng, []string{randSubA, strings.ToUpper(randSubB), "nobody"})
	}
	if maybe() {
		q.ResourceID = pick(rng, []string{randAcct, strings.ToUpper(randAcct) + "/", randRG, randAcct + "/projects/p1", randAcct + "x"})
	}
	if maybe() {
		q.Result = pick(rng, []string{accesslog.Allowed, "denied"})
	}
	if maybe() {
		q.Rule = pick(rng, []string{"iprules", "deny", "[0]", "%", "nothing"})
	}
	if maybe() {
		q.Source = pick(rng, []string{"203.0.113.0/24", "10.0.0.0/8", "::/0", "0.0.0.0/0", "2001:db8::/32", "203.0.113.7", "::ffff:10.0.0.0/104"})
	}
	if maybe() {
		q.Host = pick(rng, randHosts[:3])
	}
	if maybe() {
		q.Deployment = pick(rng, randDeploys[:3])
	}
	if maybe() {
		q.From = base.Add(time.Duration(rng.IntN(2000)) * time.Millisecond)
	}
	if maybe() {
		q.To = base.Add(time.Duration(2000+rng.IntN(2000)) * time.Millisecond)
	}
	if maybe() && len(seqs) > 0 {
		q.Before = pick(rng, seqs)
	}
	q.Limit = pick(rng, []int{1, 3, 7, 100})
	return q
}

// comparePages pages through q on both and fails at the first page that
// differs.
func comparePages(t *testing.T, db *sql.DB, s accesslog.Sink, q accesslog.Query) {
	t.Helper()
	for page := 0; page < 8; page++ {
		want, got := rowLogs(t, db, q), storeLogs(t, s, q)
		if !slices.Equal(got, want) {
			t.Fatalf("query %+v:\n got %q\nwant %q", q, got, want)
		}
		if len(got) < q.Limit {
			return
		}
		var last int64
		fmt.Sscanf(got[len(got)-1][strings.Index(got[len(got)-1], "@")+1:], "%d", &last)
		q.Before = last
	}
}

// TestLogMatcherAgreesWithSQL appends random records in calls of random
// sizes (so batches of every shape, records out of time order in them),
// stores the same records with the same seqs in a per-record table, and
// checks that random queries, paged, answer alike.
func TestLogMatcherAgreesWithSQL(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	s := openAt(t, filepath.Join(dir, "batches.db"))
	records := randomRecords(rng, 3000)
	for rest := records; len(rest) > 0; {
		n := min(len(rest), 1+rng.IntN(1500))
		if err := s.AppendLogs(t.Context(), rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	stored := allLogs(t, s, accesslog.Query{})
	if len(stored) != len(records) {
		t.Fatalf("stored %d records, want %d", len(stored), len(records))
	}
	refPath := filepath.Join(dir, "rows.db")
	if err := sqlite.CreateAtVersion(t.Context(), refPath, 3); err != nil {
		t.Fatal(err)
	}
	ref := rawDB(t, refPath)
	var seqs []int64
	for _, r := range stored {
		seqs = append(seqs, r.Seq)
	}
	insertRowLogs(t, ref, stored...)
	seqs = append(seqs, seqs[0]+1, 1) // cursors that do not exist
	for range 150 {
		comparePages(t, ref, s, randomQuery(rng, seqs))
	}
}

// TestUpgradeMovesRowLogs opens a database of schema version 3 holding
// records in the per-record table, some of them pruned, and checks that
// they are moved into batches keeping their seqs, that queries answer as
// before the upgrade, and that records appended afterwards get seqs past
// every seq the old table gave.
func TestUpgradeMovesRowLogs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	path := filepath.Join(t.TempDir(), "perimeter.db")
	if err := sqlite.CreateAtVersion(t.Context(), path, 3); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	const n = 2600
	insertRowLogs(t, db, randomRecords(rng, n)...)
	// Pruned by time, and by hand at the newest end (so the old table's
	// last seq is past its rows).
	if _, err := db.Exec(`DELETE FROM access_log WHERE seq <= 100 OR seq BETWEEN 1500 AND 1600 OR seq > 2590`); err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for seq := int64(101); seq <= 2590; seq += 7 {
		seqs = append(seqs, seq)
	}
	queries := []accesslog.Query{{Limit: accesslog.MaxLimit}, {Before: 1501}, {Before: 1450, Limit: 3}}
	for range 100 {
		queries = append(queries, randomQuery(rng, seqs))
	}
	want := make([][]string, len(queries))
	for i, q := range queries {
		want[i] = rowLogs(t, db, q)
	}

	s := openAt(t, path)
	for i, q := range queries {
		if got := storeLogs(t, s, q); !slices.Equal(got, want[i]) {
			t.Fatalf("after the upgrade, query %+v:\n got %q\nwant %q", q, got, want[i])
		}
	}
	var batches []int64
	rows, err := db.Query(`SELECT id FROM access_log_batch ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		batches = append(batches, id)
	}
	rows.Close()
	if !slices.Equal(batches, []int64{0, 1, 2}) {
		t.Fatalf("batches %v after the upgrade, want 0, 1, 2 (seq / %d)", batches, sqlite.BatchSlots)
	}
	var tables int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE name = 'access_log'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("per-record tables after the upgrade = (%d, %v), want 0", tables, err)
	}

	if err := s.AppendLogs(t.Context(), []accesslog.Record{{RequestID: "new", Time: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	got := storeLogs(t, s, accesslog.Query{Limit: 1})
	if len(got) != 1 || !strings.HasPrefix(got[0], "new@") {
		t.Fatalf("newest after appending = %q", got)
	}
	var seq int64
	fmt.Sscanf(strings.TrimPrefix(got[0], "new@"), "%d", &seq)
	if seq <= n {
		t.Fatalf("a record appended after the upgrade has seq %d, given before to a pruned record (last %d)", seq, n)
	}
}

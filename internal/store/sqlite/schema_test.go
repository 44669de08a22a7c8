package sqlite_test

import (
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/store"
	"github.com/perimeterhq/perimeter/internal/store/sqlite"
)

// rawDB opens the file directly, bypassing the store.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath())
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd ?#% name.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	d, err := store.Put(t.Context(), s, store.Document{ID: "/keep", Type: "t", Body: []byte(`{"v":1}`)}, store.Precondition{})
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}

	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not created under its exact name: %v", err)
	}
	s2 := openAt(t, path)
	got, err := s2.Get(t.Context(), "/keep")
	if err != nil || got.ETag != d.ETag || string(got.Body) != `{"v":1}` {
		t.Fatalf("after reopening: (%+v, %v), want the document written before", got, err)
	}
	if rev, err := s2.Revision(t.Context()); err != nil || rev != d.Revision {
		t.Fatalf("revision after reopening = (%d, %v), want %d", rev, err, d.Revision)
	}
	var versions int
	if err := rawDB(t, path).QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&versions); err != nil || versions != sqlite.SchemaVersion() {
		t.Fatalf("schema_migrations rows = (%d, %v), want %d after opening twice", versions, err, sqlite.SchemaVersion())
	}
}

func TestConcurrentOpensMigrateOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perimeter.db")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				errs <- err
				return
			}
			errs <- s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	var versions, metaRows int
	db := rawDB(t, path)
	if err := db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&versions); err != nil || versions != sqlite.SchemaVersion() {
		t.Fatalf("schema_migrations rows = (%d, %v), want %d", versions, err, sqlite.SchemaVersion())
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM meta`).Scan(&metaRows); err != nil || metaRows != 1 {
		t.Fatalf("meta rows = (%d, %v), want 1", metaRows, err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perimeter.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	s.Close()
	if _, err := rawDB(t, path).Exec(`INSERT INTO schema_migrations (version) VALUES (999)`); err != nil {
		t.Fatalf("record a future migration: %v", err)
	}
	s, err = sqlite.Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("opened a database with schema version 999")
	}
	if !strings.Contains(err.Error(), "999") || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("error %q does not say the schema is newer", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := sqlite.Open(t.Context(), ""); err == nil {
		t.Fatal("opened an empty path")
	}
	if _, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "missing", "dir", "x.db")); err == nil {
		t.Fatal("opened a path in a missing directory")
	}
}

// TestUpgradeAddsAccessLog opens a database of schema version 1 (the
// release before the access log) and checks that the later steps run and
// keep the documents.
func TestUpgradeAddsAccessLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perimeter.db")
	if err := sqlite.CreateAtVersion(t.Context(), path, 1); err != nil {
		t.Fatalf("create at version 1: %v", err)
	}
	db := rawDB(t, path)
	if _, err := db.Exec(`INSERT INTO documents (id, type, parent, body, etag, revision) VALUES ('/keep', 't', '', '{}', 'e', 1);
		UPDATE meta SET revision = 1`); err != nil {
		t.Fatalf("put a document: %v", err)
	}
	s := openAt(t, path)
	if _, err := s.Get(t.Context(), "/keep"); err != nil {
		t.Fatalf("document lost in the upgrade: %v", err)
	}
	if err := s.AppendLogs(t.Context(), []accesslog.Record{{RequestID: "r", Result: accesslog.Allowed}}); err != nil {
		t.Fatalf("append to the upgraded log: %v", err)
	}
	wantVersion(t, db)
}

func wantVersion(t *testing.T, db *sql.DB) {
	t.Helper()
	var version int
	if err := db.QueryRow(`SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil || version != sqlite.SchemaVersion() {
		t.Fatalf("schema version after upgrade = (%d, %v), want %d", version, err, sqlite.SchemaVersion())
	}
}

// TestUpgradeDropsResultIndex opens a database of schema version 2, with
// the access log's result index, and checks that the index is gone with
// the per-record table and that the record is still found.
func TestUpgradeDropsResultIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perimeter.db")
	if err := sqlite.CreateAtVersion(t.Context(), path, 2); err != nil {
		t.Fatalf("create at version 2: %v", err)
	}
	db := rawDB(t, path)
	insertRowLogs(t, db, accesslog.Record{RequestID: "kept", Result: accesslog.Denied})
	s := openAt(t, path)
	var left int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE name IN
		('access_log', 'access_log_time', 'access_log_subscription', 'access_log_resource', 'access_log_result')`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("tables and indexes of the per-record log after upgrade = (%d, %v), want 0", left, err)
	}
	got, err := s.QueryLogs(t.Context(), accesslog.Query{Result: accesslog.Denied})
	if err != nil || len(got) != 1 || got[0].RequestID != "kept" || got[0].Seq != 1 {
		t.Fatalf("query after upgrade = (%+v, %v), want the record appended before, seq 1", got, err)
	}
	wantVersion(t, db)
}

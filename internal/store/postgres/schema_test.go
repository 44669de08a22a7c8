package postgres_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/store"
	"github.com/perimeterhq/perimeter/internal/store/postgres"
)

// adminInt runs a query returning one integer on the test database.
func adminInt(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, baseURL(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestConcurrentOpensMigrateOnce(t *testing.T) {
	name, u := newSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), u)
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
	if n := adminInt(t, "SELECT count(*) FROM "+name+".schema_migrations"); n != int64(postgres.SchemaVersion()) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, postgres.SchemaVersion())
	}
	if n := adminInt(t, "SELECT count(*) FROM "+name+".meta"); n != 1 {
		t.Fatalf("meta has %d rows, want 1", n)
	}
	s := openURL(t, u)
	if rev, err := s.Revision(t.Context()); err != nil || rev != 0 {
		t.Fatalf("revision of the migrated store = (%d, %v), want 0", rev, err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	name, u := newSchema(t)
	s, err := postgres.Open(t.Context(), u)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	s.Close()
	admin(t, baseURL(t), "INSERT INTO "+name+".schema_migrations (version) VALUES (999)")
	s, err = postgres.Open(t.Context(), u)
	if err == nil {
		s.Close()
		t.Fatal("opened a database with schema version 999")
	}
	if !strings.Contains(err.Error(), "999") || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("error %q does not say the schema is newer", err)
	}
}

func TestOpenMissingSchema(t *testing.T) {
	u, err := url.Parse(baseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", "perimeter_test_does_not_exist")
	u.RawQuery = q.Encode()
	s, err := postgres.Open(t.Context(), u.String())
	if err == nil {
		s.Close()
		t.Fatal("opened a store whose search_path names no existing schema")
	}
	if !strings.Contains(err.Error(), "schema") {
		t.Fatalf("error %q does not mention the schema", err)
	}
}

// TestSearchPathViaOptions checks the libpq-style options parameter and
// that the tables land in the schema it names, apart from other schemas.
func TestSearchPathViaOptions(t *testing.T) {
	name, _ := newSchema(t)
	u, err := url.Parse(baseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("options", "-c search_path="+name)
	q.Set("pool_max_conns", "2")
	u.RawQuery = q.Encode()
	s := openURL(t, u.String())
	if _, err := store.Put(t.Context(), s, store.Document{ID: "/x", Type: "t", Body: []byte(`{}`)}, store.Precondition{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	if n := adminInt(t, "SELECT count(*) FROM "+name+".documents"); n != 1 {
		t.Fatalf("%s.documents has %d rows, want 1", name, n)
	}

	_, otherURL := newSchema(t)
	other := openURL(t, otherURL)
	if _, err := other.Get(t.Context(), "/x"); err == nil {
		t.Fatal("a store in another schema sees the document")
	}
	if rev, err := other.Revision(t.Context()); err != nil || rev != 0 {
		t.Fatalf("revision in another schema = (%d, %v), want 0", rev, err)
	}
}

func TestOpenRejectsBadPoolSize(t *testing.T) {
	_, u := newSchema(t)
	s, err := postgres.Open(t.Context(), u+"&pool_max_conns=zero")
	if err == nil {
		s.Close()
		t.Fatal("opened with pool_max_conns=zero")
	}
}

// TestUpgradeAddsAccessLog opens a schema left at version 1 (the release
// before the access log) and checks that the access_log step runs and
// keeps the documents.
func TestUpgradeAddsAccessLog(t *testing.T) {
	name, u := newSchema(t)
	s, err := postgres.Open(t.Context(), u)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if _, err := store.Put(t.Context(), s, store.Document{ID: "/keep", Type: "t", Body: []byte(`{}`)}, store.Precondition{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	s.Close()
	admin(t, baseURL(t), "DROP TABLE "+name+".access_log")
	admin(t, baseURL(t), "DELETE FROM "+name+".schema_migrations WHERE version > 1")
	s2 := openURL(t, u)
	if _, err := s2.Get(t.Context(), "/keep"); err != nil {
		t.Fatalf("document lost in the upgrade: %v", err)
	}
	if err := s2.AppendLogs(t.Context(), []accesslog.Record{{RequestID: "r", Result: accesslog.Allowed}}); err != nil {
		t.Fatalf("append to the upgraded log: %v", err)
	}
	if n := adminInt(t, "SELECT max(version) FROM "+name+".schema_migrations"); n != int64(postgres.SchemaVersion()) {
		t.Fatalf("schema version after upgrade = %d, want %d", n, postgres.SchemaVersion())
	}
}

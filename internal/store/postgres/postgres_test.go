package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/store"
	"github.com/perimeterhq/perimeter/internal/store/postgres"
	"github.com/perimeterhq/perimeter/internal/store/storetest"
)

// urlEnv names the database the tests use; they skip when it is unset.
const urlEnv = "PERIMETER_TEST_POSTGRES_URL"

// baseURL returns the test database URL or skips the test.
func baseURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv(urlEnv)
	if u == "" {
		t.Skip(urlEnv + " is not set")
	}
	return u
}

// admin runs a statement on the test database outside any test schema.
func admin(t *testing.T, base, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", urlEnv, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// newSchema creates a fresh schema, dropped when the test ends, and returns
// its name and a URL whose search_path selects it.
func newSchema(t *testing.T) (name, schemaURL string) {
	t.Helper()
	base := baseURL(t)
	var b [6]byte
	rand.Read(b[:])
	name = "perimeter_test_" + hex.EncodeToString(b[:])
	admin(t, base, "CREATE SCHEMA "+name)
	t.Cleanup(func() { admin(t, base, "DROP SCHEMA "+name+" CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", urlEnv, err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return name, u.String()
}

// openURL opens the store at u, closing it when the test ends (before the
// schema is dropped).
func openURL(t *testing.T, u string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), u)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	baseURL(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		_, u := newSchema(t)
		return openURL(t, u)
	})
}

func TestLogs(t *testing.T) {
	baseURL(t)
	storetest.RunLogs(t, func(t *testing.T) accesslog.Sink {
		_, u := newSchema(t)
		return openURL(t, u)
	})
}

func TestShared(t *testing.T) {
	baseURL(t)
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		_, u := newSchema(t)
		return openURL(t, u), openURL(t, u)
	})
}

func open(ctx context.Context, u string) (store.Store, error) { return postgres.Open(ctx, u) }

func TestCrash(t *testing.T) {
	_, u := newSchema(t)
	storetest.Crash(t, u, open)
}

func TestCrashHelper(t *testing.T) { storetest.CrashHelper(t, open) }

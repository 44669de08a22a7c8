package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/store"
	"github.com/perimeterhq/perimeter/internal/store/sqlite"
	"github.com/perimeterhq/perimeter/internal/store/storetest"
)

// openAt opens the store at path, closing it when the test ends.
func openAt(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close %s: %v", path, err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "perimeter.db"))
	})
}

func TestLogs(t *testing.T) {
	storetest.RunLogs(t, func(t *testing.T) accesslog.Sink {
		return openAt(t, filepath.Join(t.TempDir(), "perimeter.db"))
	})
}

func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "perimeter.db")
		return openAt(t, path), openAt(t, path)
	})
}

func open(ctx context.Context, path string) (store.Store, error) { return sqlite.Open(ctx, path) }

func TestCrash(t *testing.T) {
	storetest.Crash(t, filepath.Join(t.TempDir(), "perimeter.db"), open)
}

func TestCrashHelper(t *testing.T) { storetest.CrashHelper(t, open) }

package sqlite

import (
	"path/filepath"
	"testing"
)

// TestDurabilitySettings pins the settings the crash-safety argument in
// the package documentation depends on.
func TestDurabilitySettings(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "perimeter.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	ctx := t.Context()
	var mode string
	var sync, busy, queryOnly int
	if err := s.writer.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = (%q, %v), want wal", mode, err)
	}
	if err := s.writer.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
		t.Fatalf("writer synchronous = (%d, %v), want 2 (FULL)", sync, err)
	}
	if err := s.writer.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil || busy != int(busyTimeout.Milliseconds()) {
		t.Fatalf("writer busy_timeout = (%d, %v), want %d", busy, err, busyTimeout.Milliseconds())
	}
	if err := s.reader.QueryRowContext(ctx, `PRAGMA query_only`).Scan(&queryOnly); err != nil || queryOnly != 1 {
		t.Fatalf("reader query_only = (%d, %v), want 1", queryOnly, err)
	}
	if _, err := s.reader.ExecContext(ctx, `UPDATE meta SET revision = 42`); err == nil {
		t.Fatal("a reader connection accepted a write")
	}
}

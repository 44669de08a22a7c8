// Package sqlite is the embedded implementation of store.Store, backed by a
// single SQLite database file through the pure-Go modernc.org/sqlite driver.
//
// Durability: the database runs in WAL mode with synchronous=FULL. A commit
// appends the transaction's frames to the write-ahead log and fsyncs it
// before Apply returns, so a committed Apply survives SIGKILL (WAL alone is
// enough for that, even with synchronous=NORMAL) and also power loss or an
// OS crash (which NORMAL would not guarantee). A torn write is impossible in
// either case: a transaction whose commit frame did not reach the log is
// ignored on recovery. The cost is one fsync per Apply.
//
// Concurrency: writes go through a pool of exactly one connection and start
// with BEGIN IMMEDIATE, so writers in this process queue in Go and writers
// in other processes sharing the file take the write lock up front (waiting
// up to the busy timeout) instead of deadlocking on a lock upgrade. Reads
// use a separate pool of read-only connections and run concurrently with
// each other and with the writer.
//
// Subscribe wakes subscribers right after local commits; while anyone is
// subscribed, a watcher also polls the revision so that commits made by
// other processes sharing the file wake them too.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/perimeterhq/perimeter/internal/store"
	"github.com/perimeterhq/perimeter/internal/store/internal/fanout"

	sqlitedriver "modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

var _ store.Store = (*Store)(nil)

const (
	// busyTimeout is how long a connection waits for a lock held by another
	// process before failing with SQLITE_BUSY.
	busyTimeout = 10 * time.Second
	// pollInterval is how often the watcher looks for commits made by other
	// processes while there are subscribers.
	pollInterval = 250 * time.Millisecond
)

// Store is a store.Store kept in one SQLite database file.
type Store struct {
	path   string
	writer *sql.DB // exactly one connection; every write transaction
	reader *sql.DB // read-only connections
	// builders are access-log batch builders, kept from one AppendLogs to
	// the next (see there).
	builders sync.Pool

	hub fanout.Hub
	// notified is the highest revision subscribers have been woken for.
	notified atomic.Int64

	stopWatch context.CancelFunc
	watchDone chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the SQLite database at path and brings its
// schema up to date. It refuses a database written by a newer binary.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	writer, err := sql.Open("sqlite", dsn(abs, writerParams()))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxIdleTime(0)
	writer.SetConnMaxLifetime(0)

	if err := enableWAL(ctx, writer); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	if err := migrate(ctx, writer); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}

	reader, err := sql.Open("sqlite", dsn(abs, readerParams()))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", abs, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(readers)
	reader.SetMaxIdleConns(readers)

	s := &Store{path: abs, writer: writer, reader: reader, watchDone: make(chan struct{})}
	s.builders.New = func() any { return newBatchBuilder() }
	rev, err := s.Revision(ctx)
	if err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s.notified.Store(rev)

	watchCtx, stop := context.WithCancel(context.Background())
	s.stopWatch = stop
	go s.watch(watchCtx)
	return s, nil
}

// Close stops the watcher and closes the database. It is safe to call more
// than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stopWatch()
		<-s.watchDone
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	rerr := s.reader.Close()
	werr := s.writer.Close()
	if err := errors.Join(rerr, werr); err != nil {
		return fmt.Errorf("sqlite: close %s: %w", s.path, err)
	}
	return nil
}

// writerParams configures the single writer connection. The driver runs
// busy_timeout first, then the other pragmas. WAL mode is not among them:
// see enableWAL.
func writerParams() url.Values {
	v := url.Values{}
	v.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	v.Add("_pragma", "synchronous(FULL)")
	// Truncate the log back to 64 MiB after checkpoints so large bodies do
	// not leave a huge -wal file behind.
	v.Add("_pragma", "journal_size_limit(67108864)")
	v.Set("_txlock", "immediate")
	return v
}

// readerParams configures the read-only connections.
func readerParams() url.Values {
	v := url.Values{}
	v.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	v.Add("_pragma", "query_only(1)")
	return v
}

// enableWAL switches the database to WAL mode, a persistent property of
// the file. While another connection is opening a new database, SQLite
// answers PRAGMA journal_mode with SQLITE_BUSY at once rather than calling
// the busy handler, so retry until the busy timeout.
func enableWAL(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		var mode string
		err := db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("enable WAL: journal mode is %q", mode)
		case !isBusy(err) || time.Now().After(deadline):
			return fmt.Errorf("enable WAL: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("enable WAL: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// isBusy reports whether err is SQLITE_BUSY or SQLITE_LOCKED.
func isBusy(err error) bool {
	var e *sqlitedriver.Error
	if !errors.As(err, &e) {
		return false
	}
	code := e.Code() & 0xff // primary result code
	return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
}

// dsn builds a SQLite URI filename for an absolute path, escaping the
// characters that URI syntax reserves ('?', '#', '%').
func dsn(abs string, params url.Values) string {
	p := (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath()
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows drive paths: file:/C:/...
	}
	return "file:" + p + "?" + params.Encode()
}

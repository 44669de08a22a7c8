package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migration is one schema step: SQL, then, for a step that moves data,
// Go code in the same transaction.
type migration struct {
	sql string
	run func(context.Context, *sql.Tx) error
}

// migrations are the schema steps in order; migrations[i] is version i+1.
// Never edit a released step: append a new one.
func migrations() []migration {
	return []migration{
		// 1: documents, change feed and the revision counter.
		{sql: `CREATE TABLE documents (
			id       TEXT    NOT NULL PRIMARY KEY,
			type     TEXT    NOT NULL,
			parent   TEXT    NOT NULL,
			body     BLOB    NOT NULL,
			etag     TEXT    NOT NULL,
			revision INTEGER NOT NULL
		);
		CREATE INDEX documents_type ON documents (type, id);
		CREATE INDEX documents_parent ON documents (parent, id);
		CREATE TABLE changes (
			revision INTEGER NOT NULL PRIMARY KEY,
			id       TEXT    NOT NULL,
			type     TEXT    NOT NULL,
			deleted  INTEGER NOT NULL,
			body     BLOB
		);
		CREATE TABLE meta (
			id       INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
			revision INTEGER NOT NULL
		);
		INSERT INTO meta (id, revision) VALUES (1, 0);`},
		// 2: the access log, a row per record. Records are not documents:
		// no revision, no change feed. The JSON is kept whole; the columns
		// beside it are what queries filter and order on.
		{sql: `CREATE TABLE access_log (
			seq          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
			time         INTEGER NOT NULL,
			subscription TEXT    NOT NULL,
			resource     TEXT    NOT NULL,
			result       TEXT    NOT NULL,
			rule         TEXT    NOT NULL,
			host         TEXT    NOT NULL,
			deployment   TEXT    NOT NULL,
			source       BLOB,
			record       BLOB    NOT NULL
		);
		CREATE INDEX access_log_time ON access_log (time, seq);
		CREATE INDEX access_log_subscription ON access_log (subscription, time, seq);
		CREATE INDEX access_log_resource ON access_log (resource, time, seq);
		CREATE INDEX access_log_result ON access_log (result, time, seq);`},
		// 3: drop the result index. Its key has two values (Allowed,
		// Denied): a query on the result alone reads the time index newest
		// first and skips the other kind instead, while every record paid
		// one more B-tree insert. Lacking statistics, SQLite also chose it
		// over the subscription and resource indexes when a query filtered
		// on one of those as well.
		{sql: `DROP INDEX IF EXISTS access_log_result;`},
		// 4: the access log in batches, a row per append (see logbatch.go),
		// its records moved there from the table of step 2 with their seq.
		// The time indexes find the batches a time-bounded query or a prune
		// wants; each costs one B-tree insert per batch, not per record.
		{sql: `CREATE TABLE access_log_batch (
			id       INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
			min_time INTEGER NOT NULL,
			max_time INTEGER NOT NULL,
			n        INTEGER NOT NULL,
			summary  BLOB    NOT NULL,
			keys     BLOB    NOT NULL,
			records  BLOB    NOT NULL
		);
		CREATE INDEX access_log_batch_max_time ON access_log_batch (max_time);
		CREATE INDEX access_log_batch_min_time ON access_log_batch (min_time);`, run: moveRowLogs},
	}
}

// migrate brings the schema up to date, one transaction per step. Write
// transactions begin IMMEDIATE, so concurrent Opens of the same file (in
// this or another process) take turns and each step is applied once. Every
// step first checks the recorded version, so a database written by a newer
// binary is refused before anything is changed.
func migrate(ctx context.Context, db *sql.DB) error {
	return migrateSteps(ctx, db, migrations())
}

// migrateSteps applies steps, the first len(steps) of migrations(): tests
// use it to make databases of earlier versions.
func migrateSteps(ctx context.Context, db *sql.DB, steps []migration) error {
	for i, step := range steps {
		version := i + 1
		if err := migrateStep(ctx, db, version, len(steps), step); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", version, err)
		}
	}
	return nil
}

func migrateStep(ctx context.Context, db *sql.DB, version, known int, step migration) error {
	return inTx(ctx, db, func(tx *sql.Tx) error {
		current, err := schemaVersion(ctx, tx, known)
		if err != nil || current >= version {
			return err
		}
		if _, err := tx.ExecContext(ctx, step.sql); err != nil {
			return err
		}
		if step.run != nil {
			if err := step.run(ctx, tx); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, version)
		return err
	})
}

// schemaVersion creates the bookkeeping table if needed and returns the
// highest applied version, failing if it is beyond what this binary knows.
func schemaVersion(ctx context.Context, tx *sql.Tx, known int) (int, error) {
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
	)`); err != nil {
		return 0, err
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, err
	}
	if current > known {
		return 0, fmt.Errorf("database schema version %d is newer than this binary supports (%d): upgrade Perimeter", current, known)
	}
	return current, nil
}

// inTx runs fn in a transaction, committing if it returns nil.
func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

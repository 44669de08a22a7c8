package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrationLockKey is the first key of the transaction-scoped advisory lock
// held while migrating ("PRMT"); the second key is a hash of the schema, so
// stores in different schemas of one database migrate independently.
const migrationLockKey = 0x50524d54

// migrations are the schema steps in order; migrations[i] is version i+1.
// Never edit a released step: append a new one. Ids compare bytewise
// (COLLATE "C") so that ORDER BY, keyset paging and prefix ranges agree
// with Go's string order whatever the database's locale.
func migrations() []string {
	return []string{
		// 1: documents, change feed and the revision counter.
		`CREATE TABLE documents (
			id       text COLLATE "C" NOT NULL PRIMARY KEY,
			type     text COLLATE "C" NOT NULL,
			parent   text COLLATE "C" NOT NULL,
			body     bytea  NOT NULL,
			etag     text   NOT NULL,
			revision bigint NOT NULL
		);
		CREATE INDEX documents_type ON documents (type, id);
		CREATE INDEX documents_parent ON documents (parent, id);
		CREATE TABLE changes (
			revision bigint  NOT NULL PRIMARY KEY,
			id       text COLLATE "C" NOT NULL,
			type     text COLLATE "C" NOT NULL,
			deleted  boolean NOT NULL,
			body     bytea
		);
		CREATE TABLE meta (
			id       integer NOT NULL PRIMARY KEY CHECK (id = 1),
			revision bigint  NOT NULL
		);
		INSERT INTO meta (id, revision) VALUES (1, 0);`,
		// 2: the access log (see logs.go). Records are not documents: no
		// revision, no change feed. The JSON is kept whole; the columns
		// beside it are what queries filter and order on.
		`CREATE TABLE access_log (
			seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			time         bigint NOT NULL,
			subscription text COLLATE "C" NOT NULL,
			resource     text COLLATE "C" NOT NULL,
			result       text COLLATE "C" NOT NULL,
			rule         text COLLATE "C" NOT NULL,
			host         text COLLATE "C" NOT NULL,
			deployment   text COLLATE "C" NOT NULL,
			source       bytea,
			record       bytea NOT NULL
		);
		CREATE INDEX access_log_time ON access_log (time, seq);
		CREATE INDEX access_log_subscription ON access_log (subscription, time, seq);
		CREATE INDEX access_log_resource ON access_log (resource, time, seq);
		CREATE INDEX access_log_result ON access_log (result, time, seq);`,
	}
}

// migrate brings the schema up to date, one transaction per step, each
// holding the migration advisory lock so that concurrent Opens take turns
// and every step is applied once. Every step first checks the recorded
// version, so a database written by a newer binary is refused before
// anything is changed.
func migrate(ctx context.Context, p *pool) error {
	steps := migrations()
	for i, step := range steps {
		version := i + 1
		err := p.tx(ctx, func(tx pgx.Tx) error {
			current, err := schemaVersion(ctx, tx, len(steps))
			if err != nil || current >= version {
				return err
			}
			if _, err := tx.Exec(ctx, step); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", version, err)
		}
	}
	return nil
}

// schemaVersion takes the migration lock, creates the bookkeeping table if
// needed and returns the highest applied version, failing if it is beyond
// what this binary knows.
func schemaVersion(ctx context.Context, tx pgx.Tx, known int) (int, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, migrationLockKey); err != nil {
		return 0, fmt.Errorf("take migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     NOT NULL PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if current > known {
		return 0, fmt.Errorf("database schema version %d is newer than this binary supports (%d): upgrade Perimeter", current, known)
	}
	return current, nil
}

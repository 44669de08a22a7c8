package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/store/internal/logsql"
)

// The access log lives in the access_log table beside the documents: each
// record's JSON whole, plus the columns queries filter and order on (see
// accesslog.Columns). The source address is kept as its 16-byte form in
// bytea, so an IP or CIDR filter is a bytewise range, as in the SQLite
// store (rather than inet, which SQLite lacks): both select alike.

var _ accesslog.Sink = (*Store)(nil)

// AppendLogs stores records with one COPY, all or none. It takes no
// revision and sends no notification.
func (s *Store) AppendLogs(ctx context.Context, records []accesslog.Record) error {
	if len(records) == 0 {
		return nil
	}
	rows := make([][]any, 0, len(records))
	for _, r := range records {
		body, cols, err := accesslog.Encode(r)
		if err != nil {
			return fmt.Errorf("postgres: append logs: %w", err)
		}
		rows = append(rows, logsql.Values(cols, body))
	}
	err := s.pool.with(ctx, func(conn *pgx.Conn) error {
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"access_log"}, logsql.Columns, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: append %d logs: %w", len(records), err)
	}
	return nil
}

// QueryLogs returns the selected records, newest first.
func (s *Store) QueryLogs(ctx context.Context, q accesslog.Query) ([]accesslog.Record, error) {
	f, err := q.Filter()
	if err != nil {
		return nil, err
	}
	var args []any
	query := logsql.Select(f,
		func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) },
		func(col, arg string) string { return "strpos(" + col + ", " + arg + ") > 0" })
	out := []accesslog.Record{}
	err = s.pool.with(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			var body []byte
			if err := rows.Scan(&seq, &body); err != nil {
				return err
			}
			r, err := accesslog.Decode(seq, body)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: query logs: %w", err)
	}
	return out, nil
}

// PruneLogs removes the records older than before, a chunk per statement.
func (s *Store) PruneLogs(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.pool.with(ctx, func(conn *pgx.Conn) error {
			tag, err := conn.Exec(ctx, logsql.Prune("$1"), accesslog.UnixNano(before))
			n = tag.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("postgres: prune logs: %w", err)
		}
		total += n
		if n < logsql.PruneChunk {
			return total, nil
		}
	}
}

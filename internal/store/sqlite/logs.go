package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/store/internal/logsql"
)

// The access log lives in the access_log table beside the documents: each
// record's JSON whole, plus the columns queries filter and order on (see
// accesslog.Columns). The source address is kept as its 16-byte form, so
// an IP or CIDR filter is a range of BLOBs, which SQLite compares bytewise.

var _ accesslog.Sink = (*Store)(nil)

// AppendLogs stores records in one transaction. It takes no revision and
// writes no change-feed entry.
func (s *Store) AppendLogs(ctx context.Context, records []accesslog.Record) error {
	if len(records) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: append logs: %w", err)
	}
	err := inTx(ctx, s.writer, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, logsql.Insert+` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, r := range records {
			body, cols, err := accesslog.Encode(r)
			if err != nil {
				return err
			}
			if _, err := stmt.ExecContext(ctx, logsql.Values(cols, body)...); err != nil {
				return fmt.Errorf("insert record %s: %w", r.RequestID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: append %d logs: %w", len(records), err)
	}
	return nil
}

// QueryLogs returns the selected records, newest first.
func (s *Store) QueryLogs(ctx context.Context, q accesslog.Query) ([]accesslog.Record, error) {
	f, err := q.Filter()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: query logs: %w", err)
	}
	var args []any
	query := logsql.Select(f,
		func(v any) string { args = append(args, v); return "?" },
		func(col, arg string) string { return "instr(" + col + ", " + arg + ") > 0" })
	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query logs: %w", err)
	}
	defer rows.Close()
	out := []accesslog.Record{}
	for rows.Next() {
		var seq int64
		var body []byte
		if err := rows.Scan(&seq, &body); err != nil {
			return nil, fmt.Errorf("sqlite: query logs: %w", err)
		}
		r, err := accesslog.Decode(seq, body)
		if err != nil {
			return nil, fmt.Errorf("sqlite: query logs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: query logs: %w", err)
	}
	return out, nil
}

// PruneLogs removes the records older than before, a chunk per
// transaction so that document writes are not held up for long.
func (s *Store) PruneLogs(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("sqlite: prune logs: %w", err)
		}
		var n int64
		err := inTx(ctx, s.writer, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, logsql.Prune("?"), accesslog.UnixNano(before))
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("sqlite: prune logs: %w", err)
		}
		total += n
		if n < logsql.PruneChunk {
			return total, nil
		}
	}
}

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/store/internal/logsql"
)

// The access log lives in the access_log table beside the documents: each
// record's JSON whole, plus the columns queries filter and order on (see
// accesslog.Columns). The source address is kept as its 16-byte form, so
// an IP or CIDR filter is a range of BLOBs, which SQLite compares bytewise.

var _ accesslog.Sink = (*Store)(nil)

// logChunk is how many records one INSERT statement writes. A statement
// costs something whatever its rows: database/sql and the driver set it up
// and step it (the driver with a goroutine watching the context), and
// SQLite opens cursors on the table and its indexes and reads and updates
// the AUTOINCREMENT counter in sqlite_sequence. Paid per chunk rather than
// per record, that cost all but vanishes, leaving the B-tree inserts and
// the pages written at commit; chunks larger than 64 gain nothing more
// that we could measure.
const logChunk = 64

// insertLogs returns the statement inserting n records, whose arguments
// are logsql.AppendValues' for each record in turn.
//
// OR FAIL, rather than the default ABORT, lets a statement that fails stop
// without undoing its own earlier rows. SQLite then keeps no statement
// journal for a multi-row insert, which would save a copy of every page
// the statement changes and spill them to a temporary file. No part of a
// batch can remain: AppendLogs rolls the whole transaction back.
func insertLogs(n int) string {
	row := "(?" + strings.Repeat(", ?", len(logsql.Columns)-1) + ")"
	var b strings.Builder
	b.Grow(64 + n*(len(row)+2))
	b.WriteString("INSERT OR FAIL INTO access_log (" + strings.Join(logsql.Columns, ", ") + ") VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// AppendLogs stores records in one transaction, logChunk per statement. It
// takes no revision and writes no change-feed entry.
func (s *Store) AppendLogs(ctx context.Context, records []accesslog.Record) error {
	if len(records) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: append logs: %w", err)
	}
	// Encode before taking the write lock, which document writes wait for.
	per := len(logsql.Columns)
	args := make([]any, 0, len(records)*per)
	for _, r := range records {
		body, cols, err := accesslog.Encode(r)
		if err != nil {
			return fmt.Errorf("sqlite: append logs: %w", err)
		}
		args = logsql.AppendValues(args, cols, body)
	}
	err := inTx(ctx, s.writer, func(tx *sql.Tx) error {
		rest := args
		if full := logChunk * per; len(rest) >= full {
			stmt := tx.StmtContext(ctx, s.insertChunk)
			defer stmt.Close()
			for ; len(rest) >= full; rest = rest[full:] {
				if _, err := stmt.ExecContext(ctx, rest[:full]...); err != nil {
					return err
				}
			}
		}
		if len(rest) == 0 {
			return nil
		}
		// Fewer than logChunk remain: a statement of their own, prepared
		// for this call since its text depends on how many.
		_, err := tx.ExecContext(ctx, insertLogs(len(rest)/per), rest...)
		return err
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

package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/perimeterhq/perimeter/internal/accesslog"
)

// The access log is kept in batches (see logbatch.go for the layout and
// why). PostgreSQL keeps a row per record; both answer queries alike.

var _ accesslog.Sink = (*Store)(nil)

// encodeBatches lays records out as batches of at most batchSlots, their
// slots in the order given, in builders from get.
func encodeBatches(records []accesslog.Record, get func() *batchBuilder) ([]*batchBuilder, error) {
	out := make([]*batchBuilder, 0, (len(records)+batchSlots-1)/batchSlots)
	for part := range slices.Chunk(records, batchSlots) {
		b := get()
		out = append(out, b)
		b.stripped = true
		for slot := range part {
			r, c := accesslog.Stored(part[slot])
			for _, p := range recordFields(&r) {
				*p = "" // kept in the summary
			}
			start := len(b.records)
			var err error
			if b.records, err = r.AppendJSON(b.records); err != nil {
				return out, fmt.Errorf("encode access log record %s: %w", r.RequestID, err)
			}
			b.add(slot, &c, len(b.records)-start)
		}
		b.seal()
	}
	return out, nil
}

// insertBatch stores a sealed batch; a nil id lets AUTOINCREMENT choose
// one larger than any batch ever stored, so a Seq is never given twice.
func insertBatch(ctx context.Context, tx *sql.Tx, id any, b *batchBuilder) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO access_log_batch (id, min_time, max_time, n, summary, keys, records)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, id, b.minTime, b.maxTime, b.n, b.sum, b.keys, b.records)
	return err
}

// AppendLogs stores records as one batch, or several in one transaction
// when there are more than batchSlots. It takes no revision and writes no
// change-feed entry.
func (s *Store) AppendLogs(ctx context.Context, records []accesslog.Record) error {
	if len(records) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: append logs: %w", err)
	}
	// Encode before taking the write lock, which document writes wait for,
	// into builders kept from call to call: a batch's buffers are hundreds
	// of kilobytes, which the garbage collector would otherwise churn.
	batches, err := encodeBatches(records, func() *batchBuilder { return s.builders.Get().(*batchBuilder) })
	defer func() {
		for _, b := range batches {
			b.reset()
			s.builders.Put(b)
		}
	}()
	if err != nil {
		return fmt.Errorf("sqlite: append logs: %w", err)
	}
	err = inTx(ctx, s.writer, func(tx *sql.Tx) error {
		for _, b := range batches {
			if err := insertBatch(ctx, tx, nil, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: append %d logs: %w", len(records), err)
	}
	return nil
}

// QueryLogs returns the selected records, newest first (by Time, then
// Seq), in one read transaction so that a prune rewriting a batch meanwhile
// is not seen half-way.
func (s *Store) QueryLogs(ctx context.Context, q accesslog.Query) ([]accesslog.Record, error) {
	f, err := q.Filter()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: query logs: %w", err)
	}
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: query logs: %w", err)
	}
	defer tx.Rollback()
	out, err := queryLogs(ctx, tx, f)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query logs: %w", err)
	}
	return out, nil
}

func queryLogs(ctx context.Context, tx *sql.Tx, f accesslog.Filter) ([]accesslog.Record, error) {
	m := newLogMatcher(f)
	if f.Before != 0 {
		t, ok, err := recordTime(ctx, tx, f.Before)
		if err != nil || !ok {
			return []accesslog.Record{}, err // a cursor that no longer exists selects nothing
		}
		m.cursorTime = t
	}
	hits, err := selectHits(ctx, tx, m)
	if err != nil {
		return nil, err
	}
	return readHits(ctx, tx, hits)
}

// recordTime returns the Time of the record with Seq seq, if it exists.
func recordTime(ctx context.Context, tx *sql.Tx, seq int64) (int64, bool, error) {
	id, slot := seq/batchSlots, int(seq%batchSlots)
	var n int
	var sum, keys []byte
	err := tx.QueryRowContext(ctx, `SELECT n, summary, keys FROM access_log_batch WHERE id = ?`, id).Scan(&n, &sum, &keys)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	_, ks, err := parseBatch(id, n, sum, keys, nil)
	if err != nil {
		return 0, false, err
	}
	for _, k := range ks {
		if k.slot == slot {
			return k.time, true, nil
		}
	}
	return 0, false, nil
}

// parseBatch reads a batch's summary and keys into dst.
func parseBatch(id int64, n int, sum, keys []byte, dst []logKey) (batchSummary, []logKey, error) {
	s, err := parseSummary(sum)
	if err == nil {
		dst, err = parseKeys(dst, keys, n, &s)
	}
	if err != nil {
		return s, dst, damaged(id, err)
	}
	return s, dst, nil
}

// damaged is the error of batch id whose blobs do not parse: what is
// wrong, and which batch, so that it can be found and removed.
func damaged(id int64, err error) error {
	return fmt.Errorf("access log batch %d is damaged: %w", id, err)
}

// logHit is a record selected, before its JSON is read.
type logHit struct {
	seq, time    int64
	offset, size int
	sum          *batchSummary
	fields       [numFields]uint32
}

// newer orders hits as results are: by time, then seq, newest first.
func newer(a, b logHit) int {
	return cmp.Or(cmp.Compare(b.time, a.time), cmp.Compare(b.seq, a.seq))
}

// selectHits walks the batches that may hold selected records, the one
// with the newest record first, and returns the first f.Limit records in
// the order of results. Records within a batch need not be in time order
// (planes log when a request ends), so every selected record of a batch is
// considered; the walk ends at a batch whose newest record is older than
// the Limit-th found, as is every batch after it.
func selectHits(ctx context.Context, tx *sql.Tx, m *logMatcher) ([]logHit, error) {
	limit := m.f.Limit
	query, args := walkQuery(m)
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var hits []logHit
	var keys []logKey
	for rows.Next() {
		var id, maxTime int64
		var n int
		var sum []byte
		if err := rows.Scan(&id, &n, &maxTime, &sum); err != nil {
			return nil, err
		}
		if len(hits) == limit && maxTime < hits[limit-1].time {
			break
		}
		s, err := parseSummary(sum)
		if err != nil {
			return nil, damaged(id, err)
		}
		if !m.admit(&s) {
			continue
		}
		var blob []byte
		if err := tx.QueryRowContext(ctx, `SELECT keys FROM access_log_batch WHERE id = ?`, id).Scan(&blob); err != nil {
			return nil, err
		}
		if keys, err = parseKeys(keys, blob, n, &s); err != nil {
			return nil, damaged(id, err)
		}
		for i := range keys {
			k := &keys[i]
			if seq := id*batchSlots + int64(k.slot); m.keep(k, seq) {
				hits = append(hits, logHit{seq: seq, time: k.time, offset: k.offset, size: k.size, sum: &s, fields: k.fields})
			}
		}
		if len(hits) >= limit {
			slices.SortFunc(hits, newer)
			hits = hits[:limit]
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(hits, newer)
	return hits, nil
}

// walkQuery selects the batches that may hold records in the filter's
// time window and before its cursor, newest record first (from the
// max_time index, with no sort).
func walkQuery(m *logMatcher) (string, []any) {
	q := `SELECT id, n, max_time, summary FROM access_log_batch`
	var args []any
	and := func(cond string, v int64) {
		if len(args) == 0 {
			q += " WHERE " + cond
		} else {
			q += " AND " + cond
		}
		args = append(args, v)
	}
	if m.f.From != 0 {
		and("max_time >= ?", m.f.From)
	}
	if m.f.To != 0 {
		and("min_time < ?", m.f.To)
	}
	if m.f.Before != 0 {
		and("min_time <= ?", m.cursorTime)
	}
	return q + " ORDER BY max_time DESC", args
}

// readHits decodes the records of hits, reading each batch's records once.
func readHits(ctx context.Context, tx *sql.Tx, hits []logHit) ([]accesslog.Record, error) {
	out := make([]accesslog.Record, len(hits))
	byBatch := map[int64][]int{}
	for i, h := range hits {
		byBatch[h.seq/batchSlots] = append(byBatch[h.seq/batchSlots], i)
	}
	for id, which := range byBatch {
		var blob []byte
		if err := tx.QueryRowContext(ctx, `SELECT records FROM access_log_batch WHERE id = ?`, id).Scan(&blob); err != nil {
			return nil, err
		}
		for _, i := range which {
			h := hits[i]
			body, err := recordJSON(blob, id, h.offset, h.size)
			if err != nil {
				return nil, err
			}
			if out[i], err = accesslog.Decode(h.seq, body); err != nil {
				return nil, err
			}
			h.sum.restore(&out[i], &h.fields)
		}
	}
	return out, nil
}

// recordJSON is the JSON of a record in its batch's records blob.
func recordJSON(blob []byte, id int64, offset, size int) ([]byte, error) {
	if offset+size > len(blob) {
		return nil, damaged(id, fmt.Errorf("records end at %d bytes, before the %d keys give", len(blob), offset+size))
	}
	return blob[offset : offset+size], nil
}

// pruneBatches is how many whole batches one prune transaction deletes, so
// that a large prune does not hold up document writes for long.
const pruneBatches = 16

// PruneLogs removes the records older than before: whole batches whose
// newest record is older, then what is older in the batches that straddle
// the cut-off, rewritten without it (their other records keep their Seq).
// Each step is a transaction of its own.
func (s *Store) PruneLogs(ctx context.Context, before time.Time) (int64, error) {
	cut := accesslog.UnixNano(before)
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("sqlite: prune logs: %w", err)
		}
		var n int64
		var more bool
		err := inTx(ctx, s.writer, func(tx *sql.Tx) error {
			var err error
			n, more, err = pruneStep(ctx, tx, cut)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("sqlite: prune logs: %w", err)
		}
		total += n
		if !more {
			return total, nil
		}
	}
}

// oldBatches selects up to the second argument batches whose records are
// all older than the first, oldest first, from the max_time index.
const oldBatches = `SELECT id FROM access_log_batch WHERE max_time < ? ORDER BY max_time LIMIT ?`

// straddlingBatch selects a batch with records either side of the
// argument. From the min_time index (the + keeps SQLite off the max_time
// one, where every newer batch would be looked at): pruneStep deleted the
// old batches first, so those left below the cut-off straddle it.
const straddlingBatch = `SELECT id FROM access_log_batch WHERE min_time < ? AND +max_time >= ? LIMIT 1`

// pruneStep deletes up to pruneBatches batches older than cut or, when
// none is left, rewrites one that straddles it. more reports whether it
// did anything, and so whether there may be more to do.
func pruneStep(ctx context.Context, tx *sql.Tx, cut int64) (removed int64, more bool, err error) {
	rows, err := tx.QueryContext(ctx, `DELETE FROM access_log_batch WHERE id IN (`+oldBatches+`) RETURNING n`, cut, pruneBatches)
	if err != nil {
		return 0, false, err
	}
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return removed, false, err
		}
		removed, more = removed+n, true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil || more {
		return removed, more, err
	}
	var id int64
	err = tx.QueryRowContext(ctx, straddlingBatch, cut, cut).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	removed, err = rewriteBatch(ctx, tx, id, cut)
	return removed, true, err
}

// rewriteBatch rewrites batch id without its records older than cut and
// returns how many it removed.
func rewriteBatch(ctx context.Context, tx *sql.Tx, id, cut int64) (int64, error) {
	var n int
	var sum, keys, records []byte
	if err := tx.QueryRowContext(ctx, `SELECT n, summary, keys, records FROM access_log_batch WHERE id = ?`, id).
		Scan(&n, &sum, &keys, &records); err != nil {
		return 0, err
	}
	s, ks, err := parseBatch(id, n, sum, keys, nil)
	if err != nil {
		return 0, err
	}
	b := newBatchBuilder()
	b.stripped = s.stripped
	for i := range ks {
		k := &ks[i]
		if k.time < cut {
			continue
		}
		body, err := recordJSON(records, id, k.offset, k.size)
		if err != nil {
			return 0, err
		}
		b.records = append(b.records, body...)
		c := k.columns(&s)
		b.add(k.slot, &c, k.size)
	}
	removed := int64(n - b.n)
	if b.n == 0 {
		_, err = tx.ExecContext(ctx, `DELETE FROM access_log_batch WHERE id = ?`, id)
		return removed, err
	}
	b.seal()
	_, err = tx.ExecContext(ctx, `UPDATE access_log_batch SET min_time = ?, max_time = ?, n = ?, summary = ?, keys = ?, records = ?
		WHERE id = ?`, b.minTime, b.maxTime, b.n, b.sum, b.keys, b.records, id)
	return removed, err
}

// moveRowLogs moves the records of the table of schema versions 2 and 3,
// a row per record, into batches, and drops that table. A record keeps its
// Seq (its row id): the row with seq s goes to batch s/batchSlots, slot
// s%batchSlots. Batches appended later get ids past every seq the old
// table ever gave, pruned ones included.
func moveRowLogs(ctx context.Context, tx *sql.Tx) error {
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'access_log'), 0)`).Scan(&last); err != nil {
		return fmt.Errorf("read the access log's last seq: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, time, subscription, resource, result, rule, host, deployment, source, record
		FROM access_log ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("read the access log: %w", err)
	}
	defer rows.Close()
	b := newBatchBuilder()
	batch := int64(-1)
	flush := func() error {
		if b.n == 0 {
			return nil
		}
		b.seal()
		err := insertBatch(ctx, tx, batch, b)
		b.reset()
		return err
	}
	for rows.Next() {
		var seq int64
		var c accesslog.Columns
		var body []byte
		if err := rows.Scan(&seq, &c.Time, &c.Subscription, &c.Resource, &c.Result, &c.Rule, &c.Host, &c.Deployment, &c.Source, &body); err != nil {
			return fmt.Errorf("read the access log: %w", err)
		}
		if seq/batchSlots != batch {
			if err := flush(); err != nil {
				return fmt.Errorf("move the access log into batch %d: %w", batch, err)
			}
			batch = seq / batchSlots
		}
		b.records = append(b.records, body...)
		b.add(int(seq%batchSlots), &c, len(body))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the access log: %w", err)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("move the access log into batch %d: %w", batch, err)
	}
	// AUTOINCREMENT's counter; its row exists once a batch was inserted.
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO sqlite_sequence (name, seq) SELECT 'access_log_batch', 0
			WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'access_log_batch')`, nil},
		{`UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'access_log_batch'`, []any{last / batchSlots}},
		{`DROP TABLE access_log`, nil},
	} {
		if _, err := tx.ExecContext(ctx, st.sql, st.args...); err != nil {
			return fmt.Errorf("finish moving the access log: %w", err)
		}
	}
	return nil
}

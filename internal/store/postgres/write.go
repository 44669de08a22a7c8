package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/perimeterhq/perimeter/internal/store"
)

// Apply performs the ops atomically, each with its own consecutive revision
// and change-feed entry, and returns the written documents in op order.
func (s *Store) Apply(ctx context.Context, ops ...store.Op) ([]store.Document, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	for i, op := range ops {
		if err := store.ValidateOp(op); err != nil {
			return nil, fmt.Errorf("postgres: apply: op %d: %w", i, err)
		}
	}
	var out []store.Document
	writes := store.Writes(ops)
	err := s.pool.tx(ctx, func(tx pgx.Tx) error {
		out = make([]store.Document, 0, len(ops))
		// Reserve the revisions, locking the counter row: writers in every
		// process queue here and commit in revision order.
		var last int64
		if err := tx.QueryRow(ctx, `UPDATE meta SET revision = revision + $1 WHERE id = 1 RETURNING revision`,
			writes).Scan(&last); err != nil {
			return fmt.Errorf("reserve revisions: %w", err)
		}
		rev := last - int64(writes)
		for i, op := range ops {
			if op.Check == "" {
				rev++
			}
			doc, err := applyOp(ctx, tx, op, rev)
			if err != nil {
				return fmt.Errorf("op %d: %w", i, err)
			}
			out = append(out, doc)
		}
		if writes == 0 {
			return nil
		}
		return s.notify(ctx, tx, last)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: apply: %w", err)
	}
	if writes > 0 {
		s.hub.Notify()
	}
	return out, nil
}

// applyOp checks one op's precondition against the current document and
// performs it at revision rev.
func applyOp(ctx context.Context, tx pgx.Tx, op store.Op, rev int64) (store.Document, error) {
	key := store.Key(op.ID())
	current, err := getDoc(ctx, tx, key, true)
	if err != nil {
		return store.Document{}, fmt.Errorf("read %s: %w", key, err)
	}
	if err := store.CheckPrecondition(key, current, op.If); err != nil {
		return store.Document{}, err
	}
	if op.Check != "" {
		if current == nil {
			return store.Document{}, nil
		}
		return *current, nil
	}
	if op.Put == nil {
		if current == nil {
			return store.Document{}, fmt.Errorf("delete %s: %w", key, store.ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM documents WHERE id = $1`, key); err != nil {
			return store.Document{}, fmt.Errorf("delete %s: %w", key, err)
		}
		if err := appendChange(ctx, tx, rev, key, current.Type, nil); err != nil {
			return store.Document{}, err
		}
		return *current, nil
	}
	doc := store.Document{
		ID:       key,
		Type:     store.Key(op.Put.Type),
		Parent:   store.Key(op.Put.Parent),
		Body:     bytes.Clone(op.Put.Body),
		ETag:     store.ETagFor(rev),
		Revision: rev,
	}
	if _, err := tx.Exec(ctx, `INSERT INTO documents (`+docColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, parent = EXCLUDED.parent,
			body = EXCLUDED.body, etag = EXCLUDED.etag, revision = EXCLUDED.revision`,
		doc.ID, doc.Type, doc.Parent, []byte(doc.Body), doc.ETag, doc.Revision); err != nil {
		return store.Document{}, fmt.Errorf("put %s: %w", key, err)
	}
	if err := appendChange(ctx, tx, rev, key, doc.Type, doc.Body); err != nil {
		return store.Document{}, err
	}
	return doc, nil
}

// DeleteTree removes every document strictly below id in one transaction,
// one revision and change-feed entry per document in id order.
func (s *Store) DeleteTree(ctx context.Context, id string) (int, error) {
	key := store.Key(id)
	if key == "" {
		return 0, errors.New("postgres: delete tree: empty id")
	}
	var n int64
	err := s.pool.tx(ctx, func(tx pgx.Tx) error {
		var rev int64
		if err := tx.QueryRow(ctx, `SELECT revision FROM meta WHERE id = 1 FOR UPDATE`).Scan(&rev); err != nil {
			return fmt.Errorf("lock revision: %w", err)
		}
		// Delete and record one tombstone per document, numbered in id
		// order, in a single statement.
		if err := tx.QueryRow(ctx, `WITH deleted AS (
				DELETE FROM documents WHERE id > $1 AND id < $2 RETURNING id, type
			), recorded AS (
				INSERT INTO changes (revision, id, type, deleted, body)
				SELECT $3::bigint + row_number() OVER (ORDER BY id), id, type, true, NULL FROM deleted
				RETURNING 1
			)
			SELECT count(*) FROM recorded`, key+"/", key+"0", rev).Scan(&n); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		if n == 0 {
			return nil
		}
		rev += n
		if _, err := tx.Exec(ctx, `UPDATE meta SET revision = $1 WHERE id = 1`, rev); err != nil {
			return fmt.Errorf("write revision %d: %w", rev, err)
		}
		return s.notify(ctx, tx, rev)
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: delete tree %s: %w", key, err)
	}
	if n > 0 {
		s.hub.Notify()
	}
	return int(n), nil
}

func appendChange(ctx context.Context, tx pgx.Tx, rev int64, key, typ string, body []byte) error {
	if _, err := tx.Exec(ctx, `INSERT INTO changes (revision, id, type, deleted, body) VALUES ($1, $2, $3, $4, $5)`,
		rev, key, typ, body == nil, body); err != nil {
		return fmt.Errorf("record change %d for %s: %w", rev, key, err)
	}
	return nil
}

// notify queues a notification that is delivered when tx commits.
func (s *Store) notify(ctx context.Context, tx pgx.Tx, rev int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, s.channel, fmt.Sprint(rev)); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

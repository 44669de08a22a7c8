package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

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
			return nil, fmt.Errorf("sqlite: apply: op %d: %w", i, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: apply: %w", err)
	}
	out := make([]store.Document, 0, len(ops))
	var rev int64
	err := inTx(ctx, s.writer, func(tx *sql.Tx) error {
		var err error
		if rev, err = readRevision(ctx, tx); err != nil {
			return fmt.Errorf("read revision: %w", err)
		}
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
		return writeRevision(ctx, tx, rev)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: apply: %w", err)
	}
	if store.Writes(ops) > 0 {
		s.committed(rev)
	}
	return out, nil
}

// applyOp checks one op's precondition against the current document and
// performs it at revision rev.
func applyOp(ctx context.Context, tx *sql.Tx, op store.Op, rev int64) (store.Document, error) {
	key := store.Key(op.ID())
	current, err := getDoc(ctx, tx, key)
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
		if _, err := tx.ExecContext(ctx, `DELETE FROM documents WHERE id = ?`, key); err != nil {
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
	if _, err := tx.ExecContext(ctx, `INSERT INTO documents (`+docColumns+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET type = excluded.type, parent = excluded.parent,
			body = excluded.body, etag = excluded.etag, revision = excluded.revision`,
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
		return 0, errors.New("sqlite: delete tree: empty id")
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("sqlite: delete tree %s: %w", key, err)
	}
	var rev int64
	var n int
	err := inTx(ctx, s.writer, func(tx *sql.Tx) error {
		var err error
		if rev, err = readRevision(ctx, tx); err != nil {
			return fmt.Errorf("read revision: %w", err)
		}
		lo, hi := key+"/", key+"0"
		// Number the tombstones in id order straight from the index.
		res, err := tx.ExecContext(ctx, `INSERT INTO changes (revision, id, type, deleted, body)
			SELECT ? + ROW_NUMBER() OVER (ORDER BY id), id, type, 1, NULL
			FROM documents WHERE id > ? AND id < ? ORDER BY id`, rev, lo, hi)
		if err != nil {
			return fmt.Errorf("record deletions: %w", err)
		}
		inserted, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("record deletions: %w", err)
		}
		res, err = tx.ExecContext(ctx, `DELETE FROM documents WHERE id > ? AND id < ?`, lo, hi)
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		deleted, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		if deleted != inserted {
			return fmt.Errorf("deleted %d documents but recorded %d changes", deleted, inserted)
		}
		n = int(deleted)
		if n == 0 {
			return nil
		}
		rev += deleted
		return writeRevision(ctx, tx, rev)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete tree %s: %w", key, err)
	}
	if n > 0 {
		s.committed(rev)
	}
	return n, nil
}

func appendChange(ctx context.Context, tx *sql.Tx, rev int64, key, typ string, body []byte) error {
	var deleted int
	var blob any = body
	if body == nil {
		deleted, blob = 1, nil // a tombstone: SQL NULL body
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO changes (revision, id, type, deleted, body) VALUES (?, ?, ?, ?, ?)`,
		rev, key, typ, deleted, blob); err != nil {
		return fmt.Errorf("record change %d for %s: %w", rev, key, err)
	}
	return nil
}

func writeRevision(ctx context.Context, tx *sql.Tx, rev int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE meta SET revision = ? WHERE id = 1`, rev); err != nil {
		return fmt.Errorf("write revision %d: %w", rev, err)
	}
	return nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/perimeterhq/perimeter/internal/store"
)

// querier is what reads need: a *pgx.Conn or a pgx.Tx.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const docColumns = `id, type, parent, body, etag, revision`

// Get returns the current version of a document, or store.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (store.Document, error) {
	key := store.Key(id)
	var doc *store.Document
	err := s.pool.with(ctx, func(conn *pgx.Conn) error {
		var err error
		doc, err = getDoc(ctx, conn, key, false)
		return err
	})
	if err != nil {
		return store.Document{}, fmt.Errorf("postgres: get %s: %w", key, err)
	}
	if doc == nil {
		return store.Document{}, fmt.Errorf("postgres: get %s: %w", key, store.ErrNotFound)
	}
	return *doc, nil
}

// getDoc returns the document with the lower-cased id key, or nil; with
// lock it also locks the row until the transaction ends.
func getDoc(ctx context.Context, q querier, key string, lock bool) (*store.Document, error) {
	query := `SELECT ` + docColumns + ` FROM documents WHERE id = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	var doc store.Document
	err := scanDoc(q.QueryRow(ctx, query, key), &doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &doc, nil
}

func scanDoc(row pgx.Row, doc *store.Document) error {
	var body []byte
	if err := row.Scan(&doc.ID, &doc.Type, &doc.Parent, &body, &doc.ETag, &doc.Revision); err != nil {
		return err
	}
	doc.Body = body
	return nil
}

// List returns the selected documents ordered by lower-cased id.
func (s *Store) List(ctx context.Context, opts store.ListOptions) ([]store.Document, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if opts.Type != "" {
		where = append(where, "type = "+arg(store.Key(opts.Type)))
	}
	if opts.Parent != "" {
		where = append(where, "parent = "+arg(store.Key(opts.Parent)))
	}
	if opts.Under != "" {
		// Everything strictly below Under: ids between Under+"/" and
		// Under+"0", '0' being the byte after '/'.
		under := store.Key(opts.Under)
		where = append(where, "id > "+arg(under+"/")+" AND id < "+arg(under+"0"))
	}
	if opts.After != "" {
		where = append(where, "id > "+arg(store.Key(opts.After)))
	}
	query := `SELECT ` + docColumns + ` FROM documents`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY id`
	if opts.Limit > 0 {
		query += ` LIMIT ` + arg(opts.Limit)
	}
	var docs []store.Document
	err := s.pool.with(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var doc store.Document
			if err := scanDoc(rows, &doc); err != nil {
				return err
			}
			docs = append(docs, doc)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list: %w", err)
	}
	return docs, nil
}

// Changes returns up to limit change-feed entries after the given revision,
// in revision order; limit <= 0 means no cap.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	query := `SELECT revision, id, type, deleted, body FROM changes WHERE revision > $1 ORDER BY revision`
	args := []any{after}
	if limit > 0 {
		query += ` LIMIT $2`
		args = append(args, limit)
	}
	var changes []store.Change
	err := s.pool.with(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c store.Change
			var body []byte
			if err := rows.Scan(&c.Revision, &c.ID, &c.Type, &c.Deleted, &body); err != nil {
				return err
			}
			if !c.Deleted {
				c.Body = body
			}
			changes = append(changes, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: changes after %d: %w", after, err)
	}
	return changes, nil
}

// Revision returns the latest committed revision (0 for an empty store).
func (s *Store) Revision(ctx context.Context) (int64, error) {
	var rev int64
	err := s.pool.with(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT revision FROM meta WHERE id = 1`).Scan(&rev)
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: revision: %w", err)
	}
	return rev, nil
}

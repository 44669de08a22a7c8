package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/perimeterhq/perimeter/internal/store"
)

// queryer is what reads need: a *sql.DB or a *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const docColumns = `id, type, parent, body, etag, revision`

// Get returns the current version of a document, or store.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (store.Document, error) {
	if err := ctx.Err(); err != nil {
		return store.Document{}, fmt.Errorf("sqlite: get %s: %w", id, err)
	}
	key := store.Key(id)
	doc, err := getDoc(ctx, s.reader, key)
	if err != nil {
		return store.Document{}, fmt.Errorf("sqlite: get %s: %w", key, err)
	}
	if doc == nil {
		return store.Document{}, fmt.Errorf("sqlite: get %s: %w", key, store.ErrNotFound)
	}
	return *doc, nil
}

// getDoc returns the document with the lower-cased id key, or nil.
func getDoc(ctx context.Context, q queryer, key string) (*store.Document, error) {
	var doc store.Document
	row := q.QueryRowContext(ctx, `SELECT `+docColumns+` FROM documents WHERE id = ?`, key)
	err := scanDoc(row, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &doc, nil
}

func scanDoc(row interface{ Scan(...any) error }, doc *store.Document) error {
	var body []byte
	if err := row.Scan(&doc.ID, &doc.Type, &doc.Parent, &body, &doc.ETag, &doc.Revision); err != nil {
		return err
	}
	doc.Body = body
	return nil
}

// List returns the selected documents ordered by lower-cased id.
func (s *Store) List(ctx context.Context, opts store.ListOptions) ([]store.Document, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", err)
	}
	var where []string
	var args []any
	if opts.Type != "" {
		where = append(where, "type = ?")
		args = append(args, store.Key(opts.Type))
	}
	if opts.Parent != "" {
		where = append(where, "parent = ?")
		args = append(args, store.Key(opts.Parent))
	}
	if opts.Under != "" {
		// Everything strictly below Under: ids between Under+"/" and
		// Under+"0", '0' being the byte after '/'.
		under := store.Key(opts.Under)
		where = append(where, "id > ? AND id < ?")
		args = append(args, under+"/", under+"0")
	}
	if opts.After != "" {
		where = append(where, "id > ?")
		args = append(args, store.Key(opts.After))
	}
	query := `SELECT ` + docColumns + ` FROM documents`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY id`
	if opts.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, opts.Limit)
	}
	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", err)
	}
	defer rows.Close()
	var docs []store.Document
	for rows.Next() {
		var doc store.Document
		if err := scanDoc(rows, &doc); err != nil {
			return nil, fmt.Errorf("sqlite: list: %w", err)
		}
		docs = append(docs, doc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", err)
	}
	return docs, nil
}

// Changes returns up to limit change-feed entries after the given revision,
// in revision order; limit <= 0 means no cap.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: changes after %d: %w", after, err)
	}
	query := `SELECT revision, id, type, deleted, body FROM changes WHERE revision > ? ORDER BY revision`
	args := []any{after}
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: changes after %d: %w", after, err)
	}
	defer rows.Close()
	var changes []store.Change
	for rows.Next() {
		var c store.Change
		var body []byte
		if err := rows.Scan(&c.Revision, &c.ID, &c.Type, &c.Deleted, &body); err != nil {
			return nil, fmt.Errorf("sqlite: changes after %d: %w", after, err)
		}
		if !c.Deleted {
			c.Body = body
		}
		changes = append(changes, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: changes after %d: %w", after, err)
	}
	return changes, nil
}

// Revision returns the latest committed revision (0 for an empty store).
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("sqlite: revision: %w", err)
	}
	rev, err := readRevision(ctx, s.reader)
	if err != nil {
		return 0, fmt.Errorf("sqlite: revision: %w", err)
	}
	return rev, nil
}

func readRevision(ctx context.Context, q queryer) (int64, error) {
	var rev int64
	err := q.QueryRowContext(ctx, `SELECT revision FROM meta WHERE id = 1`).Scan(&rev)
	return rev, err
}

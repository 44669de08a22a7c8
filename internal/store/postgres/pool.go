package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pool runs the store's work on connections from a pgxpool.Pool.
type pool struct{ p *pgxpool.Pool }

// with runs fn on a pooled connection.
func (p *pool) with(ctx context.Context, fn func(*pgx.Conn) error) error {
	return p.p.AcquireFunc(ctx, func(c *pgxpool.Conn) error { return fn(c.Conn()) })
}

// tx runs fn in a transaction, committing if it returns nil and rolling
// back otherwise.
func (p *pool) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, p.p, fn)
}

func (p *pool) close() { p.p.Close() }

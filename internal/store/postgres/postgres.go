// Package postgres is the implementation of store.Store for several
// Perimeter replicas sharing one PostgreSQL database.
//
// Ordering: every write transaction first locks the single row of the meta
// table (which holds the latest revision) and keeps the lock until it
// commits. Writers are therefore serialized and commit in revision order,
// so a change-feed reader that has seen revision N never later finds a new
// entry below N, which a bare sequence could not guarantee. A failed write
// rolls the counter back with everything else, so revisions have no gaps.
//
// Subscribe: each write transaction issues pg_notify on a channel named
// after the schema; every Store LISTENs on a dedicated connection, which it
// re-establishes with backoff if it drops, waking subscribers after a
// reconnect since notifications may have been missed meanwhile.
//
// The schema is the first existing schema on the connection's search_path,
// so several stores can share a database in separate schemas: put
// search_path=myschema (or options=-c search_path=myschema) in the URL.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/perimeterhq/perimeter/internal/store"
	"github.com/perimeterhq/perimeter/internal/store/internal/fanout"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store kept in a PostgreSQL schema.
type Store struct {
	pool    *pool
	cfg     *pgx.ConnConfig
	schema  string
	channel string // NOTIFY channel for this schema

	hub fanout.Hub

	stopListen context.CancelFunc
	listenDone chan struct{}
	listener   listenerState
	closeOnce  sync.Once
}

// Open connects to the database at url (a PostgreSQL URL or keyword/value
// string as accepted by pgx), brings the schema up to date and starts
// listening for commits. It refuses a database written by a newer binary.
// pgxpool's URL parameters (pool_max_conns, ...) size the pool; one more
// connection is used for LISTEN.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: parse url: %w", err)
	}
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s := &Store{pool: &pool{p: p}, cfg: cfg.ConnConfig, listenDone: make(chan struct{})}
	if err := s.init(ctx); err != nil {
		s.pool.close()
		return nil, fmt.Errorf("postgres: open %s@%s/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return s, nil
}

// init finds the schema, migrates it and starts the listener.
func (s *Store) init(ctx context.Context) error {
	var schema *string
	if err := s.pool.with(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema)
	}); err != nil {
		return fmt.Errorf("find schema: %w", err)
	}
	if schema == nil {
		return errors.New("no schema on the search_path exists: create it first")
	}
	s.schema = *schema
	s.channel = channelName(s.schema)
	if err := migrate(ctx, s.pool); err != nil {
		return err
	}
	conn, err := s.dialListener(ctx)
	if err != nil {
		return err
	}
	listenCtx, stop := context.WithCancel(context.Background())
	s.stopListen = stop
	go s.listen(listenCtx, conn)
	return nil
}

// Close stops the listener and closes the connections. It is safe to call
// more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stopListen()
		<-s.listenDone
		s.pool.close()
	})
	return nil
}

// Subscribe returns a channel that receives a coalesced value after
// commits, by this store or any other sharing the schema, and a func that
// ends the subscription.
func (s *Store) Subscribe() (<-chan struct{}, func()) {
	return s.hub.Subscribe()
}

// channelName is the NOTIFY channel for a schema, short enough for
// PostgreSQL's 63-byte identifiers whatever the schema's name.
func channelName(schema string) string {
	h := fnv.New64a()
	h.Write([]byte(schema))
	return fmt.Sprintf("perimeter_changes_%016x", h.Sum64())
}

package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// listenHealthCheck is how long the listener waits for a notification
	// before pinging the server, so a silently dead connection is noticed.
	listenHealthCheck = 30 * time.Second
	minBackoff        = 50 * time.Millisecond
	maxBackoff        = 5 * time.Second
)

// listenerState records the backend pid of the current LISTEN connection
// (0 while reconnecting), for diagnostics and tests.
type listenerState struct {
	mu  sync.Mutex
	pid uint32
}

func (l *listenerState) set(pid uint32) {
	l.mu.Lock()
	l.pid = pid
	l.mu.Unlock()
}

func (l *listenerState) get() uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pid
}

// dialListener opens a dedicated connection and LISTENs on the channel.
func (s *Store) dialListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return nil, fmt.Errorf("listen: connect: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("listen on %s: %w", s.channel, err)
	}
	s.listener.set(conn.PgConn().PID())
	return conn, nil
}

// listen wakes subscribers on every notification until ctx is done. When
// the connection fails it reconnects with exponential backoff and then
// wakes subscribers, since notifications sent meanwhile were lost.
func (s *Store) listen(ctx context.Context, conn *pgx.Conn) {
	defer close(s.listenDone)
	for {
		s.receive(ctx, conn)
		s.listener.set(0)
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(closeCtx)
		cancel()
		if conn = s.reconnect(ctx); conn == nil {
			return
		}
		s.hub.Notify()
	}
}

// receive relays notifications until the connection fails or ctx is done.
func (s *Store) receive(ctx context.Context, conn *pgx.Conn) {
	for {
		waitCtx, cancel := context.WithTimeout(ctx, listenHealthCheck)
		_, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil:
			s.hub.Notify()
		case ctx.Err() != nil || conn.IsClosed():
			return
		case waitCtx.Err() != nil: // quiet for a while: is the server still there?
			pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := conn.Ping(pingCtx)
			cancel()
			if err != nil {
				return
			}
		default:
			return
		}
	}
}

// reconnect dials until it succeeds or ctx is done (then it returns nil).
func (s *Store) reconnect(ctx context.Context) *pgx.Conn {
	backoff := minBackoff
	for {
		if conn, err := s.dialListener(ctx); err == nil {
			return conn
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

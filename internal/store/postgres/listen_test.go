package postgres_test

import (
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/store"
	"github.com/perimeterhq/perimeter/internal/store/postgres"
)

// TestListenerReconnects kills the LISTEN connection's backend and checks
// that subscribers are woken after the reconnect (notifications may have
// been missed) and that commits by another store still reach them.
func TestListenerReconnects(t *testing.T) {
	_, u := newSchema(t)
	a, b := openURL(t, u), openURL(t, u)
	ch, cancel := a.Subscribe()
	defer cancel()
	pid := postgres.ListenerPID(a)
	if pid == 0 {
		t.Fatal("store has no LISTEN connection after Open")
	}
	drainNow(ch)
	admin(t, baseURL(t), "SELECT pg_terminate_backend($1)", int64(pid))
	waitWake(t, ch, "listener reconnect")

	deadline := time.Now().Add(10 * time.Second)
	for p := postgres.ListenerPID(a); p == 0 || p == pid; p = postgres.ListenerPID(a) {
		if time.Now().After(deadline) {
			t.Fatalf("listener did not reconnect (pid %d)", p)
		}
		time.Sleep(10 * time.Millisecond)
	}
	drainNow(ch)
	if _, err := store.Put(t.Context(), b, store.Document{ID: "/after", Type: "t", Body: []byte(`{}`)}, store.Precondition{}); err != nil {
		t.Fatalf("put by the other store: %v", err)
	}
	waitWake(t, ch, "commit by another store after the reconnect")
}

func drainNow(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func waitWake(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: subscriber not woken", what)
	}
}

package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/store"
)

// wakeTimeout bounds how long a subscriber may wait for a commit to wake it.
const wakeTimeout = 10 * time.Second

func subscribeTests() []test {
	return []test{
		{"SubscribeWakesOnCommit", testSubscribeWakes},
		{"SubscribeCancelStops", testSubscribeCancel},
	}
}

// drain empties a subscription channel without blocking.
func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// wantWake fails unless ch receives within wakeTimeout.
func wantWake(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wakeTimeout):
		t.Fatalf("%s: subscriber not woken within %v", what, wakeTimeout)
	}
}

func testSubscribeWakes(t *testing.T, s store.Store) {
	ch, cancel := s.Subscribe()
	defer cancel()
	idle, cancelIdle := s.Subscribe() // never read until the end
	defer cancelIdle()

	drain(ch)
	put(t, s, doc("/a", "t", "", `{}`))
	wantWake(t, ch, "put")

	drain(ch)
	put(t, s, doc("/a/b", "t", "/a", `{}`))
	if _, err := s.DeleteTree(t.Context(), "/a"); err != nil {
		t.Fatalf("delete tree: %v", err)
	}
	wantWake(t, ch, "delete tree")

	// Writers never block on subscribers that do not read: these puts
	// would hang if a send blocked on the full, unread channel.
	for i := range 20 {
		put(t, s, doc(fmt.Sprintf("/burst/%d", i), "t", "", `{}`))
	}
	wantWake(t, idle, "burst of puts to an unread subscriber")
	if len(idle) > cap(idle) || cap(idle) > 1 {
		t.Fatalf("subscription channel holds %d of capacity %d, want coalescing into at most one", len(idle), cap(idle))
	}
}

func testSubscribeCancel(t *testing.T, s store.Store) {
	ch, cancel := s.Subscribe()
	other, cancelOther := s.Subscribe()
	defer cancelOther()

	put(t, s, doc("/a", "t", "", `{}`))
	wantWake(t, ch, "put before cancel")
	cancel()
	cancel() // idempotent
	drain(ch)
	drain(other)

	put(t, s, doc("/b", "t", "", `{}`))
	wantWake(t, other, "put after another subscriber cancelled")
	select {
	case <-ch:
		t.Fatal("cancelled subscription was woken")
	case <-time.After(300 * time.Millisecond):
	}
}

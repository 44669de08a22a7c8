package fanout

import (
	"testing"
	"time"
)

func TestNotifyCoalescesAndNeverBlocks(t *testing.T) {
	var h Hub
	ch, cancel := h.Subscribe()
	defer cancel()

	done := make(chan struct{})
	go func() {
		for range 100 {
			h.Notify()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Notify blocked on a subscriber that is not reading")
	}

	select {
	case <-ch:
	default:
		t.Fatal("no wake-up pending after Notify")
	}
	select {
	case <-ch:
		t.Fatal("wake-ups were not coalesced: a second value was pending")
	default:
	}
}

func TestCancelStopsWakeUps(t *testing.T) {
	var h Hub
	ch, cancel := h.Subscribe()
	other, cancelOther := h.Subscribe()
	defer cancelOther()
	if got := h.Len(); got != 2 {
		t.Fatalf("Len = %d, want 2", got)
	}
	cancel()
	cancel() // idempotent
	if got := h.Len(); got != 1 {
		t.Fatalf("Len after cancel = %d, want 1", got)
	}
	h.Notify()
	select {
	case <-ch:
		t.Fatal("cancelled subscriber was woken")
	default:
	}
	select {
	case <-other:
	default:
		t.Fatal("remaining subscriber was not woken")
	}
}

// Package fanout wakes in-process subscribers of a store after commits.
//
// Each subscriber owns a channel with a buffer of one. Notify performs a
// non-blocking send on every channel, so a writer never waits for a slow
// consumer and any number of commits between two reads coalesce into a
// single pending wake-up.
package fanout

import "sync"

// Hub is a set of subscribers. The zero value is ready to use.
type Hub struct {
	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

// Subscribe registers a new subscriber. The returned func removes it; it is
// idempotent and never closes the channel, so a consumer that is still
// selecting on it simply stops being woken.
func (h *Hub) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = make(map[chan struct{}]struct{})
	}
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, ch)
			h.mu.Unlock()
		})
	}
}

// Notify wakes every subscriber without blocking.
func (h *Hub) Notify() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// Len reports the number of subscribers.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

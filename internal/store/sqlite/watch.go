package sqlite

import (
	"context"
	"time"
)

// Subscribe returns a channel that receives a coalesced value after commits,
// local or made by another process sharing the database file, and a func
// that ends the subscription.
func (s *Store) Subscribe() (<-chan struct{}, func()) {
	return s.hub.Subscribe()
}

// committed wakes subscribers after a local commit that reached rev.
func (s *Store) committed(rev int64) {
	s.advance(rev)
	s.hub.Notify()
}

// advance raises the notified revision to rev and reports whether it moved.
func (s *Store) advance(rev int64) bool {
	for {
		old := s.notified.Load()
		if rev <= old {
			return false
		}
		if s.notified.CompareAndSwap(old, rev) {
			return true
		}
	}
}

// watch polls the revision while there are subscribers, waking them when
// another process has committed. Local commits wake them directly.
func (s *Store) watch(ctx context.Context) {
	defer close(s.watchDone)
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if s.hub.Len() == 0 {
			continue
		}
		rev, err := readRevision(ctx, s.reader)
		if err != nil {
			continue // transient (busy, closing); try again next tick
		}
		if s.advance(rev) {
			s.hub.Notify()
		}
	}
}

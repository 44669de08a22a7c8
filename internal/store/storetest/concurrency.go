package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/store"
)

const (
	writers          = 8
	writesPerWriter  = 50
	counterID        = "/counter"
	tailerPageLimit  = 16
	maxRetriesPerInc = 10_000
)

func concurrencyTests() []test {
	return []test{
		{"ConcurrentOptimisticWriters", func(t *testing.T, s store.Store) {
			concurrentCounter(t, []store.Store{s}, writers, writesPerWriter)
		}},
	}
}

type counter struct {
	N int `json:"n"`
}

// increment adds one to the counter document with an IfMatch retry loop
// and returns how many attempts lost the race.
func increment(ctx context.Context, s store.Store) (int, error) {
	for conflicts := 0; conflicts < maxRetriesPerInc; conflicts++ {
		cur, err := s.Get(ctx, counterID)
		if err != nil {
			return conflicts, fmt.Errorf("get counter: %w", err)
		}
		var c counter
		if err := json.Unmarshal(cur.Body, &c); err != nil {
			return conflicts, fmt.Errorf("decode counter: %w", err)
		}
		c.N++
		body, _ := json.Marshal(c)
		_, err = store.Put(ctx, s, doc(counterID, "counter", "", string(body)), store.Precondition{IfMatch: cur.ETag})
		if errors.Is(err, store.ErrPreconditionFailed) {
			continue
		}
		return conflicts, err
	}
	return maxRetriesPerInc, errors.New("counter: too many conflicts")
}

// concurrentCounter runs workers goroutines per store, each incrementing a
// shared counter perWorker times with optimistic retries, while a tailer
// follows the change feed. The count must come out exact, every successful
// write must take exactly one revision, and the tailer, which only ever
// asks for entries after the last one it saw, must have seen every entry.
func concurrentCounter(t *testing.T, stores []store.Store, workers, perWorker int) {
	ctx := t.Context()
	s := stores[0]
	put(t, s, doc(counterID, "counter", "", `{"n":0}`))
	base := revision(t, s)
	total := len(stores) * workers * perWorker

	tail := make(chan error, 1)
	done := make(chan struct{})
	var seen []int64
	go func() { tail <- follow(ctx, stores[len(stores)-1], base, done, &seen) }()

	var wg sync.WaitGroup
	errs := make(chan error, len(stores)*workers)
	for _, st := range stores {
		for range workers {
			wg.Go(func() {
				for range perWorker {
					if _, err := increment(ctx, st); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(done)
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	if err := <-tail; err != nil {
		t.Fatalf("tailer: %v", err)
	}

	var final counter
	if err := json.Unmarshal(get(t, s, counterID).Body, &final); err != nil {
		t.Fatalf("decode final counter: %v", err)
	}
	if final.N != total {
		t.Fatalf("counter = %d after %d increments: lost updates", final.N, total)
	}
	if rev := revision(t, s); rev != base+int64(total) {
		t.Fatalf("revision = %d, want %d: failed writes consumed revisions or writes were lost", rev, base+int64(total))
	}
	feed := changes(t, s, base)
	if len(feed) != total {
		t.Fatalf("%d change entries, want %d", len(feed), total)
	}
	revs := make([]int64, len(feed))
	for i, c := range feed {
		revs[i] = c.Revision
		var v counter
		if err := json.Unmarshal(c.Body, &v); err != nil || v.N != i+1 {
			t.Fatalf("change %d (revision %d) has body %s, want n=%d in revision order", i, c.Revision, c.Body, i+1)
		}
	}
	if !slices.Equal(seen, revs) {
		t.Fatalf("tailer saw %d entries, feed has %d: entries appeared out of order", len(seen), len(revs))
	}
}

// follow tails the change feed from after until done is closed and it has
// caught up, recording revisions and checking they only ever increase.
func follow(ctx context.Context, s store.Store, after int64, done <-chan struct{}, seen *[]int64) error {
	for {
		finished := false
		select {
		case <-done:
			finished = true
		default:
		}
		page, err := s.Changes(ctx, after, tailerPageLimit)
		if err != nil {
			return err
		}
		for _, c := range page {
			if c.Revision <= after {
				return fmt.Errorf("entry %d returned after %d", c.Revision, after)
			}
			after = c.Revision
			*seen = append(*seen, c.Revision)
		}
		if len(page) == 0 {
			if finished {
				return nil
			}
			time.Sleep(time.Millisecond) // let the writers run
		}
	}
}

package identity

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/perimeterhq/perimeter/internal/store"
)

// memStore is a minimal in-memory store.Store for these tests: atomic
// Apply (puts, deletes and checks) with the shared precondition rules, global revisions and ETags from
// store.ETagFor, and a change feed.
type memStore struct {
	mu      sync.Mutex
	docs    map[string]store.Document
	rev     int64
	changes []store.Change
	subs    map[chan struct{}]struct{}
}

var _ store.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{docs: map[string]store.Document{}, subs: map[chan struct{}]struct{}{}}
}

func (s *memStore) Get(_ context.Context, id string) (store.Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.docs[store.Key(id)]
	if !ok {
		return store.Document{}, fmt.Errorf("%w: %s", store.ErrNotFound, id)
	}
	return d, nil
}

func (s *memStore) List(_ context.Context, o store.ListOptions) ([]store.Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Document
	for _, k := range slices.Sorted(maps.Keys(s.docs)) {
		d := s.docs[k]
		switch {
		case o.Type != "" && d.Type != store.Key(o.Type),
			o.Parent != "" && d.Parent != store.Key(o.Parent),
			o.Under != "" && !strings.HasPrefix(k, store.Key(o.Under)+"/"),
			o.After != "" && k <= store.Key(o.After):
			continue
		}
		out = append(out, d)
		if o.Limit > 0 && len(out) == o.Limit {
			break
		}
	}
	return out, nil
}

func (s *memStore) Apply(_ context.Context, ops ...store.Op) ([]store.Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	staged := maps.Clone(s.docs)
	rev := s.rev
	var out []store.Document
	var changes []store.Change
	for _, op := range ops {
		if err := store.ValidateOp(op); err != nil {
			return nil, err
		}
		id := op.ID()
		k := store.Key(id)
		var cur *store.Document
		if d, ok := staged[k]; ok {
			cur = &d
		}
		if err := store.CheckPrecondition(id, cur, op.If); err != nil {
			return nil, err
		}
		if op.Check != "" {
			if cur != nil {
				out = append(out, *cur)
			} else {
				out = append(out, store.Document{})
			}
			continue
		}
		rev++
		if op.Put == nil {
			if cur == nil {
				return nil, fmt.Errorf("%w: %s", store.ErrNotFound, id)
			}
			delete(staged, k)
			out = append(out, *cur)
			changes = append(changes, store.Change{Revision: rev, ID: k, Type: cur.Type, Deleted: true})
			continue
		}
		d := store.Document{
			ID: k, Type: store.Key(op.Put.Type), Parent: store.Key(op.Put.Parent),
			Body: slices.Clone(op.Put.Body), ETag: store.ETagFor(rev), Revision: rev,
		}
		staged[k] = d
		out = append(out, d)
		changes = append(changes, store.Change{Revision: rev, ID: k, Type: d.Type, Body: d.Body})
	}
	s.docs, s.rev = staged, rev
	s.changes = append(s.changes, changes...)
	s.notify()
	return out, nil
}

func (s *memStore) DeleteTree(_ context.Context, id string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := store.Key(id) + "/"
	n := 0
	for _, k := range slices.Sorted(maps.Keys(s.docs)) {
		if strings.HasPrefix(k, prefix) {
			s.rev++
			s.changes = append(s.changes, store.Change{Revision: s.rev, ID: k, Type: s.docs[k].Type, Deleted: true})
			delete(s.docs, k)
			n++
		}
	}
	if n > 0 {
		s.notify()
	}
	return n, nil
}

func (s *memStore) Changes(_ context.Context, after int64, limit int) ([]store.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Change
	for _, c := range s.changes {
		if c.Revision > after && (limit <= 0 || len(out) < limit) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *memStore) Revision(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev, nil
}

func (s *memStore) Subscribe() (<-chan struct{}, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{}, 1)
	s.subs[ch] = struct{}{}
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.subs, ch)
	}
}

func (s *memStore) Close() error { return nil }

// notify wakes subscribers without blocking; s.mu is held.
func (s *memStore) notify() {
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

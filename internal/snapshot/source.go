package snapshot

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Source keeps the current Snapshot: it compiles one at start and again
// after every change in the store, and swaps it in atomically, so readers
// never lock. A compile that fails leaves the last good snapshot in place.
type Source struct {
	cfg     SourceConfig
	log     *slog.Logger
	current atomic.Pointer[Snapshot]
	ready   chan struct{}
	once    sync.Once

	mu      sync.Mutex
	swapped chan struct{} // closed and replaced at every swap
}

// NewSource returns a Source; Run starts it.
func NewSource(cfg SourceConfig) *Source {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Source{cfg: cfg, log: log, ready: make(chan struct{}), swapped: make(chan struct{})}
}

// Fresh returns a snapshot that includes every commit made before the
// call, waiting for the compile that reaches the store's current revision
// (until ctx ends). The control plane uses it so that a role assignment
// is in force for the very next request.
func (s *Source) Fresh(ctx context.Context) (*Snapshot, error) {
	rev, err := s.cfg.Store.Revision(ctx)
	if err != nil {
		return nil, err
	}
	for {
		s.mu.Lock()
		wait := s.swapped
		s.mu.Unlock()
		if cur := s.current.Load(); cur != nil && cur.Revision >= rev {
			return cur, nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Current returns the current snapshot, or nil before the first successful
// compile: callers must then refuse (fail closed).
func (s *Source) Current() *Snapshot { return s.current.Load() }

// Ready is closed once a snapshot is available.
func (s *Source) Ready() <-chan struct{} { return s.ready }

// retryAfterFailure bounds how soon a failed compile is tried again when
// no further change arrives.
const retryAfterFailure = time.Second

// Run compiles until ctx ends: once now, then whenever the store reports a
// commit that moved its revision past the current snapshot's.
func (s *Source) Run(ctx context.Context) error {
	wake, stop := s.cfg.Store.Subscribe()
	defer stop()
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-retry.C:
		}
		if err := s.refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Error("compile data-plane snapshot; keeping the last good one", "err", err)
			retry.Reset(retryAfterFailure)
		}
	}
}

// refresh compiles if the store moved past the current snapshot.
func (s *Source) refresh(ctx context.Context) error {
	if cur := s.current.Load(); cur != nil {
		rev, err := s.cfg.Store.Revision(ctx)
		if err != nil {
			return err
		}
		if rev == cur.Revision {
			return nil
		}
	}
	snap, err := Compile(ctx, s.cfg)
	if err != nil {
		return err
	}
	s.current.Store(snap)
	s.once.Do(func() { close(s.ready) })
	s.mu.Lock()
	close(s.swapped)
	s.swapped = make(chan struct{})
	s.mu.Unlock()
	return nil
}

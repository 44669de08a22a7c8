package accesslog_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/perimeterhq/perimeter/internal/accesslog"
)

// memSink is a Sink in memory. block, when set, makes AppendLogs wait until
// it is closed or the context ends, after signalling entered.
type memSink struct {
	mu      sync.Mutex
	records []accesslog.Record
	batches []int
	prunes  []time.Time
	failing bool

	block   chan struct{}
	entered chan struct{}
}

func (s *memSink) AppendLogs(ctx context.Context, rs []accesslog.Record) error {
	if s.block != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return errors.New("disk full")
	}
	s.records = append(s.records, rs...)
	s.batches = append(s.batches, len(rs))
	return nil
}

func (s *memSink) QueryLogs(context.Context, accesslog.Query) ([]accesslog.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records), nil
}

func (s *memSink) PruneLogs(_ context.Context, before time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prunes = append(s.prunes, before)
	n := len(s.records)
	s.records = slices.DeleteFunc(s.records, func(r accesslog.Record) bool { return r.Time.Before(before) })
	return int64(n - len(s.records)), nil
}

func (s *memSink) snapshot() []accesslog.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records)
}

// metric reads one sample of a counter or gauge from the registry (0 when
// absent).
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// run starts l.Run and returns a func that stops it and waits.
func run(t *testing.T, l *accesslog.Logger) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func rec(i int) accesslog.Record {
	return accesslog.Record{RequestID: fmt.Sprintf("r%05d", i), Plane: accesslog.PlaneIngress, Direction: accesslog.Inbound, Result: accesslog.Allowed}
}

func TestBatchesWriteEverything(t *testing.T) {
	sink := &memSink{}
	var out bytes.Buffer
	reg := prometheus.NewRegistry()
	l := accesslog.New(accesslog.Config{Sink: sink, JSON: &out, BatchSize: 64, FlushInterval: 5 * time.Millisecond, QueueSize: 1 << 15, Registry: reg, Logger: quiet()})
	run(t, l)

	const writers, each = 8, 1000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				l.Log(rec(w*each + i))
				if i%100 == 0 {
					time.Sleep(time.Millisecond) // several flushes, not one
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(t.Context()); err != nil {
		t.Fatalf("close: %v", err)
	}

	got := sink.snapshot()
	if len(got) != writers*each {
		t.Fatalf("stored %d records, want %d", len(got), writers*each)
	}
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r.RequestID] {
			t.Fatalf("record %s stored twice", r.RequestID)
		}
		seen[r.RequestID] = true
		if r.Time.IsZero() || r.Time.Location() != time.UTC {
			t.Fatalf("record %s has time %v, want the time of Log in UTC", r.RequestID, r.Time)
		}
	}
	sink.mu.Lock()
	batches := slices.Clone(sink.batches)
	sink.mu.Unlock()
	if len(batches) < 2 {
		t.Errorf("everything was written in %d batch(es): want batching over time", len(batches))
	}
	for _, n := range batches {
		if n > 64 {
			t.Fatalf("a batch of %d records exceeds BatchSize 64", n)
		}
	}
	if lines := bytes.Count(out.Bytes(), []byte("\n")); lines != writers*each {
		t.Errorf("%d JSON lines, want %d", lines, writers*each)
	}
	if v := metric(t, reg, "perimeter_accesslog_written_total", "sink", "store"); v != writers*each {
		t.Errorf("written_total{sink=store} = %v, want %d", v, writers*each)
	}
	if v := metric(t, reg, "perimeter_accesslog_written_total", "sink", "json"); v != writers*each {
		t.Errorf("written_total{sink=json} = %v, want %d", v, writers*each)
	}
	if v := metric(t, reg, "perimeter_accesslog_dropped_total", "reason", "queue_full"); v != 0 {
		t.Errorf("dropped_total{reason=queue_full} = %v under normal load, want 0", v)
	}
	if v := metric(t, reg, "perimeter_accesslog_batch_duration_seconds", "sink", "store"); v != float64(len(batches)) {
		t.Errorf("batch histogram has %v observations, want %d", v, len(batches))
	}
}

// TestFullBatchWrittenBeforeTheTick: records wait for the flush interval
// unless a batch's worth is queued, which is written at once; fewer wait.
func TestFullBatchWrittenBeforeTheTick(t *testing.T) {
	sink := &memSink{}
	l := accesslog.New(accesslog.Config{Sink: sink, BatchSize: 4, FlushInterval: time.Hour, Logger: quiet()})
	run(t, l)
	for i := range 3 {
		l.Log(rec(i))
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(sink.snapshot()); n != 0 {
		t.Fatalf("%d records written before a batch was full or the interval passed", n)
	}
	l.Log(rec(3))
	deadline := time.Now().Add(5 * time.Second)
	for len(sink.snapshot()) != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("a full batch was not written before the tick: %d records stored", len(sink.snapshot()))
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFullQueueDropsAndNeverBlocks(t *testing.T) {
	sink := &memSink{block: make(chan struct{}), entered: make(chan struct{}, 1)}
	reg := prometheus.NewRegistry()
	l := accesslog.New(accesslog.Config{Sink: sink, QueueSize: 4, BatchSize: 1, FlushInterval: time.Millisecond, Registry: reg, Logger: quiet()})
	run(t, l)

	l.Log(rec(0))
	select {
	case <-sink.entered: // the writer holds record 0 and is stuck in the store
	case <-time.After(5 * time.Second):
		t.Fatal("the writer never reached the sink")
	}

	// With the store stuck, Log must still return at once: 100 calls finish
	// well within a deadline although nothing is being written.
	const more = 100
	done := make(chan time.Duration)
	go func() {
		start := time.Now()
		for i := 1; i <= more; i++ {
			l.Log(rec(i))
		}
		done <- time.Since(start)
	}()
	select {
	case d := <-done:
		if d > time.Second {
			t.Errorf("%d Log calls took %v with the store stuck", more, d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Log blocked while the store was stuck")
	}
	if v := metric(t, reg, "perimeter_accesslog_queue_length"); v != 4 {
		t.Errorf("queue_length = %v, want 4 (full)", v)
	}
	// Record 0 is in flight and 4 wait in the queue; the rest dropped.
	if v := metric(t, reg, "perimeter_accesslog_dropped_total", "reason", "queue_full"); v != more-4 {
		t.Errorf("dropped_total{reason=queue_full} = %v, want %d", v, more-4)
	}

	close(sink.block)
	if err := l.Close(t.Context()); err != nil {
		t.Fatalf("close: %v", err)
	}
	if got := len(sink.snapshot()); got != 5 {
		t.Errorf("stored %d records once the store recovered, want the 5 that were queued", got)
	}
	l.Log(rec(999))
	if v := metric(t, reg, "perimeter_accesslog_dropped_total", "reason", "closed"); v != 1 {
		t.Errorf("dropped_total{reason=closed} = %v after a Log past Close, want 1", v)
	}
}

func TestJSONLines(t *testing.T) {
	var out bytes.Buffer
	l := accesslog.New(accesslog.Config{JSON: &out, Logger: quiet()})
	run(t, l)
	account := "/subscriptions/AAAA-1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a"
	at := time.Date(2026, 3, 1, 12, 0, 0, 5, time.FixedZone("CET", 3600))
	l.Log(accesslog.Record{Time: at, RequestID: "one", Plane: accesslog.PlaneIngress, Direction: accesslog.Inbound,
		SourceIP: "203.0.113.7", ArrivalPath: accesslog.PathPublic, ResourceID: account, Host: "a.openai.x <&>",
		Result: accesslog.Denied, Layer: accesslog.LayerNetworkACLs, Rule: "defaultAction: Deny", Status: 403})
	l.Log(accesslog.Record{RequestID: "two", Plane: accesslog.PlaneEgress, Direction: accesslog.Outbound, Host: "example.com",
		Result: accesslog.Allowed, Layer: "managedNetwork", Rule: "outboundRules/allow-example", Category: "Custom"})
	if err := l.Close(t.Context()); err != nil {
		t.Fatalf("close: %v", err)
	}

	raw := bytes.Clone(out.Bytes())
	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), raw)
	}
	first := lines[0]
	for k, want := range map[string]any{
		accesslog.FieldTime: "2026-03-01T11:00:00.000000005Z", accesslog.FieldRequestID: "one",
		accesslog.FieldSourceIP: "203.0.113.7", accesslog.FieldArrivalPath: "public", accesslog.FieldResourceID: account,
		accesslog.FieldSubscriptionID: "aaaa-1", accesslog.FieldHost: "a.openai.x <&>", accesslog.FieldResult: "Denied",
		accesslog.FieldLayer: "networkAcls", accesslog.FieldRule: "defaultAction: Deny", accesslog.FieldStatus: 403.0,
		accesslog.FieldCategory: accesslog.CategoryPublicInboundResourceRulesDenied,
	} {
		if first[k] != want {
			t.Errorf("first line: %s = %v, want %v", k, first[k], want)
		}
	}
	if _, ok := first[accesslog.FieldPromptTokens]; ok {
		t.Error("an unset field is in the JSON")
	}
	if !bytes.Contains(raw, []byte("<&>")) {
		t.Error("HTML characters are escaped in the JSON lines")
	}
	if second := lines[1]; second[accesslog.FieldCategory] != "Custom" || second[accesslog.FieldTime] == nil {
		t.Errorf("second line: a category given is kept and the time is set: %v", second)
	}
}

func TestRetentionPrunes(t *testing.T) {
	now := time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)
	sink := &memSink{records: []accesslog.Record{
		{RequestID: "expired", Time: now.Add(-8 * 24 * time.Hour)},
		{RequestID: "kept", Time: now.Add(-6 * 24 * time.Hour)},
	}}
	reg := prometheus.NewRegistry()
	l := accesslog.New(accesslog.Config{Sink: sink, Registry: reg, Logger: quiet(), Now: func() time.Time { return now }, PruneInterval: 10 * time.Millisecond})
	run(t, l)
	deadline := time.Now().Add(5 * time.Second)
	for {
		sink.mu.Lock()
		prunes := len(sink.prunes)
		sink.mu.Unlock()
		if prunes >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pruned %d times in 5s with PruneInterval 10ms", prunes)
		}
		time.Sleep(5 * time.Millisecond)
	}
	sink.mu.Lock()
	cut := sink.prunes[0]
	sink.mu.Unlock()
	if want := now.Add(-accesslog.DefaultRetention); !cut.Equal(want) {
		t.Errorf("pruned before %v, want now minus the default retention (%v)", cut, want)
	}
	if got := sink.snapshot(); len(got) != 1 || got[0].RequestID != "kept" {
		t.Errorf("after pruning: %v, want only the record within the retention", got)
	}
	if v := metric(t, reg, "perimeter_accesslog_pruned_total"); v != 1 {
		t.Errorf("pruned_total = %v, want 1", v)
	}

	// A negative retention keeps everything.
	keep := &memSink{}
	l2 := accesslog.New(accesslog.Config{Sink: keep, Retention: -1, PruneInterval: time.Millisecond, Logger: quiet()})
	stop := run(t, l2)
	time.Sleep(20 * time.Millisecond)
	stop()
	if len(keep.prunes) != 0 {
		t.Errorf("pruned %d times with a negative retention", len(keep.prunes))
	}
}

func TestShutdownFlushes(t *testing.T) {
	t.Run("context ends", func(t *testing.T) {
		sink := &memSink{}
		// Nothing would be written for an hour but for the shutdown.
		l := accesslog.New(accesslog.Config{Sink: sink, FlushInterval: time.Hour, Logger: quiet()})
		stop := run(t, l)
		for i := range 10 {
			l.Log(rec(i))
		}
		stop()
		if got := len(sink.snapshot()); got != 10 {
			t.Fatalf("stored %d records at shutdown, want 10", got)
		}
	})
	t.Run("close without run", func(t *testing.T) {
		sink := &memSink{}
		l := accesslog.New(accesslog.Config{Sink: sink, Logger: quiet()})
		l.Log(rec(1))
		if err := l.Close(t.Context()); err != nil {
			t.Fatalf("close: %v", err)
		}
		if got := len(sink.snapshot()); got != 1 {
			t.Fatalf("stored %d records, want 1", got)
		}
		l.Log(rec(2))
		if err := l.Run(t.Context()); err != nil {
			t.Errorf("Run after Close: %v, want it to return at once", err)
		}
		if got := len(sink.snapshot()); got != 1 {
			t.Fatalf("stored %d records after a Log past Close and a Run, want 1", got)
		}
	})
	t.Run("bounded when the store is stuck", func(t *testing.T) {
		sink := &memSink{block: make(chan struct{}), entered: make(chan struct{}, 1)}
		reg := prometheus.NewRegistry()
		l := accesslog.New(accesslog.Config{Sink: sink, FlushInterval: time.Hour, DrainTimeout: 50 * time.Millisecond, Registry: reg, Logger: quiet()})
		stop := run(t, l)
		for i := range 10 {
			l.Log(rec(i))
		}
		start := time.Now()
		stop()
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("shutdown took %v with DrainTimeout 50ms", d)
		}
		if got := len(sink.snapshot()); got != 0 {
			t.Errorf("a stuck store took %d records", got)
		}
		if v := metric(t, reg, "perimeter_accesslog_write_errors_total", "sink", "store"); v != 1 {
			t.Errorf("write_errors_total{sink=store} = %v, want 1", v)
		}
	})
}

func TestWriteErrorsCounted(t *testing.T) {
	sink := &memSink{failing: true}
	reg := prometheus.NewRegistry()
	var out bytes.Buffer
	l := accesslog.New(accesslog.Config{Sink: sink, JSON: &out, Registry: reg, Logger: quiet()})
	l.Log(rec(1))
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v := metric(t, reg, "perimeter_accesslog_write_errors_total", "sink", "store"); v != 1 {
		t.Errorf("write_errors_total{sink=store} = %v, want 1", v)
	}
	if v := metric(t, reg, "perimeter_accesslog_written_total", "sink", "json"); v != 1 {
		t.Errorf("a failing store stopped the JSON lines: written_total{sink=json} = %v", v)
	}
}

// BenchmarkLog is the cost Log adds to a request, with Run writing to a
// sink that takes everything at once.
func BenchmarkLog(b *testing.B) {
	l := accesslog.New(accesslog.Config{Sink: &discardSink{}, Logger: quiet()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()
	r := rec(1)
	r.Time = time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Log(r)
		}
	})
	b.StopTimer()
	cancel()
	<-done
}

type discardSink struct{}

func (discardSink) AppendLogs(context.Context, []accesslog.Record) error { return nil }
func (discardSink) QueryLogs(context.Context, accesslog.Query) ([]accesslog.Record, error) {
	return nil, nil
}
func (discardSink) PruneLogs(context.Context, time.Time) (int64, error) { return 0, nil }

// slowSink takes 2 ms per batch: slower than a producer that never pauses.
type slowSink struct{ memSink }

func (s *slowSink) AppendLogs(context.Context, []accesslog.Record) error {
	time.Sleep(2 * time.Millisecond)
	return nil
}

// TestOverloadedRunStillStops: when records come faster than the sink
// takes them, Run goes back to its select between batches, so it stops
// when asked (and warns about drops at its ticks) instead of writing
// forever.
func TestOverloadedRunStillStops(t *testing.T) {
	l := accesslog.New(accesslog.Config{Sink: &slowSink{}, QueueSize: 64, BatchSize: 4, FlushInterval: 5 * time.Millisecond, Logger: quiet()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = l.Run(ctx); close(done) }()
	var stop atomic.Bool
	defer stop.Store(true)
	go func() {
		for i := 0; !stop.Load(); i++ {
			l.Log(rec(i))
		}
	}()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not return 3 s after its context ended while records kept coming")
	}
}

package accesslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config is how a Logger writes. It is plain data; New applies the
// defaults documented on each field.
type Config struct {
	// Sink is the store that keeps the log. Nil keeps nothing (JSON lines
	// only, say).
	Sink Sink
	// JSON receives every record as one line of JSON. Nil writes none. It
	// is written from one goroutine, a batch per Write.
	JSON io.Writer
	// QueueSize is how many records may wait to be written; when that many
	// wait, Log drops. Zero means 8192.
	QueueSize int
	// BatchSize is the most records written at once. Zero means 512.
	BatchSize int
	// FlushInterval is the longest a record waits before its batch is
	// written. Zero means 200ms.
	FlushInterval time.Duration
	// Retention is how long the Sink keeps records. Zero means 7 days; a
	// negative value keeps them forever.
	Retention time.Duration
	// PruneInterval is how often records older than Retention are removed.
	// Zero means an hour, or Retention if that is shorter.
	PruneInterval time.Duration
	// WriteTimeout bounds one batch write to the Sink, so a stuck store
	// cannot hold the log forever (records queue, then drop). Zero means
	// 10 seconds.
	WriteTimeout time.Duration
	// DrainTimeout bounds the flush of queued records when Run stops.
	// Records still queued after it are counted as dropped. Zero means 5
	// seconds.
	DrainTimeout time.Duration
	// Registry receives the metrics. Nil registers none (they are still
	// counted).
	Registry prometheus.Registerer
	// Logger receives the Logger's own problems: failed writes and drops,
	// at most one line per kind every 10 seconds. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Defaults of Config.
const (
	DefaultQueueSize     = 8192
	DefaultBatchSize     = 512
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultRetention     = 7 * 24 * time.Hour
	DefaultWriteTimeout  = 10 * time.Second
	DefaultDrainTimeout  = 5 * time.Second
	// warnEvery rate-limits the Logger's complaints.
	warnEvery = 10 * time.Second
)

// Logger queues records from the data planes and writes them in batches.
// Log may be called from any goroutine; Run does the writing.
type Logger struct {
	cfg   Config
	log   *slog.Logger
	queue chan Record
	// full is signalled when a batch's worth waits, so Run writes it
	// before the next tick. Run does not wake for each record: a wake-up
	// per request (a goroutine hand-off, often a futex) cost the gateway
	// more than queueing the record did.
	full chan struct{}
	m    *metrics

	// Hot-path counters, resolved once.
	droppedFull, droppedClosed prometheus.Counter

	closed   atomic.Bool // Log drops from now on
	started  atomic.Bool // Run (or Close without Run) owns the queue
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{} // closed when the queue has been flushed

	// pendingDrops counts drops since the last warning about them.
	pendingDrops atomic.Int64
	lastWarn     map[string]time.Time // by kind; Run's goroutine only
}

// New builds a Logger. Nothing is written until Run.
func New(cfg Config) *Logger {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.PruneInterval <= 0 {
		cfg.PruneInterval = time.Hour
		if cfg.Retention > 0 && cfg.Retention < cfg.PruneInterval {
			cfg.PruneInterval = cfg.Retention
		}
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Logger{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "accesslog"),
		queue:    make(chan Record, cfg.QueueSize),
		full:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		lastWarn: map[string]time.Time{},
	}
	l.m = newMetrics(cfg.Registry, func() float64 { return float64(len(l.queue)) })
	l.droppedFull = l.m.dropped.WithLabelValues(dropQueueFull)
	l.droppedClosed = l.m.dropped.WithLabelValues(dropClosed)
	return l
}

// Log queues a record and returns at once: when the queue is full, or the
// Logger is closed, the record is dropped and counted. A zero Time is set
// to now.
func (l *Logger) Log(r Record) {
	if l.closed.Load() {
		l.droppedClosed.Inc()
		l.pendingDrops.Add(1)
		return
	}
	if r.Time.IsZero() {
		r.Time = l.cfg.Now()
	}
	select {
	case l.queue <- r:
		if len(l.queue) >= l.cfg.BatchSize {
			select {
			case l.full <- struct{}{}:
			default:
			}
		}
	default:
		l.droppedFull.Inc()
		l.pendingDrops.Add(1)
	}
}

// Run writes queued records until ctx ends or Close is called, pruning the
// Sink every PruneInterval, then flushes what is queued (within
// DrainTimeout, after a batch already being written has had its
// WriteTimeout) and returns. After Close it returns at once. It returns an
// error only if it is already running.
func (l *Logger) Run(ctx context.Context) error {
	if !l.started.CompareAndSwap(false, true) {
		if l.closed.Load() {
			return nil // Close came first and flushed
		}
		return errors.New("accesslog: Run called twice")
	}
	defer close(l.done)

	pruneCtx, stopPrune := context.WithCancel(context.WithoutCancel(ctx))
	var pruning sync.WaitGroup
	if l.cfg.Sink != nil && l.cfg.Retention > 0 {
		pruning.Go(func() { l.pruneLoop(pruneCtx) })
	}
	defer pruning.Wait()
	defer stopPrune()

	tick := time.NewTicker(l.cfg.FlushInterval)
	defer tick.Stop()
	batch := make([]Record, 0, l.cfg.BatchSize)
	for {
		select {
		case <-ctx.Done():
			l.drain(context.WithoutCancel(ctx), nil)
			return nil
		case <-l.stop:
			l.drain(context.WithoutCancel(ctx), nil)
			return nil
		case <-l.full:
			// One whole batch per wake; signal again if more wait, so
			// stop, ctx and the tick are seen between batches.
			if len(l.queue) >= l.cfg.BatchSize {
				batch = l.take(batch[:0])
				l.write(context.WithoutCancel(ctx), batch)
			}
			if len(l.queue) >= l.cfg.BatchSize {
				select {
				case l.full <- struct{}{}:
				default:
				}
			}
		case <-tick.C:
			// What was queued at the tick, not what keeps arriving.
			for n := len(l.queue); n > 0; n -= l.cfg.BatchSize {
				batch = l.take(batch[:0])
				l.write(context.WithoutCancel(ctx), batch)
			}
			l.warnDrops()
		}
	}
}

// take appends to batch what waits in the queue, up to BatchSize records.
func (l *Logger) take(batch []Record) []Record {
	for len(batch) < l.cfg.BatchSize {
		select {
		case r := <-l.queue:
			batch = append(batch, r)
			continue
		default:
		}
		break
	}
	return batch
}

// Close stops accepting records, flushes the queue and returns when that
// is done (by Run, or here if Run never started) or ctx ends. Records
// logged while Close runs may be dropped.
func (l *Logger) Close(ctx context.Context) error {
	l.closed.Store(true)
	l.stopOnce.Do(func() { close(l.stop) })
	if l.started.CompareAndSwap(false, true) {
		defer close(l.done)
		l.drain(ctx, nil)
		return nil
	}
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("accesslog: close: %w", ctx.Err())
	}
}

// drain writes batch and everything queued, within DrainTimeout of ctx,
// and counts what it could not write as dropped.
func (l *Logger) drain(ctx context.Context, batch []Record) {
	l.closed.Store(true)
	ctx, cancel := context.WithTimeout(ctx, l.cfg.DrainTimeout)
	defer cancel()
	batch = append([]Record(nil), batch...)
	for {
		batch = l.take(batch)
		if len(batch) == 0 {
			break
		}
		if ctx.Err() != nil {
			lost := len(batch) + len(l.queue)
			l.m.dropped.WithLabelValues(dropShutdown).Add(float64(lost))
			l.log.Warn("access log records dropped at shutdown: the flush ran out of time", "records", lost, "timeout", l.cfg.DrainTimeout)
			break
		}
		l.write(ctx, batch)
		batch = batch[:0]
	}
	if n := l.pendingDrops.Swap(0); n > 0 {
		l.log.Warn("access log records dropped", "records", n, "queueSize", l.cfg.QueueSize)
	}
}

// write sends one batch to the Sink, within WriteTimeout of ctx, and to the
// JSON writer. Run passes a context its own end does not cancel, so a batch
// being written when Run stops still gets WriteTimeout.
func (l *Logger) write(ctx context.Context, batch []Record) {
	for i := range batch {
		fill(&batch[i])
	}
	if l.cfg.Sink != nil {
		start := time.Now()
		wctx, cancel := context.WithTimeout(ctx, l.cfg.WriteTimeout)
		err := l.cfg.Sink.AppendLogs(wctx, batch)
		cancel()
		l.m.batch.WithLabelValues(sinkStore).Observe(time.Since(start).Seconds())
		if err != nil {
			l.m.writeErrors.WithLabelValues(sinkStore).Inc()
			l.warn(sinkStore, "access log batch not stored", "records", len(batch), "err", err)
		} else {
			l.m.written.WithLabelValues(sinkStore).Add(float64(len(batch)))
		}
	}
	if l.cfg.JSON != nil {
		start := time.Now()
		var buf []byte
		var err error
		for i := range batch {
			if buf, err = batch[i].AppendJSON(buf); err != nil {
				break
			}
			buf = append(buf, '\n')
		}
		if err == nil {
			_, err = l.cfg.JSON.Write(buf)
		}
		l.m.batch.WithLabelValues(sinkJSON).Observe(time.Since(start).Seconds())
		if err != nil {
			l.m.writeErrors.WithLabelValues(sinkJSON).Inc()
			l.warn(sinkJSON, "access log batch not written as JSON lines", "records", len(batch), "err", err)
		} else {
			l.m.written.WithLabelValues(sinkJSON).Add(float64(len(batch)))
		}
	}
}

// fill completes what the data planes may leave out.
func fill(r *Record) {
	r.Time = r.Time.UTC()
	if r.SubscriptionID == "" {
		r.SubscriptionID = SubscriptionOf(r.ResourceID)
	}
	if r.Category == "" {
		r.Category = CategoryOf(*r)
	}
}

func (l *Logger) pruneLoop(ctx context.Context) {
	t := time.NewTicker(l.cfg.PruneInterval)
	defer t.Stop()
	for {
		l.prune(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// prune removes the records older than the retention.
func (l *Logger) prune(ctx context.Context) {
	before := l.cfg.Now().Add(-l.cfg.Retention)
	n, err := l.cfg.Sink.PruneLogs(ctx, before)
	if n > 0 {
		l.m.pruned.Add(float64(n))
	}
	switch {
	case err != nil && ctx.Err() == nil:
		l.log.Warn("access log not pruned", "before", before, "err", err)
	case n > 0:
		l.log.Debug("access log pruned", "records", n, "before", before)
	}
}

// warnDrops reports drops since the last report, rate-limited.
func (l *Logger) warnDrops() {
	if l.pendingDrops.Load() == 0 || l.cfg.Now().Sub(l.lastWarn["drops"]) < warnEvery {
		return
	}
	l.lastWarn["drops"] = l.cfg.Now()
	l.log.Warn("access log records dropped: the queue was full or the log closed",
		"records", l.pendingDrops.Swap(0), "queueSize", l.cfg.QueueSize)
}

// warn logs a problem of one kind at most every warnEvery.
func (l *Logger) warn(kind, msg string, args ...any) {
	now := l.cfg.Now()
	if now.Sub(l.lastWarn[kind]) < warnEvery {
		return
	}
	l.lastWarn[kind] = now
	l.log.Error(msg, args...)
}

// OpenJSON opens the destination of JSON lines: "-" is standard output
// (not closed by Close), anything else a file appended to (created with
// mode 0600: the log names callers and their addresses).
func OpenJSON(path string) (io.WriteCloser, error) {
	if path == "-" {
		return nopCloser{os.Stdout}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the access log file: %w", err)
	}
	return f, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

package accesslog

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Destinations of the written, write-error and batch metrics.
const (
	sinkStore = "store"
	sinkJSON  = "json"
)

// Reasons a record is dropped before any destination took it.
const (
	dropQueueFull = "queue_full" // Log found the queue full
	dropClosed    = "closed"     // Log was called after Close
	dropShutdown  = "shutdown"   // still queued when the shutdown flush ran out of time
)

// metrics are the Logger's Prometheus metrics. Labels are fixed sets.
type metrics struct {
	written     *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	writeErrors *prometheus.CounterVec
	batch       *prometheus.HistogramVec
	pruned      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, queueLen func() float64) *metrics {
	m := &metrics{
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "perimeter_accesslog_written_total",
			Help: "Access log records written, by destination (store, json).",
		}, []string{"sink"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "perimeter_accesslog_dropped_total",
			Help: "Access log records dropped before any destination took them, by reason (queue_full, closed, shutdown).",
		}, []string{"reason"}),
		writeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "perimeter_accesslog_write_errors_total",
			Help: "Access log batches a destination (store, json) failed to write; their records are lost to it.",
		}, []string{"sink"}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "perimeter_accesslog_batch_duration_seconds",
			Help:    "Time to write one batch of access log records, by destination (store, json).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"sink"}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "perimeter_accesslog_pruned_total",
			Help: "Access log records removed from the store because they were older than the retention.",
		}),
	}
	// Every label value exists from the start, so a rate() over a counter
	// that has not moved yet is 0, not absent.
	for _, s := range []string{sinkStore, sinkJSON} {
		m.written.WithLabelValues(s)
		m.writeErrors.WithLabelValues(s)
	}
	for _, r := range []string{dropQueueFull, dropClosed, dropShutdown} {
		m.dropped.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.written, m.dropped, m.writeErrors, m.batch, m.pruned,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "perimeter_accesslog_queue_length",
				Help: "Access log records waiting to be written.",
			}, queueLen))
	}
	return m
}

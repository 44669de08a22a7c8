package ingress

import (
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/perimeterhq/perimeter/internal/accesslog"
)

// metrics are the gateway's Prometheus series. Labels are bounded sets:
// results, layers, failure kinds — never hosts, addresses or deployments.
type metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	upstreamErrors *prometheus.CounterVec
	tokens         *prometheus.CounterVec

	// The series every request touches, resolved once: WithLabelValues
	// hashes its labels and takes a lock on each call.
	promptTokens, completionTokens prometheus.Counter
	durationBy                     map[string]prometheus.Observer // by result; read-only
	requestsBy                     sync.Map                       // [2]string{result, layer} → prometheus.Counter
}

// request counts a finished request and its duration.
func (m *metrics) request(result, layer string, d time.Duration) {
	key := [2]string{result, layer}
	c, ok := m.requestsBy.Load(key)
	if !ok {
		c, _ = m.requestsBy.LoadOrStore(key, m.requests.WithLabelValues(result, layer))
	}
	c.(prometheus.Counter).Inc()
	o := m.durationBy[result]
	if o == nil {
		o = m.duration.WithLabelValues(result)
	}
	o.Observe(d.Seconds())
}

// Kinds of upstream failures (label "kind").
const (
	upstreamUnavailable = "unavailable"
	upstreamTimeout     = "timeout"
	upstreamCredential  = "credential"
	upstreamRefused     = "refused"
)

// newMetrics registers the gateway's series with reg. The snapshot gauges
// read the source when scraped.
func newMetrics(reg prometheus.Registerer, snaps Snapshots) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "perimeter_ingress_requests_total",
			Help: "Requests answered by the ingress gateway, by access result (Allowed, Denied) and the layer that decided.",
		}, []string{"result", "layer"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "perimeter_ingress_request_duration_seconds",
			Help: "Time from a request's arrival to the end of its response (streams included), by access result.",
			// Refusals take microseconds; completions seconds; streams minutes.
			Buckets: []float64{.001, .005, .025, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 180, 600},
		}, []string{"result"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "perimeter_ingress_upstream_errors_total",
			Help: "Requests the gateway allowed that failed at the model server: unavailable, timeout, credential (the upstream's credential could not be read) or refused (the upstream refused the gateway's credential).",
		}, []string{"kind"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "perimeter_ingress_tokens_total",
			Help: "Tokens model servers reported using for requests through the gateway, by type (prompt, completion).",
		}, []string{"type"}),
	}
	m.promptTokens, m.completionTokens = m.tokens.WithLabelValues("prompt"), m.tokens.WithLabelValues("completion")
	m.durationBy = map[string]prometheus.Observer{}
	for _, r := range []string{accesslog.Allowed, accesslog.Denied} {
		m.durationBy[r] = m.duration.WithLabelValues(r)
	}
	revision := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "perimeter_ingress_snapshot_revision",
		Help: "Store revision of the snapshot the gateway decides with; 0 before the first one.",
	}, func() float64 {
		if s := snaps.Current(); s != nil {
			return float64(s.Revision)
		}
		return 0
	})
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "perimeter_ingress_snapshot_age_seconds",
		Help: "Seconds since the snapshot the gateway decides with was compiled (it grows while nothing changes); +Inf before the first one.",
	}, func() float64 {
		if s := snaps.Current(); s != nil {
			return time.Since(s.Built).Seconds()
		}
		return math.Inf(1)
	})
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.upstreamErrors, m.tokens, revision, age} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

package bench

import (
	"math"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// latencies records one duration per benchmark iteration. It is sized for
// b.N up front, so recording allocates nothing, and it is safe for the
// goroutines of b.RunParallel.
type latencies struct {
	d []time.Duration
	n atomic.Int64
}

func newLatencies(n int) *latencies { return &latencies{d: make([]time.Duration, n)} }

// add records d; recordings beyond the capacity are dropped.
func (l *latencies) add(d time.Duration) {
	if i := l.n.Add(1) - 1; i < int64(len(l.d)) {
		l.d[i] = d
	}
}

// report sorts the recordings once and reports their median and 99th
// percentile in microseconds. Call it after b.StopTimer.
func (l *latencies) report(b *testing.B) {
	d := l.d[:min(int(l.n.Load()), len(l.d))]
	slices.Sort(d)
	b.ReportMetric(micros(percentile(d, 0.50)), "p50-µs")
	b.ReportMetric(micros(percentile(d, 0.99)), "p99-µs")
}

// percentile returns the q-quantile (0 < q ≤ 1) of sorted by the
// nearest-rank method: the smallest recording that at least q of all
// recordings do not exceed. It is 0 for no recordings.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(len(sorted)))) // 1-based
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// TestPercentile checks the nearest-rank arithmetic; it runs in
// microseconds, so `go test ./...` stays fast.
func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, c := range []struct {
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{nil, 0.5, 0},
		{ms(7), 0.99, 7 * time.Millisecond},
		{ms(1, 2), 0.5, 1 * time.Millisecond},
		{ms(1, 2, 3), 0.5, 2 * time.Millisecond},
		{ms(hundred...), 0.5, 50 * time.Millisecond},
		{ms(hundred...), 0.99, 99 * time.Millisecond},
		{ms(hundred...), 1, 100 * time.Millisecond},
	} {
		if got := percentile(c.sorted, c.q); got != c.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.sorted, c.q, got, c.want)
		}
	}
}

package ingress

import (
	"math"
	"net/http"
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metricValue returns the value of the series of name whose labels
// include the given pairs, or 0.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func TestMetrics(t *testing.T) {
	h := newHarness(t)
	c := h.client(false)
	h.chat(c, "open")
	h.chat(c, "open")
	h.chat(c, "locked")
	h.do(c, http.MethodPost, "https://"+host("open")+chatPath, chatBody)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"perimeter_ingress_requests_total", []string{"result", "Allowed", "layer", "networkAcls"}, 2},
		{"perimeter_ingress_requests_total", []string{"result", "Denied", "layer", "networkAcls"}, 1},
		{"perimeter_ingress_requests_total", []string{"result", "Denied", "layer", "authentication"}, 1},
		{"perimeter_ingress_request_duration_seconds", []string{"result", "Allowed"}, 2},
		{"perimeter_ingress_tokens_total", []string{"type", "prompt"}, 14},
		{"perimeter_ingress_tokens_total", []string{"type", "completion"}, 6},
		{"perimeter_ingress_snapshot_revision", nil, 7},
	} {
		if got := metricValue(t, h.reg, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if age := metricValue(t, h.reg, "perimeter_ingress_snapshot_age_seconds"); age < 0 || age > 60 {
		t.Errorf("snapshot age %v", age)
	}
	h.snaps.p.Store(nil)
	if age := metricValue(t, h.reg, "perimeter_ingress_snapshot_age_seconds"); !math.IsInf(age, 1) {
		t.Errorf("age without a snapshot %v", age)
	}
}

// TestNewRefusesBadConfig: wiring mistakes are errors, not surprises.
func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("no Snapshots accepted")
	}
	if _, err := New(Config{Snapshots: &fakeSnapshots{}, TrustedProxies: []netip.Prefix{{}}}); err == nil {
		t.Error("an invalid trusted proxy accepted")
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Snapshots: &fakeSnapshots{}, Registry: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Snapshots: &fakeSnapshots{}, Registry: reg}); err == nil {
		t.Error("registering the metrics twice succeeded")
	}
}

package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/mockmodel"
	"github.com/perimeterhq/perimeter/internal/server"
	"github.com/perimeterhq/perimeter/internal/tlsca"
)

// The data-plane benchmarks send the same small chat to the mock model
// twice over: "direct" to the mock itself over TLS, and "perimeter" through
// the gateway (TLS, network rule, key check, access log) to the same mock
// over plain HTTP on loopback. The perimeter sub-benchmarks report their
// figures as added latency and throughput ratio against the direct ones
// measured just before in the same run.
const (
	// gwSubdomain is the account's custom subdomain; the gateway routes
	// on {gwSubdomain}.cognitiveservices.perimeter.localhost.
	gwSubdomain  = "bench-gw"
	gwDeployment = "bench"
	// gwAllowedClient is inside the account's only IP rule
	// (203.0.113.0/24); the gateway believes it from X-Forwarded-For
	// because the benchmark's loopback address is a trusted proxy.
	gwAllowedClient = "203.0.113.9"
	gwAPIVersion    = "2024-10-21"
	cogAPIVersion   = "2024-10-01"
	// gwStreamTokenDelay is the mock's pause before each streamed token,
	// so the first token is a well-defined event after the first
	// (role-only) chunk.
	gwStreamTokenDelay = time.Millisecond
)

// gwChatBody is a small non-streaming chat; gwStreamBody streams a short
// reply.
const (
	gwChatBody   = `{"messages":[{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":16}`
	gwStreamBody = `{"messages":[{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":4,"stream":true}`
)

// gwTarget sends chat requests to one endpoint: url is the full chat
// completions URL, header what every request carries.
type gwTarget struct {
	url    string
	client *http.Client
	header http.Header
}

// gwStats is what one sub-benchmark measured, for the ratios of the next.
type gwStats struct {
	p50, p99 time.Duration
	perSec   float64
}

// gwBaseline holds the direct figures of the current run, by mode.
var gwBaseline = struct {
	sync.Mutex
	m map[string]gwStats
}{m: map[string]gwStats{}}

// BenchmarkGatewayChat measures a small non-streaming chat completion over
// TLS with keep-alive: direct to the mock, then through Perimeter's
// gateway to the same mock. The perimeter sub-benchmarks also report
// added-p50-µs and added-p99-µs (their percentile minus direct's) and
// rps-ratio (their requests per second over direct's).
func BenchmarkGatewayChat(b *testing.B) {
	direct, gateway := startGatewayPair(b, 0)
	for _, c := range []struct {
		name string
		t    *gwTarget
	}{{"direct", direct}, {"perimeter", gateway}} {
		b.Run(c.name, func(b *testing.B) {
			op := func(ctx context.Context) (time.Duration, error) {
				start := time.Now()
				err := c.t.chat(ctx)
				return time.Since(start), err
			}
			for _, mode := range []string{"serial", "parallel"} {
				b.Run(mode, func(b *testing.B) { gwMeasure(b, c.name, mode, op) })
			}
		})
	}
}

// BenchmarkGatewayStreamTTFT measures the time to the first token of a
// streamed chat (the first server-sent event carrying text; the mock
// pauses gwStreamTokenDelay before it), direct and through the gateway.
// The perimeter sub-benchmark reports added-p50-µs and added-p99-µs: the
// time-to-first-token overhead.
func BenchmarkGatewayStreamTTFT(b *testing.B) {
	direct, gateway := startGatewayPair(b, gwStreamTokenDelay)
	for _, c := range []struct {
		name string
		t    *gwTarget
	}{{"direct", direct}, {"perimeter", gateway}} {
		b.Run(c.name, func(b *testing.B) {
			gwMeasure(b, "ttft-"+c.name, "serial", c.t.firstToken)
		})
	}
}

// gwMeasure calls op b.N times (serially, or from parallelism×GOMAXPROCS
// goroutines) and reports the p50 and p99 of the durations op returns and
// requests per second. Direct figures are kept by mode; perimeter
// figures are also reported against them.
func gwMeasure(b *testing.B, who, mode string, op func(context.Context) (time.Duration, error)) {
	lat := newLatencies(b.N)
	ctx := b.Context()
	if mode == "serial" {
		b.ResetTimer()
		for range b.N {
			d, err := op(ctx)
			if err != nil {
				b.Fatal(err)
			}
			lat.add(d)
		}
	} else {
		b.SetParallelism(parallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d, err := op(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				lat.add(d)
			}
		})
	}
	b.StopTimer()
	if b.Failed() {
		return
	}
	lat.report(b) // sorts
	d := lat.d[:min(int(lat.n.Load()), len(lat.d))]
	s := gwStats{p50: percentile(d, 0.50), p99: percentile(d, 0.99), perSec: float64(b.N) / b.Elapsed().Seconds()}
	b.ReportMetric(s.perSec, "req/s")

	key := strings.TrimSuffix(strings.TrimSuffix(who, "direct"), "perimeter") + mode
	gwBaseline.Lock()
	defer gwBaseline.Unlock()
	if strings.HasSuffix(who, "direct") {
		gwBaseline.m[key] = s
		return
	}
	base, ok := gwBaseline.m[key]
	if !ok {
		return // the direct sub-benchmark was filtered out
	}
	b.ReportMetric(micros(s.p50-base.p50), "added-p50-µs")
	b.ReportMetric(micros(s.p99-base.p99), "added-p99-µs")
	b.ReportMetric(s.perSec/base.perSec, "rps-ratio")
}

// chat sends one non-streaming chat and drains the answer.
func (t *gwTarget) chat(ctx context.Context) error {
	resp, err := t.post(ctx, gwChatBody)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// firstToken sends one streamed chat and returns the time until the first
// event whose delta carries text; it then drains the (short) rest, so the
// connection is reused.
func (t *gwTarget) firstToken(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	resp, err := t.post(ctx, gwStreamBody)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: "))
		if !ok || bytes.Equal(data, []byte("[DONE]")) {
			continue
		}
		var chunk struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal(data, &chunk); err != nil {
			return 0, fmt.Errorf("event %q: %w", data, err)
		}
		if len(chunk.Choices) > 0 && chunk.Choices[0].Delta.Content != "" {
			d := time.Since(start)
			_, err := io.Copy(io.Discard, resp.Body)
			return d, err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("the stream ended without a token")
}

func (t *gwTarget) post(ctx context.Context, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = t.header.Clone()
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("POST %s: status %d: %s", t.url, resp.StatusCode, msg)
	}
	return resp, nil
}

// startGatewayPair starts the mock model (streaming with tokenDelay) on
// two loopback listeners, TLS and plain HTTP, and Perimeter with a model
// catalog whose one entry is that plain-HTTP listener; it creates an
// account with a deny-by-default network rule and a deployment of that
// model, and returns the direct and the gateway targets. Both clients use
// the default transport's settings (keep-alive, HTTP/2 when offered, as
// both servers do).
func startGatewayPair(b *testing.B, tokenDelay time.Duration) (direct, gateway *gwTarget) {
	b.Helper()
	dir := b.TempDir()
	ca, err := tlsca.LoadOrCreate(filepath.Join(dir, "mock-ca"))
	if err != nil {
		b.Fatal(err)
	}
	cert, err := ca.ServerCertificate([]string{"127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	h := mockmodel.Handler(mockmodel.Config{TokenDelay: tokenDelay})
	serveMock := func(tlsConfig *tls.Config) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: h, TLSConfig: tlsConfig, ReadHeaderTimeout: 10 * time.Second}
		if tlsConfig != nil {
			go func() { _ = srv.ServeTLS(ln, "", "") }()
		} else {
			go func() { _ = srv.Serve(ln) }()
		}
		b.Cleanup(func() { _ = srv.Close() })
		return ln.Addr().String()
	}
	tlsAddr := serveMock(&tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12})
	plainAddr := serveMock(nil)

	pem, err := os.ReadFile(ca.CertPath())
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	direct = &gwTarget{url: "https://" + tlsAddr + "/v1/chat/completions", client: newClient(b, pool), header: http.Header{}}
	// The body names no model for the gateway (the deployment does);
	// the mock serves any.

	models := filepath.Join(dir, "models.json")
	catalog := fmt.Sprintf(`{"models":[{"format":"OpenAI","name":"bench-mock","version":"1",`+
		`"upstream":"http://%s/v1","capabilities":["chatCompletion"]}]}`, plainAddr)
	if err := os.WriteFile(models, []byte(catalog), 0o600); err != nil {
		b.Fatal(err)
	}
	pp, ready := startPerimeter(b, filepath.Join(dir, "perimeter"), func(c *server.Config) {
		c.ModelsFile = models
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	p := &gwServer{perimeter: pp}
	host := p.createChatAccount(b)

	gwURL, err := url.Parse(ready.Gateway)
	if err != nil {
		b.Fatal(err)
	}
	caPEM, err := os.ReadFile(ready.CACert)
	if err != nil {
		b.Fatal(err)
	}
	gwPool := x509.NewCertPool()
	gwPool.AppendCertsFromPEM(caPEM)
	client := newClient(b, gwPool)
	// The account's host name has no DNS record here: dial the gateway's
	// address and keep the name for SNI and Host.
	tr := client.Transport.(*http.Transport)
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, gwURL.Host)
	}
	gateway = &gwTarget{
		url:    "https://" + host + ":" + gwURL.Port() + "/openai/deployments/" + gwDeployment + "/chat/completions?api-version=" + gwAPIVersion,
		client: client,
		header: http.Header{"Api-Key": {p.accountKey}, "X-Forwarded-For": {gwAllowedClient}},
	}
	// Both answer before measuring starts.
	for _, t := range []*gwTarget{direct, gateway} {
		if err := t.chat(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	return direct, gateway
}

// gwServer is Perimeter started for the gateway benchmarks.
type gwServer struct {
	*perimeter
	accountKey string
}

// createChatAccount creates resource group bench-gw-rg, AIServices account
// bench-gw (subdomain gwSubdomain, networkAcls: deny by default, allow
// 203.0.113.0/24) and deployment gwDeployment of bench-mock, keeps key1,
// and returns the account's host name.
func (s *gwServer) createChatAccount(b *testing.B) string {
	b.Helper()
	rg := "/subscriptions/" + s.subscriptionID + "/resourcegroups/bench-gw-rg"
	acct := rg + "/providers/Microsoft.CognitiveServices/accounts/bench-gw"
	s.armCall(b, http.MethodPut, rg+"?api-version="+apiVersion, `{"location":"eastus"}`, nil)
	s.registerCognitive(b)
	s.armCall(b, http.MethodPut, acct+"?api-version="+cogAPIVersion, `{"kind":"AIServices","location":"eastus","sku":{"name":"S0"},`+
		`"properties":{"customSubDomainName":"`+gwSubdomain+`","networkAcls":{"defaultAction":"Deny","ipRules":[{"value":"203.0.113.0/24"}]}}}`, nil)
	s.waitSucceeded(b, acct+"?api-version="+cogAPIVersion)
	dep := acct + "/deployments/" + gwDeployment + "?api-version=" + cogAPIVersion
	s.armCall(b, http.MethodPut, dep, `{"sku":{"name":"Standard","capacity":10},`+
		`"properties":{"model":{"format":"OpenAI","name":"bench-mock","version":"1"}}}`, nil)
	s.waitSucceeded(b, dep)
	var keys struct{ Key1 string }
	s.armCall(b, http.MethodPost, acct+"/listKeys?api-version="+cogAPIVersion, "", &keys)
	if keys.Key1 == "" {
		b.Fatal("listKeys returned no key1")
	}
	s.accountKey = keys.Key1
	var a struct {
		Properties struct{ Endpoint string }
	}
	s.armCall(b, http.MethodGet, acct+"?api-version="+cogAPIVersion, "", &a)
	u, err := url.Parse(a.Properties.Endpoint)
	if err != nil || u.Hostname() == "" {
		b.Fatalf("account endpoint %q", a.Properties.Endpoint)
	}
	return u.Hostname()
}

// registerCognitive registers the subscription for
// Microsoft.CognitiveServices and waits up to 30 s for it to be Registered.
func (s *gwServer) registerCognitive(b *testing.B) {
	b.Helper()
	rp := "/subscriptions/" + s.subscriptionID + "/providers/Microsoft.CognitiveServices"
	s.armCall(b, http.MethodPost, rp+"/register?api-version=2021-04-01", "", nil)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var r struct{ RegistrationState string }
		s.armCall(b, http.MethodGet, rp+"?api-version=2021-04-01", "", &r)
		if r.RegistrationState == "Registered" {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: still %q after 30s", rp, r.RegistrationState)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// armCall sends one control-plane request and decodes a 2xx answer into
// out (when not nil); anything else fails b.
func (s *gwServer) armCall(b *testing.B, method, path, body string, out any) {
	b.Helper()
	req, err := http.NewRequestWithContext(b.Context(), method, s.base+path, strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", s.auth)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		b.Fatalf("%s %s: status %d: %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			b.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// waitSucceeded polls a resource for up to 30 s until its
// provisioningState is Succeeded.
func (s *gwServer) waitSucceeded(b *testing.B, path string) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var r struct {
			Properties struct{ ProvisioningState string }
		}
		s.armCall(b, http.MethodGet, path, "", &r)
		switch r.Properties.ProvisioningState {
		case "Succeeded":
			return
		case "Failed", "Canceled":
			b.Fatalf("%s: provisioningState %s", path, r.Properties.ProvisioningState)
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: still %q after 30s", path, r.Properties.ProvisioningState)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

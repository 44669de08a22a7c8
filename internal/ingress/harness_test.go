package ingress

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/models"
	"github.com/perimeterhq/perimeter/internal/snapshot"
	"github.com/perimeterhq/perimeter/internal/tlsca"
)

// Names of the test world.
const (
	base        = "test"
	subID       = "00000000-0000-0000-0000-00000000aaaa"
	rgID        = "/subscriptions/" + subID + "/resourceGroups/rg"
	vnetID      = rgID + "/providers/Microsoft.Network/virtualNetworks/vnet"
	subnetApps  = vnetID + "/subnets/apps"  // 10.1.1.0/24, service endpoint
	subnetOther = vnetID + "/subnets/other" // 10.1.2.0/24, none
	// subnetForeign is 203.0.113.0/24 with the service endpoint, in a
	// network no account's rules name.
	subnetForeign = "/subscriptions/00000000-0000-0000-0000-00000000beef/resourceGroups/other/providers/Microsoft.Network/virtualNetworks/squat/subnets/s"
	key1          = "0123456789abcdef0123456789abcdef"
	key2          = "fedcba9876543210fedcba9876543210"
	upstreamKey   = "upstream-secret-9f8e7d"
	upModel       = "upstream-model"
	apiVersion    = "2024-10-21"
	chatPath      = "/openai/deployments/chat/chat/completions?api-version=" + apiVersion
)

func host(account string) string { return account + ".cognitiveservices." + base }

func acctID(name string) string {
	return rgID + "/providers/Microsoft.CognitiveServices/accounts/" + name
}

// fakeSnapshots serves whatever snapshot the test sets.
type fakeSnapshots struct {
	p atomic.Pointer[snapshot.Snapshot]
}

func (f *fakeSnapshots) Current() *snapshot.Snapshot { return f.p.Load() }

// world describes the accounts of a test snapshot.
type world struct {
	upstream   string // base URL of the chat model's server ("http://h:p/v1")
	credential string // the chat model's Credential
	revision   int64
	// identities are managed identities of Cognitive Services accounts.
	identities []string
}

// build returns a snapshot with these accounts:
//
//	open     defaultAction Allow
//	locked   defaultAction Deny, ipRules 203.0.113.0/24, vnet rule for subnet apps
//	private  publicNetworkAccess Disabled
//	nolocal  disableLocalAuth, defaultAction Allow
//	bypass   defaultAction Deny, bypass AzureServices
//
// each with deployments chat (chat+completion), embed (embeddings only),
// pending (not ready), and mock (the built-in mock, with no upstream here).
func (w world) build() *snapshot.Snapshot {
	b := snapshot.NewBuilder(w.revision)
	b.AddSubnet(&snapshot.Subnet{ID: subnetApps, Prefixes: []netip.Prefix{netip.MustParsePrefix("10.1.1.0/24")}, ServiceEndpoints: []string{"Microsoft.CognitiveServices"}})
	b.AddSubnet(&snapshot.Subnet{ID: subnetOther, Prefixes: []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}})
	// Someone else's network holding the range of the locked account's IP
	// rule, with the service endpoint: no rule names it, so the account's
	// clients there stay public traffic that the IP rule allows.
	b.AddSubnet(&snapshot.Subnet{ID: subnetForeign, Prefixes: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}, ServiceEndpoints: []string{"Microsoft.CognitiveServices"}})
	chat := models.Model{Format: "OpenAI", Name: "gpt-test", Version: "1", Upstream: w.upstream, UpstreamModel: upModel,
		Credential: w.credential, Capabilities: []string{models.ChatCompletion, models.Completion}}
	embed := models.Model{Format: "OpenAI", Name: "embed-test", Version: "1", Upstream: w.upstream, Capabilities: []string{models.Embeddings}}
	for _, name := range []string{"open", "locked", "private", "nolocal", "bypass"} {
		a := snapshot.NewAccount(acctID(name), name)
		a.SubscriptionID = subID
		a.Hosts = []string{host(name), name + ".openai." + base}
		a.KeyDigests = [2][32]byte{sha256.Sum256([]byte(key1)), sha256.Sum256([]byte(key2))}
		switch name {
		case "locked":
			a.DefaultAllow = false
			a.AddIPRule("203.0.113.0/24", netip.MustParsePrefix("203.0.113.0/24"))
			a.AddVNetRule(subnetApps)
		case "private":
			a.PublicNetworkAccess = false
		case "nolocal":
			a.DisableLocalAuth = true
		case "bypass":
			a.DefaultAllow, a.BypassAzureServices = false, true
		}
		a.AddDeployment(&snapshot.Deployment{Name: "chat", Model: chat, Ready: true})
		a.AddDeployment(&snapshot.Deployment{Name: "embed", Model: embed, Ready: true})
		a.AddDeployment(&snapshot.Deployment{Name: "pending", Model: chat, Ready: false})
		a.AddDeployment(&snapshot.Deployment{Name: "mock", Model: models.Mock, Ready: true})
		b.AddAccount(a)
	}
	for _, oid := range w.identities {
		b.AddIdentity(oid, "Microsoft.CognitiveServices/accounts")
	}
	return b.Build()
}

// memLog keeps access-log records.
type memLog struct {
	mu   sync.Mutex
	recs []accesslog.Record
}

func (l *memLog) Log(r accesslog.Record) {
	l.mu.Lock()
	l.recs = append(l.recs, r)
	l.mu.Unlock()
}

// find returns the record of a request id, waiting briefly: the record is
// written when the handler returns, which may be just after the client
// has its answer.
func (l *memLog) find(t testing.TB, id string) accesslog.Record {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		for _, r := range l.recs {
			if r.RequestID == id {
				l.mu.Unlock()
				return r
			}
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no access-log record for request %s", id)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// seen is one request an upstream received.
type seen struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   map[string]any
}

// fakeUpstream is an OpenAI-compatible model server that records what it
// receives. Handlers can be replaced per test.
type fakeUpstream struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []seen
	handler atomic.Pointer[http.HandlerFunc]
}

func newUpstream(t testing.TB) *fakeUpstream {
	u := &fakeUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone()}
		if r.Header.Get("Upgrade") == "" {
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &s.Body)
		}
		u.mu.Lock()
		u.reqs = append(u.reqs, s)
		u.mu.Unlock()
		if h := u.handler.Load(); h != nil {
			(*h)(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Connection", "X-Up-Hop")
		w.Header().Set("X-Up-Hop", "hop")
		w.Header().Set("Set-Cookie", "upstream=1")
		w.Header().Set("Strict-Transport-Security", "max-age=1")
		_, _ = io.WriteString(w, `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi \"usage\": not this"}}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}`)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *fakeUpstream) handle(h http.HandlerFunc) { u.handler.Store(&h) }

func (u *fakeUpstream) last(t testing.TB) seen {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("the upstream received no request")
	}
	return u.reqs[len(u.reqs)-1]
}

func (u *fakeUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// harness is a gateway served over TLS on loopback, in front of a fake
// upstream, with a snapshot of the test world.
type harness struct {
	t     testing.TB
	gw    *Gateway
	snaps *fakeSnapshots
	up    *fakeUpstream
	log   *memLog
	reg   *prometheus.Registry
	addr  string // the gateway's listener
	pool  *x509.CertPool
	world world
}

type option func(*Config)

func trust(prefixes ...string) option {
	return func(c *Config) {
		c.TrustedProxies = nil
		for _, p := range prefixes {
			c.TrustedProxies = append(c.TrustedProxies, netip.MustParsePrefix(p))
		}
	}
}

// quiet is a logger for tests; PERIMETER_TEST_LOG=1 shows the lines.
func quiet() *slog.Logger {
	if os.Getenv("PERIMETER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// newHarness starts a gateway trusting 127.0.0.0/8 as proxies unless an
// option says otherwise.
func newHarness(t testing.TB, opts ...option) *harness {
	t.Helper()
	h := &harness{t: t, snaps: &fakeSnapshots{}, up: newUpstream(t), log: &memLog{}, reg: prometheus.NewRegistry()}
	credFile := filepath.Join(t.TempDir(), "upstream.key")
	if err := os.WriteFile(credFile, []byte(upstreamKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.world = world{upstream: h.up.URL + "/v1", credential: "file:" + credFile, revision: 7}
	h.snaps.p.Store(h.world.build())
	cfg := Config{
		Snapshots: h.snaps, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Log: h.log, Registry: h.reg, Logger: quiet(), MaxBodyBytes: 1 << 20,
	}
	for _, o := range opts {
		o(&cfg)
	}
	gw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.gw = gw
	ca, err := tlsca.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ServerCertificate([]string{"*.cognitiveservices." + base, "*.openai." + base, "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	h.pool = ca.Pool()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() {
		done <- gw.Serve(ln, &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12})
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve returned %v", err)
		}
	})
	return h
}

// tlsConfig trusts the harness CA; serverName "" sends no SNI for IPs.
func (h *harness) tlsConfig(serverName string, protos ...string) *tls.Config {
	return &tls.Config{RootCAs: h.pool, ServerName: serverName, NextProtos: protos}
}

// client talks to the gateway whatever the URL's host, over a plain TCP
// connection (the peer is 127.0.0.1), HTTP/2 when h2 is true.
func (h *harness) client(h2 bool) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, h.addr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: h.pool},
		ForceAttemptHTTP2: h2,
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	h.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// proxyClient connects with a PROXY protocol header (version 1 or 2)
// naming src as the client, and optionally a subnet TLV.
func (h *harness) proxyClient(version byte, src string, subnet string) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, h.addr)
			if err != nil {
				return nil, err
			}
			s := netip.MustParseAddrPort(src)
			dst := c.RemoteAddr().(*net.TCPAddr)
			hdr := proxyproto.HeaderProxyFromAddrs(version, net.TCPAddrFromAddrPort(s), dst)
			if s.Addr().Is6() && !s.Addr().Is4In6() {
				hdr.TransportProtocol = proxyproto.TCPv6
				hdr.DestinationAddr = &net.TCPAddr{IP: net.IPv6loopback, Port: dst.Port}
			}
			if subnet != "" {
				if err := hdr.SetTLVs([]proxyproto.TLV{{Type: TLVSubnetID, Value: []byte(subnet)}}); err != nil {
					return nil, err
				}
			}
			if _, err := hdr.WriteTo(c); err != nil {
				return nil, err
			}
			return c, nil
		},
		TLSClientConfig: &tls.Config{RootCAs: h.pool},
		// One connection per request: each carries its own header.
		DisableKeepAlives: true,
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// answer is a response read whole.
type answer struct {
	*http.Response
	Body []byte
	ID   string // apim-request-id
}

func (a answer) errorCode() string {
	var b errorBody
	_ = json.Unmarshal(a.Body, &b)
	return b.Error.Code
}

func (a answer) errorMessage() string {
	var b errorBody
	_ = json.Unmarshal(a.Body, &b)
	return b.Error.Message
}

// do sends a request with the given headers ("Name: value" lines).
func (h *harness) do(c *http.Client, method, url string, body string, headers ...string) answer {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, hv := range headers {
		k, v, _ := strings.Cut(hv, ":")
		if strings.EqualFold(k, "Host") {
			req.Host = strings.TrimSpace(v)
			continue
		}
		req.Header.Add(k, strings.TrimSpace(v))
	}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return answer{Response: resp, Body: b, ID: resp.Header.Get("apim-request-id")}
}

const chatBody = `{"model":"whatever","messages":[{"role":"user","content":"<hello> & bye"}],"temperature":0.5}`

// chat posts a chat completion to an account with key1 and extra headers.
func (h *harness) chat(c *http.Client, account string, headers ...string) answer {
	h.t.Helper()
	return h.do(c, http.MethodPost, "https://"+host(account)+chatPath, chatBody, append([]string{"api-key: " + key1}, headers...)...)
}

// openChat sends the chat to the "open" account and returns the response
// with its body unread, for tests that read it as it streams; the caller
// closes it.
func (h *harness) openChat(c *http.Client) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "https://"+host("open")+chatPath, strings.NewReader(chatBody))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("api-key", key1)
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// raw opens a TLS connection to the gateway (HTTP/1.1 only) for requests
// written by hand.
func (h *harness) raw(serverName string) (*tls.Conn, *bufio.Reader) {
	h.t.Helper()
	c, err := tls.Dial("tcp", h.addr, h.tlsConfig(serverName, "http/1.1"))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

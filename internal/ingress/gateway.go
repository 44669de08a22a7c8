package ingress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/perimeterhq/perimeter/internal/access"
	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/snapshot"
)

// Snapshots gives the current compiled configuration; *snapshot.Source is
// one. Current returns nil until the first compile: the gateway then
// refuses every request (fail closed).
type Snapshots interface {
	Current() *snapshot.Snapshot
}

var _ Snapshots = (*snapshot.Source)(nil)

// DecisionLog receives one record per request; *accesslog.Logger is one.
// Log must not block.
type DecisionLog interface {
	Log(accesslog.Record)
}

var _ DecisionLog = (*accesslog.Logger)(nil)

// Defaults of Config's zero values.
const (
	DefaultMaxBodyBytes          = 16 << 20
	DefaultUpstreamTimeout       = 10 * time.Minute
	DefaultResponseHeaderTimeout = 60 * time.Second
)

// Timeouts of the gateway's own listener, for slow or idle clients.
// Responses have no write timeout: streams may run for as long as
// UpstreamTimeout.
const (
	readHeaderTimeout = 10 * time.Second
	// bodyReadTimeout bounds reading a request body (at most MaxBodyBytes).
	bodyReadTimeout = time.Minute
	idleTimeout     = 2 * time.Minute
	maxHeaderBytes  = 64 << 10
	// maxHostLen bounds the host name the log keeps of a request.
	maxHostLen = 255
)

// Config configures a Gateway. It is plain data.
type Config struct {
	// Snapshots gives the configuration to decide with. Required.
	Snapshots Snapshots
	// Tokens verifies bearer tokens (audience
	// https://cognitiveservices.azure.com). Nil refuses every bearer token
	// with 401; keys still work.
	Tokens TokenVerifier
	// Authorizer decides whether a token's principal may perform an
	// operation. Nil allows every principal Tokens accepts (any
	// application of a tenant Perimeter knows) until RBAC is enforced.
	Authorizer Authorizer
	// TrustedProxies are the peers whose PROXY protocol header and
	// X-Forwarded-For are believed. Empty trusts nobody: the TCP peer is
	// the client.
	TrustedProxies []netip.Prefix
	// Log receives one access-log record per request. Nil keeps only the
	// log line.
	Log DecisionLog
	// Registry receives the gateway's metrics. Nil does not export them.
	Registry prometheus.Registerer
	// Logger receives one line per request and the gateway's own
	// failures. Nil means slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies; larger ones are refused with 413.
	// Zero means DefaultMaxBodyBytes (16 MiB).
	MaxBodyBytes int64
	// UpstreamTimeout bounds a request to a model server from start to the
	// end of its response, streams and WebSocket sessions included. Zero
	// means DefaultUpstreamTimeout (10 minutes).
	UpstreamTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for a model server's response
	// headers (for a non-streamed completion, the whole generation) when
	// Transport is nil. Zero means DefaultResponseHeaderTimeout (60 s).
	ResponseHeaderTimeout time.Duration
	// Transport carries requests to model servers. Nil means a transport
	// tuned for them: no environment proxy, no compression (usage is read
	// from responses), ResponseHeaderTimeout.
	Transport http.RoundTripper
}

// Gateway is the ingress data plane. It is safe for concurrent use.
type Gateway struct {
	cfg     Config
	trusted trustList
	maxBody int64
	timeout time.Duration
	proxy   *httputil.ReverseProxy
	// inline is the transport when it is the gateway's own (nil when
	// Config.Transport replaced it): it enforces the upstream timeout from
	// the context's deadline, so requests it carries need no timer.
	inline  *inlineTransport
	metrics *metrics
	log     *slog.Logger

	// base is the context of every request served by Serve; Shutdown
	// cancels it to end what outlives the grace period (streams,
	// WebSocket sessions, which http.Server.Shutdown does not track).
	base       context.Context
	cancelBase context.CancelFunc
	mu         sync.Mutex
	servers    []*http.Server
	closed     bool
}

// New validates cfg and returns a Gateway.
func New(cfg Config) (*Gateway, error) {
	if cfg.Snapshots == nil {
		return nil, errors.New("ingress: Config.Snapshots is required")
	}
	trusted, ok := normalizePrefixes(cfg.TrustedProxies)
	if !ok {
		return nil, fmt.Errorf("ingress: invalid trusted proxy prefix in %v", cfg.TrustedProxies)
	}
	g := &Gateway{cfg: cfg, trusted: trusted, maxBody: cfg.MaxBodyBytes, timeout: cfg.UpstreamTimeout, log: cfg.Logger}
	if g.maxBody <= 0 {
		g.maxBody = DefaultMaxBodyBytes
	}
	if g.timeout <= 0 {
		g.timeout = DefaultUpstreamTimeout
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg, cfg.Snapshots)
	if err != nil {
		return nil, fmt.Errorf("ingress: metrics: %w", err)
	}
	g.metrics = m
	transport := cfg.Transport
	if transport == nil {
		rht := cfg.ResponseHeaderTimeout
		if rht <= 0 {
			rht = DefaultResponseHeaderTimeout
		}
		g.inline = newInlineTransport(newTransport(rht), rht)
		transport = g.inline
	}
	g.proxy = g.newProxy(transport)
	g.base, g.cancelBase = context.WithCancel(context.Background())
	return g, nil
}

// Handler returns the gateway's HTTP handler. Serve uses it with what the
// connection says about the client; used on its own (behind a server the
// caller runs), the client is r.RemoteAddr, and the PROXY protocol is not
// available.
func (g *Gateway) Handler() http.Handler { return http.HandlerFunc(g.serveHTTP) }

// Serve accepts connections on ln until Shutdown: HTTPS with HTTP/2 and
// HTTP/1.1 when tlsConfig is non-nil (it is cloned), plain HTTP/1.1
// otherwise (behind a proxy that terminates TLS). Connections from
// TrustedProxies may begin with a PROXY protocol v1 or v2 header; from
// anyone else a header is not parsed. Serve returns http.ErrServerClosed
// after Shutdown.
func (g *Gateway) Serve(ln net.Listener, tlsConfig *tls.Config) error {
	pl := &proxyListener{Listener: ln, trusted: g.trusted}
	srv := &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnContext:       connContext,
		BaseContext:       func(net.Listener) context.Context { return g.base },
		ErrorLog:          slogLogger(g.log),
		Protocols:         new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	if tlsConfig != nil {
		srv.TLSConfig = tlsConfig.Clone()
		srv.Protocols.SetHTTP2(true)
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return http.ErrServerClosed
	}
	g.servers = append(g.servers, srv)
	g.mu.Unlock()
	if tlsConfig != nil {
		return srv.ServeTLS(pl, "", "")
	}
	return srv.Serve(pl)
}

// Shutdown stops every Serve: listeners close at once, requests in flight
// may finish until ctx ends, and then whatever still runs (long streams,
// WebSocket sessions) is cancelled.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	servers := g.servers
	g.mu.Unlock()
	var errs []error
	for _, s := range servers {
		errs = append(errs, s.Shutdown(ctx))
	}
	g.cancelBase()
	return errors.Join(errs...)
}

func slogLogger(l *slog.Logger) *stdlog.Logger { return stdlog.New(&slogWriter{log: l}, "", 0) }

// slogWriter sends net/http's own messages (TLS handshake failures, ...)
// to the structured log.
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	w.log.Warn(strings.TrimSpace(string(p)), "listener", "gateway")
	return len(p), nil
}

// exchange is one request as the gateway handles it.
type exchange struct {
	id    string
	ids   []string // id, as a header value (setCommonHeaders)
	start time.Time
	rec   accesslog.Record

	route      route
	client     clientAddr
	host       string
	snap       *snapshot.Snapshot
	account    *snapshot.Account
	deployment *snapshot.Deployment

	tokenChecked bool
	principal    *identity.Principal
	tokenErr     error

	// Set when the request goes upstream.
	up         upstream
	usage      usage
	clientGone bool
	// switched is set when the upstream switched protocols: ReverseProxy
	// writes that answer on the hijacked connection, past statusWriter.
	switched bool
}

type exchangeKey struct{}

func exchangeFrom(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

// deadlineContext is a request's context carrying its exchange and the
// upstream deadline, for requests the inline transport carries: it sets
// the deadline on the upstream connection, so no timer is needed. Done and
// Err are the request's own (the client going away); they do not end at
// the deadline, so it must reach no other consumer that relies on them
// for it. One allocation, where context.WithTimeout and WithValue cost
// five and a timer (4% of the gateway's CPU).
type deadlineContext struct {
	context.Context
	x        *exchange
	deadline time.Time
}

func (c *deadlineContext) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineContext) Value(key any) any {
	if key == (exchangeKey{}) {
		return c.x
	}
	return c.Context.Value(key)
}

// allowed records the network decision that let the request through.
func (x *exchange) allowed(d access.Decision) {
	x.rec.Result, x.rec.Layer, x.rec.Rule, x.rec.Code, x.rec.Reason = accesslog.Allowed, d.Layer, d.Rule, d.Code, d.Reason
}

// refused records a refusal. A failure after the request was allowed
// keeps the decision and adds why the answer is an error.
func (x *exchange) refused(e *refusal) {
	reason := e.Reason
	if e.cause != nil {
		reason += ": " + e.cause.Error()
	}
	if e.KeepDecision && x.rec.Result == accesslog.Allowed {
		x.rec.Reason = strings.TrimSuffix(x.rec.Reason, ".") + "; then " + reason
		return
	}
	x.rec.Result, x.rec.Layer, x.rec.Rule, x.rec.Code, x.rec.Reason = accesslog.Denied, e.Layer, e.Rule, e.LogCode, reason
}

// statusWriter notes the status of the answer. Unwrap lets
// http.ResponseController (and so ReverseProxy's flushes and WebSocket
// hijacks) reach the connection's writer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// serveHTTP handles one request: decide, answer, log.
func (g *Gateway) serveHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{id: uuid.NewString(), start: time.Now(), host: hostName(r.Host)}
	x.ids = []string{x.id}
	x.rec = accesslog.Record{
		Time: x.start.UTC(), RequestID: x.id, Plane: accesslog.PlaneIngress, Direction: accesslog.Inbound,
		Host: truncate(x.host, maxHostLen),
	}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		// ReverseProxy aborts a response that fails midway with
		// http.ErrAbortHandler; the request is still logged.
		p := recover()
		g.finish(r.Context(), x, sw, p != nil)
		if p != nil {
			panic(p)
		}
	}()
	// Azure's common headers are set on each answer as it is written
	// (render, list, modifyResponse): ReverseProxy adds the upstream's
	// headers to whatever is already there.
	if err := g.serve(sw, r, x); err != nil {
		g.render(sw, x, err)
	}
}

// finish logs the request and counts it.
func (g *Gateway) finish(ctx context.Context, x *exchange, sw *statusWriter, aborted bool) {
	elapsed := time.Since(x.start)
	x.rec.Status = sw.status
	switch {
	case aborted:
		x.rec.Reason += "; the response was cut off midway"
	case x.switched && sw.status == 0:
		x.rec.Status = http.StatusSwitchingProtocols
	case x.clientGone && sw.status == 0:
		x.rec.Status = 499 // as nginx logs a client that went away
		x.rec.Reason += "; the client went away before the answer"
	case sw.status == 0:
		x.rec.Status = http.StatusOK
	}
	if x.rec.Result == "" {
		x.rec.Result, x.rec.Layer = accesslog.Denied, access.LayerSystem
	}
	x.rec.LatencyMs = float64(elapsed.Microseconds()) / 1000
	if x.usage.Seen {
		x.rec.PromptTokens, x.rec.CompletionTokens = x.usage.Prompt, x.usage.Completion
		g.metrics.promptTokens.Add(float64(x.usage.Prompt))
		g.metrics.completionTokens.Add(float64(x.usage.Completion))
	}
	g.metrics.request(x.rec.Result, x.rec.Layer, elapsed)
	if g.cfg.Log != nil {
		g.cfg.Log.Log(x.rec)
	}
	// Every decision is in the access log (batched, off the request path).
	// The process log repeats refusals and failures, which operators watch
	// for, and allowed requests only at Debug: a synchronous log line per
	// request cost 7% of the gateway's CPU under load.
	level := slog.LevelDebug
	switch {
	case x.rec.Status >= 500 || aborted:
		level = slog.LevelWarn
	case x.rec.Result != accesslog.Allowed || x.rec.Status >= 400:
		level = slog.LevelInfo
	}
	if g.log.Enabled(ctx, level) {
		g.log.LogAttrs(ctx, level, "ingress request", x.rec.Attrs()...)
	}
}

// serve decides and answers; a returned error is a refusal for render.
func (g *Gateway) serve(w *statusWriter, r *http.Request, x *exchange) error {
	x.route = parseRoute(r)
	if op := x.route.op; op != nil {
		x.rec.Operation, x.rec.Deployment = op.Name, truncate(x.route.deployment, maxHostLen)
	}
	// Where the request comes from.
	peer, pp := connPeer(r)
	x.client = decideClient(peer, pp, r.Header.Values("X-Forwarded-For"), g.trusted)
	if x.client.Addr.IsValid() {
		x.rec.SourceIP, x.rec.SourcePort = x.client.Addr.String(), int(x.client.Port)
	}
	x.rec.SourceVia = x.client.Via
	if err := checkSNI(r, x.host); err != nil {
		return err
	}

	// The network layers.
	x.snap = g.cfg.Snapshots.Current()
	facts := access.Facts{Direction: access.Inbound, Source: x.client.Addr, SourceVia: x.client.Via, Host: x.host}
	if x.snap != nil {
		facts.Path, facts.SubnetID = arrival(x.snap, x.snap.AccountByHost(x.host), x.client)
		x.rec.ArrivalPath, x.rec.SubnetID = string(facts.Path), facts.SubnetID
	}
	d := access.Evaluate(x.snap, facts)
	if !d.Allow {
		// A trusted service's managed identity passes the firewall with
		// bypass AzureServices: only then does the token matter here.
		if a := x.snap.Account(d.ResourceID); a != nil && a.BypassAzureServices && apiKey(r.Header) == "" {
			if tok, ok := bearerToken(r.Header); ok {
				if p, err := g.verifyToken(r.Context(), x, tok); err == nil {
					facts.CallerObjectID = p.ObjectID
					d = access.Evaluate(x.snap, facts)
				}
			}
		}
	}
	x.rec.SnapshotRevision, x.rec.ResourceID = d.Revision, d.ResourceID
	if !d.Allow {
		return networkRefusal(d)
	}
	x.allowed(d)
	x.account = x.snap.Account(d.ResourceID)
	if x.account == nil {
		return internalError(fmt.Errorf("allowed for %s, which the snapshot does not hold", d.ResourceID))
	}
	x.rec.SubscriptionID = strings.ToLower(x.account.SubscriptionID)

	// Who is calling, then what they ask for.
	if err := g.authenticate(r, x, x.account); err != nil {
		return err
	}
	if x.route.bad != nil {
		return x.route.bad
	}
	op := x.route.op
	if r.ContentLength > g.maxBody {
		return tooLarge(g.maxBody)
	}
	if err := g.authorize(r.Context(), x, op); err != nil {
		return err
	}
	if op.List != notListing {
		return g.list(w, x, op)
	}
	return g.forward(w, r, x)
}

// checkSNI refuses a request whose Host names another host than the TLS
// server name its connection was opened for: a connection (or an HTTP/2
// connection reused across names) must not reach an account it was not
// opened for.
func checkSNI(r *http.Request, host string) error {
	if r.TLS == nil || r.TLS.ServerName == "" {
		return nil
	}
	if strings.EqualFold(strings.TrimSuffix(r.TLS.ServerName, "."), host) {
		return nil
	}
	return &refusal{Status: http.StatusMisdirectedRequest, Code: "421", Message: "Misdirected Request",
		Layer: LayerRequest, LogCode: CodeMisdirectedRequest,
		Reason: "the Host header names another host than the TLS server name " + truncate(r.TLS.ServerName, maxHostLen)}
}

// hostName is the host of a Host header: lower-cased, without port,
// brackets or a trailing dot.
func hostName(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

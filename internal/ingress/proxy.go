package ingress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// upstream is where an allowed request goes and what it carries.
type upstream struct {
	target     *url.URL
	body       []byte // the rewritten JSON body; nil for requests without one
	credential string // the model server's API key, "" for none
	webSocket  bool
}

// forward serves a deployment operation: find the deployment, rewrite the
// body, and proxy to the model's upstream.
func (g *Gateway) forward(w *statusWriter, r *http.Request, x *exchange) error {
	op := x.route.op
	var doc requestObject
	name := x.route.deployment
	if name != "" {
		// The path or query names the deployment: refuse an unknown one
		// before reading a body for it.
		if err := g.findDeployment(x, name); err != nil {
			return err
		}
	}
	if op.JSONBody {
		body, err := g.readBody(w, r)
		if err != nil {
			return err
		}
		if doc, err = parseObject(body); err != nil {
			return err
		}
	}
	if x.deployment == nil {
		// /openai/v1: the body's model names the deployment.
		var ok bool
		if name, ok = doc.model(); !ok || name == "" {
			return badRequest(CodeBadRequest, "The model parameter (the deployment name) is required.", "no deployment named in model")
		}
		x.rec.Deployment = truncate(name, maxHostLen)
		if err := g.findDeployment(x, name); err != nil {
			return err
		}
	}
	dep := x.deployment
	if op.Capability != "" && !slices.Contains(dep.Model.Capabilities, op.Capability) {
		return &refusal{Status: http.StatusBadRequest, Code: "OperationNotSupported",
			Message: fmt.Sprintf("The %s operation does not work with the specified model, %s. Please choose different model and try again.", op.Capability, dep.Model.Name),
			Layer:   LayerRequest, LogCode: CodeOperationNotSupported, Reason: "the deployment's model lacks the capability " + op.Capability}
	}

	// The catalog names every upstream, the built-in mock's included (a
	// loopback server); a model without one cannot be served.
	base := dep.Model.Upstream
	if base == "" {
		g.metrics.upstreamErrors.WithLabelValues(upstreamUnavailable).Inc()
		return upstreamFailure(http.StatusBadGateway, "the deployment's model has no upstream configured", nil)
	}
	target, err := cachedUpstreamURL(base, op.UpstreamPath)
	if err != nil {
		g.metrics.upstreamErrors.WithLabelValues(upstreamUnavailable).Inc()
		return upstreamFailure(http.StatusBadGateway, "the model's upstream URL is unusable", err)
	}
	model := dep.Model.UpstreamModel
	if model == "" {
		model = dep.Model.Name
	}
	cred, err := dep.Model.ResolveCredential()
	if err != nil {
		g.metrics.upstreamErrors.WithLabelValues(upstreamCredential).Inc()
		return upstreamFailure(http.StatusBadGateway, "the model server's credential could not be read", err)
	}
	x.up = upstream{target: target, credential: cred, webSocket: op.WebSocket}
	if op.WebSocket {
		target.RawQuery = url.Values{"model": {model}}.Encode()
	}
	if doc != nil {
		x.up.body = doc.withModel(model)
	}

	if g.inline.carries(target, op.WebSocket) {
		g.proxyDirect(w, r, x, time.Now().Add(g.timeout))
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.timeout)
	defer cancel()
	g.proxy.ServeHTTP(w, r.WithContext(context.WithValue(ctx, exchangeKey{}, x)))
	return nil
}

// findDeployment sets x.deployment, or refuses: deployments still being
// created, or whose model left the catalog, serve nothing yet.
func (g *Gateway) findDeployment(x *exchange, name string) error {
	dep := x.account.Deployment(name)
	switch {
	case dep == nil:
		return deploymentNotFound("the account has no deployment of that name")
	case !dep.Ready:
		return deploymentNotFound("the deployment is not ready (being created, or its model is not in the catalog)")
	}
	x.deployment = dep
	x.rec.Deployment = dep.Name
	return nil
}

func tooLarge(limit int64) *refusal {
	return &refusal{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLarge",
		Message: fmt.Sprintf("The request body is too large. The maximum is %d bytes.", limit),
		Layer:   LayerRequest, LogCode: CodeBodyTooLarge, Reason: "the request body exceeds the limit"}
}

// readBody reads the request body, bounded in size and time: a declared
// Content-Length over the limit was refused before; a chunked body is cut
// at the limit; a client that trickles its body gets bodyReadTimeout.
func (g *Gateway) readBody(w *statusWriter, r *http.Request) ([]byte, error) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyReadTimeout))
	// A deadline left in place would cut a long stream off: the server
	// keeps reading the connection in the background.
	defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	b, err := io.ReadAll(http.MaxBytesReader(w.ResponseWriter, r.Body, g.maxBody))
	if err == nil {
		return b, nil
	}
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge(g.maxBody)
	case errors.As(err, &ne) && ne.Timeout():
		return nil, &refusal{Status: http.StatusRequestTimeout, Code: "RequestTimeout", Message: "The request body was not received in time.",
			Layer: LayerRequest, LogCode: CodeBodyTimeout, Reason: "the client did not send its body in time"}
	}
	return nil, badRequest(CodeBadRequest, "The request body could not be read.", "reading the body failed: "+err.Error())
}

const msgBadJSON = "We could not parse the JSON body of your request. The API expects a JSON object."

// parseObject checks that a request body is one JSON object.
func parseObject(body []byte) (requestObject, error) {
	if !json.Valid(body) {
		return nil, badRequest(CodeBadRequest, msgBadJSON, "the body is not valid JSON (or holds more than one value)")
	}
	if i := skipSpace(body, 0); i == len(body) || body[i] != '{' {
		return nil, badRequest(CodeBadRequest, msgBadJSON, "the body is not a JSON object")
	}
	return requestObject(body), nil
}

// upstreamURLs caches upstreamURL's answers by base and path: the catalog
// names few upstreams, and parsing one for every request allocated half a
// dozen objects. Bounded: past upstreamURLsMax entries it starts afresh.
var (
	upstreamURLs    sync.Map // base + "\x00" + path → *url.URL, never modified
	upstreamURLsLen atomic.Int32
)

const upstreamURLsMax = 1024

// cachedUpstreamURL is upstreamURL through the cache; the URL returned is
// the caller's own.
func cachedUpstreamURL(base, path string) (*url.URL, error) {
	key := base + "\x00" + path
	if v, ok := upstreamURLs.Load(key); ok {
		u := *v.(*url.URL)
		return &u, nil
	}
	u, err := upstreamURL(base, path)
	if err != nil {
		return nil, err
	}
	if upstreamURLsLen.Add(1) > upstreamURLsMax {
		upstreamURLs.Clear()
		upstreamURLsLen.Store(1)
	}
	c := *u
	upstreamURLs.Store(key, &c)
	return u, nil
}

// upstreamURL joins a model's upstream base URL and an operation path.
func upstreamURL(base, path string) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL without credentials", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u, nil
}

// newTransport is the transport to model servers.
func newTransport(responseHeaderTimeout time.Duration) *http.Transport {
	return &http.Transport{
		// Never HTTP(S)_PROXY from the environment: the upstream is what
		// the catalog says, reached directly.
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: responseHeaderTimeout,
		// Usage is read from responses as they pass: ask for them plain.
		DisableCompression: true,
	}
}

func (g *Gateway) newProxy(transport http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:   g.rewrite,
		Transport: transport,
		// Zero: ReverseProxy flushes server-sent events (and any response
		// of unknown length) after every write, so events pass through one
		// by one; a JSON answer of known length goes out in one write
		// instead of a flush per chunk, which cost a sixth of the
		// gateway's CPU under load.
		FlushInterval:  0,
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.upstreamError,
		ErrorLog:       slogLogger(g.log),
		// Without a pool, ReverseProxy allocates a 32 KiB copy buffer per
		// response: three quarters of the gateway's allocated bytes, and
		// so most of its garbage collection.
		BufferPool: copyBuffers{},
	}
}

// copyBuffers lends ReverseProxy its response copy buffers.
type copyBuffers struct{}

var copyBufferPool = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func (copyBuffers) Get() []byte { return copyBufferPool.Get().(*[32 << 10]byte)[:] }
func (copyBuffers) Put(b []byte) {
	if cap(b) == 32<<10 {
		copyBufferPool.Put((*[32 << 10]byte)(b[:32<<10]))
	}
}

// clientHeaders are request headers that never reach a model server:
// the client's credentials, and addresses only the gateway may state.
// (Hop-by-hop headers and X-Forwarded-For, -Host and -Proto are dropped
// before: by ReverseProxy, or by proxyDirect.)
var clientHeaders = canonicalKeys(
	headerAPIKey, headerSubscription, "Authorization", "Cookie", "Proxy-Authorization",
	"X-Real-Ip", "True-Client-Ip", "X-Client-Ip", "X-Cluster-Client-Ip", "Cf-Connecting-Ip", "Fastly-Client-Ip",
	"Forwarded", "X-Forwarded", "X-Forwarded-Port", "X-Forwarded-Server", "X-Original-Forwarded-For",
	"Accept-Encoding",
)

// Header values shared by every upstream request (see hstsValues).
var (
	protoHTTPS      = []string{"https"}
	protoHTTP       = []string{"http"}
	contentTypeJSON = []string{"application/json"}
)

// upstreamHeaders are response headers of a model server that never reach
// the client: the gateway states its own, and the server's cookies and
// challenges are not the client's business.
var upstreamHeaders = canonicalKeys(headerRequestID, headerMSRequestID, headerHSTS, headerNoSniff, headerPolicyID, "Set-Cookie", "Www-Authenticate")

// canonicalKeys returns keys in their canonical form, for deleting from a
// parsed http.Header without canonicalising them on every request.
func canonicalKeys(keys ...string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = http.CanonicalHeaderKey(k)
	}
	return out
}

// rewrite builds the upstream request: the catalog's URL, the rewritten
// body, the model server's credential, and forwarding headers that say
// what the gateway decided.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	g.rewriteRequest(exchangeFrom(pr.In.Context()), pr.In, pr.Out)
}

// rewriteRequest is rewrite for the request in, whose upstream copy is
// out (whose headers may be in's own: see proxyDirect).
func (g *Gateway) rewriteRequest(x *exchange, in, out *http.Request) {
	u := *x.up.target
	out.URL, out.Host = &u, ""
	h := out.Header
	for _, k := range clientHeaders {
		delete(h, k) // canonical already: Header.Del would canonicalise each
	}
	if !x.up.webSocket {
		delete(h, "Connection")
		delete(h, "Upgrade")
	} else {
		stripKeyProtocols(h)
	}
	if x.client.Addr.IsValid() {
		h["X-Forwarded-For"] = []string{x.rec.SourceIP}
	}
	h["X-Forwarded-Host"] = []string{x.host}
	if in.TLS != nil {
		h["X-Forwarded-Proto"] = protoHTTPS
	} else {
		h["X-Forwarded-Proto"] = protoHTTP
	}
	h["X-Request-Id"] = x.ids
	if x.up.credential != "" {
		h.Set("Authorization", "Bearer "+x.up.credential)
	}
	if x.up.body != nil {
		out.Body = io.NopCloser(bytes.NewReader(x.up.body))
		out.ContentLength = int64(len(x.up.body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(x.up.body)), nil }
		h.Set("Content-Length", strconv.Itoa(len(x.up.body)))
		h["Content-Type"] = contentTypeJSON
		delete(h, "Transfer-Encoding")
		out.TransferEncoding = nil
	}
}

// stripKeyProtocols removes WebSocket subprotocols that carry a key
// ("openai-insecure-api-key.KEY", as browsers send one).
func stripKeyProtocols(h http.Header) {
	var keep []string
	for _, v := range h.Values("Sec-Websocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			p = strings.TrimSpace(p)
			if p != "" && !strings.HasPrefix(strings.ToLower(p), "openai-insecure-api-key") {
				keep = append(keep, p)
			}
		}
	}
	h.Del("Sec-Websocket-Protocol")
	if len(keep) > 0 {
		h.Set("Sec-Websocket-Protocol", strings.Join(keep, ", "))
	}
}

// mediaType is a Content-Type's media type, lower-cased, without
// parameters; mime.ParseMediaType allocates a map for the parameters,
// which only this is needed from.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	for i := 0; i < len(ct); i++ {
		if c := ct[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(ct)
		}
	}
	return ct
}

// errUpstreamRefused: the model server refused the gateway's credential.
var errUpstreamRefused = errors.New("the model server refused the gateway's credential")

// modifyResponse prepares the upstream's answer for the client: Azure's
// headers instead of the upstream's, and usage read as it passes.
func (g *Gateway) modifyResponse(resp *http.Response) error {
	x := exchangeFrom(resp.Request.Context())
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusProxyAuthRequired {
		return errUpstreamRefused
	}
	h := resp.Header
	for _, k := range upstreamHeaders {
		delete(h, k)
	}
	setCommonHeaders(h, x.ids)
	x.switched = resp.StatusCode == http.StatusSwitchingProtocols
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	switch mediaType(h.Get("Content-Type")) {
	case "text/event-stream":
		resp.Body = &sseUsage{ReadCloser: resp.Body, u: &x.usage}
	case "application/json":
		resp.Body = &jsonUsage{ReadCloser: resp.Body, u: &x.usage}
	}
	return nil
}

func upstreamFailure(status int, reason string, cause error) *refusal {
	e := &refusal{Status: status, Layer: LayerUpstream, Reason: reason, KeepDecision: true, cause: cause}
	if status == http.StatusGatewayTimeout {
		e.Code, e.Message, e.LogCode = "Timeout", msgUpstreamTimeout, CodeUpstreamTimeout
	} else {
		e.Code, e.Message, e.LogCode = "BadGateway", msgUpstreamDown, CodeUpstreamUnavailable
	}
	return e
}

// upstreamError is ReverseProxy's ErrorHandler: the model server failed
// before its response began.
func (g *Gateway) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeFrom(r.Context())
	ctxErr := r.Context().Err()
	if errors.Is(ctxErr, context.Canceled) {
		x.clientGone = true
		x.rec.Reason += "; the client went away: " + err.Error()
		return
	}
	kind, status, reason := upstreamUnavailable, http.StatusBadGateway, "the model server could not be reached"
	var op *net.OpError
	var ne net.Error
	switch {
	case errors.Is(err, errUpstreamRefused):
		kind, reason = upstreamRefused, "the model server refused the gateway's credential"
	case errors.Is(ctxErr, context.DeadlineExceeded) || pastDeadline(r.Context()):
		// A deadlineContext does not end at its deadline (the connection
		// does): its deadline having passed says the same.
		kind, status, reason = upstreamTimeout, http.StatusGatewayTimeout, "the model server did not finish within the upstream timeout"
	case errors.As(err, &op) && op.Op == "dial":
		// Down, even if the dial timed out.
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		kind, status, reason = upstreamTimeout, http.StatusGatewayTimeout, "the model server did not answer in time"
	}
	g.metrics.upstreamErrors.WithLabelValues(kind).Inc()
	g.render(w, x, upstreamFailure(status, reason, err))
}

// pastDeadline reports whether ctx has a deadline that has passed.
func pastDeadline(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

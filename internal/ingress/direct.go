package ingress

import (
	"io"
	"net/http"
	"strings"
	"time"
)

// proxyDirect forwards a request that the inline transport carries (plain
// HTTP/1.1 to the model server, no upgrade) without httputil.ReverseProxy,
// doing the same steps (rewrite, hop-by-hop headers, the response's
// headers and trailers, flushing streams, aborting a response cut
// midway) on the request's own header map instead of clones. The inbound
// request is the gateway's to change; ReverseProxy must assume it is not,
// and its clones and header copies were the largest part of what the
// gateway allocated per request.
func (g *Gateway) proxyDirect(w *statusWriter, r *http.Request, x *exchange, deadline time.Time) {
	out := r.WithContext(&deadlineContext{Context: r.Context(), x: x, deadline: deadline})
	out.RequestURI, out.Close = "", false
	h := out.Header
	te := hasToken(h["Te"], "trailers")
	removeHopByHop(h)
	if te {
		h["Te"] = teTrailers // as ReverseProxy: the client accepts trailers
	}
	// ReverseProxy (Rewrite) drops these before rewriting; rewriteRequest
	// states the gateway's own.
	delete(h, "X-Forwarded-For")
	delete(h, "X-Forwarded-Host")
	delete(h, "X-Forwarded-Proto")
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = noUserAgent // no Go default in its place
	}
	g.rewriteRequest(x, r, out)

	resp, err := g.inline.RoundTrip(out)
	// The request is written: the model server's credential leaves the
	// inbound request's headers, which later readers may look at.
	delete(h, "Authorization")
	if err != nil {
		g.upstreamError(w, out, err)
		return
	}
	resp.Request = out
	// Before modifyResponse, as ReverseProxy: the upstream's Connection
	// header must not name the gateway's own headers away.
	removeHopByHop(resp.Header)
	if err := g.modifyResponse(resp); err != nil {
		resp.Body.Close()
		g.upstreamError(w, out, err)
		return
	}
	dst := w.Header()
	for k, vv := range resp.Header {
		if have := dst[k]; have != nil {
			dst[k] = append(have, vv...)
		} else {
			dst[k] = vv
		}
	}
	if len(resp.Trailer) > 0 {
		names := make([]string, 0, len(resp.Trailer))
		for k := range resp.Trailer {
			names = append(names, k)
		}
		dst["Trailer"] = []string{strings.Join(names, ", ")}
	}
	w.WriteHeader(resp.StatusCode)
	stream := resp.ContentLength == -1 || mediaType(resp.Header.Get("Content-Type")) == "text/event-stream"
	if stream || len(resp.Trailer) > 0 {
		// A stream's head goes out at once, before its first event; and
		// a response with trailers must be chunked, not given a length.
		_ = http.NewResponseController(w).Flush()
	}
	if err := copyBody(w, resp.Body, stream); err != nil {
		resp.Body.Close()
		if r.Context().Err() != nil {
			x.rec.Reason += "; the client went away"
		} else {
			x.rec.Reason += "; copying the response failed: " + err.Error()
		}
		// Streaming, the status is sent: all that is left is to abort the
		// response, as ReverseProxy does (serveHTTP logs it).
		panic(http.ErrAbortHandler)
	}
	resp.Body.Close()
	for k, vv := range resp.Trailer {
		dst[http.TrailerPrefix+k] = vv
	}
}

// noUserAgent is an empty User-Agent: with it, no default is sent.
var noUserAgent = []string{""}

// teTrailers is "Te: trailers", the one TE value passed on.
var teTrailers = []string{"trailers"}

// copyBody copies a response body to the client with a pooled buffer,
// flushing after each read when the response streams (server-sent
// events, or no length) so that events pass one by one.
func copyBody(w *statusWriter, body io.Reader, stream bool) error {
	buf := copyBufferPool.Get().(*[32 << 10]byte)
	defer copyBufferPool.Put(buf)
	rc := http.NewResponseController(w)
	for {
		n, rerr := body.Read(buf[:])
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if stream {
				if err := rc.Flush(); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// hopHeaders are the hop-by-hop headers (RFC 9110 7.6.1), which a proxy
// never forwards, in canonical form.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopByHop removes the hop-by-hop headers and those Connection
// names.
func removeHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				delete(h, http.CanonicalHeaderKey(f))
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

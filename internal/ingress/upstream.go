package ingress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// inlineTransport carries plain-HTTP/1.1 requests to model servers on the
// goroutine that serves the client: it writes the request and reads the
// response itself, on a pooled keep-alive connection. http.Transport runs
// two goroutines per connection and hands every request and response
// between them and the caller; under load those hand-offs (wake-ups,
// scheduling, channel work) cost about as much CPU as the proxying
// itself. Requests it does not handle (https upstreams, where HTTP/2 may
// be negotiated, and protocol upgrades) go to fallback.
type inlineTransport struct {
	fallback              http.RoundTripper
	dialer                net.Dialer
	responseHeaderTimeout time.Duration
	// idleTimeout is how long a connection may wait in the pool. Model
	// servers close idle connections too (uvicorn after 5 s), and a
	// request sent on a connection the server is closing is retried once
	// on a new one (see roundTrip).
	idleTimeout    time.Duration
	maxIdlePerHost int
	now            func() time.Time

	mu   sync.Mutex
	idle map[string][]*upstreamConn // by host:port, most recently used last
}

func newInlineTransport(fallback http.RoundTripper, responseHeaderTimeout time.Duration) *inlineTransport {
	return &inlineTransport{
		fallback:              fallback,
		dialer:                net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		responseHeaderTimeout: responseHeaderTimeout,
		idleTimeout:           30 * time.Second,
		maxIdlePerHost:        64,
		now:                   time.Now,
		idle:                  map[string][]*upstreamConn{},
	}
}

// upstreamConn is one connection to a model server.
type upstreamConn struct {
	conn      net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	read      int64 // bytes read from conn, to tell whether a response began
	idleSince time.Time
}

func (c *upstreamConn) Read(p []byte) (int, error) {
	n, err := c.conn.Read(p)
	c.read += int64(n)
	return n, err
}

// aLongTimeAgo is a deadline that has passed: setting it makes blocked
// reads and writes on a connection return at once.
var aLongTimeAgo = time.Unix(1, 0)

// carries reports whether t (which may be nil) carries requests to u
// itself rather than handing them to fallback. forward asks it with the
// operation's WebSocket flag, RoundTrip with the Upgrade header; they
// agree because rewrite removes Upgrade from every other request, and
// must: fallback does not enforce a deadlineContext's deadline.
func (t *inlineTransport) carries(u *url.URL, upgrade bool) bool {
	return t != nil && u.Scheme == "http" && !upgrade
}

// RoundTrip implements http.RoundTripper. The context's deadline, if any,
// bounds the whole exchange, body included, as connection deadlines.
func (t *inlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.carries(req.URL, req.Header.Get("Upgrade") != "") {
		return t.fallback.RoundTrip(req)
	}
	addr := req.URL.Host
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(strings.Trim(addr, "[]"), "80")
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		c, reused, err := t.conn(ctx, addr)
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(ctx, req, c, addr)
		if err == nil {
			return resp, nil
		}
		// A connection from the pool that the server closed before any of
		// the response arrived: it was idle too long on the server's side,
		// so the server dropped the request unread. Send it once more on a
		// new connection, as nginx does with its cached connections.
		if !reused || attempt > 0 || c.read > 0 || req.GetBody == nil || ctx.Err() != nil || !closedByPeer(err) {
			return nil, err
		}
		body, gerr := req.GetBody()
		if gerr != nil {
			return nil, err
		}
		r2 := *req
		r2.Body = body
		req = &r2
	}
}

// closedByPeer reports whether err says the other side closed or reset
// the connection.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// conn returns an idle connection to addr, or dials one.
func (t *inlineTransport) conn(ctx context.Context, addr string) (*upstreamConn, bool, error) {
	if c := t.takeIdle(addr); c != nil {
		return c, true, nil
	}
	nc, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	c := &upstreamConn{conn: nc}
	c.br = bufio.NewReaderSize(c, 4096)
	c.bw = bufio.NewWriterSize(nc, 4096)
	return c, false, nil
}

func (t *inlineTransport) takeIdle(addr string) *upstreamConn {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	list := t.idle[addr]
	for len(list) > 0 {
		c := list[len(list)-1]
		list[len(list)-1] = nil
		list = list[:len(list)-1]
		if now.Sub(c.idleSince) < t.idleTimeout {
			t.idle[addr] = list
			return c
		}
		go c.conn.Close() // stale: close it off the request's path
	}
	delete(t.idle, addr)
	return nil
}

// putIdle returns c to the pool, or closes it when the pool is full.
func (t *inlineTransport) putIdle(addr string, c *upstreamConn) {
	c.idleSince = t.now()
	t.mu.Lock()
	list := t.idle[addr]
	if len(list) < t.maxIdlePerHost {
		t.idle[addr] = append(list, c)
		c = nil
	}
	t.mu.Unlock()
	if c != nil {
		c.conn.Close()
	}
}

// CloseIdleConnections closes the pooled connections (and the fallback's).
func (t *inlineTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*upstreamConn{}
	t.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.conn.Close()
		}
	}
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// exchange sends req on c and reads the response's head. The response
// body returns c to the pool when read to its end.
func (t *inlineTransport) exchange(ctx context.Context, req *http.Request, c *upstreamConn, addr string) (*http.Response, error) {
	// The context's deadline bounds everything the connection does for
	// this request. Cancelling the request unblocks whatever the
	// connection is doing; the connection is then not reused.
	deadline, _ := ctx.Deadline()
	if err := c.conn.SetDeadline(deadline); err != nil {
		c.conn.Close()
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, error) {
		stop()
		c.conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	c.read = 0
	if err := writeRequest(c.bw, req); err != nil {
		return fail(err)
	}
	if err := c.bw.Flush(); err != nil {
		return fail(err)
	}
	if t.responseHeaderTimeout > 0 {
		_ = c.conn.SetReadDeadline(earlier(t.now().Add(t.responseHeaderTimeout), deadline))
	}
	var resp *http.Response
	for {
		var err error
		if resp, err = http.ReadResponse(c.br, req); err != nil {
			return fail(err)
		}
		// 1xx answers other than 101 precede the real one.
		if resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue
		}
		break
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// Upgrades go to fallback; a server switching protocols unasked
		// is not speaking HTTP to us.
		return fail(fmt.Errorf("the model server switched protocols without being asked"))
	}
	if t.responseHeaderTimeout > 0 {
		// Back to the request's deadline for the body. A cancellation
		// that came meanwhile set a deadline in the past, which this may
		// have overwritten; its context says so, and it fails here.
		_ = c.conn.SetReadDeadline(deadline)
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
	}
	keep := !resp.Close && !req.Close
	b := &upstreamBody{t: t, c: c, addr: addr, stop: stop, keep: keep, body: resp.Body}
	if resp.Body == http.NoBody {
		b.release(true)
		return resp, nil
	}
	resp.Body = b
	return resp, nil
}

// earlier returns the earlier of a and b, where a zero time is no
// deadline at all.
func earlier(a, b time.Time) time.Time {
	if b.IsZero() || (!a.IsZero() && a.Before(b)) {
		return a
	}
	return b
}

// upstreamBody is a response body that gives its connection back when it
// has been read to the end, and closes it otherwise.
type upstreamBody struct {
	t    *inlineTransport
	c    *upstreamConn
	addr string
	stop func() bool
	keep bool
	body io.ReadCloser
	done bool
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.release(true)
	} else if err != nil {
		b.release(false)
	}
	return n, err
}

func (b *upstreamBody) Close() error {
	b.release(false)
	return nil
}

// release ends the exchange once: the connection goes back to the pool
// only when the response was read whole, the request was not cancelled
// meanwhile, and neither side asked to close.
func (b *upstreamBody) release(whole bool) {
	if b.done {
		return
	}
	b.done = true
	if b.stop() && whole && b.keep && b.c.br.Buffered() == 0 {
		_ = b.c.conn.SetDeadline(time.Time{})
		b.t.putIdle(b.addr, b.c)
		return
	}
	b.c.conn.Close()
}

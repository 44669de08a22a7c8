package ingress

import (
	"bufio"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pires/go-proxyproto"
)

// proxyListener hands out connections as they are, except those from
// trusted proxies, which may begin with a PROXY protocol v1 or v2 header
// (optional: a trusted proxy may also connect for itself). From anyone
// else a header is never parsed.
//
// go-proxyproto parses the header; the connection is ours because its Conn
// boxes a time.Time into an atomic.Value on every SetReadDeadline, which
// net/http calls several times a request: a tenth of the gateway's
// allocations went there.
type proxyListener struct {
	net.Listener
	trusted trustList
}

func (l *proxyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if !l.trusted.contains(addrPortOf(c.RemoteAddr()).Addr()) {
		return c, nil
	}
	return &proxyConn{Conn: c}, nil
}

// proxyHeaderBuffer is how much is read ahead while looking for a header;
// what follows the header is handed on from it before reads go to the
// connection directly.
const proxyHeaderBuffer = 256

// proxyConn reads an optional PROXY header before the first byte it
// returns. RemoteAddr stays the TCP peer: what the header says is for
// connPeer to weigh.
type proxyConn struct {
	net.Conn

	once   sync.Once
	header *proxyproto.Header // nil without a header (or after a failure)
	err    error              // the header's failure, returned by every Read
	br     *bufio.Reader      // bytes read past the header; nil once drained

	// Until the header is read, the deadline the server set is kept here
	// so that the header's own time limit never extends it and is undone
	// afterwards. From then on deadlines go straight to the connection.
	ready    atomic.Bool
	mu       sync.Mutex
	deadline time.Time
	limit    time.Time // the header's limit while it is read; zero otherwise
}

func (c *proxyConn) SetReadDeadline(t time.Time) error {
	if !c.ready.Load() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.deadline = t
		t = earlier(t, c.limit)
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *proxyConn) SetDeadline(t time.Time) error {
	if !c.ready.Load() {
		if err := c.Conn.SetWriteDeadline(t); err != nil {
			return err
		}
		return c.SetReadDeadline(t)
	}
	return c.Conn.SetDeadline(t)
}

// readHeader looks for a PROXY header, within readHeaderTimeout and never
// past the deadline the server set.
func (c *proxyConn) readHeader() {
	c.mu.Lock()
	c.limit = earlier(time.Now().Add(readHeaderTimeout), c.deadline)
	c.err = c.Conn.SetReadDeadline(c.limit)
	c.mu.Unlock()
	if c.err != nil {
		c.ready.Store(true)
		return
	}
	c.br = bufio.NewReaderSize(c.Conn, proxyHeaderBuffer)
	h, err := proxyproto.Read(c.br)
	switch {
	case err == nil:
		c.header = h
	case errors.Is(err, proxyproto.ErrNoProxyProtocol):
		// Not a header: the bytes peeked stay in br for the server.
	default:
		// A timeout, or a header that is not well formed: the stream is
		// unusable either way.
		c.err = err
	}
	// Best effort: a connection whose peer already closed may refuse a
	// deadline (net.Pipe does), and the next read reports that anyway; a
	// deadline left at the header's limit is only ever shorter.
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limit = time.Time{}
	_ = c.Conn.SetReadDeadline(c.deadline)
	c.ready.Store(true)
}

func (c *proxyConn) Read(b []byte) (int, error) {
	c.once.Do(c.readHeader)
	if c.err != nil {
		return 0, c.err
	}
	if c.br != nil {
		if c.br.Buffered() > 0 {
			n, err := c.br.Read(b)
			if c.br.Buffered() == 0 {
				c.br = nil
			}
			return n, err
		}
		c.br = nil
	}
	return c.Conn.Read(b)
}

// proxyHeader returns the connection's PROXY header, or nil.
func (c *proxyConn) proxyHeader() *proxyproto.Header {
	c.once.Do(c.readHeader)
	return c.header
}

// peer is the TCP peer.
func (c *proxyConn) peer() netip.AddrPort { return addrPortOf(c.Conn.RemoteAddr()) }

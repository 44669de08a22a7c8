package ingress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scriptedServer accepts connections on loopback and hands each to serve,
// counting connections and requests.
type scriptedServer struct {
	ln    net.Listener
	conns atomic.Int32
	reqs  atomic.Int32
	wg    sync.WaitGroup
}

func newScriptedServer(t *testing.T, serve func(s *scriptedServer, c net.Conn, br *bufio.Reader)) *scriptedServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptedServer{ln: ln}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			s.wg.Go(func() {
				defer c.Close()
				serve(s, c, bufio.NewReader(c))
			})
		}
	})
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// next reads one request (head and body); false when the client closed.
func (s *scriptedServer) next(br *bufio.Reader) (*http.Request, bool) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, false
	}
	_, _ = io.Copy(io.Discard, req.Body)
	s.reqs.Add(1)
	return req, true
}

func (s *scriptedServer) url(path string) string { return "http://" + s.ln.Addr().String() + path }

const okResponse = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"

// keepAlive answers every request on a connection with okResponse.
func keepAlive(s *scriptedServer, c net.Conn, br *bufio.Reader) {
	for {
		if _, ok := s.next(br); !ok {
			return
		}
		if _, err := io.WriteString(c, okResponse); err != nil {
			return
		}
	}
}

// recordingFallback is a fallback transport that must not be used unless
// a test says so.
type recordingFallback struct{ calls atomic.Int32 }

func (f *recordingFallback) RoundTrip(*http.Request) (*http.Response, error) {
	f.calls.Add(1)
	return nil, errors.New("fallback used")
}

func newTestTransport(t *testing.T) (*inlineTransport, *recordingFallback) {
	fb := &recordingFallback{}
	tr := newInlineTransport(fb, 5*time.Second)
	t.Cleanup(tr.CloseIdleConnections)
	return tr, fb
}

func post(t *testing.T, ctx context.Context, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInlineTransportReusesConnections(t *testing.T) {
	s := newScriptedServer(t, keepAlive)
	tr, fb := newTestTransport(t)
	for i := range 5 {
		resp, err := tr.RoundTrip(post(t, t.Context(), s.url("/v1/chat/completions"), fmt.Sprintf(`{"n":%d}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); resp.StatusCode != 200 || got != `{"ok":true}` {
			t.Fatalf("%d %q", resp.StatusCode, got)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("%d connections for 5 sequential requests, want 1", n)
	}
	if fb.calls.Load() != 0 {
		t.Fatal("plain HTTP went to the fallback")
	}
}

func TestInlineTransportSendsTheRequestAsGiven(t *testing.T) {
	got := make(chan string, 1)
	s := newScriptedServer(t, func(s *scriptedServer, c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		b, _ := io.ReadAll(req.Body)
		got <- fmt.Sprintf("%s %s host=%s auth=%s len=%d body=%s", req.Method, req.URL.RequestURI(), req.Host,
			req.Header.Get("Authorization"), req.ContentLength, b)
		_, _ = io.WriteString(c, okResponse)
	})
	tr, _ := newTestTransport(t)
	req := post(t, t.Context(), s.url("/v1/embeddings?x=1"), `{"input":"hi"}`)
	req.Header.Set("Authorization", "Bearer upstream-secret")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	want := fmt.Sprintf("POST /v1/embeddings?x=1 host=%s auth=Bearer upstream-secret len=14 body={\"input\":\"hi\"}", s.ln.Addr())
	if g := <-got; g != want {
		t.Fatalf("upstream saw\n %s\nwant\n %s", g, want)
	}
}

// A pooled connection that the server has closed (its idle timeout) is
// found out when the request meets EOF before any answer: the request is
// sent again on a new connection, once.
func TestInlineTransportRetriesOnAConnectionTheServerClosed(t *testing.T) {
	s := newScriptedServer(t, func(s *scriptedServer, c net.Conn, br *bufio.Reader) {
		// One answer per connection, then close without saying so.
		if _, ok := s.next(br); ok {
			_, _ = io.WriteString(c, okResponse)
		}
	})
	tr, _ := newTestTransport(t)
	for i := range 3 {
		resp, err := tr.RoundTrip(post(t, t.Context(), s.url("/v1/chat/completions"), `{}`))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		readAll(t, resp)
	}
	if n := s.reqs.Load(); n != 3 {
		t.Fatalf("the server read %d requests for 3 sent, want 3 (a retry must not repeat a request the server read)", n)
	}
	if n := s.conns.Load(); n < 3 {
		t.Fatalf("%d connections, want at least 3", n)
	}
}

// Once any of the answer has arrived the request was processed: the
// error goes to the caller, nothing is sent again.
func TestInlineTransportDoesNotRetryAnAnswerBegun(t *testing.T) {
	s := newScriptedServer(t, func(s *scriptedServer, c net.Conn, br *bufio.Reader) {
		if _, ok := s.next(br); !ok {
			return
		}
		if s.reqs.Load() == 1 {
			_, _ = io.WriteString(c, okResponse) // the first request succeeds and pools the connection
			if _, ok := s.next(br); !ok {
				return
			}
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Le") // then dies mid-answer
	})
	tr, _ := newTestTransport(t)
	resp, err := tr.RoundTrip(post(t, t.Context(), s.url("/"), `{}`))
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if _, err := tr.RoundTrip(post(t, t.Context(), s.url("/"), `{}`)); err == nil {
		t.Fatal("a broken answer was not an error")
	}
	if n := s.reqs.Load(); n != 2 {
		t.Fatalf("the server read %d requests, want 2: the second must not be sent again", n)
	}
}

func TestInlineTransportClosesConnectionsItCannotReuse(t *testing.T) {
	cases := []struct {
		name     string
		response string
		readAll  bool
	}{
		{"body not read to the end", "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\":true}", false},
		{"server says close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 11\r\n\r\n{\"ok\":true}", true},
		{"body ends with the connection", "HTTP/1.1 200 OK\r\n\r\n{\"ok\":true}", true},
		{"more bytes than the answer", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}garbage", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newScriptedServer(t, func(s *scriptedServer, conn net.Conn, br *bufio.Reader) {
				for {
					if _, ok := s.next(br); !ok {
						return
					}
					if _, err := io.WriteString(conn, c.response); err != nil {
						return
					}
					if !strings.Contains(c.response, "Length") || strings.Contains(c.response, "close") {
						return // close-delimited or announced close
					}
				}
			})
			tr, _ := newTestTransport(t)
			for range 2 {
				resp, err := tr.RoundTrip(post(t, t.Context(), s.url("/"), `{}`))
				if err != nil {
					t.Fatal(err)
				}
				if c.readAll {
					_, _ = io.ReadAll(resp.Body)
				}
				resp.Body.Close()
			}
			if n := s.conns.Load(); n != 2 {
				t.Fatalf("%d connections for 2 requests, want 2 (the first must not be reused)", n)
			}
		})
	}
}

func TestInlineTransportStreamsChunkedBodies(t *testing.T) {
	next := make(chan struct{})
	s := newScriptedServer(t, func(s *scriptedServer, c net.Conn, br *bufio.Reader) {
		for {
			if _, ok := s.next(br); !ok {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n")
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
			_, _ = io.WriteString(c, "7\r\ndata: 1\r\n")
			select {
			case <-next:
			case <-time.After(5 * time.Second):
				return
			}
			_, _ = io.WriteString(c, "7\r\ndata: 2\r\n0\r\n\r\n")
		}
	})
	tr, _ := newTestTransport(t)
	for range 2 {
		resp, err := tr.RoundTrip(post(t, t.Context(), s.url("/"), `{}`))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: the 103 was not skipped", resp.StatusCode)
		}
		buf := make([]byte, 7)
		if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "data: 1" {
			t.Fatalf("first chunk %q %v: held back until the end", buf, err)
		}
		next <- struct{}{}
		if rest := readAll(t, resp); rest != "data: 2" {
			t.Fatalf("rest %q", rest)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1: a chunked body read to its end frees the connection", n)
	}
}

func TestInlineTransportCancellation(t *testing.T) {
	hold := make(chan struct{})
	s := newScriptedServer(t, func(s *scriptedServer, c net.Conn, br *bufio.Reader) {
		if _, ok := s.next(br); !ok {
			return
		}
		if s.reqs.Load() == 2 {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
		}
		<-hold
	})
	t.Cleanup(func() { close(hold) }) // before the server's cleanup, which waits for this handler
	tr, _ := newTestTransport(t)

	t.Run("waiting for the answer", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := tr.RoundTrip(post(t, ctx, s.url("/"), `{}`))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	})
	t.Run("reading the body", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		resp, err := tr.RoundTrip(post(t, ctx, s.url("/"), `{}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 3)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(50*time.Millisecond, cancel)
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Fatal("a cancelled stream ended without an error")
		}
	})
}

func TestInlineTransportResponseHeaderTimeout(t *testing.T) {
	hold := make(chan struct{})
	s := newScriptedServer(t, func(s *scriptedServer, c net.Conn, br *bufio.Reader) {
		s.next(br)
		<-hold
	})
	t.Cleanup(func() { close(hold) }) // before the server's cleanup, which waits for this handler
	tr, _ := newTestTransport(t)
	tr.responseHeaderTimeout = 50 * time.Millisecond
	_, err := tr.RoundTrip(post(t, t.Context(), s.url("/"), `{}`))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err %v, want a timeout", err)
	}
}

// TestInlineTransportContextDeadline: the context's deadline bounds the
// exchange through the connection, both before the response begins and
// while its body is read, even when the context itself never ends (as
// the gateway's deadlineContext does not).
func TestInlineTransportContextDeadline(t *testing.T) {
	hold := make(chan struct{})
	silent := newScriptedServer(t, func(s *scriptedServer, c net.Conn, br *bufio.Reader) {
		s.next(br)
		<-hold
	})
	trickle := newScriptedServer(t, func(s *scriptedServer, c net.Conn, br *bufio.Reader) {
		s.next(br)
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
		<-hold
	})
	t.Cleanup(func() { close(hold) })
	tr, _ := newTestTransport(t)
	ctx := &deadlineContext{Context: context.Background(), deadline: time.Now().Add(100 * time.Millisecond)}

	var ne net.Error
	if _, err := tr.RoundTrip(post(t, ctx, silent.url("/"), `{}`)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("no response by the deadline: %v, want a timeout", err)
	}
	ctx.deadline = time.Now().Add(100 * time.Millisecond)
	resp, err := tr.RoundTrip(post(t, ctx, trickle.url("/"), `{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("a body unfinished at the deadline: %v, want a timeout", err)
	}
}

func TestInlineTransportDropsStaleIdleConnections(t *testing.T) {
	s := newScriptedServer(t, keepAlive)
	tr, _ := newTestTransport(t)
	now := time.Now()
	tr.now = func() time.Time { return now }
	do := func() {
		resp, err := tr.RoundTrip(post(t, t.Context(), s.url("/"), `{}`))
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
	}
	do()
	now = now.Add(tr.idleTimeout + time.Second)
	do()
	if n := s.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2: a connection idle past idleTimeout must not be used", n)
	}
}

func TestInlineTransportBoundsItsPool(t *testing.T) {
	s := newScriptedServer(t, keepAlive)
	tr, _ := newTestTransport(t)
	tr.maxIdlePerHost = 2
	var resps []*http.Response
	for range 4 {
		resp, err := tr.RoundTrip(post(t, t.Context(), s.url("/"), `{}`))
		if err != nil {
			t.Fatal(err)
		}
		resps = append(resps, resp)
	}
	for _, r := range resps {
		readAll(t, r)
	}
	tr.mu.Lock()
	n := len(tr.idle[s.ln.Addr().String()])
	tr.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d idle connections, want the bound 2", n)
	}
}

func TestInlineTransportLeavesOthersToTheFallback(t *testing.T) {
	tr, fb := newTestTransport(t)
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodPost, "https://model.example/v1/chat/completions", strings.NewReader("{}")),
		func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:1/v1/realtime", nil)
			r.Header.Set("Upgrade", "websocket")
			return r
		}(),
	} {
		r.RequestURI = ""
		if _, err := tr.RoundTrip(r); err == nil || err.Error() != "fallback used" {
			t.Fatalf("%s %s: %v, want the fallback", r.Method, r.URL, err)
		}
	}
	if fb.calls.Load() != 2 {
		t.Fatalf("fallback used %d times, want 2", fb.calls.Load())
	}
}

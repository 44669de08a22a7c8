package ingress

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// The plain-HTTP path (proxyDirect) and ReverseProxy, which serves other
// upstreams, must behave alike: each test runs on both.

// viaRP forces the ReverseProxy path with the same inline transport.
func viaRP(c *Config) { c.Transport = newInlineTransport(newTransport(time.Minute), time.Minute) }

func modes(t *testing.T, f func(t *testing.T, h *harness)) {
	for _, m := range []struct {
		name string
		opts []option
	}{{"direct", nil}, {"reverseproxy", []option{viaRP}}} {
		t.Run(m.name, func(t *testing.T) { f(t, newHarness(t, m.opts...)) })
	}
}

// TestDirectUpstreamConnectionStripsGatewayHeaders: the model server's
// Connection header cannot name the gateway's own headers away.
func TestDirectUpstreamConnectionStripsGatewayHeaders(t *testing.T) {
	modes(t, func(t *testing.T, h *harness) {
		h.up.handle(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "Strict-Transport-Security, X-Content-Type-Options, Apim-Request-Id, X-Ms-Request-Id")
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"x"}`)
		})
		a := h.chat(h.client(false), "open")
		for _, k := range []string{"Strict-Transport-Security", "X-Content-Type-Options", "Apim-Request-Id", "X-Ms-Request-Id"} {
			if a.Header.Get(k) == "" {
				t.Errorf("the upstream's Connection header removed the gateway's %s", k)
			}
		}
	})
}

// TestDirectTeTrailers: "Te: trailers" is the one TE value passed on.
func TestDirectTeTrailers(t *testing.T) {
	modes(t, func(t *testing.T, h *harness) {
		for _, h2 := range []bool{false, true} {
			a := h.chat(h.client(h2), "open", "Te: trailers")
			if a.StatusCode != http.StatusOK {
				t.Fatalf("h2=%v: status %d", h2, a.StatusCode)
			}
			if got := h.up.last(t).Header.Values("Te"); len(got) != 1 || got[0] != "trailers" {
				t.Errorf("h2=%v: upstream Te %q, want trailers", h2, got)
			}
		}
	})
}

// TestDirectHeaderAfterForward: the model server's credential does not
// stay in the inbound request's headers, which a wrapping handler may read.
func TestDirectHeaderAfterForward(t *testing.T) {
	modes(t, func(t *testing.T, h *harness) {
		var after http.Header
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.gw.Handler().ServeHTTP(w, r)
			after = r.Header.Clone()
		}))
		defer srv.Close()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+chatPath, strings.NewReader(chatBody))
		req.Host = host("open")
		req.Header.Set("api-key", key1)
		req.Header.Set("User-Agent", "client/1")
		req.Header.Set("X-Forwarded-For", "198.51.100.9")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || h.up.last(t).Header.Get("Authorization") != "Bearer "+upstreamKey {
			t.Fatalf("status %d: the request did not reach the model server with its credential", resp.StatusCode)
		}
		if strings.Contains(after.Get("Authorization"), upstreamKey) {
			t.Errorf("the inbound request's Authorization now holds the model server's credential")
		}
	})
}

// TestDirectUpstreamCutMidBody: a model server that dies midway aborts the
// client's response, and the record says so.
func TestDirectUpstreamCutMidBody(t *testing.T) {
	for _, rp := range []bool{false, true} {
		t.Run(fmt.Sprint("rp=", rp), func(t *testing.T) {
			var buf syncBuf
			opts := []option{func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&buf, nil)) }}
			if rp {
				opts = append(opts, viaRP)
			}
			h := newHarness(t, opts...)
			h.up.handle(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.Header().Set("Content-Length", "1000")
				w.WriteHeader(200)
				io.WriteString(w, "data: {}\n\n")
				w.(http.Flusher).Flush()
				time.Sleep(50 * time.Millisecond)
				c, _, _ := http.NewResponseController(w).Hijack()
				c.Close()
			})
			resp := h.openChat(h.client(false))
			_, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Error("a response cut midway reached the client as if complete")
			}
			if r := h.log.find(t, resp.Header.Get("Apim-Request-Id")); !strings.Contains(r.Reason, "cut off") {
				t.Errorf("record reason %q, want the response cut off", r.Reason)
			}
		})
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestDirectClientGoneMidStream: a client leaving a stream ends the
// upstream's.
func TestDirectClientGoneMidStream(t *testing.T) {
	modes(t, func(t *testing.T, h *harness) {
		upDone := make(chan error, 1)
		h.up.handle(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(w, "data: {\"n\":%d}\n\n", i); err != nil {
					upDone <- err
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					upDone <- r.Context().Err()
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
		resp := h.openChat(h.client(false))
		br := bufio.NewReader(resp.Body)
		if line, _ := br.ReadString('\n'); !strings.HasPrefix(line, "data: ") {
			t.Fatalf("first line %q, want an event", line)
		}
		resp.Body.Close()
		select {
		case <-upDone:
		case <-time.After(5 * time.Second):
			t.Errorf("the upstream stream went on after the client left")
		}
	})
}

// TestDirectUnknownLengthFlushed: a body without a length passes as it
// comes, not buffered.
func TestDirectUnknownLengthFlushed(t *testing.T) {
	modes(t, func(t *testing.T, h *harness) {
		next := make(chan struct{})
		h.up.handle(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "{\"a\":1,\n")
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-time.After(5 * time.Second):
			}
			io.WriteString(w, "\"b\":2}")
		})
		resp := h.openChat(h.client(true))
		defer resp.Body.Close()
		got := make(chan string, 1)
		go func() { l, _ := bufio.NewReader(resp.Body).ReadString('\n'); got <- l }()
		select {
		case l := <-got:
			if l != "{\"a\":1,\n" {
				t.Errorf("first part %q", l)
			}
		case <-time.After(3 * time.Second):
			t.Errorf("unknown-length body buffered")
		}
		close(next)
	})
}

package ingress

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStreamingPassesEventsThrough: the client has each event while the
// upstream is still waiting to send the next — nothing is buffered — and
// the usage of the final chunk reaches the log.
func TestStreamingPassesEventsThrough(t *testing.T) {
	h := newHarness(t)
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			next := make(chan struct{})
			h.up.handle(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				f := w.(http.Flusher)
				fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"first\"}}]}\n\n")
				f.Flush()
				select {
				case <-next:
				case <-time.After(5 * time.Second):
					return // the client never saw the first event
				}
				fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"second\"}}]}\n\n")
				fmt.Fprint(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":2,\"total_tokens\":13}}\r\n\r\n")
				fmt.Fprint(w, "data: [DONE]\n\n")
			})
			body := strings.Replace(chatBody, `"temperature"`, `"stream":true,"stream_options":{"include_usage":true},"temperature"`, 1)
			req, _ := http.NewRequest(http.MethodPost, "https://"+host("open")+chatPath, strings.NewReader(body))
			req.Header.Set("api-key", key1)
			resp, err := h.client(h2).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || (resp.ProtoMajor == 2) != h2 {
				t.Fatalf("%s %d %s", resp.Proto, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			br := bufio.NewReader(resp.Body)
			first := make(chan string, 1)
			go func() {
				line, _ := br.ReadString('\n')
				first <- line
			}()
			select {
			case line := <-first:
				if !strings.Contains(line, "first") {
					t.Fatalf("first line %q", line)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("the first event did not arrive while the upstream held the rest: the stream is buffered")
			}
			close(next)
			rest, err := io.ReadAll(br)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(rest), "second") || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
				t.Errorf("rest of the stream %q", rest)
			}
			r := h.log.find(t, resp.Header.Get("Apim-Request-Id"))
			if r.PromptTokens != 11 || r.CompletionTokens != 2 || r.Status != 200 {
				t.Errorf("record tokens %d/%d status %d", r.PromptTokens, r.CompletionTokens, r.Status)
			}
			if up := h.up.last(t); up.Body["stream"] != true {
				t.Errorf("upstream body %v", up.Body)
			}
		})
	}
}

// TestWebSocket: an upgrade passes the same checks, then both directions
// flow through the gateway.
func TestWebSocket(t *testing.T) {
	h := newHarness(t)
	h.up.handle(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n")
		_ = brw.Flush()
		buf := make([]byte, 4)
		if _, err := io.ReadFull(brw, buf); err == nil {
			_, _ = conn.Write([]byte(strings.ToUpper(string(buf))))
		}
	})
	upgrade := func(account, key string) (*http.Response, *bufio.Reader, io.WriteCloser) {
		conn, br := h.raw(host(account))
		fmt.Fprintf(conn, "GET /openai/realtime?api-version=2024-10-01-preview&deployment=chat HTTP/1.1\r\nHost: %s\r\n"+
			"Api-Key: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+
			"Sec-WebSocket-Protocol: realtime, openai-insecure-api-key.%s\r\n\r\n", host(account), key, key)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp, br, conn
	}
	resp, br, w := upgrade("open", key1)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	_, _ = w.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "PING" {
		t.Fatalf("echo %q %v", buf, err)
	}
	up := h.up.last(t)
	if up.Path != "/v1/realtime" || up.RawQuery != "model="+upModel || up.Header.Get("Authorization") != "Bearer "+upstreamKey ||
		up.Header.Get("Api-Key") != "" || up.Header.Get("Sec-Websocket-Protocol") != "realtime" {
		t.Errorf("upstream saw %s?%s %v", up.Path, up.RawQuery, up.Header)
	}
	// The session is logged when it ends.
	w.Close()
	if r := h.log.find(t, resp.Header.Get("Apim-Request-Id")); r.Status != http.StatusSwitchingProtocols || r.Operation != "realtime" {
		t.Errorf("record %+v", r)
	}

	// The v1 form names the deployment in model.
	conn, br2 := h.raw(host("open"))
	fmt.Fprintf(conn, "GET /openai/v1/realtime?model=chat HTTP/1.1\r\nHost: %s\r\nApi-Key: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", host("open"), key1)
	if resp, err := http.ReadResponse(br2, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("v1 realtime: %v %v", resp, err)
	}
	conn.Close()

	n := h.up.count()
	if resp, _, _ := upgrade("locked", key1); resp.StatusCode != http.StatusForbidden {
		t.Errorf("refused address: %d", resp.StatusCode)
	}
	if resp, _, _ := upgrade("open", "nope"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong key: %d", resp.StatusCode)
	}
	if h.up.count() != n {
		t.Error("a refused upgrade reached the upstream")
	}
}

// TestUpgradeOnlyWhereAsked: an Upgrade header on a completion is not
// passed on.
func TestUpgradeOnlyWhereAsked(t *testing.T) {
	h := newHarness(t)
	conn, br := h.raw(host("open"))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nApi-Key: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: %d\r\n\r\n%s",
		chatPath, host("open"), key1, len(chatBody), chatBody)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if up := h.up.last(t); up.Header.Get("Upgrade") != "" || up.Header.Get("Connection") != "" {
		t.Errorf("upstream got %v", up.Header)
	}
}

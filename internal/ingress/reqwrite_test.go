package ingress

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// readBack parses what write wrote as a request.
func readBack(t *testing.T, write func(*bufio.Writer) error) (*http.Request, []byte, error) {
	t.Helper()
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := write(w); err != nil {
		return nil, nil, err
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatalf("unparseable request %q: %v", buf.String(), err)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return r, body, nil
}

// TestWriteRequestMatchesRequestWrite: what a model server reads is what
// http.Request.Write would have sent, and headers that could split the
// request are refused as req.Write refuses them.
func TestWriteRequestMatchesRequestWrite(t *testing.T) {
	newReq := func(method, body string, h map[string]string) *http.Request {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		r, err := http.NewRequest(method, "http://127.0.0.1:9000/v1/chat/completions?x=a%20b", rd)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			r.Header.Set(k, v)
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		method string
		body   string
		header map[string]string
	}{
		{"post", http.MethodPost, `{"model":"m"}`, map[string]string{"Content-Type": "application/json", "Authorization": "Bearer k", "X-Forwarded-For": "203.0.113.9", "User-Agent": "openai-go"}},
		{"empty post", http.MethodPost, "", map[string]string{"User-Agent": ""}},
		{"get", http.MethodGet, "", map[string]string{"Accept": "application/json"}},
		{"delete", http.MethodDelete, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, wantBody, err := readBack(t, func(w *bufio.Writer) error { return newReq(tc.method, tc.body, tc.header).Write(w) })
			if err != nil {
				t.Fatal(err)
			}
			got, gotBody, err := readBack(t, func(w *bufio.Writer) error { return writeRequest(w, newReq(tc.method, tc.body, tc.header)) })
			if err != nil {
				t.Fatal(err)
			}
			if got.Method != want.Method || got.RequestURI != want.RequestURI || got.Host != want.Host || got.ContentLength != want.ContentLength || string(gotBody) != string(wantBody) {
				t.Errorf("got %s %s host %s length %d body %q; req.Write sent %s %s host %s length %d body %q",
					got.Method, got.RequestURI, got.Host, got.ContentLength, gotBody, want.Method, want.RequestURI, want.Host, want.ContentLength, wantBody)
			}
			want.Header.Del("User-Agent") // req.Write adds Go's own when none is set
			got.Header.Del("User-Agent")
			for k := range want.Header {
				if got.Header.Get(k) != want.Header.Get(k) {
					t.Errorf("header %s: %q, req.Write sent %q", k, got.Header.Get(k), want.Header.Get(k))
				}
			}
			if len(got.Header) != len(want.Header) {
				t.Errorf("headers %v, req.Write sent %v", got.Header, want.Header)
			}
		})
	}

	for _, h := range []http.Header{
		{"X-Bad": {"a\r\nX-Injected: 1"}},
		{"X-Bad\r\nX-Injected": {"1"}},
		{"Bad Key": {"1"}},
	} {
		r := newReq(http.MethodPost, "{}", nil)
		for k, v := range h {
			r.Header[k] = v
		}
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		err := writeRequest(w, r)
		_ = w.Flush()
		if err != nil {
			continue // refused, as req.Write refuses an invalid header name
		}
		for line := range strings.SplitSeq(buf.String(), "\r\n") {
			if strings.HasPrefix(line, "X-Injected") || strings.HasPrefix(line, "\nX-Injected") {
				t.Errorf("header %v split the request: %q", h, buf.String())
			}
		}
	}
}

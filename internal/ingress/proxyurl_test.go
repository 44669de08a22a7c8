package ingress

import "testing"

// TestCachedUpstreamURL: cached answers are the caller's own to change,
// and bad upstreams are refused every time.
func TestCachedUpstreamURL(t *testing.T) {
	for range 2 {
		u, err := cachedUpstreamURL("http://127.0.0.1:9000/v1/", "/chat/completions")
		if err != nil {
			t.Fatal(err)
		}
		if got := u.String(); got != "http://127.0.0.1:9000/v1/chat/completions" {
			t.Fatalf("URL %s", got)
		}
		u.RawQuery = "model=changed" // as forward does for WebSocket
	}
	for range 2 {
		if _, err := cachedUpstreamURL("ftp://user@127.0.0.1/", "/x"); err == nil {
			t.Fatal("a non-http upstream was accepted")
		}
	}
}

func TestMediaType(t *testing.T) {
	for in, want := range map[string]string{
		"application/json":                  "application/json",
		"application/json; charset=utf-8":   "application/json",
		" Text/Event-Stream ;charset=UTF-8": "text/event-stream",
		"":                                  "",
	} {
		if got := mediaType(in); got != want {
			t.Errorf("mediaType(%q) = %q, want %q", in, got, want)
		}
	}
}

package ingress

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/accesslog"
)

// TestRequests: routes, api-versions and bad input, each answered and
// logged, with the gateway serving on afterwards.
func TestRequests(t *testing.T) {
	h := newHarness(t)
	c := h.client(true)
	acct := "https://" + host("open")
	key := "api-key: " + key1
	tests := []struct {
		name           string
		method, url    string
		body           string
		headers        []string
		status         int
		code           string // error.code, for refusals
		logCode        string
		upstreamPath   string // for allowed requests: where it went
		operation, dep string
	}{
		{"chat", "POST", acct + chatPath, chatBody, nil, 200, "", "Allowed", "/v1/chat/completions", "chat/completions", "chat"},
		{"openai host", "POST", "https://open.openai." + base + chatPath, chatBody, nil, 200, "", "Allowed", "/v1/chat/completions", "chat/completions", "chat"},
		{"deployment name in another case", "POST", acct + "/openai/deployments/CHAT/chat/completions?api-version=" + apiVersion, chatBody, nil, 200, "", "Allowed", "/v1/chat/completions", "chat/completions", "chat"},
		{"completions", "POST", acct + "/openai/deployments/chat/completions?api-version=2023-05-15", `{"prompt":"x"}`, nil, 200, "", "Allowed", "/v1/completions", "completions", "chat"},
		{"embeddings", "POST", acct + "/openai/deployments/embed/embeddings?api-version=2024-06-01", `{"input":"x"}`, nil, 200, "", "Allowed", "/v1/embeddings", "embeddings", "embed"},
		{"v1 chat", "POST", acct + "/openai/v1/chat/completions", `{"model":"chat","messages":[]}`, nil, 200, "", "Allowed", "/v1/chat/completions", "chat/completions", "chat"},
		{"v1 with api-version=preview", "POST", acct + "/openai/v1/embeddings?api-version=preview", `{"model":"embed","input":"x"}`, nil, 200, "", "Allowed", "/v1/embeddings", "embeddings", "embed"},
		{"a later dated api-version", "POST", acct + "/openai/deployments/chat/chat/completions?api-version=2025-11-01-preview", chatBody, nil, 200, "", "Allowed", "/v1/chat/completions", "chat/completions", "chat"},

		{"unknown deployment", "POST", acct + "/openai/deployments/nope/chat/completions?api-version=" + apiVersion, chatBody, nil, 404, "DeploymentNotFound", CodeDeploymentNotFound, "", "chat/completions", "nope"},
		{"deployment not ready", "POST", acct + "/openai/deployments/pending/chat/completions?api-version=" + apiVersion, chatBody, nil, 404, "DeploymentNotFound", CodeDeploymentNotFound, "", "chat/completions", "pending"},
		{"v1 unknown deployment", "POST", acct + "/openai/v1/chat/completions", `{"model":"nope"}`, nil, 404, "DeploymentNotFound", CodeDeploymentNotFound, "", "chat/completions", "nope"},
		{"v1 without model", "POST", acct + "/openai/v1/chat/completions", `{"messages":[]}`, nil, 400, "BadRequest", CodeBadRequest, "", "chat/completions", ""},
		{"v1 with a dated api-version", "POST", acct + "/openai/v1/chat/completions?api-version=2024-10-21", `{"model":"chat"}`, nil, 400, "BadRequest", CodeAPIVersionNotSupported, "", "chat/completions", ""},
		{"missing api-version", "POST", acct + "/openai/deployments/chat/chat/completions", chatBody, nil, 400, "BadRequest", CodeAPIVersionMissing, "", "chat/completions", "chat"},
		{"empty api-version", "POST", acct + "/openai/deployments/chat/chat/completions?api-version=", chatBody, nil, 400, "BadRequest", CodeAPIVersionMissing, "", "chat/completions", "chat"},
		{"garbage api-version", "POST", acct + "/openai/deployments/chat/chat/completions?api-version=yesterday", chatBody, nil, 400, "BadRequest", CodeAPIVersionNotSupported, "", "chat/completions", "chat"},
		{"impossible date", "POST", acct + "/openai/deployments/chat/chat/completions?api-version=2025-13-45", chatBody, nil, 400, "BadRequest", CodeAPIVersionNotSupported, "", "chat/completions", "chat"},
		{"two api-versions", "POST", acct + "/openai/deployments/chat/chat/completions?api-version=2024-10-21&api-version=2024-06-01", chatBody, nil, 400, "BadRequest", CodeAPIVersionNotSupported, "", "chat/completions", "chat"},
		{"malformed JSON", "POST", acct + chatPath, `{"messages":[`, nil, 400, "BadRequest", CodeBadRequest, "", "chat/completions", "chat"},
		{"JSON that is not an object", "POST", acct + chatPath, `[1,2]`, nil, 400, "BadRequest", CodeBadRequest, "", "chat/completions", "chat"},
		{"two JSON values", "POST", acct + chatPath, `{} {}`, nil, 400, "BadRequest", CodeBadRequest, "", "chat/completions", "chat"},
		{"empty body", "POST", acct + chatPath, ``, nil, 400, "BadRequest", CodeBadRequest, "", "chat/completions", "chat"},
		{"operation the model lacks", "POST", acct + "/openai/deployments/embed/chat/completions?api-version=" + apiVersion, chatBody, nil, 400, "OperationNotSupported", CodeOperationNotSupported, "", "chat/completions", "embed"},
		{"unknown path", "POST", acct + "/openai/deployments/chat/images/generations?api-version=" + apiVersion, chatBody, nil, 404, "404", CodeNotFound, "", "", ""},
		{"root", "GET", acct + "/", "", nil, 404, "404", CodeNotFound, "", "", ""},
		{"wrong method", "GET", acct + chatPath, "", nil, 405, "405", CodeMethodNotAllowed, "", "chat/completions", "chat"},
		{"realtime without upgrade", "GET", acct + "/openai/realtime?deployment=chat&api-version=2024-10-01-preview", "", nil, 400, "BadRequest", CodeBadRequest, "", "realtime", "chat"},
		{"a model without an upstream", "POST", acct + "/openai/deployments/mock/chat/completions?api-version=" + apiVersion, chatBody, nil, 502, "BadGateway", "Allowed", "", "chat/completions", "mock"},
		{"chunked body over the limit", "POST", acct + chatPath, "", []string{"X-Big: 1"}, 413, "RequestEntityTooLarge", CodeBodyTooLarge, "", "chat/completions", "chat"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := h.up.count()
			var a answer
			if len(tc.headers) > 0 && tc.headers[0] == "X-Big: 1" {
				// A body of unknown length, larger than MaxBodyBytes (1 MiB).
				pr, pw := io.Pipe()
				go func() {
					_, _ = pw.Write([]byte(`{"messages":"` + strings.Repeat("a", 2<<20) + `"}`))
					pw.Close()
				}()
				req, _ := http.NewRequest(tc.method, tc.url, pr)
				req.Header.Set("api-key", key1)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				a = answer{Response: resp, Body: b, ID: resp.Header.Get("apim-request-id")}
			} else {
				a = h.do(c, tc.method, tc.url, tc.body, append([]string{key}, tc.headers...)...)
			}
			if a.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", a.StatusCode, tc.status, a.Body)
			}
			r := h.log.find(t, a.ID)
			if r.Code != tc.logCode || r.Operation != tc.operation || r.Deployment != tc.dep || r.Status != tc.status {
				t.Errorf("record code %q operation %q deployment %q status %d", r.Code, r.Operation, r.Deployment, r.Status)
			}
			if tc.status != 200 {
				if a.errorCode() != tc.code || a.errorMessage() == "" {
					t.Errorf("body %s, want code %s", a.Body, tc.code)
				}
				if h.up.count() != before {
					t.Error("the request reached the upstream")
				}
				return
			}
			if r.Result != accesslog.Allowed || r.PromptTokens != 7 || r.CompletionTokens != 3 {
				t.Errorf("record result %s tokens %d/%d", r.Result, r.PromptTokens, r.CompletionTokens)
			}
			up := h.up.last(t)
			if up.Path != tc.upstreamPath || up.RawQuery != "" {
				t.Errorf("upstream path %s?%s, want %s", up.Path, up.RawQuery, tc.upstreamPath)
			}
			if want := map[string]string{"chat": upModel, "embed": "embed-test"}[tc.dep]; up.Body["model"] != want {
				t.Errorf("upstream model %v, want %s", up.Body["model"], want)
			}
		})
	}
}

// TestUpstreamRequest: what the upstream receives and what the client
// gets back. Credentials cross in neither direction; hop-by-hop headers
// stop at the gateway; forwarding headers say what the gateway decided.
func TestUpstreamRequest(t *testing.T) {
	h := newHarness(t)
	c := h.client(false)
	a := h.chat(c, "locked",
		"X-Forwarded-For: 203.0.113.9",
		"X-Forwarded-Host: evil.example", "X-Forwarded-Proto: http", "X-Real-IP: 198.51.100.1", "Forwarded: for=198.51.100.1",
		"Cookie: session=client-secret", "Ocp-Apim-Subscription-Key: "+key2,
		"Connection: X-Hop", "X-Hop: client-hop", "Proxy-Authorization: Basic Zm9vOmJhcg==", "Te: gzip",
		"Accept-Encoding: gzip", "X-Custom: kept")
	if a.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", a.StatusCode, a.Body)
	}
	up := h.up.last(t)
	if up.Method != http.MethodPost || up.Path != "/v1/chat/completions" {
		t.Errorf("upstream request %s %s", up.Method, up.Path)
	}
	if got := up.Header.Get("Authorization"); got != "Bearer "+upstreamKey {
		t.Errorf("upstream Authorization %q", got)
	}
	for _, k := range []string{"Api-Key", "Ocp-Apim-Subscription-Key", "Cookie", "X-Hop", "Proxy-Authorization", "X-Real-Ip", "Forwarded", "Accept-Encoding", "Te"} {
		if v := up.Header.Values(k); len(v) > 0 {
			t.Errorf("upstream got %s: %q", k, v)
		}
	}
	for k, v := range map[string]string{
		"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": host("locked"), "X-Forwarded-Proto": "https",
		"X-Custom": "kept", "X-Request-Id": a.ID, "Content-Type": "application/json",
	} {
		if got := up.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("upstream %s: %q, want %q", k, got, v)
		}
	}
	// The body: model rewritten, everything else as sent.
	want := map[string]any{"model": upModel, "messages": []any{map[string]any{"role": "user", "content": "<hello> & bye"}}, "temperature": 0.5}
	if fmt.Sprint(up.Body) != fmt.Sprint(want) {
		t.Errorf("upstream body %v, want %v", up.Body, want)
	}

	// The answer: Azure's headers, none of the upstream's hop-by-hop or
	// cookie headers, and no credential anywhere.
	if a.Header.Get("X-Up-Hop") != "" || a.Header.Get("Set-Cookie") != "" {
		t.Errorf("client got upstream headers: %v", a.Header)
	}
	if got := a.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != hstsValue {
		t.Errorf("HSTS %q", got)
	}
	if a.Header.Get("X-Content-Type-Options") != "nosniff" || a.Header.Get("Apim-Request-Id") == "" {
		t.Errorf("headers %v", a.Header)
	}
	all := fmt.Sprint(a.Header) + string(a.Body)
	if strings.Contains(all, upstreamKey) {
		t.Error("the upstream's credential reached the client")
	}
	var got map[string]any
	if err := json.Unmarshal(a.Body, &got); err != nil || got["id"] != "x" {
		t.Errorf("body %s", a.Body)
	}
}

// TestUpstreamFailures: down is 502, slow is 504, a refused gateway
// credential is 502 — each with an error body, and the gateway serves on.
func TestUpstreamFailures(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ResponseHeaderTimeout = 300 * time.Millisecond })
	c := h.client(false)
	check := func(name string, status int, code string) {
		t.Helper()
		a := h.chat(c, "open")
		if a.StatusCode != status || a.errorCode() != code {
			t.Errorf("%s: %d %s, want %d %s", name, a.StatusCode, a.Body, status, code)
		}
		r := h.log.find(t, a.ID)
		if r.Result != accesslog.Allowed || r.Status != status || !strings.Contains(r.Reason, "then") {
			t.Errorf("%s: record %+v", name, r)
		}
	}

	release := make(chan struct{})
	h.up.handle(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	check("slow", http.StatusGatewayTimeout, "Timeout")
	close(release)

	h.up.handle(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Www-Authenticate", "Bearer")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"bad key `+upstreamKey+`"}`)
	})
	check("refused credential", http.StatusBadGateway, "BadGateway")

	h.up.handle(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"message":"bad temperature"}}`)
	})
	if a := h.chat(c, "open"); a.StatusCode != http.StatusBadRequest || !strings.Contains(string(a.Body), "bad temperature") {
		t.Errorf("an upstream 400 passes through: %d %s", a.StatusCode, a.Body)
	}

	h.up.Close()
	check("down", http.StatusBadGateway, "BadGateway")

	// A credential that cannot be read: 502 before anything is sent.
	w := h.world
	w.credential = "env:PERIMETER_TEST_UNSET_VARIABLE"
	h.snaps.p.Store(w.build())
	check("credential", http.StatusBadGateway, "BadGateway")

	if n := metricValue(t, h.reg, "perimeter_ingress_upstream_errors_total", "kind", "timeout"); n != 1 {
		t.Errorf("timeouts counted %v", n)
	}
	if n := metricValue(t, h.reg, "perimeter_ingress_upstream_errors_total", "kind", "unavailable"); n != 1 {
		t.Errorf("unavailable counted %v", n)
	}
}

// TestUpstreamTimeout: a response that outlives UpstreamTimeout is cut,
// and one that has not begun is 504.
func TestUpstreamTimeout(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.UpstreamTimeout = 300 * time.Millisecond })
	h.up.handle(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	start := time.Now()
	resp := h.openChat(h.client(false))
	_, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Error("a stream cut at the upstream timeout ended as if complete")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the stream ran %v", d)
	}
	r := h.log.find(t, resp.Header.Get("Apim-Request-Id"))
	if !strings.Contains(r.Reason, "cut off") {
		t.Errorf("record %+v", r)
	}
}

// TestBodyTooLargeBeforeItIsSent: a declared Content-Length over the limit
// is refused from the headers alone.
func TestBodyTooLargeBeforeItIsSent(t *testing.T) {
	h := newHarness(t)
	for _, h2 := range []bool{false, true} {
		if !h2 {
			conn, br := h.raw(host("open"))
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nApi-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"messa",
				chatPath, host("open"), key1, 1<<30)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer before the body: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "RequestEntityTooLarge") {
				t.Errorf("h1: %d %s", resp.StatusCode, b)
			}
			continue
		}
		// HTTP/2: a body that never comes.
		pr, pw := io.Pipe()
		defer pw.Close()
		req, _ := http.NewRequest(http.MethodPost, "https://"+host("open")+chatPath, pr)
		req.ContentLength = 1 << 30
		req.Header.Set("api-key", key1)
		resp, err := h.client(true).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.ProtoMajor != 2 {
			t.Errorf("h2: %d %s", resp.StatusCode, resp.Proto)
		}
	}
	if h.up.count() != 0 {
		t.Error("the upstream was called")
	}
	if a := h.chat(h.client(false), "open"); a.StatusCode != http.StatusOK {
		t.Errorf("afterwards: %d", a.StatusCode)
	}
}

// TestListings: the account's deployments and models, Azure-shaped.
func TestListings(t *testing.T) {
	h := newHarness(t)
	c := h.client(false)
	a := h.do(c, http.MethodGet, "https://"+host("open")+"/openai/deployments?api-version=2022-12-01", "", "api-key: "+key1)
	if a.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", a.StatusCode, a.Body)
	}
	var deps deploymentList
	if err := json.Unmarshal(a.Body, &deps); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range deps.Data {
		names = append(names, d.ID+":"+d.Model+":"+d.Status)
	}
	if got := strings.Join(names, " "); deps.Object != "list" || got != "chat:gpt-test:succeeded embed:embed-test:succeeded mock:mock:succeeded pending:gpt-test:running" {
		t.Errorf("deployments: %s", a.Body)
	}
	a = h.do(c, http.MethodGet, "https://"+host("open")+"/openai/models?api-version=2023-05-15", "", "api-key: "+key1)
	var ms modelList
	if err := json.Unmarshal(a.Body, &ms); err != nil || len(ms.Data) != 3 {
		t.Fatalf("models: %s", a.Body)
	}
	if m := ms.Data[1]; m.ID != "embed-test" || !m.Capabilities.Embeddings || m.Capabilities.ChatCompletion {
		t.Errorf("model %+v", m)
	}
	if r := h.log.find(t, a.ID); r.Operation != "models/list" || r.Result != accesslog.Allowed {
		t.Errorf("record %+v", r)
	}
	// Listings need credentials and pass the firewall like the rest.
	if a := h.do(c, http.MethodGet, "https://"+host("open")+"/openai/deployments?api-version=2022-12-01", ""); a.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a key: %d", a.StatusCode)
	}
	if a := h.do(c, http.MethodGet, "https://"+host("locked")+"/openai/deployments?api-version=2022-12-01", "", "api-key: "+key1); a.StatusCode != http.StatusForbidden {
		t.Errorf("from a refused address: %d", a.StatusCode)
	}
}

// TestUpstreamTimeoutBeforeTheHead: a model server that has not answered
// by UpstreamTimeout gets a 504, logged as the upstream timeout.
func TestUpstreamTimeoutBeforeTheHead(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.UpstreamTimeout = 300 * time.Millisecond })
	h.up.handle(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	a := h.chat(h.client(false), "open")
	if a.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504: %s", a.StatusCode, a.Body)
	}
	if r := h.log.find(t, a.ID); !strings.Contains(r.Reason, "upstream timeout") {
		t.Errorf("reason %q, want the upstream timeout", r.Reason)
	}
}

// TestUpstreamTrailers: trailers the model server announces reach the
// client after the body, as ReverseProxy passes them.
func TestUpstreamTrailers(t *testing.T) {
	h := newHarness(t)
	h.up.handle(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"x"}`)
		w.Header().Set("X-Checksum", "abc")
	})
	resp := h.openChat(h.client(false))
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != `{"id":"x"}` {
		t.Fatalf("body %q, %v", body, err)
	}
	if got := resp.Trailer.Get("X-Checksum"); got != "abc" {
		t.Errorf("trailer %q, want abc (trailers %v)", got, resp.Trailer)
	}
}

package mockmodel

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// --- helpers ---------------------------------------------------------------

func newTestServer(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(Handler(cfg))
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func post(t *testing.T, srv *httptest.Server, path, body string) response {
	t.Helper()
	return do(t, http.MethodPost, srv.URL+path, body)
}

// mustJSON marshals v for use as a request body.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decodeInto[T any](t *testing.T, r response) T {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, body %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var v T
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return v
}

// Client-side views of the responses, decoded strictly (unknown fields
// fail) so that the tests notice anything unexpected.

type testUsage struct {
	PromptTokens            int             `json:"prompt_tokens"`
	CompletionTokens        int             `json:"completion_tokens"`
	TotalTokens             int             `json:"total_tokens"`
	PromptTokensDetails     json.RawMessage `json:"prompt_tokens_details"`
	CompletionTokensDetails json.RawMessage `json:"completion_tokens_details"`
}

type testChat struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	ServiceTier       string `json:"service_tier"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Index   int `json:"index"`
		Message struct {
			Role        string          `json:"role"`
			Content     string          `json:"content"`
			Refusal     *string         `json:"refusal"`
			Annotations json.RawMessage `json:"annotations"`
		} `json:"message"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason string          `json:"finish_reason"`
	} `json:"choices"`
	Usage testUsage `json:"usage"`
}

type testChunk struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	ServiceTier       string `json:"service_tier"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Index int `json:"index"`
		Delta struct {
			Role    string          `json:"role"`
			Content *string         `json:"content"`
			Refusal json.RawMessage `json:"refusal"`
		} `json:"delta"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason *string         `json:"finish_reason"`
	} `json:"choices"`
	Usage json.RawMessage `json:"usage"`
}

type testCompletion struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Text         string          `json:"text"`
		Index        int             `json:"index"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason *string         `json:"finish_reason"`
	} `json:"choices"`
	Usage json.RawMessage `json:"usage"`
}

type testEmbeddings struct {
	Object string `json:"object"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Model string `json:"model"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

type testError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// parseSSE parses a text/event-stream body by the SSE rules — lines end
// with LF, an event is dispatched at a blank line, "data:" lines append to
// the event's data — and returns each event's data. It fails on anything
// OpenAI does not send: other fields, comments, a final unterminated event.
func parseSSE(t *testing.T, body []byte) []string {
	t.Helper()
	var events []string
	var data []string
	open := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if !open {
				t.Fatalf("blank line outside an event in %q", body)
			}
			events = append(events, strings.Join(data, "\n"))
			data, open = nil, false
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		if name != "data" {
			t.Fatalf("unexpected SSE line %q", line)
		}
		data = append(data, strings.TrimPrefix(value, " "))
		open = true
	}
	if open {
		t.Fatalf("stream ends inside an event: %q", body)
	}
	if !bytes.HasSuffix(body, []byte("\n\n")) {
		t.Fatalf("stream does not end with a blank line: %q", body)
	}
	return events
}

// streamedChat parses a streamed chat completion: it checks the framing
// and returns the chunks (without [DONE]).
func streamedChat(t *testing.T, r response) []testChunk {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, body %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-cache" {
		t.Fatalf("Cache-Control %q", cc)
	}
	events := parseSSE(t, r.body)
	if len(events) < 2 || events[len(events)-1] != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]: %q", events)
	}
	var chunks []testChunk
	for _, e := range events[:len(events)-1] {
		var c testChunk
		dec := json.NewDecoder(strings.NewReader(e))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("chunk %q: %v", e, err)
		}
		if c.Object != "chat.completion.chunk" {
			t.Fatalf("chunk object %q", c.Object)
		}
		if len(chunks) > 0 && c.ID != chunks[0].ID {
			t.Fatalf("chunk ids differ: %q", e)
		}
		chunks = append(chunks, c)
	}
	return chunks
}

// chatPromptTokens computes prompt_tokens by the documented rule,
// independently of the implementation.
func chatPromptTokens(msgs ...[2]string) int {
	n := 3
	for _, m := range msgs {
		n += 3 + Tokens(m[0]) + Tokens(m[1])
	}
	return n
}

func chatBody(t *testing.T, extra map[string]any, msgs ...[2]string) string {
	t.Helper()
	body := map[string]any{"model": "gpt-4"}
	var ms []map[string]any
	for _, m := range msgs {
		ms = append(ms, map[string]any{"role": m[0], "content": m[1]})
	}
	body["messages"] = ms
	for k, v := range extra {
		body[k] = v
	}
	return mustJSON(t, body)
}

func user(s string) [2]string { return [2]string{"user", s} }

// --- tokenizer ---------------------------------------------------------------

func TestTokensKnownCounts(t *testing.T) {
	for _, c := range []struct {
		text string
		want int
	}{
		{"", 0},
		{"hello world", 2},
		{"tiktoken is great!", 6}, // [83 1609 5963 374 2294 0], tiktoken's README
		{"Hello!", 2},
		{"user", 1},
		{"assistant", 1},
		{"<|endoftext|>", 7}, // spelled out, not the special token
	} {
		if got := Tokens(c.text); got != c.want {
			t.Errorf("Tokens(%q) = %d, want %d", c.text, got, c.want)
		}
	}
}

// --- chat --------------------------------------------------------------------

func TestChatNonStreaming(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	srv := newTestServer(t, Config{Model: "mock-1", Now: func() time.Time { return now }})

	for _, c := range []struct {
		name       string
		body       string
		wantPrompt int
		wantSaid   string
	}{
		{
			name:       "hello",
			body:       chatBody(t, nil, user("Hello!")),
			wantPrompt: 9, // OpenAI reports 9 for this with gpt-4 / gpt-3.5-turbo
			wantSaid:   `You said: "Hello!".`,
		},
		{
			name:       "system and user",
			body:       chatBody(t, nil, [2]string{"system", "You are terse."}, user("What is   2+2?\n")),
			wantPrompt: chatPromptTokens([2]string{"system", "You are terse."}, user("What is   2+2?\n")),
			wantSaid:   `You said: "What is 2+2?".`,
		},
		{
			name: "last user message wins",
			body: chatBody(t, nil, user("first"), [2]string{"assistant", "reply"}, user("second"),
				[2]string{"assistant", "again"}),
			wantPrompt: chatPromptTokens(user("first"), [2]string{"assistant", "reply"}, user("second"),
				[2]string{"assistant", "again"}),
			wantSaid: `You said: "second".`,
		},
		{
			name: "content parts and name",
			body: `{"model":"m","messages":[{"role":"user","name":"alice","content":[
				{"type":"text","text":"part one"},{"type":"text","text":"part two"}]}]}`,
			wantPrompt: 3 + 3 + Tokens("user") + Tokens("part one") + Tokens("part two") + 1 + Tokens("alice"),
			wantSaid:   `You said: "part one part two".`,
		},
		{
			name:       "assistant tool call with null content",
			body:       `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[]},{"role":"tool","tool_call_id":"x","content":"42"}]}`,
			wantPrompt: chatPromptTokens(user("hi"), [2]string{"assistant", ""}, [2]string{"tool", "42"}),
			wantSaid:   `You said: "hi".`,
		},
		{
			name:       "no user message",
			body:       chatBody(t, nil, [2]string{"system", "Be nice."}),
			wantPrompt: chatPromptTokens([2]string{"system", "Be nice."}),
			wantSaid:   `You said: "Be nice.".`,
		},
		{
			name:       "empty content",
			body:       chatBody(t, nil, user("")),
			wantPrompt: chatPromptTokens(user("")),
			wantSaid:   "You said nothing.",
		},
		{
			name:       "unicode",
			body:       chatBody(t, nil, user("héllo 世界 🙂 <b>&")),
			wantPrompt: chatPromptTokens(user("héllo 世界 🙂 <b>&")),
			wantSaid:   `You said: "héllo 世界 🙂 <b>&".`,
		},
		{
			name:       "long input is quoted briefly",
			body:       chatBody(t, nil, user(strings.Repeat("word ", 5000))),
			wantPrompt: chatPromptTokens(user(strings.Repeat("word ", 5000))),
			wantSaid:   `You said: "` + strings.TrimSpace(strings.Repeat("word ", maxQuoteWords)) + `...".`,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			first := decodeInto[testChat](t, post(t, srv, "/v1/chat/completions", c.body))
			if !strings.HasPrefix(first.ID, "chatcmpl-") || first.Object != "chat.completion" ||
				first.Created != now.Unix() || first.Model != "mock-1" || first.SystemFingerprint == "" {
				t.Errorf("envelope: %+v", first)
			}
			if len(first.Choices) != 1 {
				t.Fatalf("choices: %+v", first.Choices)
			}
			ch := first.Choices[0]
			if ch.Index != 0 || ch.Message.Role != "assistant" || ch.FinishReason != "stop" ||
				ch.Message.Refusal != nil || string(ch.Logprobs) != "null" {
				t.Errorf("choice: %+v", ch)
			}
			content := ch.Message.Content
			if !strings.HasPrefix(content, c.wantSaid) || !strings.HasSuffix(content, pangram) {
				t.Errorf("content %q, want prefix %q", content, c.wantSaid)
			}
			u := first.Usage
			if u.PromptTokens != c.wantPrompt || u.CompletionTokens != Tokens(content) ||
				u.TotalTokens != u.PromptTokens+u.CompletionTokens {
				t.Errorf("usage %+v, want prompt %d completion %d", u, c.wantPrompt, Tokens(content))
			}

			// Deterministic: the same request gets the same reply and usage.
			again := decodeInto[testChat](t, post(t, srv, "/v1/chat/completions", c.body))
			if again.Choices[0].Message.Content != content || again.Usage.PromptTokens != u.PromptTokens ||
				again.Usage.CompletionTokens != u.CompletionTokens {
				t.Errorf("second reply differs: %q %+v", again.Choices[0].Message.Content, again.Usage)
			}
			if again.ID == first.ID {
				t.Errorf("ids repeat: %s", first.ID)
			}
		})
	}
}

func TestChatDefaultModelName(t *testing.T) {
	srv := newTestServer(t, Config{})
	got := decodeInto[testChat](t, post(t, srv, "/v1/chat/completions", chatBody(t, nil, user("x"))))
	if got.Model != "mock" {
		t.Errorf("model %q", got.Model)
	}
}

func TestChatMaxTokens(t *testing.T) {
	srv := newTestServer(t, Config{})
	full := decodeInto[testChat](t, post(t, srv, "/v1/chat/completions", chatBody(t, nil, user("Count to ten")))).
		Choices[0].Message.Content
	fullTokens := Tokens(full)

	for _, c := range []struct {
		name       string
		extra      map[string]any
		wantTokens int
		wantFinish string
	}{
		{"max_tokens 1", map[string]any{"max_tokens": 1}, 1, "length"},
		{"max_tokens 7", map[string]any{"max_tokens": 7}, 7, "length"},
		{"max_completion_tokens 12", map[string]any{"max_completion_tokens": 12}, 12, "length"},
		{"both: smaller wins", map[string]any{"max_tokens": 20, "max_completion_tokens": 4}, 4, "length"},
		{"exactly enough", map[string]any{"max_tokens": fullTokens}, fullTokens, "stop"},
		{"more than enough", map[string]any{"max_tokens": 100000}, fullTokens, "stop"},
		{"null", map[string]any{"max_tokens": nil}, fullTokens, "stop"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := decodeInto[testChat](t, post(t, srv, "/v1/chat/completions", chatBody(t, c.extra, user("Count to ten"))))
			ch := got.Choices[0]
			if ch.FinishReason != c.wantFinish {
				t.Errorf("finish_reason %q, want %q", ch.FinishReason, c.wantFinish)
			}
			if got.Usage.CompletionTokens != c.wantTokens || Tokens(ch.Message.Content) != c.wantTokens {
				t.Errorf("completion_tokens %d, Tokens(content) %d, want %d (content %q)",
					got.Usage.CompletionTokens, Tokens(ch.Message.Content), c.wantTokens, ch.Message.Content)
			}
			if !strings.HasPrefix(full, ch.Message.Content) {
				t.Errorf("content %q is not a prefix of the full reply %q", ch.Message.Content, full)
			}
		})
	}
}

func TestChatMaxTokensMultibyte(t *testing.T) {
	// The quoted prompt puts multi-byte characters split across tokens
	// into the reply; no cut may leave broken UTF-8.
	srv := newTestServer(t, Config{})
	for maxTok := 1; maxTok <= 20; maxTok++ {
		got := decodeInto[testChat](t, post(t, srv, "/v1/chat/completions",
			chatBody(t, map[string]any{"max_tokens": maxTok}, user("世界🙂🙂 ünïcödé"))))
		content := got.Choices[0].Message.Content
		if strings.ContainsRune(content, '\uFFFD') {
			t.Errorf("max_tokens %d: broken UTF-8 in %q", maxTok, content)
		}
		if got.Usage.CompletionTokens != Tokens(content) || got.Usage.CompletionTokens > maxTok {
			t.Errorf("max_tokens %d: completion_tokens %d, Tokens(content) %d", maxTok, got.Usage.CompletionTokens, Tokens(content))
		}
	}
}

func TestChatStop(t *testing.T) {
	srv := newTestServer(t, Config{})
	for _, c := range []struct {
		name  string
		stop  any
		want  string // the content must end just before this
		trunc bool
	}{
		{"string", "fox", " The quick brown ", false},
		{"array, earliest wins", []string{"lazy", "Perimeter"}, "built into ", false},
		{"absent from reply", []string{"zebra"}, "lazy dog.", false},
		{"empty strings ignored", []string{""}, "lazy dog.", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := decodeInto[testChat](t, post(t, srv, "/v1/chat/completions",
				chatBody(t, map[string]any{"stop": c.stop}, user("hi"))))
			ch := got.Choices[0]
			if !strings.HasSuffix(ch.Message.Content, c.want) || ch.FinishReason != "stop" {
				t.Errorf("content %q finish %q, want suffix %q", ch.Message.Content, ch.FinishReason, c.want)
			}
			if got.Usage.CompletionTokens != Tokens(ch.Message.Content) {
				t.Errorf("completion_tokens %d, Tokens(content) %d", got.Usage.CompletionTokens, Tokens(ch.Message.Content))
			}
		})
	}
}

func TestChatStreaming(t *testing.T) {
	srv := newTestServer(t, Config{Model: "streamer"})
	for _, c := range []struct {
		name  string
		msg   string
		extra map[string]any
	}{
		{"plain", "Tell me a story", nil},
		{"unicode", "héllo 世界 🙂🙂 done", nil},
		{"max_tokens", "Tell me a story", map[string]any{"max_tokens": 9}},
		{"stop", "Tell me a story", map[string]any{"stop": "fox"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := decodeInto[testChat](t, post(t, srv, "/v1/chat/completions", chatBody(t, c.extra, user(c.msg))))

			extra := map[string]any{"stream": true}
			for k, v := range c.extra {
				extra[k] = v
			}
			chunks := streamedChat(t, post(t, srv, "/v1/chat/completions", chatBody(t, extra, user(c.msg))))

			first := chunks[0]
			if len(first.Choices) != 1 || first.Choices[0].Delta.Role != "assistant" ||
				first.Choices[0].Delta.Content == nil || *first.Choices[0].Delta.Content != "" {
				t.Errorf("first chunk %+v", first)
			}
			var content strings.Builder
			contentChunks := 0
			for i, ch := range chunks {
				if ch.Usage != nil {
					t.Errorf("chunk %d has usage %s without include_usage", i, ch.Usage)
				}
				if ch.Model != "streamer" || ch.SystemFingerprint == "" || ch.Created == 0 {
					t.Errorf("chunk %d envelope %+v", i, ch)
				}
				if len(ch.Choices) != 1 {
					t.Fatalf("chunk %d choices %+v", i, ch.Choices)
				}
				d := ch.Choices[0]
				last := i == len(chunks)-1
				if (d.FinishReason != nil) != last {
					t.Errorf("chunk %d finish_reason %v", i, d.FinishReason)
				}
				if i > 0 && d.Delta.Role != "" {
					t.Errorf("chunk %d repeats the role", i)
				}
				if d.Delta.Content != nil && i > 0 {
					if *d.Delta.Content == "" {
						t.Errorf("chunk %d has empty content", i)
					}
					contentChunks++
					content.WriteString(*d.Delta.Content)
				}
				if last && (d.Delta.Content != nil || *d.FinishReason != want.Choices[0].FinishReason) {
					t.Errorf("final chunk %+v, want finish %q", d, want.Choices[0].FinishReason)
				}
			}
			if got := content.String(); got != want.Choices[0].Message.Content {
				t.Errorf("streamed %q, non-streaming %q", got, want.Choices[0].Message.Content)
			}
			// One chunk per token, except where a token ends inside a
			// multi-byte character and is merged with the next.
			if n := want.Usage.CompletionTokens; contentChunks > n || (c.name != "unicode" && contentChunks != n) {
				t.Errorf("%d content chunks for %d tokens", contentChunks, n)
			}
		})
	}
}

func TestChatStreamIncludeUsage(t *testing.T) {
	srv := newTestServer(t, Config{})
	want := decodeInto[testChat](t, post(t, srv, "/v1/chat/completions",
		chatBody(t, map[string]any{"max_tokens": 5}, user("usage please"))))
	chunks := streamedChat(t, post(t, srv, "/v1/chat/completions", chatBody(t, map[string]any{
		"max_tokens": 5, "stream": true, "stream_options": map[string]any{"include_usage": true},
	}, user("usage please"))))

	for i, ch := range chunks[:len(chunks)-1] {
		if string(ch.Usage) != "null" {
			t.Errorf("chunk %d usage %s, want null", i, ch.Usage)
		}
	}
	last := chunks[len(chunks)-1]
	if last.Choices == nil || len(last.Choices) != 0 {
		t.Errorf("usage chunk choices %+v, want []", last.Choices)
	}
	var u testUsage
	if err := json.Unmarshal(last.Usage, &u); err != nil {
		t.Fatal(err)
	}
	if u.PromptTokens != want.Usage.PromptTokens || u.CompletionTokens != 5 || u.TotalTokens != u.PromptTokens+5 {
		t.Errorf("usage %+v, want %+v", u, want.Usage)
	}
	if fr := chunks[len(chunks)-2].Choices[0].FinishReason; fr == nil || *fr != "length" {
		t.Errorf("finish_reason %v", fr)
	}

	// include_usage false: no usage anywhere.
	chunks = streamedChat(t, post(t, srv, "/v1/chat/completions", chatBody(t, map[string]any{
		"stream": true, "stream_options": map[string]any{"include_usage": false},
	}, user("usage please"))))
	for i, ch := range chunks {
		if ch.Usage != nil || len(ch.Choices) != 1 {
			t.Errorf("chunk %d: usage %s choices %d", i, ch.Usage, len(ch.Choices))
		}
	}
}

func TestStreamTokenDelay(t *testing.T) {
	const delay = 10 * time.Millisecond
	const n = 8
	srv := newTestServer(t, Config{TokenDelay: delay})
	for _, c := range []struct{ path, body string }{
		{"/v1/chat/completions", chatBody(t, map[string]any{"stream": true, "max_tokens": n}, user("slowly"))},
		{"/v1/completions", `{"prompt":"slowly","stream":true,"max_tokens":8}`},
	} {
		start := time.Now()
		r := post(t, srv, c.path, c.body)
		elapsed := time.Since(start)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", c.path, r.status, r.body)
		}
		if elapsed < n*delay {
			t.Errorf("%s: %d tokens with delay %v took %v, want at least %v", c.path, n, delay, elapsed, n*delay)
		}
	}

	// Non-streaming responses are not delayed: with an hour per token
	// this would hang.
	srv = newTestServer(t, Config{TokenDelay: time.Hour})
	r := post(t, srv, "/v1/chat/completions", chatBody(t, nil, user("fast")))
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestStreamStopsWhenClientGoes(t *testing.T) {
	for _, c := range []struct{ path, body string }{
		{"/v1/chat/completions", chatBody(t, map[string]any{"stream": true}, user("go on"))},
		{"/v1/completions", `{"prompt":["go on","and on"],"max_tokens":1000,"stream":true}`},
	} {
		t.Run(c.path, func(t *testing.T) {
			returned := make(chan struct{})
			// A pause far longer than the test: the handler must notice
			// the hang-up while waiting, not at its next write.
			h := Handler(Config{TokenDelay: time.Minute})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(returned)
				h.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			// The stream has started (its headers are flushed before the
			// first pause); hang up.
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("%d %v", resp.StatusCode, resp.Header)
			}
			cancel()
			resp.Body.Close()
			select {
			case <-returned:
			case <-time.After(time.Second):
				t.Fatal("handler still streaming 1s after the client went away")
			}
		})
	}
}

// --- text completions -------------------------------------------------------

func TestCompletions(t *testing.T) {
	srv := newTestServer(t, Config{})
	helloIDs := []int{15339, 1917} // "hello world"
	if got, _ := NewTokenizer().decode(helloIDs); got != "hello world" {
		t.Fatalf("fixture: ids decode to %q", got)
	}

	for _, c := range []struct {
		name        string
		body        string
		prompts     int
		wantPrompt  int
		wantFinish  string
		wantTokens  int // per choice; 0: the whole reply
		sameAsIndex int // choice that must equal choice 0, or -1
	}{
		{"string, default max_tokens 16", `{"prompt":"hello world"}`, 1, 2, "length", 16, -1},
		{"string, room to finish", `{"prompt":"hello world","max_tokens":500}`, 1, 2, "stop", 0, -1},
		{"empty prompt", `{"prompt":"","max_tokens":500}`, 1, 0, "stop", 0, -1},
		{"token ids", mustJSON(t, map[string]any{"prompt": helloIDs, "max_tokens": 500}), 1, 2, "stop", 0, -1},
		{"batch of strings and ids", mustJSON(t, map[string]any{
			"prompt": []any{"hello world", helloIDs, "something else"}, "max_tokens": 500,
		}), 3, 2 + 2 + Tokens("something else"), "stop", 0, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := decodeInto[testCompletion](t, post(t, srv, "/v1/completions", c.body))
			if !strings.HasPrefix(got.ID, "cmpl-") || got.Object != "text_completion" || got.Model != "mock" {
				t.Errorf("envelope %+v", got)
			}
			if len(got.Choices) != c.prompts {
				t.Fatalf("%d choices, want %d", len(got.Choices), c.prompts)
			}
			completion := 0
			for i, ch := range got.Choices {
				if ch.Index != i || ch.FinishReason == nil || *ch.FinishReason != c.wantFinish {
					t.Errorf("choice %d: %+v", i, ch)
				}
				if c.wantTokens != 0 && Tokens(ch.Text) != c.wantTokens {
					t.Errorf("choice %d: %d tokens, want %d", i, Tokens(ch.Text), c.wantTokens)
				}
				if c.wantTokens == 0 && !strings.HasSuffix(ch.Text, pangram) {
					t.Errorf("choice %d: %q", i, ch.Text)
				}
				completion += Tokens(ch.Text)
			}
			if c.sameAsIndex > 0 && got.Choices[c.sameAsIndex].Text != got.Choices[0].Text {
				t.Errorf("ids and text of the same prompt got different completions: %q vs %q",
					got.Choices[c.sameAsIndex].Text, got.Choices[0].Text)
			}
			var u testUsage
			if err := json.Unmarshal(got.Usage, &u); err != nil {
				t.Fatal(err)
			}
			if u.PromptTokens != c.wantPrompt || u.CompletionTokens != completion || u.TotalTokens != c.wantPrompt+completion {
				t.Errorf("usage %+v, want prompt %d completion %d", u, c.wantPrompt, completion)
			}
		})
	}
}

func TestCompletionsStreaming(t *testing.T) {
	srv := newTestServer(t, Config{})
	body := `{"prompt":["one","two"],"max_tokens":6}`
	want := decodeInto[testCompletion](t, post(t, srv, "/v1/completions", body))

	r := post(t, srv, "/v1/completions", `{"prompt":["one","two"],"max_tokens":6,"stream":true,"stream_options":{"include_usage":true}}`)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %v %s", r.status, r.header, r.body)
	}
	events := parseSSE(t, r.body)
	if events[len(events)-1] != "[DONE]" {
		t.Fatalf("last event %q", events[len(events)-1])
	}
	texts := make([]string, 2)
	finishes := make([]string, 2)
	var usage json.RawMessage
	for i, e := range events[:len(events)-1] {
		var c testCompletion
		dec := json.NewDecoder(strings.NewReader(e))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("event %q: %v", e, err)
		}
		if c.Object != "text_completion" {
			t.Errorf("object %q", c.Object)
		}
		if i == len(events)-2 {
			if len(c.Choices) != 0 || c.Choices == nil {
				t.Errorf("usage chunk choices %+v", c.Choices)
			}
			usage = c.Usage
			continue
		}
		if string(c.Usage) != "null" || len(c.Choices) != 1 {
			t.Fatalf("chunk %q", e)
		}
		ch := c.Choices[0]
		texts[ch.Index] += ch.Text
		if ch.FinishReason != nil {
			finishes[ch.Index] = *ch.FinishReason
		}
	}
	for i := range 2 {
		if texts[i] != want.Choices[i].Text || finishes[i] != *want.Choices[i].FinishReason {
			t.Errorf("choice %d streamed %q/%q, want %q/%q", i, texts[i], finishes[i], want.Choices[i].Text, *want.Choices[i].FinishReason)
		}
	}
	if string(usage) != string(want.Usage) {
		t.Errorf("usage %s, want %s", usage, want.Usage)
	}
}

// --- embeddings --------------------------------------------------------------

func embeddingVectors(t *testing.T, got testEmbeddings) [][]float32 {
	t.Helper()
	out := make([][]float32, len(got.Data))
	for i, d := range got.Data {
		if d.Object != "embedding" || d.Index != i {
			t.Errorf("data[%d] %+v", i, d)
		}
		if err := json.Unmarshal(d.Embedding, &out[i]); err != nil {
			t.Fatalf("data[%d]: %v", i, err)
		}
	}
	return out
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func TestEmbeddings(t *testing.T) {
	srv := newTestServer(t, Config{Model: "emb"})
	embed := func(body string) (testEmbeddings, [][]float32) {
		t.Helper()
		got := decodeInto[testEmbeddings](t, post(t, srv, "/v1/embeddings", body))
		if got.Object != "list" || got.Model != "emb" || got.Usage.TotalTokens != got.Usage.PromptTokens {
			t.Errorf("envelope %+v", got)
		}
		return got, embeddingVectors(t, got)
	}

	// Default dimensions, unit norm, deterministic.
	got, v := embed(`{"model":"text-embedding-3-small","input":"The food was delicious"}`)
	if len(v) != 1 || len(v[0]) != DefaultDimensions {
		t.Fatalf("got %d vectors of %d", len(v), len(v[0]))
	}
	if n := norm(v[0]); math.Abs(n-1) > 1e-5 {
		t.Errorf("norm %v", n)
	}
	if got.Usage.PromptTokens != Tokens("The food was delicious") {
		t.Errorf("usage %+v", got.Usage)
	}
	_, again := embed(`{"input":"The food was delicious"}`)
	if fmt.Sprint(again[0]) != fmt.Sprint(v[0]) {
		t.Error("same text, different vectors")
	}

	// dimensions honoured; a shorter vector is the renormalised prefix.
	_, short := embed(`{"input":"The food was delicious","dimensions":8}`)
	if len(short[0]) != 8 || math.Abs(norm(short[0])-1) > 1e-5 {
		t.Fatalf("dimensions 8: %v", short[0])
	}
	prefix := v[0][:8]
	pn := norm(prefix)
	for i := range short[0] {
		if math.Abs(float64(short[0][i])-float64(prefix[i])/pn) > 1e-5 {
			t.Errorf("dimensions 8 is not the renormalised prefix: %v vs %v", short[0], prefix)
			break
		}
	}

	// Batch: order kept, each equal to its single embedding, distinct.
	got, batch := embed(`{"input":["a","b","The food was delicious"],"dimensions":32}`)
	if len(batch) != 3 {
		t.Fatalf("%d vectors", len(batch))
	}
	for i, text := range []string{"a", "b", "The food was delicious"} {
		_, single := embed(mustJSON(t, map[string]any{"input": text, "dimensions": 32}))
		if fmt.Sprint(single[0]) != fmt.Sprint(batch[i]) {
			t.Errorf("batch[%d] differs from a single embedding of %q", i, text)
		}
		if math.Abs(norm(batch[i])-1) > 1e-5 {
			t.Errorf("batch[%d] norm %v", i, norm(batch[i]))
		}
	}
	if fmt.Sprint(batch[0]) == fmt.Sprint(batch[1]) {
		t.Error("different texts, same vector")
	}
	if want := Tokens("a") + Tokens("b") + Tokens("The food was delicious"); got.Usage.PromptTokens != want {
		t.Errorf("batch usage %+v, want %d", got.Usage, want)
	}

	// Token arrays embed as the text they spell; usage counts the ids.
	got, ids := embed(`{"input":[[15339,1917],[15339]],"dimensions":32}`)
	_, text := embed(`{"input":"hello world","dimensions":32}`)
	if fmt.Sprint(ids[0]) != fmt.Sprint(text[0]) || got.Usage.PromptTokens != 3 {
		t.Errorf("token-array input: usage %+v", got.Usage)
	}
	_, single := embed(`{"input":[15339,1917],"dimensions":32}`)
	if fmt.Sprint(single[0]) != fmt.Sprint(text[0]) {
		t.Error("a single token array embeds differently from its text")
	}

	// base64: little-endian float32s, equal to the float encoding.
	got = decodeInto[testEmbeddings](t, post(t, srv, "/v1/embeddings", `{"input":"hello world","dimensions":32,"encoding_format":"base64"}`))
	var s string
	if err := json.Unmarshal(got.Data[0].Embedding, &s); err != nil {
		t.Fatalf("base64 embedding is not a string: %s", got.Data[0].Embedding)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != 4*32 {
		t.Fatalf("base64 %q: %v", s, err)
	}
	for i := range 32 {
		if f := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); f != text[0][i] {
			t.Fatalf("base64[%d] = %v, float %v", i, f, text[0][i])
		}
	}
	_, explicit := embed(`{"input":"hello world","dimensions":32,"encoding_format":"float"}`)
	if fmt.Sprint(explicit[0]) != fmt.Sprint(text[0]) {
		t.Error("encoding_format float differs from the default")
	}
}

func TestEmbedLargeInputIsCheap(t *testing.T) {
	// The text is hashed once, not once per block of components.
	big := strings.Repeat("x", 1<<20)
	start := time.Now()
	v := Embed(big, MaxDimensions)
	if len(v) != MaxDimensions || math.Abs(norm(v)-1) > 1e-5 {
		t.Fatalf("len %d norm %v", len(v), norm(v))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Embed of 1 MiB took %v", d)
	}
}

// --- models ------------------------------------------------------------------

func TestModels(t *testing.T) {
	now := time.Unix(1_234_567_890, 0)
	srv := newTestServer(t, Config{Model: "m1", Now: func() time.Time { return now }})
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	want := model{"m1", "model", now.Unix(), "perimeter"}

	list := decodeInto[struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}](t, do(t, http.MethodGet, srv.URL+"/v1/models", ""))
	if list.Object != "list" || len(list.Data) != 1 || list.Data[0] != want {
		t.Errorf("list %+v", list)
	}
	one := decodeInto[model](t, do(t, http.MethodGet, srv.URL+"/v1/models/m1", ""))
	if one != want {
		t.Errorf("model %+v", one)
	}
}

// --- errors ------------------------------------------------------------------

func TestErrors(t *testing.T) {
	srv := newTestServer(t, Config{})
	const chat, compl, emb = "/v1/chat/completions", "/v1/completions", "/v1/embeddings"
	msg := func(content string) string {
		return `{"messages":[{"role":"user","content":` + content + `}]}`
	}
	for _, c := range []struct {
		name    string
		method  string
		path    string
		body    string
		status  int
		param   string // "" expects null
		code    string // "" expects null
		message string // substring of the message
	}{
		// routing
		{"unknown path", "POST", "/v1/nope", `{}`, 404, "", "unknown_url", "Invalid URL (POST /v1/nope)"},
		{"root", "GET", "/", "", 404, "", "unknown_url", "Invalid URL"},
		{"trailing slash", "POST", chat + "/", `{}`, 404, "", "unknown_url", "Invalid URL"},
		{"unknown model", "GET", "/v1/models/gpt-4", "", 404, "model", "model_not_found", "'gpt-4' does not exist"},
		{"GET chat", "GET", chat, "", 405, "", "method_not_allowed", "use POST"},
		{"PUT completions", "PUT", compl, `{}`, 405, "", "method_not_allowed", "use POST"},
		{"GET embeddings", "GET", emb, "", 405, "", "method_not_allowed", "use POST"},
		{"POST models", "POST", "/v1/models", `{}`, 405, "", "method_not_allowed", "use GET"},
		{"DELETE model", "DELETE", "/v1/models/mock", "", 405, "", "method_not_allowed", "use GET"},

		// body and JSON
		{"empty body", "POST", chat, "", 400, "", "", "body is empty"},
		{"malformed JSON", "POST", chat, "{\"messages\": [\n  }", 400, "", "", "invalid character '}' looking for beginning of value (at line 2, column 3"},
		{"truncated JSON", "POST", chat, `{"messages": [`, 400, "", "", "unexpected end of JSON input (at line 1, column 15"},
		{"trailing garbage", "POST", chat, `{"messages": []} x`, 400, "", "", "after top-level value (at line 1, column 18"},
		{"body not an object", "POST", chat, `[1,2]`, 400, "", "", "expected an object, but got array"},

		// chat
		{"missing messages", "POST", chat, `{"model":"x"}`, 400, "messages", "", "Missing required parameter: 'messages'"},
		{"null body", "POST", chat, `null`, 400, "messages", "", "Missing required parameter"},
		{"empty messages", "POST", chat, `{"messages":[]}`, 400, "messages", "", "empty array"},
		{"messages not array", "POST", chat, `{"messages":"hi"}`, 400, "messages", "", "expected an array, but got string"},
		{"message not object", "POST", chat, `{"messages":["hi"]}`, 400, "messages[0]", "", "expected an object, but got a string"},
		{"missing role", "POST", chat, `{"messages":[{"content":"hi"}]}`, 400, "messages[0].role", "", "Missing required parameter"},
		{"bad role", "POST", chat, `{"messages":[{"role":"wizard","content":"hi"}]}`, 400, "messages[0].role", "", "Invalid value: 'wizard'"},
		{"role not string", "POST", chat, `{"messages":[{"role":1,"content":"hi"}]}`, 400, "messages[0].role", "", "expected a string, but got number"},
		{"missing content", "POST", chat, `{"messages":[{"role":"user"}]}`, 400, "messages[0].content", "", "Missing required parameter"},
		{"null user content", "POST", chat, msg(`null`), 400, "messages[0].content", "", "Missing required parameter"},
		{"content number", "POST", chat, msg(`5`), 400, "messages[0].content", "", "expected a string or an array of content parts"},
		{"part not object", "POST", chat, msg(`["hi"]`), 400, "messages[0].content[0]", "", "expected an object"},
		{"part without type", "POST", chat, msg(`[{"text":"hi"}]`), 400, "messages[0].content[0].type", "", "Missing required parameter"},
		{"image part", "POST", chat, msg(`[{"type":"image_url","image_url":{"url":"x"}}]`), 400, "messages[0].content[0].type", "", "only 'text' content parts"},
		{"text part without text", "POST", chat, msg(`[{"type":"text"}]`), 400, "messages[0].content[0].text", "", "Missing required parameter"},
		{"text not string", "POST", chat, msg(`[{"type":"text","text":1}]`), 400, "messages[0].content[0].text", "", "expected a string"},
		{"refusal part from user", "POST", chat, msg(`[{"type":"refusal","refusal":"no"}]`), 400, "messages[0].content[0].type", "", "only allowed in assistant"},
		{"second message bad", "POST", chat, `{"messages":[{"role":"user","content":"a"},{"role":"user","content":{}}]}`, 400, "messages[1].content", "", "but got an object"},
		{"name not string", "POST", chat, `{"messages":[{"role":"user","content":"a","name":7}]}`, 400, "messages[0].name", "", "expected a string"},
		{"model not string", "POST", chat, `{"model":4,"messages":[{"role":"user","content":"a"}]}`, 400, "model", "", "expected a string, but got number"},
		{"max_tokens string", "POST", chat, `{"max_tokens":"5","messages":[{"role":"user","content":"a"}]}`, 400, "max_tokens", "", "expected an integer, but got string"},
		{"max_tokens float", "POST", chat, `{"max_tokens":2.5,"messages":[{"role":"user","content":"a"}]}`, 400, "max_tokens", "", "expected an integer"},
		{"max_tokens zero", "POST", chat, `{"max_tokens":0,"messages":[{"role":"user","content":"a"}]}`, 400, "max_tokens", "", "below minimum value"},
		{"max_completion_tokens negative", "POST", chat, `{"max_completion_tokens":-1,"messages":[{"role":"user","content":"a"}]}`, 400, "max_completion_tokens", "", "below minimum value"},
		{"n 2", "POST", chat, `{"n":2,"messages":[{"role":"user","content":"a"}]}`, 400, "n", "", "only n=1"},
		{"n 0", "POST", chat, `{"n":0,"messages":[{"role":"user","content":"a"}]}`, 400, "n", "", "below minimum value"},
		{"stream not bool", "POST", chat, `{"stream":"yes","messages":[{"role":"user","content":"a"}]}`, 400, "stream", "", "expected a boolean"},
		{"stream_options without stream", "POST", chat, `{"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a"}]}`, 400, "stream_options", "", "only allowed when 'stream' is enabled"},
		{"include_usage not bool", "POST", chat, `{"stream":true,"stream_options":{"include_usage":1},"messages":[{"role":"user","content":"a"}]}`, 400, "stream_options.include_usage", "", "expected a boolean"},
		{"temperature string", "POST", chat, `{"temperature":"hot","messages":[{"role":"user","content":"a"}]}`, 400, "temperature", "", "expected a number"},
		{"stop number", "POST", chat, `{"stop":5,"messages":[{"role":"user","content":"a"}]}`, 400, "stop", "", "expected a string or an array of strings"},
		{"stop array of numbers", "POST", chat, `{"stop":[5],"messages":[{"role":"user","content":"a"}]}`, 400, "stop", "", "expected a string or an array of strings"},
		{"too many stops", "POST", chat, `{"stop":["a","b","c","d","e"],"messages":[{"role":"user","content":"a"}]}`, 400, "stop", "", "maximum length 4"},

		// completions
		{"missing prompt", "POST", compl, `{"model":"x"}`, 400, "prompt", "", "Missing required parameter: 'prompt'"},
		{"prompt number", "POST", compl, `{"prompt":5}`, 400, "prompt", "", "but got a number"},
		{"prompt empty array", "POST", compl, `{"prompt":[]}`, 400, "prompt", "", "empty array"},
		{"prompt mixed", "POST", compl, `{"prompt":["a",{}]}`, 400, "prompt[1]", "", "expected a string or an array of integers"},
		{"prompt ids with string", "POST", compl, `{"prompt":[1,"a"]}`, 400, "prompt", "", "array of integer token ids"},
		{"prompt special token", "POST", compl, `{"prompt":[100257]}`, 400, "prompt", "", "not a cl100k_base token"},
		{"prompt negative id", "POST", compl, `{"prompt":[[1],[-1]]}`, 400, "prompt[1]", "", "negative"},
		{"prompt empty ids", "POST", compl, `{"prompt":[[]]}`, 400, "prompt[0]", "", "empty array"},
		{"completion n 3", "POST", compl, `{"prompt":"a","n":3}`, 400, "n", "", "only n=1"},
		{"completion max_tokens 0", "POST", compl, `{"prompt":"a","max_tokens":0}`, 400, "max_tokens", "", "below minimum value"},
		{"completion stream_options", "POST", compl, `{"prompt":"a","stream_options":{}}`, 400, "stream_options", "", "only allowed when"},

		// embeddings
		{"missing input", "POST", emb, `{"model":"x"}`, 400, "input", "", "Missing required parameter: 'input'"},
		{"empty input", "POST", emb, `{"input":""}`, 400, "input", "", "must not be empty"},
		{"empty input in batch", "POST", emb, `{"input":["a",""]}`, 400, "input[1]", "", "must not be empty"},
		{"input object", "POST", emb, `{"input":{}}`, 400, "input", "", "but got an object"},
		{"input too many", "POST", emb, mustJSON(t, map[string]any{"input": make([]string, maxInputs+1)}), 400, "input", "", "maximum length 2048"},
		{"dimensions zero", "POST", emb, `{"input":"a","dimensions":0}`, 400, "dimensions", "", "below minimum value"},
		{"dimensions huge", "POST", emb, `{"input":"a","dimensions":100000}`, 400, "dimensions", "", "above maximum value"},
		{"dimensions string", "POST", emb, `{"input":"a","dimensions":"8"}`, 400, "dimensions", "", "expected an integer"},
		{"encoding hex", "POST", emb, `{"input":"a","encoding_format":"hex"}`, 400, "encoding_format", "", "Invalid value: 'hex'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, c.method, srv.URL+c.path, c.body)
			checkError(t, r, c.status, c.param, c.code, c.message)
			if c.status == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func checkError(t *testing.T, r response, status int, param, code, message string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var e testError
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	// param and code must be present, as null when unset.
	var shape map[string]map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &shape); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := shape["error"][k]; !ok {
			t.Errorf("error lacks %q: %s", k, r.body)
		}
	}
	if e.Error.Type != "invalid_request_error" {
		t.Errorf("type %q", e.Error.Type)
	}
	if got := deref(e.Error.Param); got != param {
		t.Errorf("param %q, want %q (%s)", got, param, e.Error.Message)
	}
	if got := deref(e.Error.Code); got != code {
		t.Errorf("code %q, want %q", got, code)
	}
	if !strings.Contains(e.Error.Message, message) {
		t.Errorf("message %q, want it to contain %q", e.Error.Message, message)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestBodyTooLarge(t *testing.T) {
	srv := newTestServer(t, Config{})
	big := `{"input":"` + strings.Repeat("a", MaxRequestBody) + `"}`

	// With a Content-Length: refused before reading.
	r := post(t, srv, "/v1/embeddings", big)
	checkError(t, r, http.StatusRequestEntityTooLarge, "", "request_too_large", "too large")

	// Without one (chunked): refused once the limit is crossed.
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", io.MultiReader(strings.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	checkError(t, response{resp.StatusCode, resp.Header, b}, http.StatusRequestEntityTooLarge, "", "request_too_large", "too large")

	// Exactly at the limit is fine (padded with JSON whitespace).
	ok := `{"input":"a","dimensions":4}`
	ok += strings.Repeat(" ", MaxRequestBody-len(ok))
	if r := post(t, srv, "/v1/embeddings", ok); r.status != http.StatusOK {
		t.Errorf("body of %d bytes: %d %s", len(ok), r.status, r.body)
	}
}

func TestConcurrentRequests(t *testing.T) {
	// One handler, one shared tokenizer, many goroutines: run with -race.
	srv := newTestServer(t, Config{})
	done := make(chan string)
	for i := range 16 {
		go func() {
			var body, path string
			switch i % 3 {
			case 0:
				path, body = "/v1/chat/completions", fmt.Sprintf(`{"messages":[{"role":"user","content":"n %d 世界"}],"stream":%v}`, i, i%2 == 0)
			case 1:
				path, body = "/v1/completions", fmt.Sprintf(`{"prompt":[[15339,1917],"p %d"]}`, i)
			default:
				path, body = "/v1/embeddings", fmt.Sprintf(`{"input":[[15339],"e %d"]}`, i)
			}
			resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
			if err != nil {
				done <- err.Error()
				return
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != http.StatusOK {
				done <- fmt.Sprintf("%s: %d", path, resp.StatusCode)
				return
			}
			done <- ""
		}()
	}
	for range 16 {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}

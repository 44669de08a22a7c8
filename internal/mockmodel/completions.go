package mockmodel

import (
	"encoding/json"
	"net/http"
	"time"
)

// defaultCompletionMaxTokens is the legacy completions endpoint's default
// max_tokens, as OpenAI documents it.
const defaultCompletionMaxTokens = 16

type completionRequest struct {
	Model         string          `json:"model"`
	Prompt        json.RawMessage `json:"prompt"`
	MaxTokens     *int            `json:"max_tokens"`
	N             *int            `json:"n"`
	Stream        *bool           `json:"stream"`
	StreamOptions *streamOptions  `json:"stream_options"`
	Stop          json.RawMessage `json:"stop"`
	Temperature   *float64        `json:"temperature"` // ignored
	TopP          *float64        `json:"top_p"`       // ignored
}

type textCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []textChoice `json:"choices"`
	// Usage is absent from stream chunks unless include_usage is set,
	// then null on all but the last.
	Usage json.RawMessage `json:"usage,omitempty"`
}

type textChoice struct {
	Text         string    `json:"text"`
	Index        int       `json:"index"`
	Logprobs     *struct{} `json:"logprobs"` // always null
	FinishReason *string   `json:"finish_reason"`
}

// completions serves the legacy text completions endpoint. A prompt given
// as an array of several prompts yields one choice per prompt, as OpenAI
// does; when streaming, the choices are streamed one after the other.
func (s *server) completions(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	body, rerr := readBody(w, r)
	if rerr == nil {
		rerr = decodeJSON(body, &req, "", body)
	}
	var prompts []input
	var params commonParams
	if rerr == nil {
		prompts, rerr = s.parseInputs(req.Prompt, "prompt", body, true)
	}
	if rerr == nil {
		params, rerr = validateCommon(req.N, req.Stream, req.StreamOptions, req.Stop, body,
			maxTokensParam{"max_tokens", req.MaxTokens})
	}
	if rerr != nil {
		writeError(w, rerr)
		return
	}
	if req.MaxTokens == nil {
		params.maxTokens = defaultCompletionMaxTokens
	}

	gens := make([]generation, len(prompts))
	promptTokens, completionTokens := 0, 0
	for i, p := range prompts {
		gens[i] = s.generate(completionReply(s.model, p.text, p.tokens), params)
		promptTokens += p.tokens
		completionTokens += gens[i].tokens
	}
	u := marshal(newUsage(promptTokens, completionTokens, false))
	base := textCompletion{
		ID:                newID("cmpl-"),
		Object:            "text_completion",
		Created:           s.now().Unix(),
		Model:             s.model,
		SystemFingerprint: systemFingerprint,
	}

	if !params.stream {
		resp := base
		for i, g := range gens {
			resp.Choices = append(resp.Choices, textChoice{Text: g.text, Index: i, FinishReason: &g.finish})
		}
		resp.Usage = u
		writeJSON(w, http.StatusOK, resp)
		return
	}

	sse := startSSE(w, r)
	defer sse.stop()
	chunk := func(c textChoice) textCompletion {
		out := base
		out.Choices = []textChoice{c}
		if params.includeUsage {
			out.Usage = json.RawMessage("null")
		}
		return out
	}
	for i, g := range gens {
		chunks, tokens := s.tok.streamChunks(g.text)
		for j, text := range chunks {
			if sse.sleep(s.delay*time.Duration(tokens[j])) != nil {
				return
			}
			if sse.event(chunk(textChoice{Text: text, Index: i})) != nil {
				return
			}
		}
		if sse.event(chunk(textChoice{Index: i, FinishReason: &g.finish})) != nil {
			return
		}
	}
	if params.includeUsage {
		last := base
		last.Choices = []textChoice{}
		last.Usage = u
		if sse.event(last) != nil {
			return
		}
	}
	_ = sse.done()
}

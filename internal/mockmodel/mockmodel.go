// Package mockmodel is Perimeter's built-in mock model: an HTTP handler that
// speaks the subset of the OpenAI API that Perimeter's gateway proxies
// (chat completions, text completions, embeddings, model listing), with
// streaming, so that a default install works with no model server and no
// GPU. The gateway talks to it exactly as it would to vLLM or Ollama.
//
// Replies are deterministic: the same request always yields the same text
// and the same embedding vectors (only ids and timestamps vary). Usage is
// honest: tokens are counted with OpenAI's cl100k_base encoding.
//
// # Token counting
//
// completion_tokens is the cl100k_base token count of the returned text,
// so it always equals Tokens(content) (summed over choices for several
// prompts). When max_tokens cuts a reply, the reply is cut at a token
// boundary to the longest prefix that is valid UTF-8 and re-tokenises to at
// most max_tokens tokens — normally exactly max_tokens.
//
// Chat prompt_tokens follow OpenAI's published convention for gpt-3.5-turbo
// and gpt-4 (the cookbook's num_tokens_from_messages): 3 tokens per message
// for the <|start|>role<|message|>…<|end|> framing, plus the tokens of the
// role and of the content, plus, when a message has a name, the tokens of
// the name and 1 more; plus 3 for priming the reply
// (<|start|>assistant<|message|>). Content given as an array of parts
// counts the tokens of each text (or refusal) part. Other message fields
// (tool_calls, tool_call_id, …) and request-level tools or response_format
// are accepted and not counted.
//
// Text-completion prompt_tokens are the tokens of each prompt string, or
// the length of each token-id array. Embedding prompt_tokens are counted the
// same way over the inputs.
package mockmodel

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Config configures the mock model.
type Config struct {
	// TokenDelay is the pause before each streamed token; zero means
	// none. Non-streaming responses are not delayed.
	TokenDelay time.Duration
	// Model is the model name reported in responses and by /v1/models.
	// Default "mock". Requests may name any model; it is served by this
	// one.
	Model string
	// Now supplies the time for "created" fields. Default time.Now.
	Now func() time.Time
}

// DefaultModel is the model name used when Config.Model is empty.
const DefaultModel = "mock"

// systemFingerprint is reported in completions, as OpenAI reports the
// backend configuration that produced them.
const systemFingerprint = "fp_perimeter_mock"

// server is the state shared by all requests: configuration and one
// tokenizer. It is never mutated after Handler returns it.
type server struct {
	model   string
	delay   time.Duration
	now     func() time.Time
	created int64 // "created" of the model object
	tok     *Tokenizer
}

// Handler returns an http.Handler serving the mock model's OpenAI API under
// /v1:
//
//	POST /v1/chat/completions
//	POST /v1/completions
//	POST /v1/embeddings
//	GET  /v1/models
//	GET  /v1/models/{model}
//
// Anything else gets an OpenAI-shaped 404, or 405 for a known path with
// the wrong method. Handler builds a cl100k_base tokenizer (~25 ms the
// first time in a process, ~15 ms after); call it once and reuse the
// handler, which is safe for concurrent use.
func Handler(cfg Config) http.Handler {
	s := &server{
		model: cfg.Model,
		delay: max(cfg.TokenDelay, 0),
		now:   cfg.Now,
		tok:   NewTokenizer(),
	}
	if s.model == "" {
		s.model = DefaultModel
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.created = s.now().Unix()
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	type route struct {
		method string
		handle func(http.ResponseWriter, *http.Request)
	}
	var rt route
	switch path := r.URL.Path; {
	case path == "/v1/chat/completions":
		rt = route{http.MethodPost, s.chatCompletions}
	case path == "/v1/completions":
		rt = route{http.MethodPost, s.completions}
	case path == "/v1/embeddings":
		rt = route{http.MethodPost, s.embeddings}
	case path == "/v1/models":
		rt = route{http.MethodGet, s.listModels}
	case strings.HasPrefix(path, "/v1/models/") && len(path) > len("/v1/models/"):
		rt = route{http.MethodGet, s.getModel}
	default:
		writeError(w, &reqError{
			status:  http.StatusNotFound,
			message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, path),
			code:    "unknown_url",
		})
		return
	}
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		writeError(w, &reqError{
			status:  http.StatusMethodNotAllowed,
			message: fmt.Sprintf("Method %s is not allowed for %s; use %s.", r.Method, r.URL.Path, rt.method),
			code:    "method_not_allowed",
		})
		return
	}
	rt.handle(w, r)
}

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *server) modelObject() modelObject {
	return modelObject{ID: s.model, Object: "model", Created: s.created, OwnedBy: "perimeter"}
}

func (s *server) listModels(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Object string        `json:"object"`
		Data   []modelObject `json:"data"`
	}{"list", []modelObject{s.modelObject()}})
}

func (s *server) getModel(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/v1/models/")
	if id != s.model {
		writeError(w, &reqError{
			status:  http.StatusNotFound,
			message: fmt.Sprintf("The model '%s' does not exist", id),
			param:   "model",
			code:    "model_not_found",
		})
		return
	}
	writeJSON(w, http.StatusOK, s.modelObject())
}

// usage is the usage object of chat and text completions.
type usage struct {
	PromptTokens            int                `json:"prompt_tokens"`
	CompletionTokens        int                `json:"completion_tokens"`
	TotalTokens             int                `json:"total_tokens"`
	PromptTokensDetails     *promptDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *completionDetails `json:"completion_tokens_details,omitempty"`
}

type promptDetails struct {
	CachedTokens int `json:"cached_tokens"`
	AudioTokens  int `json:"audio_tokens"`
}

type completionDetails struct {
	ReasoningTokens          int `json:"reasoning_tokens"`
	AudioTokens              int `json:"audio_tokens"`
	AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
	RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
}

func newUsage(prompt, completion int, details bool) *usage {
	u := &usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
	if details {
		u.PromptTokensDetails = &promptDetails{}
		u.CompletionTokensDetails = &completionDetails{}
	}
	return u
}

// newID returns a fresh response id such as "chatcmpl-…".
func newID(prefix string) string {
	return prefix + rand.Text()
}

// marshal encodes v as compact JSON without HTML escaping (as OpenAI
// does) and without a trailing newline.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only the package's own response types are encoded here.
		panic(fmt.Sprintf("mockmodel: encoding response: %v", err))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body := append(marshal(v), '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// apiErrorBody is OpenAI's error envelope.
type apiErrorBody struct {
	Error apiError `json:"error"`
}

type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func writeError(w http.ResponseWriter, e *reqError) {
	body := apiError{Message: e.message, Type: "invalid_request_error"}
	if e.param != "" {
		body.Param = &e.param
	}
	if e.code != "" {
		body.Code = &e.code
	}
	writeJSON(w, e.status, apiErrorBody{body})
}

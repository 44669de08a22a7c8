package mockmodel

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// chatRequest is the subset of a chat completion request the mock reads.
// Unknown fields are ignored; known ones are type-checked.
type chatRequest struct {
	Model               string            `json:"model"`
	Messages            []json.RawMessage `json:"messages"`
	MaxTokens           *int              `json:"max_tokens"`
	MaxCompletionTokens *int              `json:"max_completion_tokens"`
	N                   *int              `json:"n"`
	Stream              *bool             `json:"stream"`
	StreamOptions       *streamOptions    `json:"stream_options"`
	Stop                json.RawMessage   `json:"stop"`
	Temperature         *float64          `json:"temperature"` // ignored
	TopP                *float64          `json:"top_p"`       // ignored
}

type chatMessageIn struct {
	Role    *string         `json:"role"`
	Content json.RawMessage `json:"content"`
	Name    *string         `json:"name"`
}

type contentPart struct {
	Type    *string `json:"type"`
	Text    *string `json:"text"`
	Refusal *string `json:"refusal"`
}

func validRole(role string) bool {
	switch role {
	case "system", "developer", "user", "assistant", "tool", "function":
		return true
	}
	return false
}

// Per OpenAI's token-counting convention for gpt-3.5-turbo and gpt-4.
const (
	tokensPerMessage = 3 // <|start|>{role}<|message|>{content}<|end|>
	tokensPerName    = 1
	tokensReplyPrime = 3 // <|start|>assistant<|message|>
)

// chatPrompt is a validated conversation.
type chatPrompt struct {
	tokens   int    // prompt_tokens
	messages int    // number of messages
	last     string // text of the last user message, or of the last message
}

func (s *server) parseMessages(raw []json.RawMessage, doc []byte) (chatPrompt, *reqError) {
	var p chatPrompt
	if raw == nil {
		return p, missing("messages")
	}
	if len(raw) == 0 {
		return p, badRequest("messages", "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.")
	}
	p.tokens = tokensReplyPrime
	p.messages = len(raw)
	lastUser := -1
	for i, m := range raw {
		param := fmt.Sprintf("messages[%d]", i)
		if firstByte(m) != '{' {
			return p, badRequest(param, "Invalid type for '%s': expected an object, but got %s instead.", param, jsonKind(firstByte(m)))
		}
		var msg chatMessageIn
		if err := decodeJSON(m, &msg, param, doc); err != nil {
			return p, err
		}
		if msg.Role == nil {
			return p, missing(param + ".role")
		}
		role := *msg.Role
		if !validRole(role) {
			return p, badRequest(param+".role", "Invalid value: '%s'. Supported values are: 'system', 'developer', 'user', 'assistant', 'tool', and 'function'.", role)
		}
		text, count, err := s.parseContent(msg.Content, role, param+".content", doc)
		if err != nil {
			return p, err
		}
		p.tokens += tokensPerMessage + s.tok.Count(role) + count
		if msg.Name != nil {
			p.tokens += tokensPerName + s.tok.Count(*msg.Name)
		}
		if role == "user" {
			lastUser = i
			p.last = text
		} else if lastUser < 0 {
			p.last = text
		}
	}
	return p, nil
}

// parseContent returns a message's text and its token count. Content is a
// string, an array of text (or refusal) parts, or — for assistant
// messages, which may carry only tool calls — null.
func (s *server) parseContent(raw json.RawMessage, role, param string, doc []byte) (string, int, *reqError) {
	if isNull(raw) {
		if role == "assistant" || role == "function" {
			return "", 0, nil
		}
		return "", 0, missing(param)
	}
	switch firstByte(raw) {
	case '"':
		var text string
		if err := decodeJSON(raw, &text, param, doc); err != nil {
			return "", 0, err
		}
		return text, s.tok.Count(text), nil
	case '[':
	default:
		return "", 0, badRequest(param, "Invalid type for '%s': expected a string or an array of content parts, but got %s instead.", param, jsonKind(firstByte(raw)))
	}
	var parts []json.RawMessage
	if err := decodeJSON(raw, &parts, param, doc); err != nil {
		return "", 0, err
	}
	var texts []string
	count := 0
	for j, pr := range parts {
		pp := fmt.Sprintf("%s[%d]", param, j)
		if firstByte(pr) != '{' {
			return "", 0, badRequest(pp, "Invalid type for '%s': expected an object, but got %s instead.", pp, jsonKind(firstByte(pr)))
		}
		var part contentPart
		if err := decodeJSON(pr, &part, pp, doc); err != nil {
			return "", 0, err
		}
		if part.Type == nil {
			return "", 0, missing(pp + ".type")
		}
		var text *string
		switch *part.Type {
		case "text":
			text = part.Text
		case "refusal":
			if role != "assistant" {
				return "", 0, badRequest(pp+".type", "Invalid value: 'refusal'. Refusal parts are only allowed in assistant messages.")
			}
			text = part.Refusal
		default:
			return "", 0, badRequest(pp+".type", "Invalid value: '%s'. The mock model accepts only 'text' content parts.", *part.Type)
		}
		if text == nil {
			return "", 0, missing(pp + "." + *part.Type)
		}
		texts = append(texts, *text)
		count += s.tok.Count(*text)
	}
	return strings.Join(texts, "\n"), count, nil
}

type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []chatChoice `json:"choices"`
	Usage             *usage       `json:"usage"`
	ServiceTier       string       `json:"service_tier"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

type chatChoice struct {
	Index        int            `json:"index"`
	Message      chatMessageOut `json:"message"`
	Logprobs     *struct{}      `json:"logprobs"` // always null
	FinishReason string         `json:"finish_reason"`
}

type chatMessageOut struct {
	Role        string     `json:"role"`
	Content     string     `json:"content"`
	Refusal     *string    `json:"refusal"` // always null
	Annotations []struct{} `json:"annotations"`
}

type chatChunk struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	Created           int64             `json:"created"`
	Model             string            `json:"model"`
	ServiceTier       string            `json:"service_tier"`
	SystemFingerprint string            `json:"system_fingerprint"`
	Choices           []chatChunkChoice `json:"choices"`
	// Usage is null on every chunk but the last when include_usage is
	// set, and absent otherwise, as OpenAI sends it.
	Usage json.RawMessage `json:"usage,omitempty"`
}

type chatChunkChoice struct {
	Index        int       `json:"index"`
	Delta        chatDelta `json:"delta"`
	Logprobs     *struct{} `json:"logprobs"` // always null
	FinishReason *string   `json:"finish_reason"`
}

type chatDelta struct {
	Role    string          `json:"role,omitempty"`
	Content *string         `json:"content,omitempty"`
	Refusal json.RawMessage `json:"refusal,omitempty"`
}

func (s *server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	body, rerr := readBody(w, r)
	if rerr == nil {
		rerr = decodeJSON(body, &req, "", body)
	}
	var prompt chatPrompt
	var params commonParams
	if rerr == nil {
		prompt, rerr = s.parseMessages(req.Messages, body)
	}
	if rerr == nil {
		params, rerr = validateCommon(req.N, req.Stream, req.StreamOptions, req.Stop, body,
			maxTokensParam{"max_tokens", req.MaxTokens},
			maxTokensParam{"max_completion_tokens", req.MaxCompletionTokens})
	}
	if rerr != nil {
		writeError(w, rerr)
		return
	}

	gen := s.generate(chatReply(s.model, prompt.messages, prompt.last), params)
	id := newID("chatcmpl-")
	created := s.now().Unix()
	u := newUsage(prompt.tokens, gen.tokens, true)

	if !params.stream {
		writeJSON(w, http.StatusOK, chatCompletion{
			ID:      id,
			Object:  "chat.completion",
			Created: created,
			Model:   s.model,
			Choices: []chatChoice{{
				Message: chatMessageOut{
					Role:        "assistant",
					Content:     gen.text,
					Annotations: []struct{}{},
				},
				FinishReason: gen.finish,
			}},
			Usage:             u,
			ServiceTier:       "default",
			SystemFingerprint: systemFingerprint,
		})
		return
	}

	sse := startSSE(w, r)
	defer sse.stop()
	chunk := func(choices []chatChunkChoice) chatChunk {
		c := chatChunk{
			ID:                id,
			Object:            "chat.completion.chunk",
			Created:           created,
			Model:             s.model,
			ServiceTier:       "default",
			SystemFingerprint: systemFingerprint,
			Choices:           choices,
		}
		if params.includeUsage {
			c.Usage = json.RawMessage("null")
		}
		return c
	}
	empty := ""
	if sse.event(chunk([]chatChunkChoice{{
		Delta: chatDelta{Role: "assistant", Content: &empty, Refusal: json.RawMessage("null")},
	}})) != nil {
		return
	}
	chunks, tokens := s.tok.streamChunks(gen.text)
	for i, text := range chunks {
		if sse.sleep(s.delay*time.Duration(tokens[i])) != nil {
			return
		}
		if sse.event(chunk([]chatChunkChoice{{Delta: chatDelta{Content: &text}}})) != nil {
			return
		}
	}
	if sse.event(chunk([]chatChunkChoice{{Delta: chatDelta{}, FinishReason: &gen.finish}})) != nil {
		return
	}
	if params.includeUsage {
		last := chunk([]chatChunkChoice{})
		last.Usage = marshal(u)
		if sse.event(last) != nil {
			return
		}
	}
	_ = sse.done()
}

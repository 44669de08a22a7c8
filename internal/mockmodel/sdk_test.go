package mockmodel

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestOpenAISDK drives the mock with the official OpenAI Go SDK, which must
// parse every response and stream.
func TestOpenAISDK(t *testing.T) {
	srv := httptest.NewServer(Handler(Config{Model: "mock", TokenDelay: time.Millisecond}))
	t.Cleanup(srv.Close)
	client := openai.NewClient(
		option.WithBaseURL(srv.URL+"/v1"),
		option.WithAPIKey("x"),
		option.WithMaxRetries(0),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	chatParams := openai.ChatCompletionNewParams{
		Model: openai.ChatModelGPT4,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are a helpful assistant."),
			openai.UserMessage("Say hello to the SDK. 你好!"),
		},
		MaxTokens: openai.Int(20),
	}
	wantPrompt := chatPromptTokens([2]string{"system", "You are a helpful assistant."}, user("Say hello to the SDK. 你好!"))

	// Chat, non-streaming.
	chat, err := client.Chat.Completions.New(ctx, chatParams)
	if err != nil {
		t.Fatal(err)
	}
	if len(chat.Choices) != 1 || chat.Model != "mock" || !strings.HasPrefix(chat.ID, "chatcmpl-") ||
		string(chat.Object) != "chat.completion" || chat.Created == 0 || chat.SystemFingerprint == "" {
		t.Fatalf("chat completion %s", chat.RawJSON())
	}
	msg := chat.Choices[0].Message
	if string(msg.Role) != "assistant" || !strings.HasPrefix(msg.Content, `You said: "Say hello to the SDK. 你好!"`) ||
		chat.Choices[0].FinishReason != "length" {
		t.Errorf("choice %s", chat.Choices[0].RawJSON())
	}
	if chat.Usage.PromptTokens != int64(wantPrompt) || chat.Usage.CompletionTokens != 20 ||
		chat.Usage.TotalTokens != int64(wantPrompt)+20 || Tokens(msg.Content) != 20 {
		t.Errorf("usage %s", chat.Usage.RawJSON())
	}
	for name, f := range map[string]interface{ Valid() bool }{
		"id": chat.JSON.ID, "choices": chat.JSON.Choices, "created": chat.JSON.Created, "model": chat.JSON.Model,
		"object": chat.JSON.Object, "usage": chat.JSON.Usage, "system_fingerprint": chat.JSON.SystemFingerprint,
		"finish_reason": chat.Choices[0].JSON.FinishReason, "content": msg.JSON.Content,
	} {
		if !f.Valid() {
			t.Errorf("SDK did not find a valid %q in %s", name, chat.RawJSON())
		}
	}

	// Chat, streaming, accumulated.
	streamParams := chatParams
	streamParams.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, streamParams)
	var acc openai.ChatCompletionAccumulator
	chunks, finishedContent := 0, ""
	for stream.Next() {
		chunk := stream.Current()
		if !acc.AddChunk(chunk) {
			t.Fatalf("accumulator rejected chunk %s", chunk.RawJSON())
		}
		if content, ok := acc.JustFinishedContent(); ok {
			finishedContent = content
		}
		chunks++
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if err := stream.Close(); err != nil {
		t.Fatal(err)
	}
	if chunks != 1+20+1+1 { // role, 20 tokens, finish, usage
		t.Errorf("%d chunks", chunks)
	}
	if len(acc.Choices) != 1 || acc.Choices[0].Message.Content != msg.Content || finishedContent != msg.Content ||
		acc.Choices[0].FinishReason != "length" || string(acc.Choices[0].Message.Role) != "assistant" {
		t.Errorf("accumulated %+v, want content %q", acc.Choices, msg.Content)
	}
	if acc.Usage.PromptTokens != chat.Usage.PromptTokens || acc.Usage.CompletionTokens != 20 ||
		acc.Usage.TotalTokens != chat.Usage.TotalTokens {
		t.Errorf("accumulated usage %+v", acc.Usage)
	}
	if string(acc.Object) != "chat.completion" || acc.Model != "mock" {
		t.Errorf("accumulated envelope %q %q", acc.Object, acc.Model)
	}

	// Embeddings, batch, with dimensions.
	emb, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model:      openai.EmbeddingModelTextEmbedding3Small,
		Input:      openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"first", "second"}},
		Dimensions: openai.Int(64),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Data) != 2 || emb.Model != "mock" || emb.Usage.PromptTokens != int64(Tokens("first")+Tokens("second")) {
		t.Fatalf("embeddings %s", emb.RawJSON())
	}
	for i, d := range emb.Data {
		if d.Index != int64(i) || len(d.Embedding) != 64 {
			t.Errorf("embedding %d: index %d, %d dims", i, d.Index, len(d.Embedding))
		}
		var n float64
		for _, x := range d.Embedding {
			n += x * x
		}
		if math.Abs(math.Sqrt(n)-1) > 1e-5 {
			t.Errorf("embedding %d norm %v", i, math.Sqrt(n))
		}
	}

	// Embeddings from token ids.
	emb, err = client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: openai.EmbeddingModelTextEmbedding3Small,
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfTokens: []int64{15339, 1917}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Data) != 1 || len(emb.Data[0].Embedding) != DefaultDimensions || emb.Usage.TotalTokens != 2 {
		t.Errorf("token embeddings %s", emb.RawJSON())
	}

	// Text completions, plain and streaming.
	compParams := openai.CompletionNewParams{
		Model:     openai.CompletionNewParamsModelGPT3_5TurboInstruct,
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
		MaxTokens: openai.Int(10),
	}
	comp, err := client.Completions.New(ctx, compParams)
	if err != nil {
		t.Fatal(err)
	}
	if len(comp.Choices) != 1 || comp.Choices[0].FinishReason != "length" || Tokens(comp.Choices[0].Text) != 10 ||
		comp.Usage.PromptTokens != int64(Tokens("Once upon a time")) || comp.Usage.CompletionTokens != 10 {
		t.Errorf("completion %s", comp.RawJSON())
	}
	cstream := client.Completions.NewStreaming(ctx, compParams)
	var text strings.Builder
	finish := ""
	for cstream.Next() {
		c := cstream.Current()
		for _, ch := range c.Choices {
			text.WriteString(ch.Text)
			if ch.FinishReason != "" {
				finish = string(ch.FinishReason)
			}
		}
	}
	if err := cstream.Err(); err != nil {
		t.Fatal(err)
	}
	if text.String() != comp.Choices[0].Text || finish != "length" {
		t.Errorf("streamed completion %q (%s), want %q", text.String(), finish, comp.Choices[0].Text)
	}

	// Models.
	page, err := client.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].ID != "mock" || page.Data[0].OwnedBy != "perimeter" {
		t.Errorf("models %s", page.RawJSON())
	}
	model, err := client.Models.Get(ctx, "mock")
	if err != nil || model.ID != "mock" {
		t.Errorf("model %v, %v", model, err)
	}

	// Errors arrive as *openai.Error with the fields filled in.
	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    openai.ChatModelGPT4,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		N:        openai.Int(2),
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v is not an *openai.Error", err)
	}
	if apiErr.StatusCode != http.StatusBadRequest || apiErr.Param != "n" || apiErr.Type != "invalid_request_error" ||
		!strings.Contains(apiErr.Message, "n=1") {
		t.Errorf("API error %+v", apiErr)
	}
	_, err = client.Models.Get(ctx, "gpt-5")
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Code != "model_not_found" {
		t.Errorf("unknown model: %v", err)
	}
}

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	cs "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/cognitiveservices/armcognitiveservices/v2"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"
)

// TestGatewayWithOpenAISDK: an account with firewall rules and a
// deployment of the built-in mock, made with the Azure SDK, then used
// through the gateway by the official OpenAI Go SDK in its Azure mode —
// chat, streamed chat, embeddings, keys and tokens — while a refused
// address gets Azure's 403. Perimeter trusts the test's loopback address
// as a proxy, so X-Forwarded-For says where each client is.
func TestGatewayWithOpenAISDK(t *testing.T) {
	in := start(t, t.TempDir(), "--trusted-proxies", "127.0.0.1/32")
	ctx := t.Context()
	poll := &runtime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond}

	in.group("gw-rg", "eastus")
	factory := in.cognitive()
	accounts := factory.NewAccountsClient()
	created, err := accounts.BeginCreate(ctx, "gw-rg", "gw", cs.Account{
		Kind: to.Ptr("AIServices"), Location: to.Ptr("eastus"), SKU: &cs.SKU{Name: to.Ptr("S0")},
		Properties: &cs.AccountProperties{
			CustomSubDomainName: to.Ptr("e2e-gw"),
			NetworkACLs: &cs.NetworkRuleSet{
				DefaultAction: to.Ptr(cs.NetworkRuleActionDeny),
				IPRules:       []*cs.IPRule{{Value: to.Ptr("203.0.113.0/24")}},
			},
		},
	}, nil)
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	acct, err := created.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	endpoint := *acct.Properties.Endpoint
	dp, err := factory.NewDeploymentsClient().BeginCreateOrUpdate(ctx, "gw-rg", "gw", "chat", cs.Deployment{
		SKU:        &cs.SKU{Name: to.Ptr("Standard"), Capacity: to.Ptr[int32](10)},
		Properties: &cs.DeploymentProperties{Model: &cs.DeploymentModel{Format: to.Ptr("Perimeter"), Name: to.Ptr("mock"), Version: to.Ptr("1")}},
	}, nil)
	if err != nil {
		t.Fatalf("deploy the mock: %v", err)
	}
	if _, err := dp.PollUntilDone(ctx, poll); err != nil {
		t.Fatalf("deploy the mock: %v", err)
	}
	keys, err := accounts.ListKeys(ctx, "gw-rg", "gw", nil)
	if err != nil {
		t.Fatal(err)
	}

	// The endpoint's host names no DNS record the test can rely on: dial
	// the gateway's address and keep the name for SNI and Host.
	gw := gatewayClient(t, in)
	client := func(from string, auth option.RequestOption) openai.Client {
		return openai.NewClient(azure.WithEndpoint(endpoint, "2024-10-21"), auth, option.WithHTTPClient(gw),
			option.WithHeader("X-Forwarded-For", from), option.WithMaxRetries(0))
	}
	allowed := client("203.0.113.9", azure.WithAPIKey(*keys.Key1))

	// Chat.
	chat, err := allowed.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello through the gateway")},
	})
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	if len(chat.Choices) != 1 || chat.Choices[0].Message.Content == "" || chat.Usage.PromptTokens == 0 || chat.Usage.CompletionTokens == 0 {
		t.Errorf("chat: %+v", chat)
	}

	// Streamed chat: chunks, then the usage chunk.
	stream := allowed.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Stream a reply, please")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var text strings.Builder
	chunks, usage := 0, int64(0)
	for stream.Next() {
		c := stream.Current()
		chunks++
		for _, ch := range c.Choices {
			text.WriteString(ch.Delta.Content)
		}
		if c.Usage.CompletionTokens > 0 {
			usage = c.Usage.CompletionTokens
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if chunks < 2 || text.Len() == 0 || usage == 0 {
		t.Errorf("stream: %d chunks, text %q, completion tokens %d", chunks, text.String(), usage)
	}

	// Embeddings.
	emb, err := allowed.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "chat", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("embed me")},
	})
	if err != nil {
		t.Fatalf("embeddings: %v", err)
	}
	if len(emb.Data) != 1 || len(emb.Data[0].Embedding) == 0 {
		t.Errorf("embeddings: %+v", emb)
	}

	// A bearer token for the data plane, from Perimeter's issuer through
	// azidentity.
	// The admin owns the subscription, and Owner grants no data action:
	// refused until a data role is assigned, as in Azure.
	withToken := client("203.0.113.10", azure.WithTokenCredential(in.credential()))
	chatParams := openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("token")},
	}
	var denied *openai.Error
	if _, err := withToken.Chat.Completions.New(ctx, chatParams); !errors.As(err, &denied) || denied.StatusCode != http.StatusUnauthorized {
		t.Errorf("chat with a token before any data role: %v, want 401 PermissionDenied", err)
	}
	in.assign(*acct.ID, "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd", in.objectID(in.credential())) // Cognitive Services OpenAI User
	if err := eventually(func() error { _, err := withToken.Chat.Completions.New(ctx, chatParams); return err }); err != nil {
		t.Errorf("chat with a token: %v", err)
	}

	// Refusals, as Azure words them.
	var apiErr *openai.Error
	refused := client("198.51.100.7", azure.WithAPIKey(*keys.Key1))
	_, err = refused.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("let me in")},
	})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden || !strings.Contains(err.Error(), "Access denied due to Virtual Network/Firewall rules.") {
		t.Errorf("refused address: %v", err)
	}
	wrongKey := client("203.0.113.9", azure.WithAPIKey("00000000000000000000000000000000"))
	_, err = wrongKey.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("wrong key")},
	})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong key: %v", err)
	}
	_, err = allowed.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "nope", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("who")},
	})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Code != "DeploymentNotFound" {
		t.Errorf("unknown deployment: %v", err)
	}

	// The raw refusal: Azure's body and headers.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(endpoint, "/")+"/openai/deployments?api-version=2022-12-01", nil)
	req.Header.Set("api-key", *keys.Key1)
	req.Header.Set("X-Forwarded-For", "198.51.100.7")
	resp, err := gw.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || string(body) != `{"error":{"code":"403","message":"Access denied due to Virtual Network/Firewall rules."}}` ||
		resp.Header.Get("policy-id") != "ThrowExceptionDueToTrafficDenied" || resp.Header.Get("apim-request-id") == "" ||
		resp.Header.Get("x-content-type-options") != "nosniff" || resp.Header.Get("strict-transport-security") == "" {
		t.Errorf("raw refusal: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// The listing from an allowed address.
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err = gw.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Data []struct{ ID, Model, Status string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(list.Data) != 1 || list.Data[0].ID != "chat" || list.Data[0].Model != "mock" {
		t.Errorf("deployments: %d %+v", resp.StatusCode, list)
	}

	// A rule change through the API applies to the next requests.
	upd, err := accounts.BeginUpdate(ctx, "gw-rg", "gw", cs.Account{Properties: &cs.AccountProperties{
		NetworkACLs: &cs.NetworkRuleSet{DefaultAction: to.Ptr(cs.NetworkRuleActionDeny), IPRules: []*cs.IPRule{{Value: to.Ptr("198.51.100.0/24")}}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := upd.PollUntilDone(ctx, poll); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err := allowed.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("still there?")},
		})
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusForbidden {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old address is still allowed 2s after the rule changed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gatewayClient is an HTTP client that trusts Perimeter's CA and reaches
// the gateway for any account host name.
func gatewayClient(t *testing.T, in *instance) *http.Client {
	t.Helper()
	u, err := url.Parse(in.ready.Gateway)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(in.ready.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, u.Host)
		},
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

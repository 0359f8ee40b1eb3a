package providers

import (
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// Azure: the deployment's path with the configured api-version, the key
// in api-key (and the client's own key nowhere), the answer relayed as
// Azure sent it; a stream proven by lockstep order; a 429 keeps its
// Retry-After.
func TestAzureAPIKey(t *testing.T) {
	c := newCompat(t)
	cl := c.client("azure")
	res, err := cl.Chat.Completions.New(ctx30(t), openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: user("hi")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Choices[0].Message.Content == "" || res.Usage.PromptTokens != stub.PromptTokens {
		t.Errorf("answer %+v", res)
	}
	r := c.paths.last(t)
	if r.URL.Path != "/openai/deployments/dep1/chat/completions" || r.URL.Query().Get("api-version") != "2024-10-21" {
		t.Errorf("upstream %s?%s", r.URL.Path, r.URL.RawQuery)
	}
	if r.Header.Get("api-key") != azureKey || strings.Contains(r.Header.Get("Authorization"), "client-key") {
		t.Errorf("upstream auth: api-key %q, Authorization %q", r.Header.Get("api-key"), r.Header.Get("Authorization"))
	}

	stream := cl.Chat.Completions.NewStreaming(ctx30(t), openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: user("hi")},
		option.WithHeader("X-Stub-Lockstep", "1"), option.WithHeader("X-Stub-Chunks", "4"))
	var text strings.Builder
	for stream.Next() {
		if ch := stream.Current(); len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			text.WriteString(ch.Choices[0].Delta.Content)
			c.openai.Step()
		}
	}
	if err := stream.Err(); err != nil || c.openai.Stalled() != 0 {
		t.Fatalf("stream: %v, %d stalls", err, c.openai.Stalled())
	}
	if !strings.HasPrefix(text.String(), stub.Word(0)+stub.Word(1)) {
		t.Errorf("streamed %q", text.String())
	}
	lines := c.statsLines(t, "azure", 2)
	if len(lines) != 2 || stat(lines[0], "ai.proxy.usage.prompt_tokens") != float64(stub.PromptTokens) || stat(lines[1], "ai.proxy.meta.provider_name") != "azure" {
		t.Errorf("statistics lines: %v", lines)
	}

	_, err = cl.Chat.Completions.New(ctx30(t), openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: user("hi")}, option.WithHeader("X-Stub-Status", "429"))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Response.Header.Get("Retry-After") != "7" {
		t.Errorf("429: %v", err)
	}
}

// Entra ID: a service principal's token (client credentials against the
// configured authority) goes as Authorization: Bearer, fetched once and
// reused from the cache for the next calls; the secret is sent only to
// the token endpoint.
func TestAzureEntraID(t *testing.T) {
	c := newCompat(t)
	cl := c.client("azure-entra")
	for i := 0; i < 3; i++ {
		if _, err := cl.Chat.Completions.New(ctx30(t), openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: user("hi")}); err != nil {
			var ae *openai.Error
			errors.As(err, &ae)
			t.Fatalf("call %d: %v %s\n%s", i, err, ae.RawJSON(), c.proc.Output)
		}
	}
	r := c.paths.last(t)
	if r.Header.Get("Authorization") != "Bearer "+entraToken || r.URL.Path != "/openai/deployments/dep2/chat/completions" || r.URL.Query().Get("api-version") != "2023-05-15" {
		t.Errorf("upstream %s?%s Authorization %q", r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"))
	}
	if n := c.entra.tokens.Load(); n != 1 {
		t.Errorf("%d token requests for 3 calls, want 1 (cached)", n)
	}
	for _, req := range c.openai.Requests() {
		if strings.Contains(string(req.Body), entraSecret) {
			t.Error("the client secret reached the model's endpoint")
		}
	}
}

// Azure's Responses API, relayed byte for byte like chat: Azure's v1 path
// /openai/v1/responses with the configured api-version (preview; a dated
// one is not sent there), the key in api-key, the deployment in the body's
// model; non-streamed and streamed (proven by lockstep order), the usage
// in the statistics.
func TestAzureResponses(t *testing.T) {
	c := newCompat(t)
	cl := c.client("azure-api")
	res, err := cl.Responses.New(ctx30(t), responses.ResponseNewParams{Model: "resp1",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}}, option.WithHeader("X-Stub-Chunks", "3"))
	if err != nil {
		t.Fatal(err)
	}
	if res.OutputText() != stub.Word(0)+stub.Word(1)+stub.Word(2) || res.Status != "completed" || res.Usage.InputTokens != stub.PromptTokens {
		t.Errorf("response %s", res.RawJSON())
	}
	r := c.azure.last(t)
	if r.URL.Path != "/openai/v1/responses" || r.URL.RawQuery != "api-version=preview" || r.Header.Get("api-key") != azureKey {
		t.Errorf("Azure got %s?%s api-key %q", r.URL.Path, r.URL.RawQuery, r.Header.Get("api-key"))
	}
	if last := c.openai.Last(); !strings.Contains(string(last.Body), `"model":"resp1"`) || strings.Contains(string(last.Body), "client-key") {
		t.Errorf("Azure got the body %s", last.Body)
	}

	stream := cl.Responses.NewStreaming(ctx30(t), responses.ResponseNewParams{Model: "resp1",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}},
		option.WithHeader("X-Stub-Lockstep", "1"), option.WithHeader("X-Stub-Chunks", "4"))
	var text strings.Builder
	var final responses.Response
	for stream.Next() {
		ev := stream.Current()
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
			c.openai.Step()
		case "response.completed":
			final = ev.Response
		}
	}
	if err := stream.Err(); err != nil || c.openai.Stalled() != 0 {
		t.Fatalf("stream: %v, %d stalls", err, c.openai.Stalled())
	}
	if text.String() != stub.Word(0)+stub.Word(1)+stub.Word(2)+stub.Word(3) || final.Usage.OutputTokens != 4 {
		t.Errorf("streamed %q, final %s", text.String(), final.RawJSON())
	}
	lines := c.statsLines(t, "azure-responses", 2)
	if len(lines) != 2 || stat(lines[1], "ai.proxy.meta.provider_name") != "azure" ||
		stat(lines[0], "ai.proxy.usage.prompt_tokens") != float64(stub.PromptTokens) || stat(lines[1], "ai.proxy.usage.completion_tokens") != 4.0 {
		t.Errorf("statistics lines: %v", lines)
	}
}

// Azure's embeddings, relayed byte for byte: the deployment's path
// /openai/deployments/{d}/embeddings with the dated api-version.
func TestAzureEmbeddings(t *testing.T) {
	c := newCompat(t)
	cl := c.client("azure-api")
	res, err := cl.Embeddings.New(ctx30(t), openai.EmbeddingNewParams{Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a b", "c"}}, Dimensions: openai.Int(3),
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != 2 || len(res.Data[1].Embedding) != 3 || res.Data[1].Embedding[0] != float64(stub.EmbeddingVector(1, 3)[0]) || res.Usage.PromptTokens != 3 {
		t.Errorf("embeddings %s", res.RawJSON())
	}
	r := c.azure.last(t)
	if r.URL.Path != "/openai/deployments/emb1/embeddings" || r.URL.RawQuery != "api-version=2024-10-21" || r.Header.Get("api-key") != azureKey {
		t.Errorf("Azure got %s?%s api-key %q", r.URL.Path, r.URL.RawQuery, r.Header.Get("api-key"))
	}
	lines := c.statsLines(t, "azure-embeddings", 1)
	if len(lines) != 1 || stat(lines[0], "ai.proxy.meta.provider_name") != "azure" || stat(lines[0], "ai.proxy.usage.prompt_tokens") != 3.0 {
		t.Errorf("statistics lines: %v", lines)
	}
}

package providers

import (
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// Llama2 in the openai format: byte for byte to upstream_url.
func TestLlama2OpenAIFormat(t *testing.T) {
	c := newCompat(t)
	cl := c.client("llama2")
	res, err := cl.Chat.Completions.New(ctx30(t), openai.ChatCompletionNewParams{Model: "llama-3.1-8b", Messages: user("hi")})
	if err != nil {
		t.Fatal(err)
	}
	if r := c.paths.last(t); res.Usage.PromptTokens != stub.PromptTokens || r.URL.Path != "/v1/chat/completions" {
		t.Errorf("answer %+v; upstream %s", res.Usage, r.URL.Path)
	}
}

// Llama2 in the ollama format (upstream_url names /api/chat).
func TestLlama2OllamaFormat(t *testing.T) { ollamaFormat(t, "llama2-ollama", "llama2") }

package providers

import (
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// Mistral in the openai format: byte for byte to Mistral's chat endpoint
// (here upstream_url), the key as configured.
func TestMistralOpenAIFormat(t *testing.T) {
	c := newCompat(t)
	cl := c.client("mistral")
	res, err := cl.Chat.Completions.New(ctx30(t), openai.ChatCompletionNewParams{Model: "mistral-large-latest", Messages: user("hi")})
	if err != nil {
		t.Fatal(err)
	}
	r := c.paths.last(t)
	if res.Usage.PromptTokens != stub.PromptTokens || r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer "+mistralKey {
		t.Errorf("answer %+v; upstream %s Authorization %q", res.Usage, r.URL.Path, r.Header.Get("Authorization"))
	}
	if body := string(c.openai.Last().Body); !strings.Contains(body, `"model":"mistral-large-latest"`) {
		t.Errorf("body %s", body)
	}
}

// Mistral in the ollama format, against an Ollama server.
func TestMistralOllamaFormat(t *testing.T) { ollamaFormat(t, "mistral-ollama", "mistral") }

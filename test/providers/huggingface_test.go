package providers

import (
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// Hugging Face: the router's OpenAI format, byte for byte, with the model
// in the body and the key as configured; a stream in lockstep; the
// use_cache and wait_for_model options load with a warning and send
// nothing.
func TestHuggingFace(t *testing.T) {
	c := newCompat(t)
	cl := c.client("huggingface")
	res, err := cl.Chat.Completions.New(ctx30(t), openai.ChatCompletionNewParams{Model: "meta-llama/Llama-3.1-8B-Instruct", Messages: user("hi")})
	if err != nil {
		t.Fatal(err)
	}
	r := c.paths.last(t)
	body := string(c.openai.Last().Body)
	if res.Usage.PromptTokens != stub.PromptTokens || r.Header.Get("Authorization") != "Bearer "+hfKey ||
		!strings.Contains(body, `"model":"meta-llama/Llama-3.1-8B-Instruct"`) || strings.Contains(body, "use_cache") || r.Header.Get("X-Use-Cache") != "" {
		t.Errorf("upstream %s Authorization %q body %s", r.URL.Path, r.Header.Get("Authorization"), body)
	}
	stream := cl.Chat.Completions.NewStreaming(ctx30(t), openai.ChatCompletionNewParams{Model: "m", Messages: user("hi")},
		option.WithHeader("X-Stub-Lockstep", "1"), option.WithHeader("X-Stub-Chunks", "3"))
	n := 0
	for stream.Next() {
		if ch := stream.Current(); len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			n++
			c.openai.Step()
		}
	}
	if stream.Err() != nil || n != 3 || c.openai.Stalled() != 0 {
		t.Errorf("stream: %d pieces, %v, %d stalls", n, stream.Err(), c.openai.Stalled())
	}
	if out := c.proc.Output.String(); !strings.Contains(out, "use_cache and wait_for_model are accepted and ignored") {
		t.Errorf("no load warning for use_cache/wait_for_model:\n%s", out)
	}
}

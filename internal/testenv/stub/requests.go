package stub

import (
	"encoding/json"
	"fmt"
	"strings"
)

// PluginConfig is the seed's ai-proxy plugin (the model from the path,
// statistics on) with upstreamURL as its upstream and authValue as its
// Authorization header: the configuration tests and benchmarks run the proxy
// with. Values are quoted, so a key written as ${{ env "NAME" }} or a vault
// reference fits as is.
func PluginConfig(upstreamURL, authValue string) string {
	return fmt.Sprintf(`route_type: llm/v1/chat
auth:
  header_name: Authorization
  header_value: %q
logging:
  log_statistics: true
model:
  provider: openai
  name: "$(uri_captures.model)"
  options:
    upstream_url: %q
`, authValue, upstreamURL)
}

// ChatRequest is a chat completion request of about 2 KB, the size of a
// short conversation with a system prompt: what the benchmarks send, from
// the micro-benchmarks to the load runs, so their figures compare.
func ChatRequest(model string, stream bool) []byte {
	const sentence = "The quick brown fox jumps over the lazy dog while the proxy relays every byte. "
	type msg struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	body := struct {
		Model       string  `json:"model"`
		Messages    []msg   `json:"messages"`
		Temperature float64 `json:"temperature"`
		MaxTokens   int     `json:"max_tokens"`
		Stream      bool    `json:"stream,omitempty"`
		User        string  `json:"user"`
	}{
		Model: model,
		Messages: []msg{
			{"system", "You are a helpful assistant. Answer briefly and precisely. " + strings.Repeat(sentence, 4)},
			{"user", strings.Repeat(sentence, 8)},
			{"assistant", strings.Repeat(sentence, 6)},
			{"user", strings.Repeat(sentence, 4) + "Summarize the above."},
		},
		Temperature: 0.7,
		MaxTokens:   256,
		Stream:      stream,
		User:        "bench",
	}
	b, _ := json.Marshal(body)
	return b
}

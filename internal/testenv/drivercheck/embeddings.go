package drivercheck

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// EmbeddingsList is OpenAI's embeddings answer as a driver's tests read
// it; an embedding stays raw, floats (Floats) or base64.
type EmbeddingsList struct {
	Data []struct {
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Model string `json:"model"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

// Embed makes the call a driver's PrepareEmbeddings returned, with req as
// the proxy would send it, and returns the status, the answer decoded (a
// 200 that is not a list fails t) and the body as it came.
func Embed(t testing.TB, up provider.Upstream, req *http.Request) (int, EmbeddingsList, string) {
	t.Helper()
	res, err := up.Transport.RoundTrip(req)
	if err != nil {
		t.Fatalf("round trip: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var l EmbeddingsList
	if res.StatusCode == 200 && json.Unmarshal(b, &l) != nil {
		t.Fatalf("%s", b)
	}
	return res.StatusCode, l, string(b)
}

// Floats is an embedding sent as floats.
func Floats(t testing.TB, raw json.RawMessage) []float32 {
	t.Helper()
	var v []float32
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("not floats: %.80s", raw)
	}
	return v
}

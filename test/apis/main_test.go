// Package apis drives the client APIs beside chat end to end: OpenAI's
// Responses API, embeddings and the model list, through the real binary,
// with openai-go's own clients and the Codex CLI itself (pinned in codex/,
// installed with npm ci), against the OpenAI stub (relayed byte for byte)
// and the Bedrock stub (the Responses API translated through chat).
package apis

import (
	"os"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
)

func TestMain(m *testing.M) {
	code := m.Run()
	binary.Cleanup()
	os.Exit(code)
}

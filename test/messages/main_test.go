// Package messages drives Anthropic's Messages API in (llm_format:
// anthropic) end to end: the real binary, real clients (anthropic-sdk-go,
// and Claude Code itself), and upstreams in each provider's wire format:
// the OpenAI stub through the chat hub, an Anthropic server relayed
// natively, and the Bedrock test server through InvokeModel.
package messages

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

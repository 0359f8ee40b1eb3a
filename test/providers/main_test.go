// Package providers drives each provider's driver end to end: the real
// binary, a test server speaking that provider's wire format, and a real
// OpenAI client. One file per provider.
package providers

import (
	"os"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
)

func TestMain(m *testing.M) {
	code := m.Run()
	binary.Cleanup()
	os.Exit(code)
}

// user is a conversation of one user message.
func user(text string) []openai.ChatCompletionMessageParamUnion {
	return []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}
}

package proxy

import (
	"bytes"
	"io"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

func TestAnswerUsage(t *testing.T) {
	tests := []struct {
		name, body string
		model      string
		usage      *stats.Usage
	}{
		{"chat completion", `{"id":"x","model":"gpt-4o-mini","choices":[{"message":{"content":"\"usage\":{}"}}],"usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13}}`,
			"gpt-4o-mini", &stats.Usage{PromptTokens: 11, CompletionTokens: 2, TotalTokens: 13}},
		{"escaped model", `{"model":"gpt\u002d4o","usage":null}`, "gpt-4o", nil},
		{"no usage", `{"model":"m","choices":[]}`, "m", nil},
		{"model not a string", `{"model":5,"usage":{"total_tokens":1}}`, "", &stats.Usage{TotalTokens: 1}},
		{"invalid JSON", `{"model":"m","usage":{"total_tokens":1}`, "", nil},
		{"not an object", `[1,2]`, "", nil},
		{"empty", ``, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model, usage := answerUsage([]byte(tc.body))
			if model != tc.model {
				t.Errorf("model = %q, want %q", model, tc.model)
			}
			switch {
			case (usage == nil) != (tc.usage == nil):
				t.Errorf("usage = %+v, want %+v", usage, tc.usage)
			case usage != nil && *usage != *tc.usage:
				t.Errorf("usage = %+v, want %+v", *usage, *tc.usage)
			}
		})
	}
}

// answerUsage runs a whole answer through the tap, as the relay does.
func answerUsage(body []byte) (model string, usage *stats.Usage) {
	t := newAnswerTap(io.NopCloser(bytes.NewReader(body)), false, true, 0)
	_, _ = io.Copy(io.Discard, t)
	var o outcome
	t.parse(&o)
	if !t.scan.valid() {
		return "", nil
	}
	return o.responseModel, o.usage
}

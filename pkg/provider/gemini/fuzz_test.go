package gemini

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/drivercheck"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

const fuzzSecret = "AIza-fuzz-secret"

func FuzzRequest(f *testing.F) {
	for _, s := range []string{hello,
		`{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]},{"role":"assistant","tool_calls":[{"id":"a__thought__c2ln","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"a__thought__c2ln","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"auto","reasoning_effort":"low","response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{}}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, out, err := translate(b, "gemini-3-pro", nil)
		if err != nil {
			return
		}
		if !json.Valid(out) || len(out) > 2*len(b)+4096 {
			t.Fatalf("bad output %d bytes for %d: %s", len(out), len(b), out)
		}
	})
}

func FuzzAnswer(f *testing.F) {
	for _, s := range []string{`{"candidates":[{"content":{"parts":[{"text":"a"},{"functionCall":{"name":"f","args":{"a":1}},"thoughtSignature":"c2ln"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":1}}`,
		`{"promptFeedback":{"blockReason":"SAFETY"}}`, `{"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, pe := answer(b, "m")
		if pe != nil {
			return
		}
		if !json.Valid(out) || len(out) > 4*len(b)+4096 || bytes.Contains(out, []byte(fuzzSecret)) && !bytes.Contains(b, []byte(fuzzSecret)) {
			t.Fatalf("bad output: %s", out)
		}
	})
}

func FuzzStream(f *testing.F) {
	f.Add([]byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\r\n\r\ndata: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":{}}}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":3}}\r\n\r\n"))
	f.Add([]byte("data: {\"error\":{\"code\":503,\"message\":\"x\"}}\n\n"))
	f.Add([]byte(": comment\n\ndata: {}\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev := newEvents(io.NopCloser(bytes.NewReader(b)), "m", true)
		if ev.prime() != nil {
			return
		}
		drivercheck.Stream(t, ev, len(b), 8)
	})
}

// FuzzEmbedAnswer: the three embeddings answers, read and rendered as
// OpenAI's list (floats and base64): no panic, valid JSON, bounded.
func FuzzEmbedAnswer(f *testing.F) {
	for _, s := range []string{`{"embedding":{"values":[0.5,-1]}}`, `{"embeddings":[{"values":[1,2]},{"values":[3]}]}`,
		`{"predictions":[{"embeddings":{"values":[1e-3],"statistics":{"token_count":3,"truncated":false}}}],"metadata":{"billableCharacterCount":4}}`,
		`{"embedding":{"values":[1]},"usageMetadata":{"promptTokenCount":2}}`} {
		for m := modeSingle; m <= modePredict; m++ {
			f.Add(uint8(m), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, mode uint8, b []byte) {
		v, n, _, pe := embedAnswer(embedMode(mode%3+1), b)
		if pe != nil {
			return
		}
		for _, b64 := range []bool{false, true} {
			out := provider.EmbeddingsJSON("m", v, n, b64)
			if !json.Valid(out) || len(out) > 16*len(b)+4096 || bytes.Contains(out, []byte(fuzzSecret)) {
				t.Fatalf("bad output %d bytes for %d: %.200s", len(out), len(b), out)
			}
		}
	})
}

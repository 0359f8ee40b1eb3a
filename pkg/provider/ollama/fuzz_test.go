package ollama

import (
	"io"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/drivercheck"
)

var seedStream = `{"model":"m","created_at":"2024-01-01T00:00:00Z","message":{"role":"assistant","content":"Hel"},"done":false}
{"model":"m","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}]},"done":false}
{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":3,"eval_count":4}
`

func FuzzStream(f *testing.F) {
	f.Add(seedStream)
	f.Add(`{"error":"boom"}` + "\n")
	f.Fuzz(func(t *testing.T, in string) {
		ev := NewEvents(io.NopCloser(strings.NewReader(in)), "m", true)
		drivercheck.Stream(t, ev, len(in), 16)
	})
}

func FuzzAnswer(f *testing.F) {
	f.Add(`{"model":"m","message":{"role":"assistant","content":"hi","thinking":"t","tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}]},"done":true,"done_reason":"length","prompt_eval_count":3,"eval_count":4}`)
	f.Fuzz(func(t *testing.T, in string) {
		drivercheck.Completion(t, in, ToCompletion)
	})
}

func FuzzRequest(f *testing.F) {
	f.Add(`{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]},{"role":"assistant","content":"","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c","content":"r"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"max_tokens":5,"stop":["x"],"response_format":{"type":"json_object"}}`)
	f.Fuzz(func(t *testing.T, in string) {
		drivercheck.Request(t, in, Translate)
	})
}

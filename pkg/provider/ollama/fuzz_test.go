package ollama

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
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
		total := 0
		for i := 0; i < 10000; i++ {
			b, err := ev.Next()
			total += len(b)
			for _, e := range strings.Split(strings.TrimSuffix(string(b), "\n\n"), "\n\n") {
				if e == "" || e == "data: [DONE]" {
					continue
				}
				data, ok := strings.CutPrefix(e, "data: ")
				if !ok || !json.Valid([]byte(data)) {
					t.Fatalf("bad event %q", e)
				}
			}
			if err != nil {
				break
			}
		}
		if total > 16*len(in)+4096 {
			t.Fatalf("%d bytes out of %d in", total, len(in))
		}
	})
}

func FuzzAnswer(f *testing.F) {
	f.Add(`{"model":"m","message":{"role":"assistant","content":"hi","thinking":"t","tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}]},"done":true,"done_reason":"length","prompt_eval_count":3,"eval_count":4}`)
	f.Fuzz(func(t *testing.T, in string) {
		out, err := ToCompletion([]byte(in), "m")
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON %s", out)
		}
	})
}

func FuzzRequest(f *testing.F) {
	f.Add(`{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]},{"role":"assistant","content":"","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c","content":"r"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"max_tokens":5,"stop":["x"],"response_format":{"type":"json_object"}}`)
	f.Fuzz(func(t *testing.T, in string) {
		r, err := chat.Decode([]byte(in))
		if err != nil {
			return
		}
		out, err := Translate(r, "m", nil)
		if err != nil {
			return
		}
		if b, err := json.Marshal(out); err != nil || !json.Valid(b) {
			t.Fatalf("%v %s", err, b)
		}
	})
}

package ollama

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/drivercheck"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

func TestTranslate(t *testing.T) {
	topK := 40
	for _, tc := range []struct {
		name, in, want, refused string
	}{
		{name: "options", in: `{"model":"x","messages":[{"role":"user","content":"hi"}],"max_tokens":9,"temperature":0.5,"stop":"END"}`,
			want: `"options":{"num_predict":9,"temperature":0.5,"top_k":40,"stop":["END"]}`},
		{name: "image", in: `{"model":"x","messages":[{"role":"user","content":[{"type":"text","text":"what?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}`,
			want: `{"role":"user","content":"what?","images":["AAAA"]}`},
		{name: "tool round trip", in: `{"model":"x","messages":[{"role":"assistant","content":"","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"r"}]}`,
			want: `"tool_calls":[{"id":"c1","function":{"name":"f","arguments":{"a":1}}}]},{"role":"tool","content":"r","tool_name":"f"}`},
		{name: "json mode", in: `{"model":"x","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}`, want: `"format":"json"`},
		{name: "image link", in: `{"model":"x","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`, refused: "messages"},
		{name: "required tool", in: `{"model":"x","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"}`, refused: "tool_choice"},
		{name: "logprobs", in: `{"model":"x","messages":[{"role":"user","content":"hi"}],"logprobs":true}`, refused: "logprobs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			drivercheck.Translation(t, tc.in, func(r *chat.Request) (*Request, error) { return Translate(r, "llama3", &topK) }, tc.want, tc.refused)
		})
	}
}

func TestStreamLength(t *testing.T) {
	in := `{"message":{"role":"assistant","content":"a"},"done":false}
{"message":{"role":"assistant","content":""},"done":true,"done_reason":"length","prompt_eval_count":2,"eval_count":1}
`
	ev := NewEvents(io.NopCloser(strings.NewReader(in)), "m", true)
	var all strings.Builder
	for {
		b, err := ev.Next()
		all.Write(b)
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
	}
	for _, want := range []string{`"finish_reason":"length"`, `"prompt_tokens":2`, "data: [DONE]"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("%s lacks %s", all.String(), want)
		}
	}
}

func BenchmarkRequest(b *testing.B) {
	body := []byte(`{"model":"llama3","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"What is the weather in Paris today?"}],"max_tokens":256,"temperature":0.2,"stream":true,"stream_options":{"include_usage":true}}`)
	b.ReportAllocs()
	for b.Loop() {
		r, _ := chat.Decode(body)
		out, _ := Translate(r, "llama3", nil)
		_, _ = json.Marshal(out)
	}
}

func BenchmarkStreamChunk(b *testing.B) {
	ev := NewEvents(nil, "llama3", true)
	ev.role = true
	line := []byte(`{"model":"llama3","created_at":"2024-01-01T00:00:00Z","message":{"role":"assistant","content":" token"},"done":false}`)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ev.line(line)
	}
}

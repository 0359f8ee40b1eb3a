package cohere

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/drivercheck"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

func TestTranslate(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, refused string
	}{
		{name: "sampling", in: `{"model":"x","messages":[{"role":"user","content":"hi"}],"top_p":0.5,"max_completion_tokens":9,"stop":"END","seed":3}`,
			want: `"p":0.5`},
		{name: "max tokens", in: `{"model":"x","messages":[{"role":"user","content":"hi"}],"max_tokens":9}`, want: `"max_tokens":9`},
		{name: "stop", in: `{"model":"x","messages":[{"role":"user","content":"hi"}],"stop":"END"}`, want: `"stop_sequences":["END"]`},
		{name: "system stays system", in: `{"model":"x","messages":[{"role":"developer","content":"s"},{"role":"user","content":"hi"}]}`,
			want: `{"role":"system","content":"s"}`},
		{name: "named tool choice", in: `{"model":"x","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"b"}}],"tool_choice":{"type":"function","function":{"name":"b"}}}`,
			want: `"tools":[{"type":"function","function":{"name":"b"}}],"tool_choice":"REQUIRED"`},
		{name: "json schema", in: `{"model":"x","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type":"object"}}}}`,
			want: `"response_format":{"type":"json_object","json_schema":{"type":"object"}}`},
		{name: "assistant text with calls is the plan", in: `{"model":"x","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"plan","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"r"}]}`,
			want: `"tool_plan":"plan"`},
		{name: "n", in: `{"model":"x","messages":[{"role":"user","content":"hi"}],"n":2}`, refused: "n"},
		{name: "no parallel calls", in: `{"model":"x","messages":[{"role":"user","content":"hi"}],"parallel_tool_calls":false}`, refused: "parallel_tool_calls"},
		{name: "audio", in: `{"model":"x","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"","format":"wav"}}]}]}`, refused: "messages"},
		{name: "tool without id", in: `{"model":"x","messages":[{"role":"tool","content":"r"}]}`, refused: "messages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			drivercheck.Translation(t, tc.in, func(r *chat.Request) (*Request, error) { return Translate(r, "command-a", nil) }, tc.want, tc.refused)
		})
	}
}

func TestAnswer(t *testing.T) {
	out, err := ToCompletion([]byte(`{"id":"x","finish_reason":"MAX_TOKENS","message":{"role":"assistant","content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"hi"}]},"usage":{"billed_units":{"input_tokens":3,"output_tokens":4},"tokens":{"input_tokens":300,"output_tokens":4}}}`), "command-a")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"content":"hi"`, `"reasoning_content":"hmm"`, `"finish_reason":"length"`, `"prompt_tokens":3`, `"completion_tokens":4`, `"model":"command-a"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("%s lacks %s", out, want)
		}
	}
}

func BenchmarkRequest(b *testing.B) {
	body := []byte(`{"model":"command-a","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"What is the weather in Paris today?"}],"max_tokens":256,"temperature":0.2,"stream":true,"stream_options":{"include_usage":true}}`)
	b.ReportAllocs()
	for b.Loop() {
		r, _ := chat.Decode(body)
		out, _ := Translate(r, "command-a", nil)
		_, _ = json.Marshal(out)
	}
}

func BenchmarkStreamChunk(b *testing.B) {
	ev := NewEvents(nil, "command-a", true)
	data := []byte(`{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":" token"}}}}`)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ev.translate(data)
	}
}

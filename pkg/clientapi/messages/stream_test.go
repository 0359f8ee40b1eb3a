package messages

import (
	"strings"
	"testing"
)

func chunk(delta, finish string) string {
	f := "null"
	if finish != "" {
		f = `"` + finish + `"`
	}
	return `{"id":"c","object":"chat.completion.chunk","model":"gpt","choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + f + `}]}`
}

// events names the events of an Anthropic stream, with the deltas' text.
func events(out string) []string {
	var got []string
	for _, ev := range strings.Split(strings.TrimSuffix(out, "\n\n"), "\n\n") {
		name, data, _ := strings.Cut(ev, "\ndata: ")
		name = strings.TrimPrefix(name, "event: ")
		if !strings.Contains(data, `"type":"`+name+`"`) {
			got = append(got, "MISMATCH "+ev)
		}
		got = append(got, name)
	}
	return got
}

func TestStream(t *testing.T) {
	usage := `{"id":"c","object":"chat.completion.chunk","model":"gpt","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":5,"total_tokens":35,"prompt_tokens_details":{"cached_tokens":20}}}`
	tests := []struct {
		name   string
		in     []string
		events []string
		want   []string
	}{
		{"text", []string{chunk(`{"role":"assistant","content":""}`, ""), chunk(`{"content":"Hel"}`, ""), chunk(`{"content":"lo"}`, ""), chunk(`{}`, "stop"), usage, "[DONE]"},
			[]string{"message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"},
			[]string{`"model":"gpt"`, `"delta":{"type":"text_delta","text":"Hel"}`, `"stop_reason":"end_turn"`,
				`"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":20,"output_tokens":5}`}},
		{"text then tools", []string{chunk(`{"content":"Let me check."}`, ""),
			chunk(`{"tool_calls":[{"index":0,"id":"t1","type":"function","function":{"name":"get","arguments":""}}]}`, ""),
			chunk(`{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]}`, ""),
			chunk(`{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}`, ""),
			chunk(`{"tool_calls":[{"index":1,"id":"t2","type":"function","function":{"name":"h","arguments":"{}"}}]}`, ""),
			chunk(`{}`, "tool_calls"), "[DONE]"},
			[]string{"message_start", "content_block_start", "content_block_delta", "content_block_stop",
				"content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
				"content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"},
			[]string{`"index":1,"content_block":{"type":"tool_use","id":"t1","name":"get","input":{}}`,
				`"index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}`,
				`"index":2,"content_block":{"type":"tool_use","id":"t2","name":"h","input":{}}`, `"stop_reason":"tool_use"`}},
		{"reasoning then signature", []string{chunk(`{"reasoning_content":"hm"}`, ""), chunk(`{"thinking_blocks":[{"type":"thinking","signature":"sig"}]}`, ""),
			chunk(`{"content":"a"}`, ""), chunk(`{}`, "length"), "[DONE]"},
			[]string{"message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
				"content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"},
			[]string{`"content_block":{"type":"thinking","thinking":"","signature":""}`, `{"type":"signature_delta","signature":"sig"}`, `"stop_reason":"max_tokens"`}},
		{"error mid-stream", []string{chunk(`{"content":"a"}`, ""), `{"error":{"message":"boom","type":"server_error","code":"upstream_stream_error"}}`, "[DONE]"},
			[]string{"message_start", "content_block_start", "content_block_delta", "error"},
			[]string{`event: error` + "\n" + `data: {"type":"error","error":{"type":"api_error","message":"boom"}}`}},
		{"not a chunk", []string{`[1,2]`}, []string{"error"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStream("m")
			var out strings.Builder
			for _, d := range tt.in {
				out.Write(s.Event([]byte(d)))
			}
			if got := strings.Join(events(out.String()), " "); got != strings.Join(tt.events, " ") {
				t.Fatalf("events\n got %s\nwant %s\n%s", got, strings.Join(tt.events, " "), out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stream lacks %s:\n%s", w, out.String())
				}
			}
			if !s.Ended() {
				t.Error("not ended")
			}
		})
	}
}

func TestStreamEndWithoutDone(t *testing.T) {
	s := NewStream("m")
	_ = s.Event([]byte(chunk(`{"content":"a"}`, "")))
	if s.Finished() {
		t.Fatal("finished before a finish reason")
	}
	_ = s.Event([]byte(chunk(`{}`, "stop")))
	if !s.Finished() || !strings.HasSuffix(string(s.End()), "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
		t.Fatal("a finished stream did not end cleanly")
	}
	if s.End() != nil || s.Event([]byte(`{}`)) != nil {
		t.Fatal("events after the end")
	}
}

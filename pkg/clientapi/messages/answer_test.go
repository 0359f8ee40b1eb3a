package messages

import (
	"strings"
	"testing"
)

func TestFromCompletion(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"text", `{"model":"gpt","choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}`,
			[]string{`"type":"message"`, `"model":"gpt"`, `"content":[{"type":"text","text":"hi"}]`, `"stop_reason":"end_turn"`,
				`"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2}`}},
		{"cached tokens split out", `{"choices":[{"message":{"content":"x"},"finish_reason":"length"}],"usage":{"prompt_tokens":110,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":100,"cache_creation_tokens":4}}}`,
			[]string{`"stop_reason":"max_tokens"`, `"input_tokens":6,"cache_creation_input_tokens":4,"cache_read_input_tokens":100`, `"model":"fallback"`}},
		{"tools", `{"choices":[{"message":{"content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"id":"c2","type":"function","function":{"name":"g","arguments":"not json"}}]},"finish_reason":"tool_calls"}]}`,
			[]string{`{"type":"tool_use","id":"c1","name":"f","input":{"a":1}}`, `{"type":"tool_use","id":"c2","name":"g","input":{"_raw":"not json"}}`, `"stop_reason":"tool_use"`}},
		{"thinking", `{"choices":[{"message":{"content":"a","reasoning_content":"r","thinking_blocks":[{"type":"thinking","thinking":"r","signature":"s"},{"type":"redacted_thinking","data":"d"}]},"finish_reason":"stop"}]}`,
			[]string{`"content":[{"type":"thinking","thinking":"r","signature":"s"},{"type":"redacted_thinking","data":"d"},{"type":"text","text":"a"}]`}},
		{"refusal", `{"choices":[{"message":{"content":null,"refusal":"no"},"finish_reason":"content_filter"}]}`,
			[]string{`{"type":"text","text":"no"}`, `"stop_reason":"refusal"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := FromCompletion([]byte(tt.in), "fallback")
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("message lacks %s:\n%s", w, b)
				}
			}
		})
	}
	for _, bad := range []string{`[]`, `{"choices":[]}`, `nope`} {
		if _, err := FromCompletion([]byte(bad), "m"); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestErrorFromChat(t *testing.T) {
	tests := []struct {
		status   int
		in, want string
	}{
		{429, `{"error":{"message":"slow down","type":"rate_limit_error","code":null}}`, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`},
		{400, `{"error":{"message":"bad","type":"invalid_request_error"}}`, `{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}`},
		{401, `{"error":{"message":"key","type":"invalid_request_error","code":"invalid_api_key"}}`, `{"type":"error","error":{"type":"authentication_error","message":"key"}}`},
		{503, `{"error":{"message":"busy","type":"server_error"}}`, `{"type":"error","error":{"type":"overloaded_error","message":"busy"}}`},
		{529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`},
		{502, `<html>bad gateway</html>`, `{"type":"error","error":{"type":"api_error","message":"the upstream answered 502"}}`},
		{504, `{"error":{"message":"slow","type":"server_error","code":"upstream_timeout"}}`, `{"type":"error","error":{"type":"timeout_error","message":"slow"}}`},
	}
	for _, tt := range tests {
		if got := string(ErrorFromChat(tt.status, []byte(tt.in))); got != tt.want {
			t.Errorf("%d %s:\n got %s\nwant %s", tt.status, tt.in, got, tt.want)
		}
	}
}

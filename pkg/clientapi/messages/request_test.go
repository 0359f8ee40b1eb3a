package messages

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

func toChatJSON(t *testing.T, body string) (string, error) {
	t.Helper()
	r, err := Decode([]byte(body))
	if err != nil {
		return "", err
	}
	c, err := ToChat(r, "m1")
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(c)
	return string(b), nil
}

func TestToChat(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // substrings of the chat body
		err      string   // the param of the refusal
	}{
		{"text", `{"model":"x","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`,
			[]string{`"model":"m1"`, `"max_tokens":10`, `"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]`}, ""},
		{"system blocks keep cache_control", `{"model":"x","system":[{"type":"text","text":"S","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hi"}]}`,
			[]string{`{"role":"system","content":[{"type":"text","text":"S","cache_control":{"type":"ephemeral"}}]}`}, ""},
		{"stream asks for usage", `{"model":"x","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			[]string{`"stream":true`, `"stream_options":{"include_usage":true}`}, ""},
		{"tool round trip", `{"model":"x","messages":[{"role":"user","content":"w?"},{"role":"assistant","content":[{"type":"text","text":"ok"},{"type":"tool_use","id":"t1","name":"get","input":{"a":1}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sunny"},{"type":"text","text":"and?"}]}],"tools":[{"name":"get","description":"d","input_schema":{"type":"object"}}],"tool_choice":{"type":"any","disable_parallel_tool_use":true}}`,
			[]string{`"tool_calls":[{"id":"t1","type":"function","function":{"name":"get","arguments":"{\"a\":1}"}}]`,
				`{"role":"tool","content":"sunny","tool_call_id":"t1"},{"role":"user","content":[{"type":"text","text":"and?"}]}`,
				`"tools":[{"type":"function","function":{"name":"get","description":"d","parameters":{"type":"object"}}}]`,
				`"tool_choice":"required"`, `"parallel_tool_calls":false`}, ""},
		{"tool error", `{"model":"x","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":[{"type":"text","text":"boom"}]}]}]}`,
			[]string{`"content":"Error: boom"`}, ""},
		{"named tool choice", `{"model":"x","messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"tool","name":"f"}}`,
			[]string{`"tool_choice":{"function":{"name":"f"},"type":"function"}`}, ""},
		{"thinking replayed", `{"model":"x","messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"sig"},{"type":"text","text":"a"}]}],"thinking":{"type":"enabled","budget_tokens":2048}}`,
			[]string{`"reasoning_content":"hm"`, `"thinking_blocks":[{"type":"thinking","thinking":"hm","signature":"sig"}]`, `"reasoning_effort":"low"`}, ""},
		{"image", `{"model":"x","messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAA"}}]}]}`,
			[]string{`"image_url":{"url":"data:image/png;base64,AAA"}`}, ""},
		{"claude code hints dropped", `{"model":"x","messages":[{"role":"user","content":"hi"}],"metadata":{"user_id":"u"},"context_management":{"edits":[]},"output_config":{"effort":"high"}}`,
			[]string{`"user":"u"`, `"reasoning_effort":"high"`}, ""},
		{"stop and sampling", `{"model":"x","messages":[{"role":"user","content":"hi"}],"stop_sequences":["END"],"temperature":0.5,"top_p":0.9}`,
			[]string{`"stop":["END"]`, `"temperature":0.5`, `"top_p":0.9`}, ""},
		{"unknown member refused", `{"model":"x","messages":[{"role":"user","content":"hi"}],"mcp_servers":[]}`, nil, "mcp_servers"},
		{"server tool refused", `{"model":"x","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}`, nil, "tools[0].type"},
		{"bad role", `{"model":"x","messages":[{"role":"system","content":"hi"}]}`, nil, "messages[0].role"},
		{"no messages", `{"model":"x","messages":[]}`, nil, "messages"},
		{"structured output refused", `{"model":"x","messages":[{"role":"user","content":"hi"}],"output_config":{"format":{"type":"json_schema"}}}`, nil, "output_config.format"},
		{"bad tool choice", `{"model":"x","messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"maybe"}}`, nil, "tool_choice.type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := toChatJSON(t, tt.in)
			if tt.err != "" {
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.Param != tt.err || pe.Status != 400 {
					t.Fatalf("err = %v, want a 400 naming %s (got %s)", err, tt.err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("chat body lacks %s:\n%s", w, got)
				}
			}
		})
	}
}

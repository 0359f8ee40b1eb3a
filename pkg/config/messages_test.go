package config

import (
	"context"
	"strings"
	"testing"
)

func TestMessagesFormat(t *testing.T) {
	tests := []struct {
		name, doc, err string
	}{
		{"anthropic with aliases", `
route_type: llm/v1/chat
llm_format: anthropic
model_aliases: {claude-sonnet-4-5-20250929: anthropic.claude-sonnet-4-5, "*": anthropic.claude-haiku-4-5}
model: {provider: bedrock}`, ""},
		{"aliases need anthropic", `
route_type: llm/v1/chat
model_aliases: {a: b}
model: {provider: openai}`, "model_aliases apply to llm_format: anthropic only"},
		{"completions refused", `
route_type: llm/v1/completions
llm_format: anthropic
model: {provider: openai}`, "needs route_type llm/v1/chat"},
		{"alias value with a space", `
route_type: llm/v1/chat
llm_format: anthropic
model_aliases: {a: "b c"}
model: {provider: openai}`, "model_aliases.a"},
		{"alias not a string", `
route_type: llm/v1/chat
llm_format: anthropic
model_aliases: {a: 1}
model: {provider: openai}`, "expected a model id"},
		{"not a map", `
route_type: llm/v1/chat
llm_format: anthropic
model_aliases: [a]
model: {provider: openai}`, "expected a map"},
		{"unknown format", `
route_type: llm/v1/chat
llm_format: gemini
model: {provider: openai}`, `"gemini" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse(context.Background(), []byte(tt.doc), Options{})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := cfg.Routes[0].Plugin
			if p.LLMFormat != FormatAnthropic || p.ModelAliases["*"] != "anthropic.claude-haiku-4-5" {
				t.Fatalf("plugin %+v", p)
			}
		})
	}
}

func TestMessagesDefaultRoute(t *testing.T) {
	plugin := "route_type: llm/v1/chat\nllm_format: anthropic\nmodel: {provider: anthropic, options: {anthropic_version: \"2023-06-01\"}}\n"
	indent := func(s, pad string) string { return pad + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n"+pad) }
	advanced := "llm_format: anthropic\ntargets:\n  - {route_type: llm/v1/chat, model: {provider: anthropic, options: {anthropic_version: \"2023-06-01\"}}}\n"
	for name, doc := range map[string]string{
		"bare":          plugin,
		"admin":         "name: ai-proxy\nconfig:\n" + indent(plugin, "  "),
		"deck":          "_format_version: \"3.0\"\nplugins:\n  - name: ai-proxy\n    config:\n" + indent(plugin, "      "),
		"bare advanced": advanced,
		"deck advanced": "_format_version: \"3.0\"\nplugins:\n  - name: ai-proxy-advanced\n    config:\n" + indent(advanced, "      "),
	} {
		cfg, err := Parse(context.Background(), []byte(doc), Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for path, want := range map[string]bool{"/v1/messages": true, "/anthropic/v1/messages": true, "/a/b/v1/messages/count_tokens": true,
			"/gpt-4o-mini/chat/completions": false, "/v1/messagesx": false} {
			if r, _, _ := cfg.Match("POST", "h", path, nil); (r != nil) != want {
				t.Errorf("%s: %s: matched %v, want %v", name, path, r != nil, want)
			}
		}
	}
}

package bedrock

import (
	"errors"
	"net/http"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

func TestInvokeBody(t *testing.T) {
	hdr := http.Header{"Anthropic-Beta": {"claude-code-20250219,interleaved-thinking-2025-05-14", "context-1m-2025-08-07"}}
	tests := []struct {
		name, in string
		h        http.Header
		count    bool
		want     string
		err      string
	}{
		{"claude code body reshaped", `{"model":"m","stream":true,"max_tokens":5,"messages":[{"role":"user","content":"hi"}],"metadata":{"user_id":"u"},"context_management":{},"output_config":{"effort":"high"},"system":"s","thinking":{"type":"enabled","budget_tokens":1024}}`,
			hdr, false, `{"anthropic_beta":["context-1m-2025-08-07","interleaved-thinking-2025-05-14"],"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"system":"s","thinking":{"type":"enabled","budget_tokens":1024}}`, ""},
		{"body betas filtered too", `{"max_tokens":5,"messages":[],"anthropic_beta":["token-efficient-tools-2025-02-19","files-api-2025-04-14"]}`,
			nil, false, `{"anthropic_beta":["token-efficient-tools-2025-02-19"],"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[]}`, ""},
		{"count gets max_tokens", `{"model":"m","messages":[]}`, nil, true, `{"anthropic_version":"bedrock-2023-05-31","max_tokens":1,"messages":[]}`, ""},
		{"unknown refused", `{"messages":[],"mcp_servers":[]}`, nil, false, "", "mcp_servers"},
		{"bad beta list", `{"messages":[],"anthropic_beta":"x"}`, nil, false, "", "anthropic_beta"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := InvokeBody([]byte(tt.in), tt.h, tt.count)
			if tt.err != "" {
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.Param != tt.err {
					t.Fatalf("err = %v, want one naming %s", err, tt.err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %s (%v)\nwant %s", got, err, tt.want)
			}
		})
	}
}

func TestInvokeEventsFrame(t *testing.T) {
	e := &invokeEvents{}
	got := string(e.event([]byte("{\"type\":\"message_stop\",\n\"x\":1}")))
	if got != "event: message_stop\ndata: {\"type\":\"message_stop\",\"x\":1}\n\n" || !e.stopped {
		t.Fatalf("got %q", got)
	}
	if got := string(e.event([]byte(`{"type":"a\nb"}`))); got[:15] != "event: message\n" {
		t.Fatalf("an event name with a newline: %q", got)
	}
}

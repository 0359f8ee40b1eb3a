package bedrock

import (
	"net/http"
	"testing"
)

// ccBody is a Claude Code-sized Messages turn as it reaches the driver.
var ccBody = []byte(`{"model":"anthropic.claude-sonnet-4-5","max_tokens":4096,"stream":true,"system":[{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}}],` +
	`"messages":[{"role":"user","content":[{"type":"text","text":"Print note.txt"}]},{"role":"assistant","content":[{"type":"text","text":"Reading it."},{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"cat note.txt"}}]},` +
	`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"hello"}]}],` +
	`"tools":[{"name":"Bash","description":"Run a shell command","input_schema":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}}],` +
	`"metadata":{"user_id":"u"},"context_management":{"edits":[]},"thinking":{"type":"enabled","budget_tokens":1024}}`)

// BenchmarkMessagesRequest is the native path's per-request work: the
// Messages body reshaped for InvokeModel, betas filtered.
func BenchmarkMessagesRequest(b *testing.B) {
	h := http.Header{"Anthropic-Beta": {"claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := InvokeBody(ccBody, h, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessagesChunk is the native path's per-chunk work: one
// Anthropic event from a Bedrock chunk framed as SSE.
func BenchmarkMessagesChunk(b *testing.B) {
	e := &invokeEvents{}
	data := []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"tok1 "}}`)
	b.ReportAllocs()
	for b.Loop() {
		if len(e.event(data)) == 0 {
			b.Fatal("no event")
		}
	}
}

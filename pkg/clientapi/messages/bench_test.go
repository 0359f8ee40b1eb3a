package messages

import (
	"encoding/json"
	"testing"
)

// BenchmarkRequest is the translation of a Claude Code-sized turn (system
// prompt, a tool, a tool round trip) into a chat request, decode included.
func BenchmarkRequest(b *testing.B) {
	body := []byte(`{"model":"claude-sonnet-4-5","max_tokens":4096,"stream":true,"system":[{"type":"text","text":"You are Claude Code, a coding assistant.","cache_control":{"type":"ephemeral"}}],` +
		`"messages":[{"role":"user","content":[{"type":"text","text":"Print note.txt"}]},{"role":"assistant","content":[{"type":"text","text":"Reading it."},{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"cat note.txt"}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"hello"}]}],` +
		`"tools":[{"name":"Bash","description":"Run a shell command","input_schema":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}}],"metadata":{"user_id":"u"}}`)
	b.ReportAllocs()
	for b.Loop() {
		r, err := Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		c, err := ToChat(r, "gpt-4o-mini")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamChunk is one text chunk of a chat stream translated into
// Anthropic's content_block_delta.
func BenchmarkStreamChunk(b *testing.B) {
	s := NewStream("m")
	_ = s.Event([]byte(chunk(`{"content":"start"}`, "")))
	data := []byte(chunk(`{"content":"tok1 "}`, ""))
	b.ReportAllocs()
	for b.Loop() {
		if len(s.Event(data)) == 0 {
			b.Fatal("no event")
		}
	}
}

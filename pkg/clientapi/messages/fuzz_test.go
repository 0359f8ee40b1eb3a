package messages

import (
	"encoding/json"
	"strings"
	"testing"
)

// secret stands for a configured key: no translation may invent it, and a
// client never sends it, so it must never appear in any output.
const secret = "sk-fuzz-secret-0123456789"

func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"x","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"x","system":[{"type":"text","text":"S","cache_control":{"type":"ephemeral"}}],"stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA"}}]}]}`,
		`{"model":"x","messages":[{"role":"user","content":"w"},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"tool_use","id":"t1","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"r"}]}]}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"auto"},"thinking":{"type":"enabled","budget_tokens":5000}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := Decode(body)
		if err != nil {
			return
		}
		c, err := ToChat(r, "m")
		if err != nil {
			return
		}
		out, err := json.Marshal(c)
		if err != nil || !json.Valid(out) {
			t.Fatalf("invalid chat body %s: %v", out, err)
		}
		if len(out) > 4*len(body)+4096 {
			t.Fatalf("chat body of %d bytes from %d", len(out), len(body))
		}
		if strings.Contains(string(out), secret) && !strings.Contains(string(body), secret) {
			t.Fatal("a secret appeared")
		}
	})
}

func FuzzAnswer(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt","choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":3}}}`,
		`{"choices":[{"message":{"content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}]}`,
		`{"choices":[{"message":{"content":"a","thinking_blocks":[{"type":"thinking","thinking":"r","signature":"s"}]},"finish_reason":"stop"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := FromCompletion(body, "m")
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid message %s", out)
		}
		if len(out) > 6*len(body)+1024 {
			t.Fatalf("message of %d bytes from %d", len(out), len(body))
		}
		if strings.Contains(string(out), secret) && !strings.Contains(string(body), secret) {
			t.Fatal("a secret appeared")
		}
		e := ErrorFromChat(500, body)
		if !json.Valid(e) {
			t.Fatalf("invalid error %s", e)
		}
	})
}

// FuzzStream feeds event data, separated by NUL in the input, and checks
// every output event: `event: <name>` then `data: <valid JSON>` whose type
// is the name.
func FuzzStream(f *testing.F) {
	seed := []string{chunk(`{"role":"assistant","content":""}`, ""), chunk(`{"content":"Hel"}`, ""),
		chunk(`{"tool_calls":[{"index":0,"id":"t1","type":"function","function":{"name":"get","arguments":"{\"a\""}}]}`, ""),
		chunk(`{"reasoning_content":"hm"}`, ""), chunk(`{"thinking_blocks":[{"type":"thinking","signature":"sig"}]}`, ""),
		chunk(`{}`, "tool_calls"), `{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}`, `{"error":{"message":"x","type":"server_error"}}`, "[DONE]"}
	f.Add([]byte(strings.Join(seed, "\x00")))
	f.Add([]byte(strings.Join(seed[:3], "\x00")))
	f.Fuzz(func(t *testing.T, in []byte) {
		s := NewStream("m")
		var out []byte
		for _, d := range strings.Split(string(in), "\x00") {
			out = append(out, s.Event([]byte(d))...)
		}
		out = append(out, s.End()...)
		if len(out) > 8*len(in)+4096 {
			t.Fatalf("%d bytes out of %d", len(out), len(in))
		}
		for _, ev := range strings.Split(strings.TrimSuffix(string(out), "\n\n"), "\n\n") {
			name, data, ok := strings.Cut(ev, "\ndata: ")
			name, named := strings.CutPrefix(name, "event: ")
			var probe struct {
				Type string `json:"type"`
			}
			if !ok || !named || strings.Contains(data, "\n") || json.Unmarshal([]byte(data), &probe) != nil || probe.Type != name {
				t.Fatalf("bad event %q in\n%s", ev, out)
			}
		}
		if strings.Contains(string(out), secret) && !strings.Contains(string(in), secret) {
			t.Fatal("a secret appeared")
		}
	})
}

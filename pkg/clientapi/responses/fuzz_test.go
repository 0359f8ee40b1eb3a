package responses

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

const fuzzSecret = "sk-fuzz-secret-value"

func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","input":"hi"}`,
		`{"model":"m","instructions":"s","input":[{"role":"user","content":[{"type":"input_text","text":"a"}]},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"r"}],"tools":[{"type":"function","name":"f"}],"text":{"format":{"type":"json_object"}},"reasoning":{"effort":"low"}}`,
		`{"model":"m","input":[{"type":"reasoning","summary":[],"encrypted_content":"x"}],"previous_response_id":"r"}`,
		// Codex's shapes: a namespace, a custom tool with a grammar, their calls.
		`{"model":"m","input":[{"type":"custom_tool_call","call_id":"c","name":"p","input":"x"},{"type":"custom_tool_call_output","call_id":"c","output":"ok"},{"type":"function_call","call_id":"d","namespace":"n","name":"f","arguments":"{}"}],"tools":[{"type":"custom","name":"p","format":{"type":"grammar","syntax":"lark","definition":"start: x"}},{"type":"namespace","name":"n","tools":[{"type":"function","name":"f"}]}],"client_metadata":{"a":"b"},"text":{"verbosity":"low"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tr, err := Request(body, []string{"apikey"})
		if err != nil {
			if strings.Contains(err.Error(), fuzzSecret) {
				t.Fatal("an error echoes the key member")
			}
			return
		}
		// A custom tool adds its input schema and a sentence of
		// description: a bound per tool on top of the body's size.
		bound := 4*len(body) + 1024 + bytes.Count(body, []byte("custom"))*(len(customParams)+256)
		if !json.Valid(tr.Chat) || len(tr.Chat) > bound {
			t.Fatalf("chat %q from %q", tr.Chat, body)
		}
		if bytes.Contains(body, []byte(`"apikey"`)) && bytes.Contains(tr.Chat, []byte(fuzzSecret)) && !bytes.Contains(bytes.ReplaceAll(body, []byte(`"apikey":"`+fuzzSecret+`"`), nil), []byte(fuzzSecret)) {
			t.Fatal("the key member reached the chat request")
		}
	})
}

func FuzzAnswer(f *testing.F) {
	text := "hi"
	f.Add(completionJSON(chat.AnswerMessage{Content: &text}, chat.FinishStop))
	f.Add(completionJSON(chat.AnswerMessage{ToolCalls: []chat.ToolCall{{ID: "c", Function: chat.FunctionCall{Name: "f", Arguments: "{}"}}}}, chat.FinishToolCalls))
	f.Add([]byte(`{"choices":[{"message":{"content":null,"reasoning_content":"r"},"finish_reason":"length"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := Answer(body, "m", &Echo{})
		if err != nil {
			return
		}
		if !json.Valid(out) || len(out) > 4*len(body)+4096 {
			t.Fatalf("answer %q from %q", out, body)
		}
	})
}

func FuzzStream(f *testing.F) {
	s := chat.NewStream("m", true)
	i, start := s.ToolCallStart("c", "f")
	f.Add([]byte(chatStream(s.Role(), s.Reasoning("r"), s.Content("a"), start, s.ToolCallArgs(i, "{}"), s.Finish(chat.FinishToolCalls), s.Usage(chat.NewUsage(1, 0, 0, 1)), s.Done())))
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"length\"}]}\r\n\r\ndata: [DONE]\r\n\r\n"))
	f.Add([]byte("data: {\"error\":{\"message\":\"m\"}}\n\n"))
	j, custom := s.ToolCallStart("c2", "p")
	k, namespaced := s.ToolCallStart("c3", "n__f")
	f.Add([]byte(chatStream(s.Role(), custom, s.ToolCallArgs(j, `{"input":"*** Be`), s.ToolCallArgs(j, `gin"}`), namespaced, s.ToolCallArgs(k, "{}"), s.Finish(chat.FinishToolCalls), s.Done())))
	e := &Echo{Calls: map[string]Call{"p": {Name: "p", Custom: true}, "n__f": {Namespace: "n", Name: "f"}}}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, _ := io.ReadAll(NewStream(io.NopCloser(bytes.NewReader(in)), "m", e))
		if len(out) > 8*len(in)+64<<10 {
			t.Fatalf("%d bytes out of %d", len(out), len(in))
		}
		// Every event: "event: <type>" then "data: <JSON whose type is it>".
		for _, ev := range strings.Split(strings.TrimSuffix(string(out), "\n\n"), "\n\n") {
			typ, data, ok := strings.Cut(ev, "\n")
			typ, ok2 := strings.CutPrefix(typ, "event: ")
			data, ok3 := strings.CutPrefix(data, "data: ")
			var m struct{ Type string }
			if !ok || !ok2 || !ok3 || json.Unmarshal([]byte(data), &m) != nil || m.Type != typ {
				t.Fatalf("bad event %q", ev)
			}
		}
	})
}

package responses

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

func TestRequest(t *testing.T) {
	tests := []struct {
		name, body string
		want       string // the chat request, as JSON
		param      string // the refused member, when refused
	}{
		{"string input", `{"model":"m","input":"hi"}`, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, ""},
		{"instructions and items", `{"model":"m","instructions":"sys","input":[{"role":"developer","content":"dev"},{"type":"message","role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_image","image_url":"data:image/png;base64,AA","detail":"low"}]}]}`,
			`{"model":"m","messages":[{"role":"system","content":"sys"},{"role":"system","content":"dev"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA","detail":"low"}}]}]}`, ""},
		{"call round trip", `{"model":"m","input":[{"role":"user","content":"q"},{"type":"reasoning","id":"rs","summary":[{"type":"summary_text","text":"think"}],"encrypted_content":"sig"},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Let me check."}]},{"type":"function_call","call_id":"c1","name":"f","arguments":"{\"a\":1}"},{"type":"function_call","call_id":"c2","name":"g","arguments":""},{"type":"function_call_output","call_id":"c1","output":"r1"},{"type":"function_call_output","call_id":"c2","output":[{"type":"input_text","text":"r2"}]}]}`,
			`{"model":"m","messages":[{"role":"user","content":"q"},{"role":"assistant","content":"Let me check.","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"id":"c2","type":"function","function":{"name":"g","arguments":"{}"}}],"reasoning_content":"think","thinking_blocks":[{"type":"thinking","thinking":"think","signature":"sig"}]},{"role":"tool","content":"r1","tool_call_id":"c1"},{"role":"tool","content":"r2","tool_call_id":"c2"}]}`, ""},
		{"tools and options", `{"model":"m","input":"x","stream":true,"tools":[{"type":"function","name":"f","description":"d","parameters":{"type":"object"},"strict":true}],"tool_choice":{"type":"function","name":"f"},"max_output_tokens":10,"temperature":0.5,"text":{"format":{"type":"json_schema","name":"s","schema":{"type":"object"},"strict":true}},"reasoning":{"effort":"low"},"store":false,"include":["reasoning.encrypted_content"],"user":"u"}`,
			`{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"max_completion_tokens":10,"temperature":0.5,"tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object"},"strict":true}}],"tool_choice":{"function":{"name":"f"},"type":"function"},"reasoning_effort":"low","response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object"},"strict":true}},"user":"u"}`, ""},
		{"previous_response_id", `{"model":"m","input":"x","previous_response_id":"resp_1"}`, "", "previous_response_id"},
		{"store true", `{"model":"m","input":"x","store":true}`, "", "store"},
		{"background", `{"model":"m","input":"x","background":true}`, "", "background"},
		{"conversation", `{"model":"m","input":"x","conversation":"conv_1"}`, "", "conversation"},
		{"hosted tool", `{"model":"m","input":"x","tools":[{"type":"web_search"}]}`, "", "tools"},
		{"item reference", `{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`, "", "input[0]"},
		{"file id image", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"f"}]}]}`, "", "input[0].content"},
		{"no input", `{"model":"m"}`, "", "input"},
		{"not JSON", `[1]`, "", ""},
		{"truncation auto", `{"model":"m","input":"x","truncation":"auto"}`, "", "truncation"},
		// What Codex sends beside its input: ids for OpenAI's logs, a
		// length hint, a cache key; none of them reaches chat.
		{"codex hints", `{"model":"m","input":"x","client_metadata":{"session_id":"s","x-codex-turn-metadata":"{}"},"text":{"verbosity":"low"},"prompt_cache_key":"k","reasoning":{"summary":"auto"},"include":["reasoning.encrypted_content"],"store":false}`,
			`{"model":"m","messages":[{"role":"user","content":"x"}]}`, ""},
		// Codex declares its multi-agent tools in a namespace, and
		// apply_patch as a custom tool with a Lark grammar.
		{"namespace tools", `{"model":"m","input":[{"role":"user","content":"q"},{"type":"function_call","call_id":"c1","namespace":"multi_agent_v1","name":"spawn_agent","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"ok"}],"tools":[{"type":"function","name":"exec_command","parameters":{"type":"object"}},{"type":"namespace","name":"multi_agent_v1","description":"agents","tools":[{"type":"function","name":"spawn_agent","description":"spawn","strict":false,"parameters":{"type":"object"}}]}],"tool_choice":{"type":"function","namespace":"multi_agent_v1","name":"spawn_agent"}}`,
			`{"model":"m","messages":[{"role":"user","content":"q"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"multi_agent_v1__spawn_agent","arguments":"{}"}}]},{"role":"tool","content":"ok","tool_call_id":"c1"}],"tools":[{"type":"function","function":{"name":"exec_command","parameters":{"type":"object"}}},{"type":"function","function":{"name":"multi_agent_v1__spawn_agent","description":"spawn","parameters":{"type":"object"},"strict":false}}],"tool_choice":{"function":{"name":"multi_agent_v1__spawn_agent"},"type":"function"}}`, ""},
		{"custom tool with grammar", `{"model":"m","input":[{"role":"user","content":"q"},{"type":"custom_tool_call","call_id":"c1","name":"apply_patch","input":"*** Begin Patch\n"},{"type":"custom_tool_call_output","call_id":"c1","output":"Done"}],"tools":[{"type":"custom","name":"apply_patch","description":"Edit files.","format":{"type":"grammar","syntax":"lark","definition":"start: begin_patch"}}],"tool_choice":{"type":"custom","name":"apply_patch"}}`,
			`{"model":"m","messages":[{"role":"user","content":"q"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"apply_patch","arguments":"{\"input\":\"*** Begin Patch\\n\"}"}}]},{"role":"tool","content":"Done","tool_call_id":"c1"}],"tools":[{"type":"function","function":{"name":"apply_patch","description":"Edit files.\n\nIts input is free-form text: put the whole of it, verbatim, in the string argument ` + "`input`" + `. The input must match this Lark grammar:\nstart: begin_patch","parameters":` + customParams + `}}],"tool_choice":{"function":{"name":"apply_patch"},"type":"function"}}`, ""},
		{"custom tool free text", `{"model":"m","input":"q","tools":[{"type":"custom","name":"note"}]}`,
			`{"model":"m","messages":[{"role":"user","content":"q"}],"tools":[{"type":"function","function":{"name":"note","description":"Its input is free-form text: put the whole of it, verbatim, in the string argument ` + "`input`" + `.","parameters":` + customParams + `}}]}`, ""},
		{"custom grammar syntax", `{"model":"m","input":"q","tools":[{"type":"custom","name":"x","format":{"type":"grammar","syntax":"ebnf","definition":"a"}}]}`, "", "tools"},
		{"custom call without input", `{"model":"m","input":[{"type":"custom_tool_call","call_id":"c1","name":"x"}]}`, "", "input[0]"},
		{"namespace in a namespace", `{"model":"m","input":"q","tools":[{"type":"namespace","name":"a","tools":[{"type":"namespace","name":"b"}]}]}`, "", "tools"},
		{"flattened name taken", `{"model":"m","input":"q","tools":[{"type":"function","name":"a__b"},{"type":"namespace","name":"a","tools":[{"type":"function","name":"b"}]}]}`, "", "tools"},
		{"flattened name too long", `{"model":"m","input":"q","tools":[{"type":"namespace","name":"` + strings.Repeat("n", 40) + `","tools":[{"type":"function","name":"` + strings.Repeat("f", 30) + `"}]}]}`, "", "tools"},
		{"tool_search", `{"model":"m","input":"x","tools":[{"type":"tool_search","execution":"client"}]}`, "", "tools"},
		{"client_metadata not an object", `{"model":"m","input":"x","client_metadata":"s"}`, "", "client_metadata"},
		{"verbosity unknown", `{"model":"m","input":"x","text":{"verbosity":"terse"}}`, "", "text.verbosity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := Request([]byte(tt.body), nil)
			if tt.want == "" {
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.Status != 400 || pe.Param != tt.param {
					t.Fatalf("err %v (%+v)", err, pe)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(tr.Chat) != tt.want {
				t.Errorf("chat\n%s\nwant\n%s", tr.Chat, tt.want)
			}
			if _, err := chat.Decode(tr.Chat); err != nil {
				t.Errorf("the hub refuses the translation: %v", err)
			}
		})
	}
}

func TestRequestSkipsKeyMembers(t *testing.T) {
	if _, err := Request([]byte(`{"model":"m","input":"x","apikey":"k"}`), []string{"apikey"}); err != nil {
		t.Fatal(err)
	}
}

func completionJSON(msg chat.AnswerMessage, finish string) []byte {
	c := chat.Completion{ID: "x", Model: "m", Usage: chat.NewUsage(5, 2, 0, 3), Choices: []chat.Choice{{Message: msg, FinishReason: finish}}}
	return c.Marshal()
}

func TestAnswer(t *testing.T) {
	text := "hello"
	e := &Echo{Instructions: json.RawMessage(`"sys"`)}
	b, err := Answer(completionJSON(chat.AnswerMessage{Content: &text, ReasoningContent: "why", ThinkingBlocks: []chat.ThinkingBlock{{Type: "thinking", Thinking: "why", Signature: "sig"}},
		ToolCalls: []chat.ToolCall{{ID: "c1", Type: "function", Function: chat.FunctionCall{Name: "f", Arguments: "{}"}}}}, chat.FinishToolCalls), "asked", e)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Object, Status, Model, Instructions string
		Output                              []map[string]any
		Usage                               Usage
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Object != "response" || r.Status != "completed" || r.Model != "m" || r.Instructions != "sys" || len(r.Output) != 3 {
		t.Fatalf("%s", b)
	}
	if r.Output[0]["type"] != "reasoning" || r.Output[0]["encrypted_content"] != "sig" || r.Output[1]["type"] != "message" || r.Output[2]["call_id"] != "c1" {
		t.Errorf("%s", b)
	}
	if r.Usage.InputTokens != 7 || r.Usage.InputTokensDetails.CachedTokens != 2 || r.Usage.OutputTokens != 3 || r.Usage.TotalTokens != 10 {
		t.Errorf("usage %+v", r.Usage)
	}
	if OutputText(b) != "hello" {
		t.Errorf("text %q", OutputText(b))
	}
	b, _ = Answer(completionJSON(chat.AnswerMessage{Content: &text}, chat.FinishLength), "m", &Echo{})
	if !strings.Contains(string(b), `"status":"incomplete","error":null,"incomplete_details":{"reason":"max_output_tokens"}`) {
		t.Errorf("length: %s", b)
	}
	if _, err := Answer([]byte(`{"error":"x"}`), "m", &Echo{}); err == nil {
		t.Error("a non-completion translated")
	}
}

// readAll reads a translated stream to its end or failure.
func readAll(t *testing.T, chatStream string) (string, error) {
	t.Helper()
	s := NewStream(io.NopCloser(strings.NewReader(chatStream)), "m", &Echo{})
	b, err := io.ReadAll(s)
	return string(b), err
}

func eventTypes(out string) []string {
	var types []string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			types = append(types, v)
		}
	}
	return types
}

func chatStream(evs ...[]byte) string {
	var b strings.Builder
	for _, e := range evs {
		b.Write(e)
	}
	return b.String()
}

func TestStream(t *testing.T) {
	s := chat.NewStream("m", true)
	i, start := s.ToolCallStart("c1", "f")
	in := chatStream(s.Role(), s.Content("a"), s.Content("b"), start, s.ToolCallArgs(i, `{"x"`), s.ToolCallArgs(i, `:1}`), s.Finish(chat.FinishToolCalls), s.Usage(chat.NewUsage(3, 0, 0, 2)), s.Done())
	out, err := readAll(t, in)
	if err != nil {
		t.Fatal(err)
	}
	want := "response.created,response.in_progress,response.output_item.added,response.content_part.added,response.output_text.delta,response.output_text.delta," +
		"response.output_text.done,response.content_part.done,response.output_item.done,response.output_item.added,response.function_call_arguments.delta,response.function_call_arguments.delta," +
		"response.function_call_arguments.done,response.output_item.done,response.completed"
	if got := strings.Join(eventTypes(out), ","); got != want {
		t.Errorf("events\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(out, `"arguments":"{\"x\":1}"`) || !strings.Contains(out, `"input_tokens":3`) || strings.Contains(out, "[DONE]") {
		t.Errorf("out %s", out)
	}
}

func TestStreamFailures(t *testing.T) {
	s := chat.NewStream("m", true)
	for _, tt := range []struct{ name, in, code string }{
		{"cut before DONE", chatStream(s.Role(), s.Content("a")), "upstream_stream_error"},
		{"error event", chatStream(s.Role(), []byte(`data: {"error":{"message":"boom","code":"overloaded"}}`+"\n\n")), "overloaded"},
		{"not JSON", chatStream(s.Role(), []byte("data: {nope\n\n")), "upstream_stream_error"},
		{"event too large", "data: \"" + strings.Repeat("x", MaxEvent+10) + "\"\n\n", "upstream_stream_error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := readAll(t, tt.in)
			types := eventTypes(out)
			if err == nil || types[len(types)-1] != "response.failed" || !strings.Contains(out, `"code":"`+tt.code+`"`) {
				t.Errorf("err %v events %v", err, types)
			}
		})
	}
	// A provider's StreamError keeps its words.
	r := &failingReader{data: string(s.Role()), err: &provider.StreamError{Message: "throttled", Code: "rate_limit"}}
	out, err := io.ReadAll(NewStream(r, "m", &Echo{}))
	if err == nil || !strings.Contains(string(out), `"message":"throttled"`) {
		t.Errorf("%v %s", err, out)
	}
}

type failingReader struct {
	data string
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}
func (f *failingReader) Close() error { return nil }

// A chat call of a namespaced function or of a custom tool comes back as
// the Responses API's own item, whole or streamed.
func TestCallItems(t *testing.T) {
	e := &Echo{Calls: map[string]Call{"multi_agent_v1__spawn_agent": {Namespace: "multi_agent_v1", Name: "spawn_agent"}, "apply_patch": {Name: "apply_patch", Custom: true}}}
	const patch = "*** Begin Patch\n*** End Patch\n"
	for _, tt := range []struct {
		name, chatName, args string
		want                 string // the output item, ids and status aside
	}{
		{"plain function", "exec_command", `{"cmd":"ls"}`, `"call_id":"c1","name":"exec_command","arguments":"{\"cmd\":\"ls\"}"`},
		{"namespaced function", "multi_agent_v1__spawn_agent", `{}`, `"call_id":"c1","namespace":"multi_agent_v1","name":"spawn_agent","arguments":"{}"`},
		{"custom tool", "apply_patch", `{"input":"` + strings.ReplaceAll(patch, "\n", `\n`) + `"}`, `"call_id":"c1","name":"apply_patch","input":"*** Begin Patch\n*** End Patch\n"`},
		{"custom tool, arguments not as asked", "apply_patch", `not json`, `"call_id":"c1","name":"apply_patch","input":"not json"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Answer(completionJSON(chat.AnswerMessage{ToolCalls: []chat.ToolCall{{ID: "c1", Type: "function", Function: chat.FunctionCall{Name: tt.chatName, Arguments: tt.args}}}}, chat.FinishToolCalls), "m", e)
			if err != nil || !strings.Contains(string(b), tt.want) {
				t.Errorf("answer %s (%v)\nwant %s", b, err, tt.want)
			}
			s := chat.NewStream("m", true)
			i, start := s.ToolCallStart("c1", tt.chatName)
			half := len(tt.args) / 2
			out, err := io.ReadAll(NewStream(io.NopCloser(strings.NewReader(chatStream(s.Role(), start, s.ToolCallArgs(i, tt.args[:half]), s.ToolCallArgs(i, tt.args[half:]), s.Finish(chat.FinishToolCalls), s.Done()))), "m", e))
			if err != nil {
				t.Fatal(err)
			}
			types := strings.Join(eventTypes(string(out)), ",")
			wantTypes := "response.created,response.in_progress,response.output_item.added,response.function_call_arguments.delta,response.function_call_arguments.delta,response.function_call_arguments.done,response.output_item.done,response.completed"
			if strings.HasPrefix(tt.name, "custom") {
				wantTypes = "response.created,response.in_progress,response.output_item.added,response.custom_tool_call_input.delta,response.custom_tool_call_input.done,response.output_item.done,response.completed"
			}
			if types != wantTypes {
				t.Errorf("events\n%s\nwant\n%s", types, wantTypes)
			}
			final := string(out[strings.LastIndex(string(out), "event: response.completed"):])
			if !strings.Contains(final, tt.want) {
				t.Errorf("final %s\nwant %s", final, tt.want)
			}
		})
	}
}

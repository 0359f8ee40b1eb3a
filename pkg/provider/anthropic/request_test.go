package anthropic

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

func plugin() *config.Plugin {
	return &config.Plugin{RouteType: config.RouteChat, Model: config.Model{Provider: "anthropic",
		Options: config.ModelOptions{AnthropicVersion: "2023-06-01"}}, Auth: config.Auth{HeaderName: "x-api-key"}}
}

// prepared translates body and returns the Messages request as generic
// JSON, or the refusal.
func prepared(t *testing.T, body string, edit ...func(*config.Plugin)) (map[string]any, error) {
	t.Helper()
	p := plugin()
	for _, e := range edit {
		e(p)
	}
	var in struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream"`
	}
	_ = json.Unmarshal([]byte(body), &in)
	up, err := (&Driver{}).Prepare(&provider.Call{Plugin: p, Model: in.Model, Stream: in.Stream, Body: []byte(body)})
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(up.Transport.(*call).body, &m); err != nil {
		t.Fatal(err)
	}
	return m, nil
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestRequestTranslation(t *testing.T) {
	cases := []struct {
		name, body string
		edit       func(*config.Plugin)
		want       map[string]string // member -> its JSON
	}{
		{name: "system, developer and defaults",
			body: `{"model":"claude","messages":[{"role":"system","content":"Be brief."},{"role":"developer","content":[{"type":"text","text":"Be kind."}]},{"role":"user","content":"Hi"}]}`,
			want: map[string]string{
				"system":     `[{"text":"Be brief.","type":"text"},{"text":"Be kind.","type":"text"}]`,
				"messages":   `[{"content":[{"text":"Hi","type":"text"}],"role":"user"}]`,
				"max_tokens": `4096`, "model": `"claude"`,
			}},
		{name: "max_tokens from options when the request has none",
			body: `{"model":"c","messages":[{"role":"user","content":"Hi"}]}`,
			edit: func(p *config.Plugin) { n := 77; p.Model.Options.MaxTokens = &n },
			want: map[string]string{"max_tokens": `77`}},
		{name: "parameters",
			body: `{"model":"c","messages":[{"role":"user","content":"Hi"}],"max_completion_tokens":50,"temperature":0.5,"top_p":0.9,"stop":"END","user":"u1","stream":true}`,
			edit: func(p *config.Plugin) { k := 40; p.Model.Options.TopK = &k },
			want: map[string]string{"max_tokens": `50`, "temperature": `0.5`, "top_p": `0.9`, "top_k": `40`,
				"stop_sequences": `["END"]`, "metadata": `{"user_id":"u1"}`, "stream": `true`}},
		{name: "tools, parallel calls and their results in one user turn",
			body: `{"model":"c","messages":[{"role":"user","content":"Weather?"},
				{"role":"assistant","content":"Checking.","tool_calls":[{"id":"t1","type":"function","function":{"name":"w","arguments":"{\"city\":\"Paris\"}"}},{"id":"t2","type":"function","function":{"name":"w","arguments":""}}]},
				{"role":"tool","tool_call_id":"t1","content":"sunny"},{"role":"tool","tool_call_id":"t2","content":[{"type":"text","text":"rain"}]},
				{"role":"user","content":"Thanks"}],
				"tools":[{"type":"function","function":{"name":"w","description":"weather","parameters":{"type":"object"},"strict":true}},{"type":"function","function":{"name":"x"}}],
				"tool_choice":"required","parallel_tool_calls":false}`,
			want: map[string]string{
				"messages": `[{"content":[{"text":"Weather?","type":"text"}],"role":"user"},` +
					`{"content":[{"text":"Checking.","type":"text"},{"id":"t1","input":{"city":"Paris"},"name":"w","type":"tool_use"},{"id":"t2","input":{},"name":"w","type":"tool_use"}],"role":"assistant"},` +
					`{"content":[{"content":[{"text":"sunny","type":"text"}],"tool_use_id":"t1","type":"tool_result"},{"content":[{"text":"rain","type":"text"}],"tool_use_id":"t2","type":"tool_result"},{"text":"Thanks","type":"text"}],"role":"user"}]`,
				"tools":       `[{"description":"weather","input_schema":{"type":"object"},"name":"w"},{"input_schema":{"properties":{},"type":"object"},"name":"x"}]`,
				"tool_choice": `{"disable_parallel_tool_use":true,"type":"any"}`,
			}},
		{name: "images and documents",
			body: `{"model":"c","messages":[{"role":"user","content":[{"type":"text","text":"What?"},
				{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
				{"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}},
				{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=","filename":"a.pdf"}},
				{"type":"text","text":"","cache_control":{"type":"ephemeral"}}]}]}`,
			want: map[string]string{"messages": `[{"content":[{"text":"What?","type":"text"},` +
				`{"source":{"data":"iVBORw0KGgo=","media_type":"image/png","type":"base64"},"type":"image"},` +
				`{"source":{"type":"url","url":"https://example.com/cat.jpg"},"type":"image"},` +
				`{"source":{"data":"JVBERi0=","media_type":"application/pdf","type":"base64"},"type":"document"}],"role":"user"}]`}},
		{name: "signed thinking replayed first; reasoning effort",
			body: `{"model":"c","reasoning_effort":"medium","messages":[{"role":"user","content":"Hi"},
				{"role":"assistant","content":"Hello","reasoning_content":"hmm","thinking_blocks":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"redacted_thinking","data":"xyz"}]},
				{"role":"user","content":"Again"}]}`,
			want: map[string]string{
				"messages": `[{"content":[{"text":"Hi","type":"text"}],"role":"user"},{"content":[{"signature":"sig","thinking":"hmm","type":"thinking"},{"data":"xyz","type":"redacted_thinking"},{"text":"Hello","type":"text"}],"role":"assistant"},{"content":[{"text":"Again","type":"text"}],"role":"user"}]`,
				"thinking": `{"budget_tokens":4096,"type":"enabled"}`, "max_tokens": `8192`,
			}},
		{name: "thinking budget shrinks under the cap",
			body: `{"model":"c","reasoning_effort":"high","max_tokens":3000,"messages":[{"role":"user","content":"Hi"}]}`,
			want: map[string]string{"thinking": `{"budget_tokens":2999,"type":"enabled"}`, "max_tokens": `3000`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var edits []func(*config.Plugin)
			if c.edit != nil {
				edits = append(edits, c.edit)
			}
			m, err := prepared(t, c.body, edits...)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range c.want {
				if got := js(m[k]); got != want {
					t.Errorf("%s:\n got %s\nwant %s", k, got, want)
				}
			}
		})
	}
}

// Kong's "tool_choice conversion" (03-anthropic_integration_spec.lua),
// replayed on its own fixtures. Kong sends {type:none} even without tools;
// here "none" without tools sends no tool_choice (Anthropic refuses
// tool_choice without tools), and with tools it is {type:none}.
func TestKongToolChoiceConversion(t *testing.T) {
	for file, want := range map[string]string{
		"auto": `{"type":"auto"}`, "required": `{"type":"any"}`, "object_function": `{"name":"my_function","type":"tool"}`, "none": `null`,
	} {
		body, err := os.ReadFile("testdata/kong/tool_choice_" + file + ".json")
		if err != nil {
			t.Fatal(err)
		}
		m, err := prepared(t, string(body))
		if err != nil {
			t.Fatal(file, err)
		}
		if got := js(m["tool_choice"]); got != want {
			t.Errorf("%s: tool_choice %s, want %s", file, got, want)
		}
	}
	m, err := prepared(t, `{"model":"c","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none"}`)
	if err != nil || js(m["tool_choice"]) != `{"type":"none"}` {
		t.Fatalf("none with tools: %v %v", m["tool_choice"], err)
	}
}

func TestRequestRefusals(t *testing.T) {
	for _, c := range []struct{ body, param string }{
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"seed":1}`, "seed"},
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"n":2}`, "n"},
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"presence_penalty":0.5}`, "presence_penalty"},
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}`, "response_format"},
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"reasoning_effort":"extreme"}`, "reasoning_effort"},
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"reasoning_effort":"low","max_tokens":500}`, "reasoning_effort"},
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"tools":[{"type":"custom","function":{"name":"f"}}]}`, "tools[0].type"},
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"tool_choice":"auto"}`, "tool_choice"},
		{`{"model":"c","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"x","format":"wav"}}]}]}`, "messages[0].content[0].type"},
		{`{"model":"c","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/bmp;base64,AA=="}}]}]}`, "messages[0].content[0].image_url.url"},
		{`{"model":"c","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]}`, "messages[0].content[0].file.file_id"},
		{`{"model":"c","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[1].tool_calls[0].function.arguments"},
		{`{"model":"c","messages":[{"role":"tool","content":"x"}]}`, "messages[0].tool_call_id"},
		{`{"model":"c","messages":[{"role":"system","content":"x"}]}`, "messages"},
		{`{"model":"c","messages":[{"role":"user","content":"x"}],"frobnicate":1}`, "frobnicate"},
	} {
		_, err := prepared(t, c.body)
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Status != 400 || pe.Param != c.param {
			t.Errorf("%s: got %v (%+v), want a 400 naming %s", c.body, err, pe, c.param)
		}
	}
}

func TestPrepareTargets(t *testing.T) {
	d := &Driver{}
	p := plugin()
	up, err := d.Prepare(&provider.Call{Plugin: p, Model: "c", Body: []byte(`{"messages":[{"role":"user","content":"x"}]}`)})
	if err != nil || up.URL.String() != "https://api.anthropic.com:443/v1/messages" {
		t.Fatalf("%v %v", up.URL, err)
	}
	// upstream_path alone: a path on Anthropic's host (the configuration
	// writes it on OpenAI's).
	p.Model.Options.UpstreamPath = "/custom/messages"
	p.Model.Options.UpstreamURL = "https://api.openai.com:443/custom/messages"
	up, _ = d.Prepare(&provider.Call{Plugin: p, Model: "c", Body: []byte(`{"messages":[{"role":"user","content":"x"}]}`)})
	if up.URL.String() != "https://api.anthropic.com:443/custom/messages" {
		t.Fatalf("upstream_path: %v", up.URL)
	}
	p.RouteType = config.RoutePreserve
	p.Model.Options.UpstreamPath, p.Model.Options.UpstreamURL = "", ""
	up, err = d.Prepare(&provider.Call{Plugin: p, Body: []byte(`{}`)})
	if err != nil || up.URL.Host != "api.anthropic.com:443" || up.Transport == nil {
		t.Fatalf("preserve: %v %v", up, err)
	}
	p.RouteType = config.RouteCompletions
	if _, err := d.Prepare(&provider.Call{Plugin: p, Body: []byte(`{}`)}); err == nil || !strings.Contains(err.Error(), "llm/v1/completions") {
		t.Fatalf("completions: %v", err)
	}
	_ = chat.FinishStop
}

package kong

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
)

// unitDoc gives each 01-unit behaviour that shows through the handler a
// route, configured as the spec's FORMATS, STREAMS and fake configs are.
const unitDoc = `_format_version: "3.0"
routes:
  - name: unit_chat
    paths: [/unit/chat]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/chat
          auth: {header_name: Authorization, header_value: Bearer openai-key}
          model: {name: gpt-4, provider: openai, options: {max_tokens: 512, temperature: 0.5, upstream_url: "MOCK/llm/v1/chat/good"}}
  - name: unit_completions
    paths: [/unit/completions]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/completions
          auth: {header_name: Authorization, header_value: Bearer openai-key}
          model: {name: gpt-3.5-turbo-instruct, provider: openai, options: {max_tokens: 512, temperature: 0.5, upstream_url: "MOCK/llm/v1/completions/good"}}
  - name: unit_stream_chat
    paths: [/unit/stream/chat]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/chat
          auth: {header_name: Authorization, header_value: Bearer openai-key}
          model: {name: gpt-4, provider: openai, options: {upstream_url: "MOCK/unit/stream/chat"}}
  - name: unit_stream_completions
    paths: [/unit/stream/completions]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/completions
          auth: {header_name: Authorization, header_value: Bearer openai-key}
          model: {name: gpt-3.5-turbo-instruct, provider: openai, options: {upstream_url: "MOCK/unit/stream/completions"}}
  - name: unit_merge
    paths: [/unit/merge]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/chat
          auth: {header_name: Authorization, header_value: Bearer openai-key}
          model: {name: gpt-4, provider: openai, options: {max_tokens: 1024, top_p: 0.5, upstream_url: "MOCK/llm/v1/chat/good"}}
  - name: unit_header_template
    paths: ["~/unit/(?<uri_cap_1>[^/]+)/header$"]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/chat
          auth: {header_name: Authorization, header_value: Bearer openai-key}
          model: {name: "$(headers.from_header_1)", provider: openai, options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/chat/good"}}
  - name: unit_capture_model
    paths: ["~/unit/(?<uri_cap_1>[^/]+)/(?<uri_cap_2>[^/]+)/model$"]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/chat
          auth: {header_name: Authorization, header_value: Bearer openai-key}
          model: {name: "$(uri_captures.uri_cap_2)", provider: openai, options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/chat/good"}}
  - name: unit_missing_capture
    paths: ["~/unit/(?<uri_cap_1>[^/]+)/missing$"]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/chat
          auth: {header_name: Authorization, header_value: Bearer openai-key}
          model: {name: "$(uri_captures.uri_cap_3)", provider: openai, options: {upstream_url: "MOCK/llm/v1/chat/good"}}
  - name: unit_count_words
    paths: [/unit/count]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/chat
          auth: {header_name: Authorization, header_value: Bearer openai-key}
          logging: {log_statistics: true}
          model: {name: gpt-3.5-turbo, provider: openai, options: {upstream_url: "MOCK/openai/llm/v1/chat/good"}}
`

// unitUpstreamTemplateDoc templates upstream_url, as the spec's fake
// config does ("https://$(uri_captures.uri_cap_1).example.com").
const unitUpstreamTemplateDoc = `_format_version: "3.0"
routes:
  - name: unit_upstream_template
    paths: ["~/unit/(?<uri_cap_1>[^/]+)/upstream$"]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/chat
          auth: {header_name: Authorization, header_value: Bearer openai-key}
          model: {name: gpt-4, provider: openai, options: {max_tokens: 256, temperature: 1.0, upstream_url: "https://$(uri_captures.uri_cap_1).example.com/llm/v1/chat/good"}}
`

// upstreamBody decodes the last body the mock received.
func upstreamBody(c *check, e *env) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(e.mock.last(c).body, &m); err != nil {
		c.fatalf("the upstream body is not JSON: %v", err)
	}
	return m
}

// sameMembers asserts that an upstream body is the expected one, member
// for member.
func sameMembers(c *check, got map[string]any, want string) {
	w := decode(want).(map[string]any)
	for k, v := range w {
		if !reflect.DeepEqual(got[k], v) {
			c.errorf("upstream %s = %v, want %v", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := w[k]; !ok {
			c.errorf("upstream has %s = %v, which Kong does not send", k, v)
		}
	}
}

// withMembers is body with members added, as the expected-requests
// fixtures are the requests with the driver's members added.
func withMembers(body string, add map[string]any) string {
	m := decode(body).(map[string]any)
	for k, v := range add {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// relayedFrame returns the data of the first event of a relayed stream.
func relayedFrame(c *check, x *exchange) map[string]any {
	if x.status != 200 {
		c.fatalf("status %d: %.300s", x.status, x.body)
	}
	lines, _ := events(x.body)
	if len(lines) == 0 {
		c.fatalf("no event relayed")
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[0], "data: ")), &m); err != nil {
		c.fatalf("first event is not JSON: %q", lines[0])
	}
	return m
}

// promptEstimate sends a stream request (the mock's stream has no usage
// chunk) and returns the prompt tokens logged.
func promptEstimate(c *check, e *env, messages string) any {
	x := e.get("/unit/count", `{"stream": true, "messages": `+messages+`}`)
	if x.status != 200 {
		c.fatalf("status %d: %.300s", x.status, x.body)
	}
	return at(e.statsLine(), "ai.proxy.usage.prompt_tokens")
}

func estimate(words int) int { return int(math.Floor(float64(words)*1.8 + 0.5)) }

func unitRows() []row {
	const spec = "01-unit"
	apples := strings.Repeat("apple ", 10)
	bananas := strings.Repeat("banana ", 10)
	return []row{
		{spec: spec, it: "resolves referenceable plugin configuration from request context (model.name from $(headers.from_header_1))", run: func(c *check) {
			e := newEnv(c, unitDoc)
			x := e.get("/unit/cap_value_here_1/header", unitChatRequest, "From-Header-1", "header_value_here_1")
			c.equal("status", x.status, 200)
			body := upstreamBody(c, e)
			c.equal("upstream model", body["model"], "header_value_here_1")
			c.equal("upstream max_tokens", body["max_tokens"], 256)
			c.equal("upstream temperature", body["temperature"], 1)
		}},
		{spec: spec, it: "resolves referenceable plugin configuration from request context (upstream_url from $(uri_captures.uri_cap_1))", run: func(c *check) {
			e := newEnv(c, unitUpstreamTemplateDoc)
			e.get("/unit/cap_value_here_1/upstream", unitChatRequest)
			target := e.mock.last(c).target
			c.equal("upstream URL", target.Scheme+"://"+target.Host+target.Path, "https://cap_value_here_1.example.com/llm/v1/chat/good")
		}},
		{spec: spec, it: "resolves referenceable model name from request context", run: func(c *check) {
			e := newEnv(c, unitDoc)
			x := e.get("/unit/cap_value_here_1/cap_value_here_2/model", unitChatRequest)
			c.equal("status", x.status, 200)
			c.equal("upstream model", upstreamBody(c, e)["model"], "cap_value_here_2")
		}},
		{spec: spec, it: "returns appropriate error when referenceable plugin configuration is missing from request context (a capture the request lacks)", run: func(c *check) {
			e := newEnv(c, unitDoc)
			errorMessage(c, e.get("/unit/cap_value_here_1/missing", unitChatRequest), 400, "uri_captures key uri_cap_3 was not provided")
			c.equal("upstream requests", len(e.mock.received()), 0)
		}},
		{spec: spec, it: "returns appropriate error when referenceable plugin configuration is missing from request context (an expression that does not parse)",
			deliberate: "a template that cannot parse is refused when the configuration loads, naming the field, instead of failing every request with 400 \"cannot parse expression for field '$(uri_captures_uri_cap_1)'\" (shared.lua merge_model_options)", run: func(c *check) {
				_, err := parse(`{"route_type": "llm/v1/chat", "model": {"name": "$(uri_captures_uri_cap_1)", "provider": "openai"}}`)
				if err == nil || !strings.Contains(err.Error(), "model.name") || !strings.Contains(err.Error(), "$(uri_captures_uri_cap_1)") {
					c.errorf("load error %v, want one naming model.name and the expression", err)
				}
			}},
		{spec: spec, it: "llm/v1/chat message is compatible with llm/v1/chat route", run: func(c *check) {
			e := newEnv(c, unitDoc)
			c.equal("status", e.get("/unit/chat", unitChatRequest).status, 200)
		}},
		{spec: spec, it: "llm/v1/chat message is not compatible with llm/v1/completions route", run: func(c *check) {
			e := newEnv(c, unitDoc)
			errorMessage(c, e.get("/unit/completions", unitChatRequest), 400, "[llm/v1/chat] message format is not compatible with [llm/v1/completions] route type")
		}},
		{spec: spec, it: "double-format message is denied", run: func(c *check) {
			e := newEnv(c, unitDoc)
			errorMessage(c, e.get("/unit/completions", unitDoubleFormat), 400, "request matches multiple LLM request formats")
		}},
		{spec: spec, it: "double-format message is denied (the spec repeats this it)", run: func(c *check) {
			e := newEnv(c, unitDoc)
			errorMessage(c, e.get("/unit/completions", unitDoubleFormat), 400, "request matches multiple LLM request formats")
		}},
		{spec: spec, it: "openai format tests / llm/v1/chat format test / converts to provider request format correctly", run: func(c *check) {
			e := newEnv(c, unitDoc)
			e.get("/unit/chat", unitChatRequest)
			sameMembers(c, upstreamBody(c, e), withMembers(unitChatRequest, map[string]any{"model": "gpt-4", "max_tokens": 512, "stream": false, "temperature": 0.5}))
		}},
		{spec: spec, it: "openai format tests / llm/v1/completions format test / converts to provider request format correctly", run: func(c *check) {
			e := newEnv(c, unitDoc)
			e.get("/unit/completions", unitCompletionsRequest)
			sameMembers(c, upstreamBody(c, e), withMembers(unitCompletionsRequest, map[string]any{"model": "gpt-3.5-turbo-instruct", "max_tokens": 512, "stream": false, "temperature": 0.5}))
		}},
		{spec: spec, it: "openai format tests / llm/v1/chat format test / converts from provider response format correctly", run: func(c *check) {
			e := newEnv(c, unitDoc)
			x := e.get("/unit/chat", unitChatRequest)
			j, want := x.json(c), decode(chatGoodResponse)
			c.equal("choices[1].message", at(j, "choices.0.message"), at(want, "choices.0.message"))
			c.equal("model", j["model"], at(want, "model"))
		}},
		{spec: spec, it: "openai format tests / llm/v1/completions format test / converts from provider response format correctly", run: func(c *check) {
			e := newEnv(c, unitDoc)
			x := e.get("/unit/completions", unitCompletionsRequest)
			j, want := x.json(c), decode(completionsResponse)
			c.equal("choices", j["choices"], at(want, "choices"))
			c.equal("model", j["model"], at(want, "model"))
		}},
		{spec: spec, it: "openai stream format tests / llm/v1/chat format test / converts to provider request format correctly", run: func(c *check) {
			e := newEnv(c, unitDoc)
			got := relayedFrame(c, e.get("/unit/stream/chat", `{"stream": true, "messages": [{"role": "user", "content": "hi"}]}`))
			c.equal("choices", got["choices"], at(decode(strings.TrimPrefix(strings.TrimSpace(unitChatFrame), "data: ")), "choices"))
		}},
		{spec: spec, it: "openai stream format tests / llm/v1/completions format test / converts to provider request format correctly", run: func(c *check) {
			e := newEnv(c, unitDoc)
			got := relayedFrame(c, e.get("/unit/stream/completions", `{"stream": true, "prompt": "hi"}`))
			c.equal("choices", got["choices"], at(decode(strings.TrimPrefix(strings.TrimSpace(unitCompletionsFrame), "data: ")), "choices"))
		}},
		{spec: spec, it: "produces a correct default config merge", run: func(c *check) {
			e := newEnv(c, unitDoc)
			e.get("/unit/merge", unitChatWithOptions)
			got := upstreamBody(c, e)
			for k, v := range map[string]any{"max_tokens": 1024, "temperature": 0.1, "top_p": 0.5, "some_extra_param": "string_val", "another_extra_param": 0.5} {
				c.equal("upstream "+k, got[k], v)
			}
		}},
		{spec: spec, it: "streaming transformer tests / transforms text/event-stream type", run: func(c *check) {
			e := newEnv(c, unitDoc)
			x := e.get("/unit/count", chatStreamRequest)
			got, _ := events(x.body)
			want, _ := events([]byte(strings.Join(streamWrites, "")))
			c.equal("events", got, want)
		}},
		{spec: spec, it: "count_words / normal prompts", run: func(c *check) {
			e := newEnv(c, unitDoc)
			c.equal("prompt_tokens (10 words)", promptEstimate(c, e, `[{"role": "user", "content": "`+apples+`"}]`), estimate(10))
		}},
		{spec: spec, it: "count_words / multi-modal prompts", run: func(c *check) {
			e := newEnv(c, unitDoc)
			part := func(typ, text string) string {
				if text == "" {
					return `{"type": "` + typ + `"}`
				}
				return `{"type": "` + typ + `", "text": "` + text + `"}`
			}
			for _, tc := range []struct {
				parts []string
				words int
			}{
				{[]string{part("text", apples)}, 10},
				{[]string{part("text", apples), part("text", bananas)}, 20},
				{[]string{part("not_text", apples), part("text", bananas), part("text", "")}, 10},
			} {
				msgs := `[{"role": "user", "content": [` + strings.Join(tc.parts, ", ") + `]}]`
				c.equal("prompt_tokens of "+msgs, promptEstimate(c, e, msgs), estimate(tc.words))
			}
		}},
	}
}

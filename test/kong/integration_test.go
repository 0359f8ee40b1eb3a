package kong

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// pluginID is the id the spec gives the plugin whose analytics it checks.
const pluginID = "0b3c6a52-5d1e-4c4f-9a57-2f8de0c1a001"

// integrationDoc is 02-openai_integration_spec.lua's setup as a decK
// document: one service, a route per scenario with its ai-proxy plugin
// and, where the spec has one, its file-log plugin (which we load and
// ignore: our statistics line is the log the rows read). The spec's
// ctx-checker-last plugin is a Kong test fixture and is left out.
const integrationDoc = `_format_version: "3.0"
services:
  - name: empty_service
    host: localhost
    port: 8080
    path: /
    routes:
      - name: chat_good
        protocols: [http, https]
        strip_path: true
        paths: [/openai/llm/v1/chat/good]
        snis: [example.test]
        plugins:
          - name: file-log
            config: {path: /tmp/stats-only.log}
          - name: ai-proxy
            id: ` + pluginID + `
            config:
              route_type: llm/v1/chat
              logging: {log_payloads: false, log_statistics: true}
              auth: {header_name: Authorization, header_value: Bearer openai-key, allow_override: true}
              model:
                name: gpt-3.5-turbo
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/chat/good", input_cost: 10.0, output_cost: 10.0}
      - name: chat_good_no_allow_override
        protocols: [http, https]
        strip_path: true
        paths: [/openai/llm/v1/chat/good-no-allow-override]
        snis: [example.test]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/chat
              logging: {log_payloads: false, log_statistics: true}
              auth: {header_name: Authorization, header_value: Bearer openai-key, allow_override: false}
              model:
                name: gpt-3.5-turbo
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/chat/good", input_cost: 10.0, output_cost: 10.0}
      - name: chat_good_no_stats
        protocols: [http, https]
        strip_path: true
        paths: [/openai/llm/v1/chat/good-without-stats]
        snis: [example.test]
        plugins:
          - name: file-log
            config: {path: /tmp/no-logs.log}
          - name: ai-proxy
            config:
              route_type: llm/v1/chat
              logging: {log_payloads: false, log_statistics: false}
              auth: {header_name: Authorization, header_value: Bearer openai-key}
              model:
                name: gpt-3.5-turbo
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/chat/good"}
      - name: chat_good_log_payloads
        protocols: [http, https]
        strip_path: true
        paths: [/openai/llm/v1/chat/good-with-payloads]
        snis: [example.test]
        plugins:
          - name: file-log
            config: {path: /tmp/with-payloads.log}
          - name: ai-proxy
            config:
              route_type: llm/v1/chat
              logging: {log_payloads: true, log_statistics: true}
              auth: {header_name: Authorization, header_value: Bearer openai-key}
              model:
                name: gpt-3.5-turbo
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/chat/good"}
      - name: chat_bad_upstream
        protocols: [http, https]
        strip_path: true
        paths: [/openai/llm/v1/chat/bad_upstream_response]
        snis: [example.test]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/chat
              auth: {header_name: Authorization, header_value: Bearer openai-key}
              model:
                name: gpt-3.5-turbo
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/chat/bad_upstream_response"}
      - name: completions_good
        protocols: [http, https]
        strip_path: true
        paths: [/openai/llm/v1/completions/good]
        snis: [example.test]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/completions
              auth: {header_name: Authorization, header_value: Bearer openai-key}
              model:
                name: gpt-3.5-turbo-instruct
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/completions/good"}
      - name: completions_query_param
        protocols: [http, https]
        strip_path: true
        paths: [/openai/llm/v1/completions/query-param-auth]
        snis: [example.test]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/completions
              auth: {param_name: apikey, param_value: openai-key, param_location: query, allow_override: true}
              model:
                name: gpt-3.5-turbo-instruct
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/completions/good"}
      - name: completions_query_param_no_override
        protocols: [http, https]
        strip_path: true
        paths: [/openai/llm/v1/completions/query-param-auth-no-allow-override]
        snis: [example.test]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/completions
              auth: {param_name: apikey, param_value: openai-key, param_location: query, allow_override: false}
              model:
                name: gpt-3.5-turbo-instruct
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/completions/good"}
      - name: preserve_good
        protocols: [http, https]
        paths: [/llm/v1/embeddings/good]
        snis: [example.test]
        plugins:
          - name: file-log
            config: {path: /dev/stdout}
          - name: ai-proxy
            config:
              route_type: preserve
              auth: {header_name: Authorization, header_value: Bearer openai-key}
              model:
                provider: openai
                options: {upstream_url: "MOCK/whatever/doesnt/matter"}
      - name: chat_good_no_model
        protocols: [http, https]
        strip_path: true
        paths: [/openai/llm/v1/chat/good-no-model-param]
        snis: [example.test]
        plugins:
          - name: file-log
            config: {path: /dev/stdout}
          - name: ai-proxy
            config:
              route_type: llm/v1/chat
              auth: {header_name: Authorization, header_value: Bearer openai-key}
              model:
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/chat/good"}
      - name: completions_post_body
        protocols: [http, https]
        strip_path: true
        paths: [/openai/llm/v1/completions/post-body-auth]
        snis: [example.test]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/completions
              auth: {param_name: apikey, param_value: openai-key, param_location: body, allow_override: true}
              model:
                name: gpt-3.5-turbo-instruct
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/completions/good"}
      - name: completions_post_body_no_override
        protocols: [http, https]
        strip_path: true
        paths: [/openai/llm/v1/completions/post-body-auth-no-allow-override]
        snis: [example.test]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/completions
              auth: {param_name: apikey, param_value: openai-key, param_location: body, allow_override: false}
              model:
                name: gpt-3.5-turbo-instruct
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/completions/good"}
      - name: chat_401
        protocols: [http, https]
        strip_path: true
        paths: [/openai/llm/v1/chat/unauthorized]
        snis: [example.test]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/chat
              auth: {header_name: Authorization, header_value: Bearer wrong-key}
              model:
                name: gpt-3.5-turbo
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/chat/good"}
      - name: chat_400
        protocols: [http, https]
        strip_path: true
        paths: [/openai/llm/v1/chat/bad_request]
        snis: [example.test]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/chat
              auth: {header_name: Authorization, header_value: Bearer openai-key}
              model:
                name: gpt-3.5-turbo
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/chat/bad_request"}
      - name: completions_400
        protocols: [http, https]
        strip_path: true
        paths: [/openai/llm/v1/completions/bad_request]
        snis: [example.test]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/completions
              auth: {header_name: Authorization, header_value: Bearer openai-key}
              model:
                name: gpt-3.5-turbo-instruct
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/completions/bad_request"}
      - name: chat_500
        protocols: [http, https]
        strip_path: true
        paths: [/openai/llm/v1/chat/internal_server_error]
        snis: [example.test]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/chat
              auth: {header_name: Authorization, header_value: Bearer openai-key}
              model:
                name: gpt-3.5-turbo
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/llm/v1/chat/internal_server_error"}
`

// Reasons shared by several rows.
const (
	noteErrorShape = "our error objects also carry OpenAI's type, param and code (README: every error is OpenAI-shaped so that SDKs raise their usual exceptions); Kong's has only message"
	noteStatsKeys  = "our meta adds time_to_first_token, and usage adds estimated: true when the token counts are estimates; Kong's file-log fields (client_ip, request.size, response.size) belong to file-log, which we do not implement: our statistics line has status and latency instead"
)

func integration(c *check) *env { return newEnv(c, integrationDoc) }

// chatGoodAnswer asserts the relayed good chat answer ("check this is in
// the 'kong' response format").
func chatGoodAnswer(c *check, x *exchange) {
	if x.status != 200 {
		c.fatalf("status %d, want 200: %.300s", x.status, x.body)
	}
	j := x.json(c)
	c.equal("id", j["id"], chatGoodID)
	c.equal("model", j["model"], chatGoodModel)
	c.equal("object", j["object"], "chat.completion")
	c.equal("choices[1].message", at(j, "choices.0.message"), map[string]any{"content": chatGoodContent, "role": "assistant"})
}

func completionsGoodAnswer(c *check, x *exchange) {
	if x.status != 200 {
		c.fatalf("status %d, want 200: %.300s", x.status, x.body)
	}
	j := x.json(c)
	c.equal("id", j["id"], completionsGoodID)
	c.equal("model", j["model"], completionsModel)
	c.equal("object", j["object"], "text_completion")
	c.equal("choices[1].text", at(j, "choices.0.text"), completionsGoodText)
}

// errorCode asserts an OpenAI error with the given status and code.
func errorCode(c *check, x *exchange, status int, code string) {
	c.equal("status", x.status, status)
	c.equal("error.code", at(x.json(c), "error.code"), code)
}

// errorMessage asserts Kong's {error = {message = ...}} with the status.
func errorMessage(c *check, x *exchange, status int, msg string) {
	c.equal("status", x.status, status)
	c.equal("error.message", at(x.json(c), "error.message"), msg)
}

// expectedStats is _EXPECTED_CHAT_STATS with llm_latency and
// time_per_token left out: the spec replaces both by 1 after checking
// them.
type expectedStats struct {
	pluginID, requestModel, responseModel string
	prompt, completion, total             int
	cost                                  float64
}

// allowedExtraStats are the keys our analytics add to Kong's (noteStatsKeys).
var allowedExtraStats = map[string]bool{"meta.time_to_first_token": true, "usage.estimated": true}

// checkStats compares the analytics of the statistics line with Kong's:
// the same keys (but allowedExtraStats), the same values, and the spec's
// checks of llm_latency and time_per_token.
func checkStats(c *check, line map[string]any, want expectedStats) {
	got, ok := at(line, "ai.proxy").(map[string]any)
	if !ok {
		c.fatalf("the statistics line has no ai.proxy analytics: %v", line)
	}
	expect := map[string]any{
		"meta.plugin_id": want.pluginID, "meta.provider_name": "openai",
		"meta.request_model": want.requestModel, "meta.response_model": want.responseModel,
		"usage.prompt_tokens": float64(want.prompt), "usage.completion_tokens": float64(want.completion),
		"usage.total_tokens": float64(want.total), "usage.cost": want.cost,
		"meta.llm_latency": nil, "usage.time_per_token": nil,
	}
	for _, part := range []string{"meta", "usage"} {
		m, _ := got[part].(map[string]any)
		for k := range m {
			if _, ok := expect[part+"."+k]; !ok && !allowedExtraStats[part+"."+k] {
				c.errorf("ai.proxy.%s.%s is not in Kong's analytics", part, k)
			}
		}
	}
	for k, v := range expect {
		g := at(got, k)
		if v == nil {
			if _, ok := g.(float64); !ok {
				c.errorf("ai.proxy.%s = %v, want a number", k, g)
			}
			continue
		}
		if gf, ok := g.(float64); ok {
			if vf, ok := v.(float64); ok && math.Abs(gf-vf) < 1e-9 {
				continue
			}
		} else if g == v {
			continue
		}
		c.errorf("ai.proxy.%s = %v, want %v", k, g, v)
	}
	latency, _ := at(got, "meta.llm_latency").(float64)
	tpt, _ := at(got, "usage.time_per_token").(float64)
	if latency < 0 {
		c.errorf("llm_latency %v < 0", latency)
	}
	if compl, _ := at(got, "usage.completion_tokens").(float64); compl > 0 &&
		fmt.Sprintf("%.3f", tpt) != fmt.Sprintf("%.3f", latency/compl) {
		c.errorf("time_per_token %v, want llm_latency/completion_tokens = %v", tpt, latency/compl)
	}
}

var chatGoodStats = expectedStats{pluginID: pluginID, requestModel: "gpt-3.5-turbo", responseModel: chatGoodModel,
	prompt: 25, completion: 12, total: 37, cost: 0.00037}

// payloadRequest decodes ai.proxy.payload.request, which Kong checks with
// plain-text matches of cjson's compact encoding of the upstream body.
func payloadRequest(c *check, line map[string]any) (string, map[string]any) {
	s, ok := at(line, "ai.proxy.payload.request").(string)
	if !ok {
		c.fatalf("no ai.proxy.payload.request in %v", line)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		c.fatalf("payload.request is not JSON: %v", err)
	}
	return s, m
}

func integrationRows() []row {
	const spec = "02-openai_integration"
	return []row{
		{spec: spec, it: "openai general / logs statistics", note: noteStatsKeys, run: func(c *check) {
			e := integration(c)
			chatGoodAnswer(c, e.get("/openai/llm/v1/chat/good", chatGoodRequest))
			checkStats(c, e.statsLine(), chatGoodStats)
		}},
		{spec: spec, it: "openai general / does not log statistics", run: func(c *check) {
			e := integration(c)
			chatGoodAnswer(c, e.get("/openai/llm/v1/chat/good-without-stats", chatGoodRequest))
			if ai, ok := e.statsLine()["ai"]; ok {
				c.errorf("log has ai analytics: %v", ai)
			}
		}},
		{spec: spec, it: "openai general / logs payloads",
			note: "Kong matches cjson's compact re-encoding of the body; we edit the client's JSON in place and keep its spacing, so the row compares the decoded payload", run: func(c *check) {
				e := integration(c)
				chatGoodAnswer(c, e.get("/openai/llm/v1/chat/good-with-payloads", chatGoodRequest))
				line := e.statsLine()
				_, req := payloadRequest(c, line)
				checkPayloadsDecoded(c, line, req, chatUserContent)
			}},
		{spec: spec, it: "openai general / internal_server_error request", run: func(c *check) {
			e := integration(c)
			x := e.get("/openai/llm/v1/chat/internal_server_error", chatGoodRequest)
			c.equal("status", x.status, 500)
			if len(x.body) == 0 {
				c.errorf("empty body")
			}
		}},
		{spec: spec, it: "openai general / unauthorized request", run: func(c *check) {
			e := integration(c)
			errorCode(c, e.get("/openai/llm/v1/chat/unauthorized", chatGoodRequest), 401, "invalid_api_key")
		}},
		{spec: spec, it: "openai general / unauthorized request with client header auth", run: func(c *check) {
			e := integration(c)
			errorCode(c, e.get("/openai/llm/v1/chat/good", chatGoodRequest, "Authorization", "Bearer wrong"), 401, "invalid_api_key")
		}},
		{spec: spec, it: "openai general / authorized request with client header auth", run: func(c *check) {
			e := integration(c)
			c.equal("status", e.get("/openai/llm/v1/chat/good", chatGoodRequest, "Authorization", "Bearer openai-key").status, 200)
		}},
		{spec: spec, it: "openai general / authorized request with client right header auth with no allow_override", run: func(c *check) {
			e := integration(c)
			c.equal("status", e.get("/openai/llm/v1/chat/good-no-allow-override", chatGoodRequest, "Authorization", "Bearer openai-key").status, 200)
		}},
		{spec: spec, it: "openai general / authorized request with wrong client header auth  with no allow_override", run: func(c *check) {
			e := integration(c)
			c.equal("status", e.get("/openai/llm/v1/chat/good-no-allow-override", chatGoodRequest, "Authorization", "Bearer wrong").status, 200)
			c.equal("upstream Authorization", e.mock.last(c).header.Get("Authorization"), "Bearer openai-key")
		}},
		{spec: spec, it: "openai llm/v1/chat / good request", run: func(c *check) {
			e := integration(c)
			x := e.get("/openai/llm/v1/chat/good", chatGoodRequest)
			chatGoodAnswer(c, x)
			c.equal("X-Kong-LLM-Model", x.header.Get("X-Kong-LLM-Model"), "openai/gpt-3.5-turbo")
			// What the mock's location relies on: the configured URL and
			// key, and the driver's model and options (openai.lua).
			up := e.mock.last(c)
			c.equal("upstream path", up.target.Path, "/llm/v1/chat/good")
			c.equal("upstream Authorization", up.header.Get("Authorization"), "Bearer openai-key")
			body := upstreamBody(c, e)
			c.equal("upstream model", body["model"], "gpt-3.5-turbo")
			c.equal("upstream max_tokens", body["max_tokens"], 256)
			c.equal("upstream temperature", body["temperature"], 1)
		}},
		{spec: spec, it: "openai llm/v1/chat / good request with http2", run: func(c *check) {
			e := integration(c)
			x, proto := e.overHTTP2(c, "/openai/llm/v1/chat/good", chatGoodRequest)
			c.equal("protocol", proto, "HTTP/2.0")
			if _, ok := x.json(c)["message"]; ok {
				c.errorf("the answer has a message member: %.300s", x.body)
			}
			chatGoodAnswer(c, x)
		}},
		{spec: spec, it: "openai llm/v1/chat / good request, parses model of cjson.null", run: func(c *check) {
			e := integration(c)
			chatGoodAnswer(c, e.get("/openai/llm/v1/chat/good", strings.Replace(chatGoodRequest, `"stream": false`, `"model": null, "stream": false`, 1)))
		}},
		{spec: spec, it: "openai llm/v1/chat / tries to override configured model", deliberate: noteErrorShape, run: func(c *check) {
			e := integration(c)
			x := e.get("/openai/llm/v1/chat/good", chatOwnModelRequest)
			errorMessage(c, x, 400, "cannot use own model - must be: gpt-3.5-turbo")
			ours := x.json(c)["error"].(map[string]any)
			for _, k := range []string{"type", "param", "code"} {
				if _, ok := ours[k]; !ok {
					c.errorf("our error has no %s: %s", k, x.body)
				}
			}
		}},
		{spec: spec, it: "openai llm/v1/chat / bad upstream response", run: func(c *check) {
			e := integration(c)
			errorMessage(c, e.get("/openai/llm/v1/chat/bad_upstream_response", chatGoodRequest), 500,
				"transformation failed from type openai://llm/v1/chat: 'choices' not in llm/v1/chat response")
		}},
		{spec: spec, it: "openai llm/v1/chat / bad request", run: func(c *check) {
			e := integration(c)
			errorMessage(c, e.get("/openai/llm/v1/chat/bad_request", chatBadRequest), 400, "request body doesn't contain valid prompts")
			c.equal("upstream requests", len(e.mock.received()), 0)
		}},
		{spec: spec, it: "openai llm/v1/chat / good request setting model from client body", run: func(c *check) {
			e := integration(c)
			x := e.get("/openai/llm/v1/chat/good-no-model-param", chatOwnModelRequest)
			chatGoodAnswer(c, x)
			c.equal("X-Kong-LLM-Model", x.header.Get("X-Kong-LLM-Model"), "openai/try-to-override-the-model")
		}},
		{spec: spec, it: "openai llm/v1/chat / #REGRESSION user defined model doesn't pollute long lived config table", run: func(c *check) {
			e := integration(c)
			for i := 1; i <= 10; i++ {
				model := fmt.Sprintf("random-model-%d", i)
				x := e.get("/openai/llm/v1/chat/good-no-model-param", strings.Replace(chatOwnModelRequest, "try-to-override-the-model", model, 1))
				chatGoodAnswer(c, x)
				c.equal("X-Kong-LLM-Model", x.header.Get("X-Kong-LLM-Model"), "openai/"+model)
			}
		}},
		{spec: spec, it: "openai llm/v1/completions / good request", run: func(c *check) {
			e := integration(c)
			completionsGoodAnswer(c, e.get("/openai/llm/v1/completions/good", completionsGoodRequest))
		}},
		{spec: spec, it: "openai llm/v1/completions / bad request", run: func(c *check) {
			e := integration(c)
			errorMessage(c, e.get("/openai/llm/v1/completions/bad_request", completionsBadRequest), 400, "request body doesn't contain valid prompts")
		}},
		{spec: spec, it: "openai preserve mode / embeddings", run: func(c *check) {
			e := integration(c)
			body := fmt.Sprintf(`{"model": %q, "input": %q, "encoding_format": "float"}`, embeddingsModel, embeddingsInput)
			x := e.get("/llm/v1/embeddings/good", body)
			if x.status != 200 {
				c.fatalf("status %d, want 200: %.300s", x.status, x.body)
			}
			j := x.json(c)
			if at(j, "data.0") == nil {
				c.errorf("no data[1]: %.300s", x.body)
			}
			c.equal("model", j["model"], embeddingsAnswered)
			c.equal("X-Kong-LLM-Model", x.header.Get("X-Kong-LLM-Model"), "openai/"+embeddingsModel)
		}},
		{spec: spec, it: "openai different auth methods / works with query param auth", run: func(c *check) {
			e := integration(c)
			completionsGoodAnswer(c, e.get("/openai/llm/v1/completions/query-param-auth", completionsGoodRequest))
		}},
		{spec: spec, it: "openai different auth methods / works with query param auth with client right auth parm", run: func(c *check) {
			e := integration(c)
			completionsGoodAnswer(c, e.get("/openai/llm/v1/completions/query-param-auth?apikey=openai-key", completionsGoodRequest))
		}},
		{spec: spec, it: "openai different auth methods / works with query param auth with client wrong auth parm", run: func(c *check) {
			e := integration(c)
			errorCode(c, e.get("/openai/llm/v1/completions/query-param-auth?apikey=wrong", completionsGoodRequest), 401, "invalid_api_key")
		}},
		{spec: spec, it: "openai different auth methods / works with query param auth with client right auth parm with no allow-override", run: func(c *check) {
			e := integration(c)
			completionsGoodAnswer(c, e.get("/openai/llm/v1/completions/query-param-auth-no-allow-override?apikey=openai-key", completionsGoodRequest))
		}},
		{spec: spec, it: "openai different auth methods / works with query param auth with client wrong auth parm with no allow-override", run: func(c *check) {
			e := integration(c)
			completionsGoodAnswer(c, e.get("/openai/llm/v1/completions/query-param-auth-no-allow-override?apikey=wrong", completionsGoodRequest))
		}},
		{spec: spec, it: "openai different auth methods / works with post body auth", run: func(c *check) {
			e := integration(c)
			completionsGoodAnswer(c, e.get("/openai/llm/v1/completions/post-body-auth", completionsGoodRequest))
		}},
		{spec: spec, it: "openai different auth methods / works with post body auth (the spec repeats this it)", run: func(c *check) {
			e := integration(c)
			completionsGoodAnswer(c, e.get("/openai/llm/v1/completions/post-body-auth", completionsGoodRequest))
		}},
		{spec: spec, it: "openai different auth methods / works with post body auth with client right auth body", run: func(c *check) {
			e := integration(c)
			completionsGoodAnswer(c, e.get("/openai/llm/v1/completions/post-body-auth", withAPIKey(completionsGoodRequest, "openai-key")))
		}},
		{spec: spec, it: "openai different auth methods / works with post body auth with client wrong auth body", run: func(c *check) {
			e := integration(c)
			errorCode(c, e.get("/openai/llm/v1/completions/post-body-auth", withAPIKey(completionsGoodRequest, "wrong")), 401, "invalid_api_key")
		}},
		{spec: spec, it: "openai different auth methods / works with post body auth with client right auth body and no allow_override", run: func(c *check) {
			e := integration(c)
			completionsGoodAnswer(c, e.get("/openai/llm/v1/completions/post-body-auth-no-allow-override", withAPIKey(completionsGoodRequest, "openai-key")))
		}},
		{spec: spec, it: "openai different auth methods / works with post body auth with client wrong auth body and no allow_override", run: func(c *check) {
			e := integration(c)
			completionsGoodAnswer(c, e.get("/openai/llm/v1/completions/post-body-auth-no-allow-override", withAPIKey(completionsGoodRequest, "wrong")))
		}},
		{spec: spec, it: "openai multi-modal requests / logs statistics", note: noteStatsKeys, run: func(c *check) {
			e := integration(c)
			chatGoodAnswer(c, e.get("/openai/llm/v1/chat/good", chatMultiModalRequest))
			checkStats(c, e.statsLine(), chatGoodStats)
		}},
		{spec: spec, it: "openai multi-modal requests / logs payloads", run: func(c *check) {
			e := integration(c)
			chatGoodAnswer(c, e.get("/openai/llm/v1/chat/good-with-payloads", chatMultiModalRequest))
			line := e.statsLine()
			_, req := payloadRequest(c, line)
			checkPayloadsDecoded(c, line, req, chatMultiModalText)
		}},
	}
}

// withAPIKey adds the apikey body member, as the spec's cjson round trip
// does.
func withAPIKey(body, key string) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	m["apikey"] = key
	b, _ := json.Marshal(m)
	return string(b)
}

// checkPayloadsDecoded is Kong's "logs payloads" on the decoded request
// payload: the user's text and role are there and the body is the
// upstream one (the configured model and options set); the response
// payload is the upstream's answer as it came.
func checkPayloadsDecoded(c *check, line, req map[string]any, text string) {
	raw, _ := json.Marshal(req["messages"])
	if !strings.Contains(string(raw), text) || !strings.Contains(string(raw), `"role":"user"`) {
		c.errorf("payload.request messages lack the user's %q: %s", text, raw)
	}
	c.equal("payload.request model", req["model"], "gpt-3.5-turbo")
	c.equal("payload.request max_tokens", req["max_tokens"], 256)
	resp, _ := at(line, "ai.proxy.payload.response").(string)
	for _, n := range []string{`"content": "` + chatGoodContent + `",`, `"role": "assistant"`, `"id": "` + chatGoodID + `"`} {
		if !strings.Contains(resp, n) {
			c.errorf("payload.response does not contain %s: %.300s", n, resp)
		}
	}
}

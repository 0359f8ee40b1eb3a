package kong

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"time"
)

const streamPluginID = "0b3c6a52-5d1e-4c4f-9a57-2f8de0c1a009"

// streamingDoc is the OpenAI part of 09-streaming_integration_spec.lua's
// setup.
const streamingDoc = `_format_version: "3.0"
services:
  - name: empty_service
    host: localhost
    port: 8080
    path: /
    routes:
      - name: openai_chat_good
        protocols: [http]
        strip_path: true
        paths: [/openai/llm/v1/chat/good]
        plugins:
          - name: file-log
            config: {path: /dev/stdout}
          - name: ai-proxy
            config:
              route_type: llm/v1/chat
              auth: {header_name: Authorization, header_value: Bearer openai-key}
              model:
                name: gpt-3.5-turbo
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/openai/llm/v1/chat/good", input_cost: 10.0, output_cost: 10.0}
      - name: openai_chat_partial
        protocols: [http]
        strip_path: true
        paths: [/openai/llm/v1/chat/partial]
        plugins:
          - name: file-log
            config: {path: /tmp/with-payloads.log}
          - name: ai-proxy
            id: ` + streamPluginID + `
            config:
              route_type: llm/v1/chat
              auth: {header_name: Authorization, header_value: Bearer openai-key}
              logging: {log_payloads: true, log_statistics: true}
              model:
                name: gpt-3.5-turbo
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/openai/llm/v1/chat/partial", input_cost: 10.0, output_cost: 10.0}
      - name: openai_chat_bad
        protocols: [http]
        strip_path: true
        paths: [/openai/llm/v1/chat/bad]
        plugins:
          - name: file-log
            config: {path: /dev/stdout}
          - name: ai-proxy
            config:
              route_type: llm/v1/chat
              auth: {header_name: Authorization, header_value: Bearer openai-key}
              model:
                name: gpt-3.5-turbo
                provider: openai
                options: {max_tokens: 256, temperature: 1.0, upstream_url: "MOCK/openai/llm/v1/chat/bad", input_cost: 10.0, output_cost: 10.0}
`

// events splits an answer into its lines as the spec's reader does
// (gmatch "[^\r\n]+"), and joins the chunks' delta contents.
func events(body []byte) (lines []string, content string) {
	var b strings.Builder
	for _, l := range regexp.MustCompile(`[^\r\n]+`).FindAllString(string(body), -1) {
		lines = append(lines, l)
		var chunk map[string]any
		if len(l) > 6 && json.Unmarshal([]byte(l[6:]), &chunk) == nil {
			if s, ok := at(chunk, "choices.0.delta.content").(string); ok {
				b.WriteString(s)
			}
		}
	}
	return lines, b.String()
}

func checkStream(c *check, x *exchange) {
	if x.status != 200 {
		c.fatalf("status %d, want 200: %.300s", x.status, x.body)
	}
	lines, content := events(x.body)
	c.equal("events", len(lines), streamEvents)
	c.equal("content", content, streamAnswer)
}

func streamingRows() []row {
	const spec = "09-streaming_integration"
	return []row{
		{spec: spec, it: "stream llm/v1/chat / good stream request openai", run: func(c *check) {
			e := newEnv(c, streamingDoc)
			checkStream(c, e.get("/openai/llm/v1/chat/good", chatStreamRequest))
			// The spec checks that Kong did not buffer the stream (no
			// /kong_buffered_http in its log); here, by order.
			unbuffered(c, e, "/openai/llm/v1/chat/good", chatStreamRequest)
		}},
		{spec: spec, it: "stream llm/v1/chat / good stream request openai with partial split chunks",
			deliberate: "two figures of the spec are not ours: response_model is the model the stream's chunks name (gpt-4-0613 here), where Kong logs the configured one (its composite response leaves model as a TODO); " +
				"the completion estimate is ceil(characters / 4) of the answer, as normalize-sse-chunk.lua computes it, where the spec's figure (13 for a 25-character answer) is ceil(50 / 4): the answer counted twice",
			run: func(c *check) {
				e := newEnv(c, streamingDoc)
				checkStream(c, e.get("/openai/llm/v1/chat/partial", chatStreamRequest))
				prompt := int(math.Floor(chatStreamPromptWords*1.8 + 0.5))
				completion := int(math.Ceil(float64(len(streamAnswer)) / 4))
				line := e.statsLine()
				checkStats(c, line, expectedStats{pluginID: streamPluginID, requestModel: "gpt-3.5-turbo", responseModel: streamModel,
					prompt: prompt, completion: completion, total: prompt + completion, cost: float64(prompt+completion) * 10 / 1e6})
				req, _ := at(line, "ai.proxy.payload.request").(string)
				if !regexp.MustCompile(`content.*How much is 1 \+ 1`).MatchString(req) {
					c.errorf("payload.request does not match content.*How much is 1 + 1: %.300s", req)
				}
				resp, _ := at(line, "ai.proxy.payload.response").(string)
				if !regexp.MustCompile(`content.*One plus one makes two`).MatchString(resp) {
					c.errorf("payload.response does not match content.*One plus one makes two: %.300s", resp)
				}
			}},
		{spec: spec, it: "stream llm/v1/chat / bad request is returned to the client not-streamed", run: func(c *check) {
			e := newEnv(c, streamingDoc)
			x := e.get("/openai/llm/v1/chat/bad", chatStreamRequest)
			lines, _ := events(x.body)
			c.equal("lines", len(lines), 1)
			c.equal("status", x.status, 400)
		}},
	}
}

// unbuffered proves that the relay hands the first event on before the
// upstream writes the rest: the mock holds its stream after the first
// write until the client has read that event. The deadline only bounds a
// failure.
func unbuffered(c *check, e *env, target, body string) {
	gate := make(chan struct{})
	var open sync.Once
	release := func() { open.Do(func() { close(gate) }) }
	defer release()
	e.mock.gate = gate
	srv := httptest.NewServer(e.handler)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+target, strings.NewReader(body))
	if err != nil {
		c.fatalf("request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.fatalf("the answer's headers did not arrive while the upstream held its stream: %v", err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	first, err := br.ReadString('\n')
	if err != nil {
		c.fatalf("the first event did not arrive while the upstream held the rest: %v", err)
	}
	if !strings.Contains(first, `"role": "assistant"`) {
		c.errorf("first line %q is not the first event", first)
	}
	release()
	rest, _ := io.ReadAll(br)
	lines, content := events(append([]byte(first), rest...))
	c.equal("events", len(lines), streamEvents)
	c.equal("content", content, streamAnswer)
}

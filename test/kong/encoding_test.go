package kong

import (
	"encoding/json"
	"reflect"
)

// encodingDoc is 08-encoding_integration_spec.lua's setup: no
// upstream_url, so the proxy calls api.openai.com, which the spec's DNS
// mock (and our test transport) send to the mock.
const encodingDoc = `_format_version: "3.0"
services:
  - name: empty_service
    host: localhost
    port: 8080
    path: /
    routes:
      - name: openai_chat
        protocols: [http]
        strip_path: true
        paths: [/openai/llm/v1/chat]
        plugins:
          - name: ai-proxy
            config:
              route_type: llm/v1/chat
              auth: {header_name: Authorization, header_value: Bearer openai-key}
              model:
                name: gpt-4
                provider: openai
                options: {max_tokens: 256, temperature: 1.0}
`

// deliberatePlainErrors is why error answers are not compressed here,
// where Kong (normalize-response-header.lua: Content-Encoding: gzip on every
// service response when the client accepts gzip; base.lua body_filter:
// deflate_gzip on a body it writes) compresses them.
const deliberatePlainErrors = "error answers go out uncompressed: an upstream error body is decoded so that the upstream credentials can be redacted from it (pkg/proxy/errbody.go), and the proxy never compresses a body itself (pkg/proxy/encoding.go); error bodies are small, and a client that accepts gzip accepts identity too"

// encodingSend sends the stencil's user request with X-Test-Type and
// "Accept-Encoding: gzip, identity", checking that the proxy called
// OpenAI's own URL.
func encodingSend(c *check, testType string) *exchange {
	e := newEnv(c, encodingDoc)
	x := e.get("/openai/llm/v1/chat", encUserRequest, "X-Test-Type", testType, "Accept-Encoding", "gzip, identity")
	target := e.mock.last(c).target
	c.equal("upstream URL", target.Scheme+"://"+target.Host+target.Path, "https://api.openai.com/v1/chat/completions")
	return x
}

// encodingExchange returns the status and the decoded answer, which must
// be gzip-compressed JSON, as Kong answers.
func encodingExchange(c *check, testType string) (int, any) {
	x := encodingSend(c, testType)
	c.equal("Content-Encoding", x.header.Get("Content-Encoding"), "gzip")
	plain, err := gunzip(x.body)
	if err != nil {
		c.fatalf("status %d: the answer is not gzip-compressed (%v): %.300q", x.status, err, x.body)
	}
	var v any
	if err := json.Unmarshal(plain, &v); err != nil {
		c.fatalf("the inflated answer is not JSON: %.300q", plain)
	}
	return x.status, v
}

// plainExchange returns the status and the decoded answer, which must be
// uncompressed JSON (deliberatePlainErrors).
func plainExchange(c *check, testType string) (int, any) {
	x := encodingSend(c, testType)
	c.equal("Content-Encoding", x.header.Get("Content-Encoding"), "")
	var v any
	if err := json.Unmarshal(x.body, &v); err != nil {
		c.fatalf("status %d: the answer is not plain JSON: %.300q", x.status, x.body)
	}
	return x.status, v
}

func decode(s string) any {
	var v any
	_ = json.Unmarshal([]byte(s), &v)
	return v
}

func sameJSON(c *check, what string, got any, want string) {
	if !reflect.DeepEqual(got, decode(want)) {
		c.errorf("%s = %v, want %s", what, got, want)
	}
}

func encodingRows() []row {
	const spec = "08-encoding_integration"
	return []row{
		{spec: spec, it: "returns deflated response to client / 200 from LLM", run: func(c *check) {
			status, v := encodingExchange(c, "200")
			c.equal("status", status, 200)
			sameJSON(c, "answer", v, encGoodResponse)
		}},
		{spec: spec, it: "200 from LLM but with faulty response format", deliberate: deliberatePlainErrors,
			note: noteErrorShape, run: func(c *check) {
				status, v := plainExchange(c, "200_FAULTY")
				c.equal("status", status, 500)
				c.equal("error.message", at(v, "error.message"), encTransformationError)
			}},
		{spec: spec, it: "401 from LLM", deliberate: deliberatePlainErrors, run: func(c *check) {
			status, v := plainExchange(c, "401")
			c.equal("status", status, 401)
			sameJSON(c, "answer", v, encUnauthorized)
		}},
		{spec: spec, it: "500 from LLM", deliberate: deliberatePlainErrors, run: func(c *check) {
			status, v := plainExchange(c, "500")
			c.equal("status", status, 500)
			sameJSON(c, "answer", v, encError)
		}},
		{spec: spec, it: "500 from LLM but with faulty response format", deliberate: deliberatePlainErrors, run: func(c *check) {
			status, v := plainExchange(c, "500_FAULTY")
			c.equal("status", status, 500)
			sameJSON(c, "answer", v, encErrorFaulty)
		}},
	}
}

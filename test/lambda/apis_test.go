package lambda_test

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/lambdatest"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/rie"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/syncbuf"
)

// The client APIs beside chat (docs/apis.md): OpenAI's Responses API
// relayed to the OpenAI stub, embeddings, and the model list, each through
// the real bootstrap under the emulator on every entry point: Function URL
// (streamed framing), REST with AIPROXY_REST_RESPONSE_MODE=STREAM, REST
// BUFFERED and the HTTP API (buffered JSON). Bad input answers in OpenAI's
// error shape with its status on each; the request-size bound holds on
// each and the buffered answer-size bound on the buffered ones; no
// configured key ever appears in an answer or in the function's output.

const (
	apisUpstreamKey  = "sk-upstream-lambda-7c3e91a0"
	apisAnthropicKey = "sk-ant-lambda-52d8f0be"
	apisClientKey    = "client-key-lambda-e4a1b6"
	// apisMaxBody is the routes' max_request_body_size.
	apisMaxBody = 2048
)

// apisConfig: the Responses API relayed (/v1/responses) and translated
// (/anthropic/v1/responses, refused before any call here), embeddings, an
// allow-listed chat route for the model list; key-auth on every route.
const apisConfig = `
_format_version: "3.0"
routes:
  - name: responses
    paths: [/v1/responses]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/responses
          max_request_body_size: MAXBODY
          auth: {header_name: Authorization, header_value: "Bearer UPKEY"}
          logging: {log_statistics: true, log_payloads: true}
          model: {provider: openai, options: {max_tokens: 64, upstream_url: "UPSTREAM/v1/responses"}}
  - name: responses-translated
    paths: [/anthropic/v1/responses]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/responses
          auth: {header_name: x-api-key, header_value: ANTKEY}
          logging: {log_statistics: true}
          model: {provider: anthropic, name: claude-sonnet-4-5, options: {anthropic_version: "2023-06-01", upstream_url: "UPSTREAM/v1/messages"}}
  - name: embeddings
    paths: [/v1/embeddings]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/embeddings
          genai_category: text/embeddings
          max_request_body_size: MAXBODY
          auth: {header_name: Authorization, header_value: "Bearer UPKEY"}
          logging: {log_statistics: true, log_payloads: true}
          model: {provider: openai, name: text-embedding-3-small, options: {upstream_url: "UPSTREAM/v1/embeddings"}}
  - name: chat
    paths: ["~/(?<model>gpt-4o|gpt-4o-mini)/chat/completions$"]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/chat
          auth: {header_name: Authorization, header_value: "Bearer UPKEY"}
          model: {provider: openai, name: "$(uri_captures.model)", options: {upstream_url: "UPSTREAM/v1/chat/completions"}}
plugins:
  - name: key-auth
consumers:
  - username: alice
    keyauth_credentials: [{key: CLIENTKEY}]
`

// apisEdge is one entry point of the function.
type apisEdge struct {
	name, event, prefix string // prefix: the HTTP API stage in the raw path
	buffered            bool   // served by the emulator whose REST mode is BUFFERED
	form                string // how the answer comes back (rie.Response.Form)
}

var apisEdges = []apisEdge{
	{name: "function url", event: "function-url.json", form: "stream"},
	{name: "rest stream", event: "rest-api.json", form: "stream"},
	{name: "rest buffered", event: "rest-api.json", buffered: true, form: "proxy"},
	{name: "http api", event: "http-api-stage.json", prefix: "/prod", form: "proxy"},
}

// apisEnv is the OpenAI stub and two emulators running the bootstrap on
// apisConfig: REST events streamed by one, buffered by the other.
type apisEnv struct {
	up               *stub.Server
	stream, buffered *rie.RIE
}

// apisUpstream starts the OpenAI stub and writes apisConfig for it.
func apisUpstream(t *testing.T) (*stub.Server, string) {
	t.Helper()
	up := stub.New()
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	doc := strings.NewReplacer("UPSTREAM", srv.URL, "UPKEY", apisUpstreamKey, "ANTKEY", apisAnthropicKey,
		"CLIENTKEY", apisClientKey, "MAXBODY", strconv.Itoa(apisMaxBody)).Replace(apisConfig)
	cfg := filepath.Join(t.TempDir(), "aiproxy.yaml")
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return up, cfg
}

func startAPIs(t *testing.T) *apisEnv {
	t.Helper()
	up, cfg := apisUpstream(t)
	e := &apisEnv{up: up,
		stream:   rie.StartT(t, bootstrap, functionEnv(cfg, "STREAM")),
		buffered: rie.StartT(t, bootstrap, functionEnv(cfg, "BUFFERED"))}
	// Runs before the emulators stop (cleanups run last first): by then
	// the function has logged every request it served.
	t.Cleanup(func() {
		for _, emu := range []*rie.RIE{e.stream, e.buffered} {
			out := emu.Output()
			if !strings.Contains(out, `"msg":"starting on Lambda"`) {
				t.Errorf("the function's own log is not in the emulator's output: the key check below sees nothing:\n%s", out)
			}
			noKey(t, "the function's output", out)
		}
		for _, r := range up.Requests() {
			if strings.Contains(strings.Join(flatten(r.Header), "\n"), apisClientKey) || strings.Contains(string(r.Body), apisClientKey) {
				t.Errorf("the client key reached the upstream: %v %s", r.Header, r.Body)
			}
		}
	})
	return e
}

// invoke sends method path with body (none if empty) through edge, with
// key as Authorization: Bearer (none if empty) and headers added, and
// checks that no configured key is in the answer.
func (e *apisEnv) invoke(t *testing.T, edge apisEdge, method, path, key, body string, headers map[string]string) rie.Response {
	t.Helper()
	h := map[string]string{}
	if key != "" {
		h["authorization"] = "Bearer " + key
	}
	for k, v := range headers {
		h[k] = v
	}
	emu := e.stream
	if edge.buffered {
		emu = e.buffered
	}
	resp := invokeEmulator(t, emu, apiEvent(t, edge.event, method, edge.prefix, path, body, h))
	noKey(t, "the answer", resp.String()+"\n"+string(resp.Body))
	return resp
}

// noKey fails if s holds any configured key.
func noKey(t *testing.T, what, s string) {
	t.Helper()
	for _, k := range []string{apisUpstreamKey, apisAnthropicKey, apisClientKey} {
		if strings.Contains(s, k) {
			t.Errorf("a key (%s) in %s:\n%s", k, what, s)
		}
	}
}

func flatten(h map[string][]string) []string {
	var out []string
	for k, vs := range h {
		for _, v := range vs {
			out = append(out, k+": "+v)
		}
	}
	return out
}

// logged fails unless both emulators' output holds the statistics lines
// (with payloads) of the requests served: what the key check reads.
func (e *apisEnv) logged(t *testing.T) {
	t.Helper()
	for _, emu := range []*rie.RIE{e.stream, e.buffered} {
		if out := emu.Output(); !strings.Contains(out, `"msg":"request"`) || !strings.Contains(out, `"payload":`) {
			t.Errorf("no statistics line with payloads in the function's output:\n%s", out)
		}
	}
}

// called reports whether the upstream got a request during f.
func (e *apisEnv) called(f func()) bool {
	before := len(e.up.Requests())
	f()
	return len(e.up.Requests()) > before
}

// openAIErr is an OpenAI error answer with its code (or param) in it.
func openAIErr(form string, status int, fields ...string) expectation {
	return expectation{form, status, "application/json", append([]string{`{"error":{`, `"message":"`}, fields...)}
}

func TestAPIsResponsesThroughEmulator(t *testing.T) {
	e := startAPIs(t)
	oversize := `{"model":"gpt-4o","input":"` + strings.Repeat("x", apisMaxBody) + `"}`
	for _, edge := range apisEdges {
		t.Run(edge.name, func(t *testing.T) {
			t.Run("streamed", func(t *testing.T) {
				resp := e.invoke(t, edge, "POST", "/v1/responses", apisClientKey, `{"model":"gpt-4o","input":"hi","stream":true}`, map[string]string{"x-stub-chunks": "3"})
				checkAnswer(t, resp, expectation{edge.form, 200, "text/event-stream", []string{
					"event: response.created\n", `"delta":"tok0 "`, `"delta":"tok2 "`, "event: response.completed\n", `"output_tokens":3`}})
				if body := string(resp.Body); strings.Contains(body, "[DONE]") || strings.Contains(body, "tok3") {
					t.Errorf("a Responses stream with [DONE] or more than 3 words: %s", body)
				}
			})
			t.Run("not streamed", func(t *testing.T) {
				resp := e.invoke(t, edge, "POST", "/v1/responses", apisClientKey, `{"model":"gpt-4o","input":"hi","max_output_tokens":1000}`, map[string]string{"x-stub-chunks": "3"})
				checkAnswer(t, resp, expectation{edge.form, 200, "application/json", []string{
					`"object":"response"`, `"status":"completed"`, `"text":"tok0 tok1 tok2 "`}})
				last := e.up.Last()
				var sent map[string]any
				_ = json.Unmarshal(last.Body, &sent)
				if last.Path != "/v1/responses" || last.Header.Get("Authorization") != "Bearer "+apisUpstreamKey || sent["max_output_tokens"] != 64.0 || sent["model"] != "gpt-4o" {
					t.Errorf("upstream got %s %s with Authorization %q", last.Path, last.Body, last.Header.Get("Authorization"))
				}
			})
			t.Run("previous_response_id translated", func(t *testing.T) {
				var resp rie.Response
				if e.called(func() {
					resp = e.invoke(t, edge, "POST", "/anthropic/v1/responses", apisClientKey, `{"model":"claude-sonnet-4-5","input":"hi","previous_response_id":"resp_1"}`, nil)
				}) {
					t.Error("a refused request reached the upstream")
				}
				checkAnswer(t, resp, openAIErr(edge.form, 400, `"type":"invalid_request_error"`, `"param":"previous_response_id"`))
			})
			t.Run("body too large", func(t *testing.T) {
				var resp rie.Response
				if e.called(func() { resp = e.invoke(t, edge, "POST", "/v1/responses", apisClientKey, oversize, nil) }) {
					t.Error("a refused request reached the upstream")
				}
				checkAnswer(t, resp, openAIErr(edge.form, 413, `"type":"invalid_request_error"`, `"code":"request_too_large"`))
			})
			t.Run("no key", func(t *testing.T) {
				resp := e.invoke(t, edge, "POST", "/v1/responses", "", `{"model":"gpt-4o","input":"hi"}`, nil)
				checkAnswer(t, resp, openAIErr(edge.form, 401))
			})
		})
	}
	e.logged(t)
}

func TestAPIsEmbeddingsThroughEmulator(t *testing.T) {
	e := startAPIs(t)
	for _, edge := range apisEdges {
		t.Run(edge.name, func(t *testing.T) {
			t.Run("float", func(t *testing.T) {
				resp := e.invoke(t, edge, "POST", "/v1/embeddings", apisClientKey, `{"input":["a b","c"],"dimensions":3}`, nil)
				checkAnswer(t, resp, expectation{edge.form, 200, "application/json", []string{`"object":"list"`, `"prompt_tokens":3`}})
				var doc struct {
					Data []struct {
						Index     int
						Embedding []float32
					}
				}
				if err := json.Unmarshal(resp.Body, &doc); err != nil || len(doc.Data) != 2 {
					t.Fatalf("answer %s: %v", resp.Body, err)
				}
				for i, d := range doc.Data {
					if d.Index != i || !slices.Equal(d.Embedding, stub.EmbeddingVector(i, 3)) {
						t.Errorf("item %d: %+v, want %v", i, d, stub.EmbeddingVector(i, 3))
					}
				}
				if last := e.up.Last(); last.Path != "/v1/embeddings" || last.Header.Get("Authorization") != "Bearer "+apisUpstreamKey ||
					!strings.Contains(string(last.Body), `"model":"text-embedding-3-small"`) {
					t.Errorf("upstream got %s %s", last.Path, last.Body)
				}
			})
			t.Run("base64", func(t *testing.T) {
				resp := e.invoke(t, edge, "POST", "/v1/embeddings", apisClientKey, `{"input":"hello","encoding_format":"base64"}`, nil)
				checkAnswer(t, resp, expectation{edge.form, 200, "application/json", []string{`"object":"list"`}})
				var doc struct {
					Data []struct{ Embedding string }
				}
				if err := json.Unmarshal(resp.Body, &doc); err != nil || len(doc.Data) != 1 {
					t.Fatalf("answer %s: %v", resp.Body, err)
				}
				raw, err := base64.StdEncoding.DecodeString(doc.Data[0].Embedding)
				if err != nil || len(raw) != 16 {
					t.Fatalf("embedding %q: %v", doc.Data[0].Embedding, err)
				}
				got := make([]float32, 4)
				for i := range got {
					got[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
				}
				if !slices.Equal(got, stub.EmbeddingVector(0, 4)) {
					t.Errorf("embedding %v, want %v", got, stub.EmbeddingVector(0, 4))
				}
				if !strings.Contains(string(e.up.Last().Body), `"encoding_format":"base64"`) {
					t.Errorf("upstream got %s", e.up.Last().Body)
				}
			})
			t.Run("body too large", func(t *testing.T) {
				var resp rie.Response
				if e.called(func() {
					resp = e.invoke(t, edge, "POST", "/v1/embeddings", apisClientKey, `{"input":"`+strings.Repeat("word ", apisMaxBody/5+1)+`"}`, nil)
				}) {
					t.Error("a refused request reached the upstream")
				}
				checkAnswer(t, resp, openAIErr(edge.form, 413, `"type":"invalid_request_error"`, `"code":"request_too_large"`))
			})
			if edge.form == "proxy" {
				// Two inputs of 400000 dimensions are about 8 MB of JSON:
				// more than Lambda returns buffered. (The emulator also
				// caps streamed answers at 6 MiB, so the streamed edges,
				// which Lambda lets reach 20 MB, are not tried.)
				t.Run("answer too large", func(t *testing.T) {
					resp := e.invoke(t, edge, "POST", "/v1/embeddings", apisClientKey, `{"input":["a","b"],"dimensions":400000}`, nil)
					checkAnswer(t, resp, openAIErr(edge.form, 502, `"type":"server_error"`, `"code":"response_too_large"`))
				})
			}
		})
	}
	e.logged(t)
}

func TestAPIsModelsThroughEmulator(t *testing.T) {
	e := startAPIs(t)
	for _, edge := range apisEdges {
		t.Run(edge.name, func(t *testing.T) {
			t.Run("list", func(t *testing.T) {
				resp := e.invoke(t, edge, "GET", "/v1/models", apisClientKey, "", nil)
				checkAnswer(t, resp, expectation{edge.form, 200, "application/json", []string{`"object":"list"`}})
				var doc struct {
					Data []struct {
						ID      string
						OwnedBy string `json:"owned_by"`
					}
				}
				if err := json.Unmarshal(resp.Body, &doc); err != nil {
					t.Fatalf("answer %s: %v", resp.Body, err)
				}
				var ids []string
				for _, m := range doc.Data {
					ids = append(ids, m.ID+"/"+m.OwnedBy)
				}
				if got := strings.Join(ids, ","); got != "claude-sonnet-4-5/anthropic,text-embedding-3-small/openai,gpt-4o/openai,gpt-4o-mini/openai" {
					t.Errorf("models %s", got)
				}
			})
			t.Run("one", func(t *testing.T) {
				resp := e.invoke(t, edge, "GET", "/v1/models/gpt-4o-mini", apisClientKey, "", nil)
				checkAnswer(t, resp, expectation{edge.form, 200, "application/json", []string{`"id":"gpt-4o-mini"`, `"object":"model"`, `"owned_by":"openai"`}})
			})
			t.Run("unknown", func(t *testing.T) {
				resp := e.invoke(t, edge, "GET", "/v1/models/gpt-5", apisClientKey, "", nil)
				checkAnswer(t, resp, openAIErr(edge.form, 404))
			})
			t.Run("no key", func(t *testing.T) {
				resp := e.invoke(t, edge, "GET", "/v1/models", "", "", nil)
				checkAnswer(t, resp, openAIErr(edge.form, 401))
			})
			t.Run("wrong key", func(t *testing.T) {
				resp := e.invoke(t, edge, "GET", "/v1/models", "client-key-wrong", "", nil)
				checkAnswer(t, resp, openAIErr(edge.form, 401))
			})
		})
	}
	if n := len(e.up.Requests()); n != 0 {
		t.Errorf("the model list called the upstream %d times", n)
	}
}

// TestAPIsResponsesStreamDeadline bounds a relayed Responses stream by the
// invocation's deadline, at the test Runtime API (3 s): the stub, in
// lockstep and never stepped, sends one delta and then nothing, and the
// function ends the stream itself a margin before Lambda would cut it,
// with an error event the client can read and the invocation reported
// failed, on the Function URL and on the REST API streaming.
func TestAPIsResponsesStreamDeadline(t *testing.T) {
	up, cfg := apisUpstream(t)
	api := lambdatest.NewRuntimeAPI(t)
	api.Timeout = 3 * time.Second
	cmd := exec.Command(bootstrap)
	cmd.Env = append(cmd.Environ(), append(functionEnv(cfg, "STREAM"), "AIPROXY_LOG_LEVEL=INFO")...)
	stdout := &syncbuf.Buffer{}
	cmd.Stdout = stdout
	api.StartProcess(t, cmd)
	for _, edge := range apisEdges {
		if edge.form != "stream" {
			continue
		}
		t.Run(edge.name, func(t *testing.T) {
			ev := apiEvent(t, edge.event, "POST", edge.prefix, "/v1/responses", `{"model":"gpt-4o","input":"hi","stream":true}`,
				map[string]string{"authorization": "Bearer " + apisClientKey, "x-stub-lockstep": "1", "x-stub-chunks": "50"})
			res := invokeRuntime(t, api, ev)
			p, body, err := res.Stream()
			if err != nil {
				t.Fatal(err)
			}
			noKey(t, "the answer", string(body))
			if p.StatusCode != 200 || !strings.Contains(string(body), `"delta":"tok0 "`) || strings.Contains(string(body), "tok1") {
				t.Fatalf("prelude %+v, body %q: want the first delta only", p, body)
			}
			events := strings.Split(strings.TrimSpace(string(body)), "\n\n")
			if last := events[len(events)-1]; !strings.HasPrefix(last, "event: error\ndata: {\"type\":\"error\",\"code\":\"deadline_exceeded\",") {
				t.Errorf("last event %q, not the Responses API's error event deadline_exceeded", last)
			}
			if res.ErrorType() == "" {
				t.Error("no error trailer: Lambda would record a successful invocation")
			}
			if !res.Done.Before(res.Fetched.Add(api.Timeout)) {
				t.Errorf("the answer ended %v after the fetch, past the %v deadline", res.Done.Sub(res.Fetched), api.Timeout)
			}
		})
	}
	// The upstream call was hung up on, not left to run; the statistics
	// count the deadline.
	for end := time.Now().Add(5 * time.Second); up.Cancelled() < 2 && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
	}
	if n := up.Cancelled(); n != 2 {
		t.Errorf("%d upstream streams cancelled, want 2", n)
	}
	out := waitFor(t, stdout, `"error_code":"deadline_exceeded"`)
	if stat := lineWith(out, `"msg":"request"`); !strings.Contains(stat, `"status":504`) || !strings.Contains(stat, `"error_code":"deadline_exceeded"`) {
		t.Errorf("statistics line %s", stat)
	}
	noKey(t, "the function's output", out)
}

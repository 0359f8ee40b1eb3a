package apis

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	testbinary "github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stubcore"
)

// openaiConfig serves the three APIs from the OpenAI stub: the Responses
// API and embeddings under /v1 (an SDK's base_url http://host/v1), chat on
// an allow-listed route, every route behind key-auth.
const openaiConfig = `
_format_version: "3.0"
routes:
  - name: responses
    paths: [/v1/responses]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/responses
          auth: {header_name: Authorization, header_value: "Bearer sk-upstream-secret"}
          logging: {log_statistics: true}
          model: {provider: openai, options: {max_tokens: 64, upstream_url: "UPSTREAM/v1/responses"}}
  - name: embeddings
    paths: [/v1/embeddings]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/embeddings
          genai_category: text/embeddings
          auth: {header_name: Authorization, header_value: "Bearer sk-upstream-secret"}
          logging: {log_statistics: true}
          model: {provider: openai, name: text-embedding-3-small, options: {upstream_url: "UPSTREAM/v1/embeddings"}}
  - name: chat
    paths: ["~/(?<model>gpt-4o|gpt-4o-mini)/chat/completions$"]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/chat
          auth: {header_name: Authorization, header_value: "Bearer sk-upstream-secret"}
          model: {provider: openai, name: "$(uri_captures.model)", options: {upstream_url: "UPSTREAM/v1/chat/completions"}}
plugins:
  - name: key-auth
consumers:
  - username: alice
    keyauth_credentials: [{key: client-key}]
`

type openaiEnv struct {
	up   *stub.Server
	proc *testbinary.Process
	base string
}

func startOpenAI(t *testing.T) *openaiEnv {
	t.Helper()
	up := stub.New()
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	p := testbinary.Serve(t, strings.ReplaceAll(openaiConfig, "UPSTREAM", srv.URL))
	p.NeverLogs(t, "sk-upstream-secret")
	return &openaiEnv{up: up, proc: p, base: "http://" + p.Addr}
}

func (e *openaiEnv) client(opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{option.WithBaseURL(e.base + "/v1"), option.WithAPIKey("client-key"), option.WithMaxRetries(0)}, opts...)...)
}

func TestOpenAIResponses(t *testing.T) {
	e := startOpenAI(t)
	c := e.client()
	res, err := c.Responses.New(context.Background(), responses.ResponseNewParams{
		Model: "gpt-4o", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}, MaxOutputTokens: openai.Int(1000),
	}, option.WithHeader("X-Stub-Chunks", "3"))
	if err != nil {
		t.Fatal(err)
	}
	if res.OutputText() != stubcore.Text(3) || res.Status != "completed" || res.Usage.InputTokens != stub.PromptTokens || res.Usage.OutputTokens != 3 {
		t.Errorf("response %s", res.RawJSON())
	}
	var sent map[string]any
	_ = json.Unmarshal(e.up.Last().Body, &sent)
	if e.up.Last().Path != "/v1/responses" || sent["max_output_tokens"] != 64.0 || e.up.Last().Header.Get("Authorization") != "Bearer sk-upstream-secret" {
		t.Errorf("upstream got %s %s", e.up.Last().Path, e.up.Last().Body)
	}
}

// Streamed, proven by order: the stub writes delta i+1 only after the
// client has seen delta i.
func TestOpenAIResponsesStreamLockstep(t *testing.T) {
	e := startOpenAI(t)
	c := e.client(option.WithHeader("X-Stub-Lockstep", "1"), option.WithHeader("X-Stub-Chunks", "4"))
	stream := c.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{
		Model: "gpt-4o", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
	var types []string
	deltas := 0
	var final responses.Response
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		if ev.Type == "response.output_text.delta" {
			if ev.Delta != stub.Word(deltas) {
				t.Fatalf("delta %d = %q", deltas, ev.Delta)
			}
			deltas++
			e.up.Step()
		}
		if ev.Type == "response.completed" {
			final = ev.Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if deltas != 4 || types[0] != "response.created" || types[len(types)-1] != "response.completed" || final.Usage.OutputTokens != 4 {
		t.Errorf("events %v", types)
	}
	if e.up.Stalled() != 0 {
		t.Error("a lockstep stream stalled: something buffered")
	}
}

// The function-call round trip: a call, then its output sent back.
func TestOpenAIResponsesFunctionCall(t *testing.T) {
	e := startOpenAI(t)
	c := e.client()
	tools := []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather", map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}, false)}
	input := responses.ResponseInputParam{responses.ResponseInputItemParamOfMessage("weather in Paris?", responses.EasyInputMessageRoleUser)}
	res, err := c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "gpt-4o", Tools: tools,
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: input}})
	if err != nil {
		t.Fatal(err)
	}
	call := res.Output[0].AsFunctionCall()
	if res.Output[0].Type != "function_call" || call.Name != "get_weather" || call.Arguments != stub.StubToolArgs {
		t.Fatalf("output %s", res.RawJSON())
	}
	out := responses.ResponseInputItemParamOfFunctionCallOutput(`{"temp":"18C"}`)
	out.OfFunctionCallOutput.CallID = openai.String(call.CallID)
	input = append(input, responses.ResponseInputItemParamOfFunctionCall(call.Arguments, call.CallID, call.Name), out)
	res, err = c.Responses.New(context.Background(), responses.ResponseNewParams{Model: "gpt-4o", Tools: tools,
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: input}})
	if err != nil {
		t.Fatal(err)
	}
	if res.OutputText() != stubcore.Text(5) {
		t.Errorf("second turn %s", res.RawJSON())
	}
}

func TestOpenAIEmbeddings(t *testing.T) {
	e := startOpenAI(t)
	c := e.client()
	res, err := c.Embeddings.New(context.Background(), openai.EmbeddingNewParams{Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a b", "c"}}, Dimensions: openai.Int(3),
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != 2 || res.Data[1].Embedding[0] != float64(stub.EmbeddingVector(1, 3)[0]) || res.Usage.PromptTokens != 3 {
		t.Errorf("embeddings %s", res.RawJSON())
	}
	// base64, the Python SDK's default (openai-go decodes only floats, so
	// the raw answer is read): little-endian float32, as relayed.
	var doc struct {
		Data []struct{ Embedding string }
	}
	r, _ := http.NewRequest("POST", e.base+"/v1/embeddings", strings.NewReader(`{"input":"hello","encoding_format":"base64"}`))
	r.Header.Set("Authorization", "Bearer client-key")
	r.Header.Set("Content-Type", "application/json")
	hres, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(hres.Body)
	hres.Body.Close()
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Data) != 1 {
		t.Fatalf("%d %s", hres.StatusCode, body)
	}
	b, _ := base64.StdEncoding.DecodeString(doc.Data[0].Embedding)
	if len(b) != 16 || math.Float32frombits(binary.LittleEndian.Uint32(b[4:])) != stub.EmbeddingVector(0, 4)[1] {
		t.Errorf("base64 embedding %q", doc.Data[0].Embedding)
	}
}

func TestOpenAIModels(t *testing.T) {
	e := startOpenAI(t)
	c := e.client()
	page, err := c.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "text-embedding-3-small,gpt-4o,gpt-4o-mini" {
		t.Errorf("models %v", ids)
	}
	m, err := c.Models.Get(context.Background(), "gpt-4o-mini")
	if err != nil || m.ID != "gpt-4o-mini" || m.OwnedBy != "openai" {
		t.Errorf("get %+v %v", m, err)
	}
	_, err = c.Models.Get(context.Background(), "gpt-5")
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 404 {
		t.Errorf("unknown model: %v", err)
	}
	// A route prefix as base URL: what openai-go calls with base_url /gpt-4o.
	pc := openai.NewClient(option.WithBaseURL(e.base+"/gpt-4o"), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
	if page, err := pc.Models.List(context.Background()); err != nil || len(page.Data) != 2 {
		t.Errorf("prefix list %v %v", page, err)
	}
	// Open WebUI style: a bad key is a 401.
	bad := e.client(option.WithAPIKey("wrong"))
	_, err = bad.Models.List(context.Background())
	if !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Errorf("bad key: %v", err)
	}
	if len(e.up.Requests()) != 0 {
		t.Error("the model list reached the upstream")
	}
}

package apis

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	testbinary "github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/geministub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/gemini"
)

const embedGeminiKey = "AIza-e2e-embed-key"

// embedProvidersConfig: Bedrock embeddings with the model from the body
// (Titan or Cohere), Gemini's gemini-embedding-001 on the Gemini API (the
// key in the key query parameter), and a Titan route under a prompt-token
// budget of 40 per hour.
const embedProvidersConfig = `
_format_version: "3.0"
routes:
  - name: bedrock-embeddings
    paths: [/bedrock/v1/embeddings]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/embeddings
          genai_category: text/embeddings
          logging: {log_statistics: true}
          model: {provider: bedrock, options: {bedrock: {aws_region: us-east-1, embeddings_normalize: true}}}
  - name: gemini-embeddings
    paths: [/gemini/v1/embeddings]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/embeddings
          auth: {param_name: key, param_value: ` + embedGeminiKey + `, param_location: query}
          logging: {log_statistics: true}
          model: {provider: gemini, name: gemini-embedding-001, options: {upstream_url: "GEMINI/v1beta/models/gemini-embedding-001:embedContent"}}
  - name: budget-embeddings
    paths: [/budget/v1/embeddings]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/embeddings
          model: {provider: bedrock, name: "amazon.titan-embed-text-v2:0", options: {bedrock: {aws_region: us-east-1}}}
      - name: ai-rate-limiting-advanced
        config:
          llm_providers: [{name: openai, limit: [40], window_size: [3600]}]
          tokens_count_strategy: prompt_tokens
          window_type: fixed
          strategy: local
`

type embedEnv struct {
	bedrock *bedrockstub.Server
	gemini  *geministub.Server
	proc    *testbinary.Process
	base    string
}

func startEmbedProviders(t *testing.T) *embedEnv {
	t.Helper()
	bs := bedrockstub.New(bedrockstub.Options{})
	endpoint := bs.ListenT(t)
	gs := geministub.New(geministub.Options{APIKey: embedGeminiKey})
	gbase := gs.ListenT(t)
	p := testbinary.Serve(t, strings.ReplaceAll(embedProvidersConfig, "GEMINI", gbase), bs.Env(endpoint)...)
	p.NeverLogs(t, bs.Options().SecretAccessKey, embedGeminiKey)
	return &embedEnv{bedrock: bs, gemini: gs, proc: p, base: "http://" + p.Addr}
}

func (e *embedEnv) client(prefix string) openai.Client {
	return openai.NewClient(option.WithBaseURL(e.base+prefix+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
}

// rawBase64 posts an embeddings request with encoding_format base64 (the
// Python SDK's default; openai-go decodes only floats) and decodes each
// embedding's little-endian float32s.
func (e *embedEnv) rawBase64(t *testing.T, prefix, body string) ([][]float32, int) {
	t.Helper()
	res, err := http.Post(e.base+prefix+"/v1/embeddings", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var doc struct {
		Data []struct {
			Index     int
			Embedding string
		}
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		}
	}
	if res.StatusCode != 200 || json.Unmarshal(b, &doc) != nil {
		t.Fatalf("%d %.300s", res.StatusCode, b)
	}
	var out [][]float32
	for i, d := range doc.Data {
		raw, err := base64.StdEncoding.DecodeString(d.Embedding)
		if err != nil || d.Index != i || len(raw)%4 != 0 {
			t.Fatalf("item %d: %q", i, d.Embedding)
		}
		v := make([]float32, len(raw)/4)
		for j := range v {
			v[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
		}
		out = append(out, v)
	}
	return out, doc.Usage.PromptTokens
}

// waitFor waits for s in the binary's output (the statistics line is
// written after the answer).
func waitFor(t *testing.T, p *testbinary.Process, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Output.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in the output:\n%s", s, p.Output)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// usageLine is ai.proxy.usage of the last statistics line for route.
func usageLine(t *testing.T, p *testbinary.Process, route string) map[string]any {
	t.Helper()
	var usage map[string]any
	for _, l := range strings.Split(p.Output.String(), "\n") {
		var line struct {
			Msg, Route string
			AI         struct {
				Proxy struct {
					Usage map[string]any
				}
			}
		}
		if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "request" && line.Route == route {
			usage = line.AI.Proxy.Usage
		}
	}
	if usage == nil {
		t.Fatalf("no statistics line for %s in:\n%s", route, p.Output)
	}
	return usage
}

func texts(n int, f string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(f, i)
	}
	return out
}

func eqVec(got []float64, want []float32) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if float32(got[i]) != want[i] {
			return false
		}
	}
	return true
}

func TestBedrockTitanEmbeddings(t *testing.T) {
	e := startEmbedProviders(t)
	c := e.client("/bedrock")
	in := []string{"the quick brown fox", "jumps", "over the lazy dog"}
	res, err := c.Embeddings.New(context.Background(), openai.EmbeddingNewParams{Model: "amazon.titan-embed-text-v2:0",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: in}, Dimensions: openai.Int(256),
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != 3 || len(res.Data[2].Embedding) != 256 || res.Usage.PromptTokens != 9 || res.Model != "amazon.titan-embed-text-v2:0" {
		t.Fatalf("%.300s", res.RawJSON())
	}
	reqs := e.bedrock.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d InvokeModel calls for 3 inputs", len(reqs))
	}
	for _, r := range reqs {
		if tb := r.DecodedTitan(); !r.Signed || tb == nil || tb.Dimensions != 256 || tb.Normalize == nil || !*tb.Normalize {
			t.Errorf("call %s", r.Body)
		}
	}
	waitFor(t, e.proc, `"prompt_tokens":9,`)
	// Bedrock's own counts are not marked.
	if u := usageLine(t, e.proc, "bedrock-embeddings"); u["prompt_tokens"] != 9.0 || u["estimated"] != nil {
		t.Errorf("statistics usage %v", u)
	}
	// base64: little-endian float32 of the stub's vector.
	vs, n := e.rawBase64(t, "/bedrock", `{"model":"amazon.titan-embed-text-v2:0","input":"hello","encoding_format":"base64"}`)
	if len(vs) != 1 || len(vs[0]) != bedrockstub.TitanV2Dims || n != 1 {
		t.Fatalf("%d vectors, %d tokens", len(vs), n)
	}
	var sum float64
	for _, f := range vs[0] {
		sum += float64(f) * float64(f)
	}
	if math.Abs(sum-1) > 1e-3 {
		t.Errorf("not the normalized vector (|v|² = %v)", sum)
	}
}

// Cohere: a list of 150 is sent as 96 + 54 texts; the token count is
// Bedrock's X-Amzn-Bedrock-Input-Token-Count.
func TestBedrockCohereEmbeddingsBatched(t *testing.T) {
	e := startEmbedProviders(t)
	c := e.client("/bedrock")
	in := texts(150, "document %d")
	res, err := c.Embeddings.New(context.Background(), openai.EmbeddingNewParams{Model: "cohere.embed-english-v3",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: in}, EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != 150 || res.Usage.PromptTokens != 300 {
		t.Fatalf("%d items, usage %s", len(res.Data), res.Usage.RawJSON())
	}
	for _, i := range []int{0, 95, 96, 149} {
		if res.Data[i].Index != int64(i) || !eqVec(res.Data[i].Embedding, bedrockstub.EmbeddingVector(in[i], bedrockstub.CohereV3Dims)) {
			t.Errorf("item %d is not its text's vector", i)
		}
	}
	reqs := e.bedrock.Requests()
	if len(reqs) != 2 || len(reqs[0].DecodedCohere().Texts) != 96 || len(reqs[1].DecodedCohere().Texts) != 54 {
		t.Fatalf("%d calls", len(reqs))
	}
	waitFor(t, e.proc, `"prompt_tokens":300,`)
	// base64 and dimensions on Cohere v4.
	vs, n := e.rawBase64(t, "/bedrock", `{"model":"cohere.embed-v4:0","input":["a b","c"],"dimensions":256,"encoding_format":"base64"}`)
	if len(vs) != 2 || n != 3 || !eqVec(f64(vs[1]), bedrockstub.EmbeddingVector("c", 256)) {
		t.Fatalf("%d vectors, %d tokens", len(vs), n)
	}
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, f := range v {
		out[i] = float64(f)
	}
	return out
}

// Refused before any call: token ids (Bedrock needs text) and a size
// Titan does not have.
func TestBedrockEmbeddingsRefusals(t *testing.T) {
	e := startEmbedProviders(t)
	c := e.client("/bedrock")
	_, err := c.Embeddings.New(context.Background(), openai.EmbeddingNewParams{Model: "amazon.titan-embed-text-v2:0",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfTokenArrays: [][]int64{{1, 2, 3}}}})
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != "input" {
		t.Errorf("token ids: %v", err)
	}
	_, err = c.Embeddings.New(context.Background(), openai.EmbeddingNewParams{Model: "amazon.titan-embed-text-v2:0",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("a")}, Dimensions: openai.Int(300)})
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != "dimensions" {
		t.Errorf("dimensions: %v", err)
	}
	if n := len(e.bedrock.Requests()); n != 0 {
		t.Errorf("%d calls reached Bedrock", n)
	}
}

func TestGeminiEmbeddings(t *testing.T) {
	e := startEmbedProviders(t)
	c := e.client("/gemini")
	res, err := c.Embeddings.New(context.Background(), openai.EmbeddingNewParams{Model: "gemini-embedding-001",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello gemini")}, Dimensions: openai.Int(32),
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat})
	if err != nil {
		t.Fatal(err)
	}
	want := gemini.EstimateTokens([]string{"hello gemini"})
	if len(res.Data) != 1 || !eqVec(res.Data[0].Embedding, geministub.EmbeddingVector("hello gemini", 32)) || res.Usage.PromptTokens != int64(want) {
		t.Fatalf("%.300s", res.RawJSON())
	}
	last := e.gemini.Last()
	if last.Path != "/v1beta/models/gemini-embedding-001:embedContent" || last.Query != "key="+embedGeminiKey {
		t.Errorf("%s?%s", last.Path, last.Query)
	}
	waitFor(t, e.proc, fmt.Sprintf(`"prompt_tokens":%d,`, want))
	// The Gemini API counts no tokens: the statistics mark the estimate,
	// the client's answer has no field for it.
	if u := usageLine(t, e.proc, "gemini-embeddings"); u["prompt_tokens"] != float64(want) || u["estimated"] != true || strings.Contains(res.RawJSON(), "estimated") {
		t.Errorf("statistics usage %v; answer %.200s", u, res.RawJSON())
	}
	// A list of 230 goes as 100 + 100 + 30 in batchEmbedContents, base64.
	in := texts(230, "passage %d")
	body, _ := json.Marshal(map[string]any{"input": in, "encoding_format": "base64", "dimensions": 8})
	vs, n := e.rawBase64(t, "/gemini", string(body))
	if len(vs) != 230 || n != gemini.EstimateTokens(in) {
		t.Fatalf("%d vectors, %d tokens", len(vs), n)
	}
	for _, i := range []int{0, 99, 100, 229} {
		if !eqVec(f64(vs[i]), geministub.EmbeddingVector(in[i], 8)) {
			t.Errorf("item %d is not its text's vector", i)
		}
	}
	if n := e.gemini.EmbedCalls(); n != 4 {
		t.Errorf("%d calls, want 1 + 3", n)
	}
	if e := e.gemini.LastEmbed(); e.Op != "batchEmbedContents" || e.Dimensions != 8 {
		t.Errorf("%+v", e)
	}
}

// The budget reserves by the input's size before the call: an input
// larger than the budget is refused with 429 and nothing goes upstream.
func TestEmbeddingsTokenBudget(t *testing.T) {
	e := startEmbedProviders(t)
	c := e.client("/budget")
	res, err := c.Embeddings.New(context.Background(), openai.EmbeddingNewParams{Model: "amazon.titan-embed-text-v2:0",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")}})
	if err != nil || len(res.Data) != 1 {
		t.Fatalf("a small input: %v", err)
	}
	before := len(e.bedrock.Requests())
	_, err = c.Embeddings.New(context.Background(), openai.EmbeddingNewParams{Model: "amazon.titan-embed-text-v2:0",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String(strings.Repeat("word ", 60))}})
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 429 {
		t.Fatalf("over budget: %v", err)
	}
	if len(e.bedrock.Requests()) != before {
		t.Error("a refused request reached Bedrock")
	}
}

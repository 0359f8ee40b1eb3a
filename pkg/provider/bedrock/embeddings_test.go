package bedrock

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/drivercheck"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// newEmbedRig is the rig the embeddings tests run on: the stub answers
// with no FirstByteDelay.
func newEmbedRig(t *testing.T) *stubRig {
	return newStubRig(t, bedrockstub.Options{FirstByteDelay: -1})
}

func embedPlugin() *config.Plugin {
	return &config.Plugin{RouteType: config.RouteEmbeddings, Model: config.Model{Provider: config.ProviderBedrock}}
}

func (r *stubRig) embed(t *testing.T, p *config.Plugin, model, body string) (int, drivercheck.EmbeddingsList, string) {
	t.Helper()
	up, err := r.d.PrepareEmbeddings(&provider.Call{Plugin: p, Model: model, Upstream: mustURL(r.ep), Body: []byte(body)})
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	req, _ := http.NewRequest("POST", up.URL.String(), nil)
	return drivercheck.Embed(t, up, req)
}

func TestTitanEmbeddings(t *testing.T) {
	r := newEmbedRig(t)
	p := embedPlugin()
	p.Model.Options.Bedrock = &config.BedrockOptions{EmbeddingsNormalize: true}
	inputs := []string{"one two", "three", "four five six", "seven", "eight nine", "ten"}
	in, _ := json.Marshal(inputs)
	status, a, raw := r.embed(t, p, "amazon.titan-embed-text-v2:0", `{"model":"x","input":`+string(in)+`,"dimensions":256}`)
	if status != 200 || len(a.Data) != len(inputs) || a.Usage.PromptTokens != 10 || a.Usage.TotalTokens != 10 || a.Model != "amazon.titan-embed-text-v2:0" {
		t.Fatalf("%d %.300s", status, raw)
	}
	for i, d := range a.Data {
		got := drivercheck.Floats(t, d.Embedding)
		if d.Index != i || len(got) != 256 {
			t.Fatalf("item %d: index %d, %d values", i, d.Index, len(got))
		}
		// normalized by the stub: the order is kept across parallel calls
		var sum float64
		for _, f := range got {
			sum += float64(f) * float64(f)
		}
		if math.Abs(sum-1) > 1e-3 {
			t.Errorf("item %d not normalized (%v)", i, sum)
		}
	}
	reqs := r.srv.Requests()
	if len(reqs) != len(inputs) {
		t.Fatalf("%d calls for %d inputs", len(reqs), len(inputs))
	}
	seen := map[string]bool{}
	for _, q := range reqs {
		tb := q.DecodedTitan()
		if !q.Signed || tb == nil || tb.Dimensions != 256 || tb.Normalize == nil || !*tb.Normalize || q.Operation != "InvokeModel" {
			t.Errorf("call %s %s", q.RawPath, q.Body)
			continue
		}
		seen[tb.InputText] = true
	}
	if len(seen) != len(inputs) {
		t.Errorf("texts sent %v", seen)
	}
}

func TestTitanEmbeddingsOrderAndBase64(t *testing.T) {
	r := newEmbedRig(t)
	status, a, raw := r.embed(t, embedPlugin(), "amazon.titan-embed-text-v2:0", `{"input":["alpha","beta gamma"],"encoding_format":"base64"}`)
	if status != 200 || len(a.Data) != 2 {
		t.Fatalf("%d %.300s", status, raw)
	}
	for i, text := range []string{"alpha", "beta gamma"} {
		var s string
		if json.Unmarshal(a.Data[i].Embedding, &s) != nil {
			t.Fatalf("not base64: %.80s", a.Data[i].Embedding)
		}
		b, _ := base64.StdEncoding.DecodeString(s)
		want := bedrockstub.EmbeddingVector(text, bedrockstub.TitanV2Dims)
		if len(b) != 4*len(want) {
			t.Fatalf("%d bytes", len(b))
		}
		for j := range want {
			if math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:])) != want[j] {
				t.Fatalf("item %d value %d differs", i, j)
			}
		}
	}
	// normalize unset: not sent
	if tb := r.srv.Last().DecodedTitan(); tb.Normalize != nil || tb.Dimensions != 0 {
		t.Errorf("body %s", r.srv.Last().Body)
	}
}

func TestCohereEmbeddingsBatched(t *testing.T) {
	r := newEmbedRig(t)
	p := embedPlugin()
	p.Model.Options.Cohere = &config.CohereOptions{EmbeddingInputType: "search_query"}
	inputs := make([]string, 200)
	for i := range inputs {
		inputs[i] = fmt.Sprintf("text %d", i)
	}
	in, _ := json.Marshal(inputs)
	status, a, raw := r.embed(t, p, "cohere.embed-english-v3", `{"input":`+string(in)+`}`)
	if status != 200 || len(a.Data) != 200 || a.Usage.PromptTokens != 400 {
		t.Fatalf("%d %.300s", status, raw)
	}
	for _, i := range []int{0, 95, 96, 199} {
		if !slices.Equal(drivercheck.Floats(t, a.Data[i].Embedding), bedrockstub.EmbeddingVector(inputs[i], bedrockstub.CohereV3Dims)) || a.Data[i].Index != i {
			t.Errorf("item %d is not its text's vector", i)
		}
	}
	reqs := r.srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d calls for 200 texts (96 per call)", len(reqs))
	}
	for i, n := range []int{96, 96, 8} {
		cb := reqs[i].DecodedCohere()
		if cb == nil || len(cb.Texts) != n || cb.InputType != "search_query" || cb.Truncate != "END" || len(cb.EmbeddingTypes) != 1 || cb.EmbeddingTypes[0] != "float" {
			t.Errorf("call %d: %.200s", i, reqs[i].Body)
		}
	}
}

func TestCohereV4Dimensions(t *testing.T) {
	r := newEmbedRig(t)
	status, a, raw := r.embed(t, embedPlugin(), "us.cohere.embed-v4:0", `{"input":"hello world","dimensions":512}`)
	if status != 200 || len(a.Data) != 1 || len(drivercheck.Floats(t, a.Data[0].Embedding)) != 512 || a.Usage.PromptTokens != 2 {
		t.Fatalf("%d %.300s", status, raw)
	}
	if cb := r.srv.Last().DecodedCohere(); cb.OutputDimension != 512 || cb.InputType != "search_document" {
		t.Errorf("body %s", r.srv.Last().Body)
	}
}

// What cannot be mapped is refused in PrepareEmbeddings, naming the field.
func TestEmbeddingsRefusals(t *testing.T) {
	d := New(Options{Config: aws.Config{Region: "us-east-1"}})
	cases := []struct {
		model, body, param string
		p                  func(*config.Plugin)
	}{
		{"amazon.titan-embed-text-v2:0", `{"input":[[1,2,3]]}`, "input", nil},
		{"amazon.titan-embed-text-v2:0", `{"input":[1,2,3]}`, "input", nil},
		{"amazon.titan-embed-text-v2:0", `{"input":"a","dimensions":300}`, "dimensions", nil},
		{"amazon.titan-embed-text-v1", `{"input":"a","dimensions":256}`, "dimensions", nil},
		{"cohere.embed-english-v3", `{"input":"a","dimensions":256}`, "dimensions", nil},
		{"cohere.embed-v4:0", `{"input":"a","dimensions":100}`, "dimensions", nil},
		{"cohere.embed-english-v3", `{"input":"a"}`, "input", func(p *config.Plugin) { p.Model.Options.Cohere = &config.CohereOptions{EmbeddingInputType: "image"} }},
		{"anthropic.claude-3-haiku", `{"input":"a"}`, "model", nil},
		{"amazon.titan-embed-text-v2:0", `{"input":"a","encoding_format":"int8"}`, "encoding_format", nil},
		{"amazon.titan-embed-text-v2:0", `{"input":""}`, "input", nil},
	}
	for _, c := range cases {
		p := embedPlugin()
		if c.p != nil {
			c.p(p)
		}
		_, err := d.PrepareEmbeddings(&provider.Call{Plugin: p, Model: c.model, Body: []byte(c.body)})
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Status != 400 || pe.Param != c.param {
			t.Errorf("%s %s: %v", c.model, c.body, err)
		}
	}
	if d.Clients() != 0 {
		t.Error("a refused request built a client")
	}
}

// Bedrock's errors keep their mapping; the first failure of a batch answers.
func TestEmbeddingsErrors(t *testing.T) {
	r := newEmbedRig(t)
	r.srv.Next(bedrockstub.Scenario{Error: bedrockstub.ErrThrottling("slow down")})
	status, _, raw := r.embed(t, embedPlugin(), "amazon.titan-embed-text-v2:0", `{"input":"a"}`)
	if status != 429 || !strings.Contains(raw, "slow down") {
		t.Errorf("%d %s", status, raw)
	}
	r.srv.Next(bedrockstub.Scenario{}, bedrockstub.Scenario{Error: bedrockstub.ErrValidation("Input is too long")})
	list := `[` + strings.TrimSuffix(strings.Repeat(`"x",`, 100), ",") + `]` // two calls: the second fails
	status, _, raw = r.embed(t, embedPlugin(), "cohere.embed-v4:0", `{"input":`+list+`}`)
	if status != 400 || !strings.Contains(raw, "Input is too long") {
		t.Errorf("%d %s", status, raw)
	}
}

func TestEmbeddingAnswers(t *testing.T) {
	cases := []struct {
		titan  bool
		body   string
		n      int
		tokens int
		ok     bool
	}{
		{true, `{"embedding":[0.5,-1],"inputTextTokenCount":3}`, 1, 3, true},
		{true, `{"inputTextTokenCount":3}`, 0, 0, false},
		{true, `[]`, 0, 0, false},
		{false, `{"embeddings":[[1,2],[3,4]],"response_type":"embeddings_floats"}`, 2, 0, true},
		{false, `{"embeddings":{"float":[[1,2]]},"response_type":"embeddings_by_type"}`, 1, 0, true},
		{false, `{"embeddings":{"int8":[[1,2]]}}`, 0, 0, false},
		{false, `{"embeddings":"x"}`, 0, 0, false},
	}
	for _, c := range cases {
		var v [][]float32
		var n int
		var err error
		if c.titan {
			v, n, err = titanAnswer([]byte(c.body))
		} else {
			v, n, err = cohereAnswer([]byte(c.body))
		}
		if (err == nil) != c.ok || len(v) != c.n || n != c.tokens {
			t.Errorf("%s: %v %d %v", c.body, v, n, err)
		}
	}
}

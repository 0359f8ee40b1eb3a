package gemini

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/drivercheck"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/geministub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

func embedPlugin() *config.Plugin {
	return &config.Plugin{RouteType: config.RouteEmbeddings, Model: config.Model{Provider: "gemini"},
		Auth: config.Auth{ParamName: "key", ParamValue: testKey, ParamLocation: "query"}}
}

// embed runs PrepareEmbeddings and the RoundTrip as the proxy would.
func (r *rig) embed(t *testing.T, p *config.Plugin, model, body string) (int, drivercheck.EmbeddingsList, string) {
	t.Helper()
	up, err := r.d.PrepareEmbeddings(&provider.Call{Plugin: p, Model: model, Body: []byte(body)})
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	r.report = &provider.Report{}
	return drivercheck.Embed(t, up, proxied(provider.WithReport(context.Background(), r.report), p, up))
}

func TestEmbedContentOne(t *testing.T) {
	r := newRig(t, geministub.Options{APIKey: testKey}, Options{})
	status, d, raw := r.embed(t, embedPlugin(), "gemini-embedding-001", `{"model":"x","input":"hello there","dimensions":8}`)
	if status != 200 || len(d.Data) != 1 || !slices.Equal(drivercheck.Floats(t, d.Data[0].Embedding), geministub.EmbeddingVector("hello there", 8)) {
		t.Fatalf("%d %s", status, raw)
	}
	if d.Usage.PromptTokens != EstimateTokens([]string{"hello there"}) || d.Usage.PromptTokens != 3 {
		t.Errorf("usage %d", d.Usage.PromptTokens)
	}
	last := r.stub.Last()
	if last.Path != "/v1beta/models/gemini-embedding-001:embedContent" || last.Query != "key="+testKey {
		t.Errorf("%s?%s", last.Path, last.Query)
	}
	if e := r.stub.LastEmbed(); e == nil || e.Dimensions != 8 {
		t.Errorf("body %s", last.Body)
	}
}

func TestBatchEmbedContents(t *testing.T) {
	r := newRig(t, geministub.Options{APIKey: testKey}, Options{})
	inputs := make([]string, 250)
	for i := range inputs {
		inputs[i] = fmt.Sprintf("text number %d", i)
	}
	in, _ := json.Marshal(inputs)
	status, d, raw := r.embed(t, embedPlugin(), "gemini-embedding-001", `{"input":`+string(in)+`,"encoding_format":"base64","dimensions":4}`)
	if status != 200 || len(d.Data) != 250 {
		t.Fatalf("%d %.300s", status, raw)
	}
	for i, it := range d.Data {
		var s string
		_ = json.Unmarshal(it.Embedding, &s)
		b, _ := base64.StdEncoding.DecodeString(s)
		want := geministub.EmbeddingVector(inputs[i], 4)
		if len(b) != 16 || it.Index != i {
			t.Fatalf("item %d: %q", i, s)
		}
		for j := range want {
			if math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:])) != want[j] {
				t.Fatalf("item %d is not its text's vector", i)
			}
		}
	}
	if n := r.stub.EmbedCalls(); n != 3 {
		t.Errorf("%d calls for 250 texts (100 per call)", n)
	}
	if d.Usage.PromptTokens != EstimateTokens(inputs) {
		t.Errorf("usage %d", d.Usage.PromptTokens)
	}
}

// Vertex: :predict with the bearer; token counts from the statistics;
// gemini-embedding-* one instance per call.
func TestVertexPredict(t *testing.T) {
	r := newRig(t, geministub.Options{Bearer: "ya29.test"}, Options{})
	p := &config.Plugin{RouteType: config.RouteEmbeddings, Model: config.Model{Provider: "gemini",
		Options: config.ModelOptions{Gemini: &config.GeminiOptions{APIEndpoint: "us-central1-aiplatform.googleapis.com", ProjectID: "proj", LocationID: "us-central1"}}},
		Auth: config.Auth{HeaderName: "Authorization", HeaderValue: "Bearer ya29.test"}}
	status, d, raw := r.embed(t, p, "text-embedding-005", `{"input":["a b c","d e"]}`)
	if status != 200 || len(d.Data) != 2 || d.Usage.PromptTokens != 5 || len(drivercheck.Floats(t, d.Data[1].Embedding)) != 768 {
		t.Fatalf("%d %.300s", status, raw)
	}
	if last := r.stub.Last(); last.Path != "/v1/projects/proj/locations/us-central1/publishers/google/models/text-embedding-005:predict" || !last.Vertex {
		t.Errorf("%s", last.Path)
	}
	status, d, raw = r.embed(t, p, "gemini-embedding-001", `{"input":["a b c","d e","f"],"dimensions":16}`)
	if status != 200 || len(d.Data) != 3 || d.Usage.PromptTokens != 6 || !slices.Equal(drivercheck.Floats(t, d.Data[2].Embedding), geministub.EmbeddingVector("f", 16)) {
		t.Fatalf("%d %.300s", status, raw)
	}
	if n := r.stub.EmbedCalls(); n != 4 {
		t.Errorf("%d calls, want 1 + 3", n)
	}
}

func TestEmbeddingsUpstreamURLAndErrors(t *testing.T) {
	r := newRig(t, geministub.Options{APIKey: testKey}, Options{})
	p := embedPlugin()
	up, _ := url.Parse("https://example.test/v1beta/models/m:generateContent")
	u, err := r.d.PrepareEmbeddings(&provider.Call{Plugin: p, Model: "m", Upstream: up, Body: []byte(`{"input":["a","b"]}`)})
	if err != nil || u.URL.String() != "https://example.test/v1beta/models/m:batchEmbedContents" {
		t.Fatalf("%v %v", u.URL, err)
	}
	status, _, raw := r.embed(t, p, "stub.error-429", `{"input":"a"}`)
	if status != 429 || !json.Valid([]byte(raw)) {
		t.Errorf("%d %s", status, raw)
	}
	for _, c := range []struct{ model, body, param string }{
		{"gemini-embedding-001", `{"input":[[1,2]]}`, "input"},
		{"gemini-embedding-001", `{"input":"a","encoding_format":"x"}`, "encoding_format"},
		{"gemini-embedding-001", `{"input":"a","dimensions":0}`, "dimensions"},
		{"models/x", `{"input":"a"}`, "model"},
	} {
		_, err := r.d.PrepareEmbeddings(&provider.Call{Plugin: p, Model: c.model, Body: []byte(c.body)})
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Status != 400 || pe.Param != c.param {
			t.Errorf("%s: %v", c.body, err)
		}
	}
}

func TestEmbedAnswer(t *testing.T) {
	cases := []struct {
		mode    embedMode
		body    string
		n       int
		tokens  int
		counted bool
		ok      bool
	}{
		{modeSingle, `{"embedding":{"values":[1,2]}}`, 1, 0, false, true},
		{modeSingle, `{"embedding":{"values":[1]},"usageMetadata":{"promptTokenCount":4}}`, 1, 4, true, true},
		{modeSingle, `{"embeddings":[{"values":[1]}]}`, 0, 0, false, false},
		{modeBatch, `{"embeddings":[{"values":[1]},{"values":[2]}]}`, 2, 0, false, true},
		{modeBatch, `{"embeddings":[{}]}`, 0, 0, false, false},
		{modePredict, `{"predictions":[{"embeddings":{"values":[1],"statistics":{"token_count":3}}}]}`, 1, 3, true, true},
		{modePredict, `{"predictions":[{"embeddings":{"values":[1]}}]}`, 1, 0, false, true},
		{modePredict, `{"predictions":[{}]}`, 0, 0, false, false},
		{modeBatch, `nope`, 0, 0, false, false},
	}
	for _, c := range cases {
		v, n, counted, pe := embedAnswer(c.mode, []byte(c.body))
		if (pe == nil) != c.ok || len(v) != c.n || n != c.tokens || counted != c.counted {
			t.Errorf("%s: %v %d %v %v", c.body, v, n, counted, pe)
		}
	}
}

// The Gemini API's embeddings carry no token count: the driver's estimate
// is reported as one, for the statistics to mark; Vertex's counts are not.
func TestEmbeddingsEstimateReported(t *testing.T) {
	vertex := &config.Plugin{RouteType: config.RouteEmbeddings, Model: config.Model{Provider: "gemini",
		Options: config.ModelOptions{Gemini: &config.GeminiOptions{APIEndpoint: "us-central1-aiplatform.googleapis.com", ProjectID: "proj", LocationID: "us-central1"}}},
		Auth: config.Auth{HeaderName: "Authorization", HeaderValue: "Bearer ya29.test"}}
	tests := []struct {
		name, model, body string
		plugin            *config.Plugin
		estimated         bool
	}{
		{name: "embedContent", model: "gemini-embedding-001", body: `{"input":"hello there"}`, plugin: embedPlugin(), estimated: true},
		{name: "batchEmbedContents", model: "gemini-embedding-001", body: `{"input":["a","b c"]}`, plugin: embedPlugin(), estimated: true},
		{name: "Vertex predict, counted", model: "text-embedding-005", body: `{"input":["a b c","d e"]}`, plugin: vertex},
		{name: "an error", model: "stub.error-429", body: `{"input":"a"}`, plugin: embedPlugin()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, geministub.Options{APIKey: testKey, Bearer: "ya29.test"}, Options{})
			status, _, raw := r.embed(t, tt.plugin, tt.model, tt.body)
			if tt.model != "stub.error-429" && status != 200 {
				t.Fatalf("%d %s", status, raw)
			}
			if got := r.report.UsageEstimated(); got != tt.estimated {
				t.Errorf("reported estimated %v, want %v", got, tt.estimated)
			}
		})
	}
}

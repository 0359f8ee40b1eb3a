package gemini

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// Embeddings (route_type llm/v1/embeddings):
//
//   - Gemini API: one input goes to models/{m}:embedContent, a list to
//     models/{m}:batchEmbedContents, at most geminiBatch texts per call;
//     dimensions is outputDimensionality. The calls of one request go up
//     to embedParallel at a time; the answer keeps the input's order. The
//     Gemini API's embeddings answers carry no token count: prompt_tokens
//     is estimated as one token per four bytes of each text, rounded up
//     (Google's rule of thumb), unless the answer has
//     usageMetadata.promptTokenCount.
//   - Vertex AI (model.options.gemini): publishers/google/models/{m}:predict
//     with {"instances":[{"content"}],"parameters":{"outputDimensionality",
//     "autoTruncate"}}; gemini-embedding-* models take one instance per
//     call, the others (text-embedding-005, text-multilingual-embedding-002)
//     up to vertexBatch. Tokens are the predictions' statistics.token_count.
//
// upstream_url, when set, is used with its operation replaced by the one
// the call needs.

const (
	geminiBatch    = 100
	vertexBatch    = 250
	embedParallel  = 4
	maxEmbedAnswer = 64 << 20
)

// embedMode is the shape of the calls and answers.
type embedMode int

const (
	modeSingle  embedMode = iota + 1 // :embedContent
	modeBatch                        // :batchEmbedContents
	modePredict                      // Vertex :predict
)

// embedOps are the operations an upstream_url may end with.
var embedOps = []string{"generateContent", "streamGenerateContent", "embedContent", "batchEmbedContents", "predict"}

// PrepareEmbeddings reads the OpenAI embeddings request and builds the
// calls; refusals happen here, before anything is charged.
func (d *Driver) PrepareEmbeddings(c *provider.Call) (provider.Upstream, error) {
	p := c.Plugin
	tok, err := d.tokens(p)
	if err != nil {
		return provider.Upstream{}, err
	}
	if c.Model == "" || strings.ContainsAny(c.Model, "/:?#") {
		return provider.Upstream{}, provider.Invalid("model", "%q is not a Gemini model name", c.Model)
	}
	req, err := provider.DecodeEmbeddings(c.Body)
	if err != nil {
		return provider.Upstream{}, err
	}
	if req.Dimensions == 0 && p.Model.Options.EmbeddingsDimensions != nil {
		req.Dimensions = *p.Model.Options.EmbeddingsDimensions
	}
	vertex := p.Model.Options.Gemini.Vertex()
	mode, op, size := modeBatch, "batchEmbedContents", geminiBatch
	switch {
	case vertex:
		mode, op, size = modePredict, "predict", vertexBatch
		if strings.HasPrefix(c.Model, "gemini-embedding") {
			size = 1
		}
	case len(req.Input) == 1:
		mode, op = modeSingle, "embedContent"
	}
	var u url.URL
	switch g := p.Model.Options.Gemini; {
	case c.Upstream != nil:
		u = *c.Upstream
		for _, o := range embedOps {
			if before, ok := strings.CutSuffix(u.Path, ":"+o); ok {
				u.Path, u.RawPath = before+":"+op, ""
				break
			}
		}
	case vertex:
		u = url.URL{Scheme: "https", Host: g.APIEndpoint,
			Path: "/v1/projects/" + g.ProjectID + "/locations/" + g.LocationID + "/publishers/google/models/" + c.Model + ":" + op}
	default:
		u = url.URL{Scheme: "https", Host: publicHost, Path: "/v1beta/models/" + c.Model + ":" + op}
	}
	var bodies [][]byte
	for _, texts := range req.Batches(size) {
		bodies = append(bodies, embedBody(mode, c.Model, texts, req.Dimensions))
	}
	return provider.Upstream{URL: &u, Transport: &embedCall{sender: sender{d: d, authHeader: p.Auth.HeaderName, tok: tok},
		mode: mode, bodies: bodies, inputs: req.Input, model: c.Model, b64: req.Base64}}, nil
}

type (
	embedPart struct {
		Text string `json:"text"`
	}
	embedContent struct {
		Parts []embedPart `json:"parts"`
	}
	embedRequest struct {
		Model                string       `json:"model,omitempty"`
		Content              embedContent `json:"content"`
		OutputDimensionality int          `json:"outputDimensionality,omitempty"`
	}
	predictInstance struct {
		Content string `json:"content"`
	}
	predictParameters struct {
		OutputDimensionality int  `json:"outputDimensionality,omitempty"`
		AutoTruncate         bool `json:"autoTruncate"`
	}
)

// embedBody is one call's body.
func embedBody(mode embedMode, model string, texts []string, dims int) []byte {
	var v any
	switch mode {
	case modeSingle:
		v = embedRequest{Content: embedContent{Parts: []embedPart{{texts[0]}}}, OutputDimensionality: dims}
	case modeBatch:
		reqs := make([]embedRequest, len(texts))
		for i, t := range texts {
			reqs[i] = embedRequest{Model: "models/" + model, Content: embedContent{Parts: []embedPart{{t}}}, OutputDimensionality: dims}
		}
		v = map[string]any{"requests": reqs}
	default:
		inst := make([]predictInstance, len(texts))
		for i, t := range texts {
			inst[i] = predictInstance{Content: t}
		}
		v = map[string]any{"instances": inst, "parameters": predictParameters{OutputDimensionality: dims, AutoTruncate: true}}
	}
	b, _ := json.Marshal(v)
	return b
}

// embedCall carries the calls of one embeddings request.
type embedCall struct {
	sender
	mode   embedMode
	bodies [][]byte
	inputs []string
	model  string
	b64    bool
}

type embedResult struct {
	vectors [][]float32
	tokens  int
	counted bool
	pe      *provider.Error
	err     error
}

func (c *embedCall) RoundTrip(req *http.Request) (*http.Response, error) {
	provider.DiscardBody(req)
	results, first := provider.Parallel(req.Context(), len(c.bodies), embedParallel,
		func(ctx context.Context, i int) embedResult { return c.post(ctx, req, c.bodies[i]) },
		func(r embedResult) bool { return r.pe != nil || r.err != nil })
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	if first >= 0 {
		if pe := results[first].pe; pe != nil {
			return provider.ErrorResponse(req, pe), nil
		}
		return nil, results[first].err
	}
	vectors := make([][]float32, 0, len(c.inputs))
	tokens, counted := 0, true
	for _, r := range results {
		vectors = append(vectors, r.vectors...)
		tokens += r.tokens
		counted = counted && r.counted
	}
	if len(vectors) != len(c.inputs) {
		return provider.ErrorResponse(req, badEmbedAnswer("Gemini answered "+strconv.Itoa(len(vectors))+" embeddings for "+strconv.Itoa(len(c.inputs))+" inputs")), nil
	}
	if !counted {
		tokens = EstimateTokens(c.inputs)
		// The answer's usage cannot say so (OpenAI's shape has no such
		// field); the statistics mark it through the report.
		provider.ReportEstimatedUsage(req.Context())
	}
	return provider.JSONResponse(req, http.StatusOK, provider.EmbeddingsJSON(c.model, vectors, tokens, c.b64)), nil
}

// post makes one call and reads its answer.
func (c *embedCall) post(ctx context.Context, req *http.Request, body []byte) embedResult {
	res, pe, err := c.send(ctx, req, body, "")
	if err != nil {
		return embedResult{err: err}
	}
	if pe != nil {
		return embedResult{pe: pe}
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return embedResult{pe: upstreamError(res)}
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxEmbedAnswer+1))
	if err != nil {
		return embedResult{err: err}
	}
	if len(b) > maxEmbedAnswer {
		return embedResult{pe: &provider.Error{Status: http.StatusBadGateway, Type: provider.TypeServer,
			Code: "upstream_answer_too_large", Message: "Gemini's embeddings answer is larger than 64 MiB"}}
	}
	v, n, counted, pe := embedAnswer(c.mode, b)
	return embedResult{vectors: v, tokens: n, counted: counted, pe: pe}
}

func badEmbedAnswer(what string) *provider.Error {
	return &provider.Error{Status: http.StatusBadGateway, Type: provider.TypeServer, Code: "upstream_bad_answer",
		Message: "Gemini's embeddings answer could not be read: " + what}
}

type embeddingValues struct {
	Values []float32 `json:"values"`
}

// embedAnswer reads one answer: {"embedding":{"values"}} (embedContent),
// {"embeddings":[{"values"}]} (batchEmbedContents), or
// {"predictions":[{"embeddings":{"values","statistics":{"token_count"}}}]}
// (Vertex predict). counted says the answer carried token counts.
func embedAnswer(mode embedMode, body []byte) (vectors [][]float32, tokens int, counted bool, pe *provider.Error) {
	var a struct {
		Embedding   *embeddingValues  `json:"embedding"`
		Embeddings  []embeddingValues `json:"embeddings"`
		Predictions []struct {
			Embeddings *struct {
				Values     []float32 `json:"values"`
				Statistics *struct {
					TokenCount float64 `json:"token_count"`
				} `json:"statistics"`
			} `json:"embeddings"`
		} `json:"predictions"`
		UsageMetadata *struct {
			PromptTokenCount int `json:"promptTokenCount"`
		} `json:"usageMetadata"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, 0, false, badEmbedAnswer("not an embeddings answer")
	}
	switch mode {
	case modeSingle:
		if a.Embedding == nil || a.Embedding.Values == nil {
			return nil, 0, false, badEmbedAnswer("no embedding")
		}
		vectors = [][]float32{a.Embedding.Values}
	case modeBatch:
		for _, e := range a.Embeddings {
			if e.Values == nil {
				return nil, 0, false, badEmbedAnswer("an embedding without values")
			}
			vectors = append(vectors, e.Values)
		}
	default:
		counted = true
		for _, p := range a.Predictions {
			if p.Embeddings == nil || p.Embeddings.Values == nil {
				return nil, 0, false, badEmbedAnswer("a prediction without values")
			}
			vectors = append(vectors, p.Embeddings.Values)
			if s := p.Embeddings.Statistics; s != nil && s.TokenCount > 0 && s.TokenCount < 1<<31 {
				tokens += int(s.TokenCount)
			} else {
				counted = false
			}
		}
	}
	if u := a.UsageMetadata; u != nil && mode != modePredict && u.PromptTokenCount >= 0 {
		return vectors, u.PromptTokenCount, true, nil
	}
	return vectors, tokens, counted, nil
}

// EstimateTokens is the prompt tokens reported when Gemini sends no count:
// a quarter of each text's UTF-8 bytes, rounded up, at least one per
// character-less text (Google: a token is about four characters).
func EstimateTokens(texts []string) int {
	n := 0
	for _, t := range texts {
		n += max((len(t)+3)/4, min(1, utf8.RuneCountInString(t)))
	}
	return n
}

package bedrock

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// Embeddings on Bedrock (route_type llm/v1/embeddings) go through
// InvokeModel in the model family's own body:
//
//   - Amazon Titan Text Embeddings (amazon.titan-embed-text-v2:0, v1):
//     {"inputText", "dimensions", "normalize"}, one text per call, answered
//     {"embedding":[...],"inputTextTokenCount":n}. A list is embedded by
//     up to titanParallel concurrent calls, in order.
//   - Cohere Embed (cohere.embed-english-v3, cohere.embed-multilingual-v3,
//     cohere.embed-v4:0): {"texts" (at most 96), "input_type", "truncate",
//     "embedding_types":["float"]}, answered {"embeddings":[[...]]} or
//     {"embeddings":{"float":[[...]]}}; its token count is Bedrock's
//     X-Amzn-Bedrock-Input-Token-Count header, read from the SDK's raw
//     response.
//
// The answers become OpenAI's embeddings list (provider.EmbeddingsJSON),
// floats or base64 of little-endian float32 as the client asked.

// embedFamily is the body shape a model takes.
type embedFamily int

const (
	titanV1 embedFamily = iota + 1
	titanV2
	cohereV3
	cohereV4
)

// Per-call limits: Cohere takes 96 texts per call; Titan one.
const (
	cohereBatch   = 96
	titanParallel = 4
)

// embedFamilyOf recognises the embedding model families by their model id,
// also inside an inference profile id (us.cohere.embed-v4:0) or an ARN.
func embedFamilyOf(model string) embedFamily {
	m := strings.ToLower(model)
	switch {
	case strings.Contains(m, "amazon.titan-embed-text-v2"):
		return titanV2
	case strings.Contains(m, "amazon.titan-embed-text-v1"), strings.Contains(m, "amazon.titan-embed-g1-text"):
		return titanV1
	case strings.Contains(m, "cohere.embed-v4"):
		return cohereV4
	case strings.Contains(m, "cohere.embed-english-v3"), strings.Contains(m, "cohere.embed-multilingual-v3"):
		return cohereV3
	}
	return 0
}

// titanBody is Titan Text Embeddings' InvokeModel body.
type titanBody struct {
	InputText  string `json:"inputText"`
	Dimensions int    `json:"dimensions,omitempty"`
	Normalize  *bool  `json:"normalize,omitempty"`
}

// cohereBody is Cohere Embed's InvokeModel body.
type cohereBody struct {
	Texts           []string `json:"texts"`
	InputType       string   `json:"input_type"`
	Truncate        string   `json:"truncate"`
	EmbeddingTypes  []string `json:"embedding_types"`
	OutputDimension int      `json:"output_dimension,omitempty"`
}

// PrepareEmbeddings reads the OpenAI embeddings request, builds one
// InvokeModel body per provider call, and returns the transport that
// makes them. Whatever cannot be mapped is refused here, before anything
// is charged.
func (d *Driver) PrepareEmbeddings(c *provider.Call) (provider.Upstream, error) {
	p := c.Plugin
	model := c.Model
	if err := checkModelID(model); err != nil {
		return provider.Upstream{}, err
	}
	req, err := provider.DecodeEmbeddings(c.Body)
	if err != nil {
		return provider.Upstream{}, err
	}
	if req.Dimensions == 0 && p.Model.Options.EmbeddingsDimensions != nil {
		req.Dimensions = *p.Model.Options.EmbeddingsDimensions
	}
	bodies, err := embedBodies(req, model, p)
	if err != nil {
		return provider.Upstream{}, err
	}
	region, err := d.region(p)
	if err != nil {
		return provider.Upstream{}, err
	}
	endpoint := baseEndpoint(c.Upstream)
	client := d.client(p, region, endpoint)
	u := operationURL(endpoint, region, model, "invoke")
	return provider.Upstream{URL: u, Transport: &embedCall{client: client, model: model, family: embedFamilyOf(model),
		bodies: bodies, count: len(req.Input), b64: req.Base64}}, nil
}

// embedBodies translates the request into InvokeModel bodies, in order.
func embedBodies(req *provider.EmbeddingsRequest, model string, p *config.Plugin) ([][]byte, error) {
	fam := embedFamilyOf(model)
	var bodies [][]byte
	switch fam {
	case titanV1, titanV2:
		tb := titanBody{}
		if fam == titanV2 {
			switch req.Dimensions {
			case 0, 256, 512, 1024:
				tb.Dimensions = req.Dimensions
			default:
				return nil, provider.Invalid("dimensions", "dimensions must be 256, 512 or 1024 for Titan Text Embeddings v2")
			}
			if b := p.Model.Options.Bedrock; b != nil && b.EmbeddingsNormalize {
				t := true
				tb.Normalize = &t
			}
		} else if req.Dimensions != 0 {
			return nil, provider.Unsupported("dimensions", "Titan Text Embeddings v1 has a fixed size; dimensions is not supported")
		}
		for _, s := range req.Input {
			tb.InputText = s
			b, _ := json.Marshal(tb)
			bodies = append(bodies, b)
		}
	case cohereV3, cohereV4:
		cb := cohereBody{InputType: "search_document", Truncate: "END", EmbeddingTypes: []string{"float"}}
		if co := p.Model.Options.Cohere; co != nil && co.EmbeddingInputType != "" {
			if co.EmbeddingInputType == "image" {
				return nil, provider.Unsupported("input", "model.options.cohere.embedding_input_type is image, but the input is text")
			}
			cb.InputType = co.EmbeddingInputType
		}
		if req.Dimensions != 0 {
			if fam != cohereV4 {
				return nil, provider.Unsupported("dimensions", "Cohere Embed v3 has a fixed size; dimensions is not supported")
			}
			switch req.Dimensions {
			case 256, 512, 1024, 1536:
				cb.OutputDimension = req.Dimensions
			default:
				return nil, provider.Invalid("dimensions", "dimensions must be 256, 512, 1024 or 1536 for Cohere Embed v4")
			}
		}
		for _, texts := range req.Batches(cohereBatch) {
			cb.Texts = texts
			b, _ := json.Marshal(cb)
			bodies = append(bodies, b)
		}
	default:
		return nil, provider.Unsupported("model", "%q is not a Bedrock text embeddings model this proxy translates (Titan Text Embeddings, Cohere Embed)", model)
	}
	return bodies, nil
}

// embedCall makes the InvokeModel calls of one embeddings request.
type embedCall struct {
	client *bedrockruntime.Client
	model  string
	family embedFamily
	bodies [][]byte
	count  int
	b64    bool
}

// embedResult is one call's vectors and tokens.
type embedResult struct {
	vectors [][]float32
	tokens  int
	err     error
}

func (c *embedCall) RoundTrip(req *http.Request) (*http.Response, error) {
	provider.DiscardBody(req)
	parallel := 1
	if c.family == titanV1 || c.family == titanV2 {
		parallel = titanParallel
	}
	results, first := provider.Parallel(req.Context(), len(c.bodies), parallel,
		func(ctx context.Context, i int) embedResult { return c.invoke(ctx, c.bodies[i]) },
		func(r embedResult) bool { return r.err != nil })
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	if first >= 0 {
		return c.fail(req, results[first].err)
	}
	vectors := make([][]float32, 0, c.count)
	tokens := 0
	for _, r := range results {
		vectors = append(vectors, r.vectors...)
		tokens += r.tokens
	}
	if len(vectors) != c.count {
		return provider.ErrorResponse(req, &provider.Error{Status: http.StatusBadGateway, Type: provider.TypeServer, Code: "upstream_bad_answer",
			Message: "Bedrock answered " + strconv.Itoa(len(vectors)) + " embeddings for " + strconv.Itoa(c.count) + " inputs"}), nil
	}
	return provider.JSONResponse(req, http.StatusOK, provider.EmbeddingsJSON(c.model, vectors, tokens, c.b64)), nil
}

// fail answers the first failure: Bedrock's error mapped, an unreadable
// answer as 502, anything else (network, cancellation) to the proxy.
func (c *embedCall) fail(req *http.Request, err error) (*http.Response, error) {
	if pe, ok := err.(*provider.Error); ok {
		return provider.ErrorResponse(req, pe), nil
	}
	return errorResponse(req, err)
}

// invoke makes one call and reads its answer.
func (c *embedCall) invoke(ctx context.Context, body []byte) embedResult {
	out, err := c.client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(c.model), Body: body,
		ContentType: aws.String("application/json"), Accept: aws.String("application/json")}, retries(ctx))
	if err != nil {
		return embedResult{err: err}
	}
	header := -1
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok && raw != nil && raw.Response != nil {
		if n, err := strconv.Atoi(raw.Header.Get("X-Amzn-Bedrock-Input-Token-Count")); err == nil && n >= 0 {
			header = n
		}
	}
	var r embedResult
	switch c.family {
	case titanV1, titanV2:
		r.vectors, r.tokens, r.err = titanAnswer(out.Body)
	default:
		r.vectors, r.tokens, r.err = cohereAnswer(out.Body)
	}
	if r.err == nil && header >= 0 {
		r.tokens = header // Bedrock's own count wins where it sends one
	}
	return r
}

// badAnswer is a 2xx answer the driver cannot read.
func badAnswer(what string) *provider.Error {
	return &provider.Error{Status: http.StatusBadGateway, Type: provider.TypeServer, Code: "upstream_bad_answer",
		Message: "Bedrock's embeddings answer could not be read: " + what}
}

// titanAnswer reads {"embedding":[...],"inputTextTokenCount":n}.
func titanAnswer(body []byte) ([][]float32, int, error) {
	var a struct {
		Embedding []float32 `json:"embedding"`
		Tokens    int       `json:"inputTextTokenCount"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, 0, badAnswer("not a Titan embeddings answer")
	}
	if a.Embedding == nil {
		return nil, 0, badAnswer("no embedding")
	}
	return [][]float32{a.Embedding}, max(a.Tokens, 0), nil
}

// cohereAnswer reads {"embeddings":[[...]]} (embeddings_floats) or
// {"embeddings":{"float":[[...]]}} (embeddings_by_type). Cohere on Bedrock
// sends no token count in the body (the header has it).
func cohereAnswer(body []byte) ([][]float32, int, error) {
	var a struct {
		Embeddings json.RawMessage `json:"embeddings"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, 0, badAnswer("not a Cohere embeddings answer")
	}
	raw := bytes.TrimSpace(a.Embeddings)
	var vectors [][]float32
	switch {
	case len(raw) > 0 && raw[0] == '[':
		if json.Unmarshal(raw, &vectors) != nil {
			return nil, 0, badAnswer("embeddings is not a list of vectors")
		}
	case len(raw) > 0 && raw[0] == '{':
		var byType struct {
			Float [][]float32 `json:"float"`
		}
		if json.Unmarshal(raw, &byType) != nil || byType.Float == nil {
			return nil, 0, badAnswer("embeddings has no float vectors")
		}
		vectors = byType.Float
	default:
		return nil, 0, badAnswer("no embeddings")
	}
	return vectors, 0, nil
}

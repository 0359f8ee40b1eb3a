package geministub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stubcore"
)

// Embeddings, in the Gemini API's and Vertex AI's wire formats:
//
//	POST /v1beta/models/{model}:embedContent        {"content":{"parts":[{"text"}]},"outputDimensionality",...}
//	                                                → {"embedding":{"values":[...]}}
//	POST /v1beta/models/{model}:batchEmbedContents  {"requests":[{"model":"models/{model}","content",...}]} (≤100)
//	                                                → {"embeddings":[{"values":[...]}]}
//	POST /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:predict
//	     {"instances":[{"content"}],"parameters":{"outputDimensionality","autoTruncate"}}
//	     (gemini-embedding-* one instance, others ≤250)
//	     → {"predictions":[{"embeddings":{"values":[...],"statistics":{"truncated":false,"token_count":n}}}]}
//
// The Gemini API's answers carry no token count, as the real API's do
// not; Vertex's predictions carry TokenCount(text) each. Vectors are
// EmbeddingVector(text, dims); dims is outputDimensionality, else
// DefaultDims(model). Unknown members are refused, as Google refuses
// them. The model-name conventions (stub.error-429, ...) and queued
// scenarios' Error apply.

// Batch limits.
const (
	MaxBatchEmbed = 100
	MaxPredict    = 250
)

// DefaultDims is a model's vector size when none is asked for.
func DefaultDims(model string) int {
	if strings.HasPrefix(model, "gemini-embedding") {
		return 3072
	}
	return 768
}

// TokenCount is the stub's token count of a text: one per word, at least 1.
func TokenCount(text string) int { return max(len(strings.Fields(text)), 1) }

// EmbeddingVector is the stub's embedding of text: dims values in [-1, 1)
// derived from an FNV hash of it, exactly representable as float32.
func EmbeddingVector(text string, dims int) []float32 { return stubcore.Vector(text, 1, dims) }

type (
	embedPart struct {
		Text string `json:"text"`
	}
	embedContentBody struct {
		Model   string `json:"model,omitempty"`
		Content struct {
			Role  string      `json:"role,omitempty"`
			Parts []embedPart `json:"parts"`
		} `json:"content"`
		TaskType             string `json:"taskType,omitempty"`
		Title                string `json:"title,omitempty"`
		OutputDimensionality int    `json:"outputDimensionality,omitempty"`
	}
	// EmbedRequest is a decoded embeddings call: the texts, in order, and
	// the dimensions asked for (0 when none).
	EmbedRequest struct {
		Op         string
		Texts      []string
		Dimensions int
	}
)

// embedRoute recognises an embeddings path: embedContent and
// batchEmbedContents on the Gemini API, predict on Vertex AI.
func embedRoute(path string) (model, op string, vertex, ok bool) {
	model, op, vertex, ok = splitPath(path)
	switch {
	case ok && !vertex && (op == "embedContent" || op == "batchEmbedContents"), ok && vertex && op == "predict":
		return model, op, vertex, true
	}
	return "", "", false, false
}

// LastEmbed decodes the last embeddings call received.
func (s *Server) LastEmbed() *EmbedRequest {
	reqs := s.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if model, op, _, ok := embedRoute(reqs[i].Path); ok {
			e, _ := decodeEmbed(model, op, reqs[i].Body)
			return e
		}
	}
	return nil
}

// EmbedCalls counts the embeddings calls received.
func (s *Server) EmbedCalls() int {
	n := 0
	for _, r := range s.Requests() {
		if _, _, _, ok := embedRoute(r.Path); ok {
			n++
		}
	}
	return n
}

func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// decodeEmbed reads and checks an embeddings body.
func decodeEmbed(model, op string, body []byte) (*EmbedRequest, error) {
	e := &EmbedRequest{Op: op}
	one := func(b embedContentBody, batched bool) error {
		if batched && b.Model != "models/"+model {
			return fmt.Errorf("requests[].model must be models/%s, got %q", model, b.Model)
		}
		if b.Model != "" && b.Model != "models/"+model {
			return fmt.Errorf("model %q does not match the path", b.Model)
		}
		if len(b.Content.Parts) != 1 || b.Content.Parts[0].Text == "" {
			return fmt.Errorf("content must have one text part")
		}
		if b.OutputDimensionality < 0 {
			return fmt.Errorf("outputDimensionality must be positive")
		}
		e.Texts = append(e.Texts, b.Content.Parts[0].Text)
		e.Dimensions = b.OutputDimensionality
		return nil
	}
	switch op {
	case "embedContent":
		var b embedContentBody
		if err := strict(body, &b); err != nil {
			return nil, err
		}
		return e, one(b, false)
	case "batchEmbedContents":
		var b struct {
			Requests []embedContentBody `json:"requests"`
		}
		if err := strict(body, &b); err != nil {
			return nil, err
		}
		if len(b.Requests) == 0 || len(b.Requests) > MaxBatchEmbed {
			return nil, fmt.Errorf("* BatchEmbedContentsRequest.requests: at most %d requests can be in one batch, got %d", MaxBatchEmbed, len(b.Requests))
		}
		for _, r := range b.Requests {
			if err := one(r, true); err != nil {
				return nil, err
			}
		}
		return e, nil
	}
	var b struct {
		Instances []struct {
			Content  string `json:"content"`
			TaskType string `json:"task_type,omitempty"`
			Title    string `json:"title,omitempty"`
		} `json:"instances"`
		Parameters *struct {
			OutputDimensionality int  `json:"outputDimensionality,omitempty"`
			AutoTruncate         bool `json:"autoTruncate"`
		} `json:"parameters,omitempty"`
	}
	if err := strict(body, &b); err != nil {
		return nil, err
	}
	limit := MaxPredict
	if strings.HasPrefix(model, "gemini-embedding") {
		limit = 1
	}
	if len(b.Instances) == 0 || len(b.Instances) > limit {
		return nil, fmt.Errorf("the model takes 1 to %d instances per call, got %d", limit, len(b.Instances))
	}
	for _, in := range b.Instances {
		if in.Content == "" {
			return nil, fmt.Errorf("instances[].content is required")
		}
		e.Texts = append(e.Texts, in.Content)
	}
	if b.Parameters != nil {
		e.Dimensions = b.Parameters.OutputDimensionality
	}
	return e, nil
}

// embed answers an embeddings call.
func (s *Server) embed(w http.ResponseWriter, r *http.Request, model, op string, vertex bool) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 20<<20))
	s.Add(Request{Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body, Model: model, Vertex: vertex})
	if r.Method != http.MethodPost {
		writeError(w, &APIError{Code: 404, Status: "NOT_FOUND", Message: "no such method: " + r.URL.Path})
		return
	}
	if !s.authorized(w, r, vertex) {
		return
	}
	e, err := decodeEmbed(model, op, body)
	if err != nil {
		writeError(w, &APIError{Code: 400, Status: "INVALID_ARGUMENT", Message: "Invalid JSON payload received. " + err.Error()})
		return
	}
	if sc := s.scenario(model); sc.Error != nil {
		writeError(w, sc.Error)
		return
	}
	dims := e.Dimensions
	if dims == 0 {
		dims = DefaultDims(model)
	}
	values := func(t string) map[string]any { return map[string]any{"values": EmbeddingVector(t, dims)} }
	switch op {
	case "embedContent":
		writeJSON(w, 200, map[string]any{"embedding": values(e.Texts[0])})
	case "batchEmbedContents":
		list := make([]any, len(e.Texts))
		for i, t := range e.Texts {
			list[i] = values(t)
		}
		writeJSON(w, 200, map[string]any{"embeddings": list})
	default:
		preds := make([]any, len(e.Texts))
		chars := 0
		for i, t := range e.Texts {
			v := values(t)
			v["statistics"] = map[string]any{"truncated": false, "token_count": TokenCount(t)}
			preds[i] = map[string]any{"embeddings": v}
			chars += len(t)
		}
		writeJSON(w, 200, map[string]any{"predictions": preds, "metadata": map[string]any{"billableCharacterCount": chars}})
	}
}

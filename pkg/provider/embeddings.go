package provider

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"sync"
)

// Embedder is implemented by a translating driver that serves
// llm/v1/embeddings (Bedrock's Titan and Cohere models through InvokeModel,
// Gemini's embedContent/batchEmbedContents). PrepareEmbeddings is Prepare
// for an embeddings call: c.Body is an OpenAI embeddings request after the
// proxy's policy (DecodeEmbeddings reads it), and the returned Transport
// answers as OpenAI's /v1/embeddings would (EmbeddingsJSON writes it,
// base64 included when the client asked for it). A driver that is neither
// an Embedder nor NativeAPI for embeddings does not serve them: the proxy
// answers 400 before anything is charged.
type Embedder interface {
	PrepareEmbeddings(c *Call) (Upstream, error)
}

// EmbeddingsRequest is an OpenAI embeddings request as a translating
// driver needs it.
type EmbeddingsRequest struct {
	Model string
	// Input holds the texts to embed, in order (a string input is one).
	Input []string
	// Dimensions is the requested vector size, 0 when not set.
	Dimensions int
	// Base64 says the client asked for encoding_format base64 (the OpenAI
	// Python SDK's default): vectors are sent as little-endian float32.
	Base64 bool
	User   string
}

// MaxEmbeddingsInputs bounds the texts one request may carry (OpenAI's own
// limit is 2048).
const MaxEmbeddingsInputs = 2048

// DecodeEmbeddings reads an OpenAI embeddings request. Token-id inputs are
// refused: only OpenAI's tokenizer gives them meaning.
func DecodeEmbeddings(body []byte) (*EmbeddingsRequest, error) {
	var raw struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		EncodingFormat *string         `json:"encoding_format"`
		Dimensions     *int            `json:"dimensions"`
		User           string          `json:"user"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, Invalid("", "the embeddings request is not valid: %s", jsonErr(err))
	}
	r := &EmbeddingsRequest{Model: raw.Model, User: raw.User}
	if raw.EncodingFormat != nil {
		switch *raw.EncodingFormat {
		case "float":
		case "base64":
			r.Base64 = true
		default:
			return nil, Invalid("encoding_format", "encoding_format must be float or base64")
		}
	}
	if raw.Dimensions != nil {
		if *raw.Dimensions < 1 {
			return nil, Invalid("dimensions", "dimensions must be a positive integer")
		}
		r.Dimensions = *raw.Dimensions
	}
	in := bytes.TrimSpace(raw.Input)
	switch {
	case len(in) == 0 || string(in) == "null":
		return nil, Invalid("input", "input is required")
	case in[0] == '"':
		var s string
		if err := json.Unmarshal(in, &s); err != nil {
			return nil, Invalid("input", "input must be a string or a list of strings")
		}
		r.Input = []string{s}
	case in[0] == '[':
		var list []json.RawMessage
		if err := json.Unmarshal(in, &list); err != nil {
			return nil, Invalid("input", "input must be a string or a list of strings")
		}
		for _, it := range list {
			var s string
			if len(it) == 0 || it[0] != '"' || json.Unmarshal(it, &s) != nil {
				return nil, Unsupported("input", "this provider takes input as text: a string or a list of strings, not token ids")
			}
			r.Input = append(r.Input, s)
		}
	default:
		return nil, Invalid("input", "input must be a string or a list of strings")
	}
	switch {
	case len(r.Input) == 0:
		return nil, Invalid("input", "input must not be empty")
	case len(r.Input) > MaxEmbeddingsInputs:
		return nil, Invalid("input", "input has more than %d items", MaxEmbeddingsInputs)
	}
	for _, s := range r.Input {
		if s == "" {
			return nil, Invalid("input", "input must not contain empty strings")
		}
	}
	return r, nil
}

// Batches splits the inputs into runs of at most n, the provider's limit
// per call.
func (r *EmbeddingsRequest) Batches(n int) [][]string {
	if n <= 0 {
		n = len(r.Input)
	}
	var out [][]string
	for i := 0; i < len(r.Input); i += n {
		out = append(out, r.Input[i:min(i+n, len(r.Input))])
	}
	return out
}

// Parallel makes the n calls of one request (an embeddings request in the
// provider's batches), at most limit at once, and returns their results in
// order. The first call that fails (failed says which) cancels the context
// the others run under and stops those not yet started: the request fails
// as a whole, so the rest would be paid for nothing. first is that call's
// index, -1 when none failed.
func Parallel[R any](ctx context.Context, n, limit int, call func(ctx context.Context, i int) R, failed func(R) bool) (results []R, first int) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results, first = make([]R, n), -1
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	var once sync.Once
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := call(ctx, i)
			if failed(r) {
				once.Do(func() { first = i })
				cancel()
			}
			results[i] = r
		}()
	}
	wg.Wait()
	return results, first
}

// EmbeddingsJSON renders OpenAI's embeddings list: one embedding per
// vector, in order, as floats or, when asked, as base64 of little-endian
// float32 (what OpenAI itself sends for encoding_format base64).
func EmbeddingsJSON(model string, vectors [][]float32, promptTokens int, b64 bool) []byte {
	b := make([]byte, 0, 64+len(vectors)*16)
	b = append(b, `{"object":"list","data":[`...)
	var raw []byte
	for i, v := range vectors {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"object":"embedding","index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"embedding":`...)
		if b64 {
			raw = raw[:0]
			for _, f := range v {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(f))
			}
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, raw)
			b = append(b, '"')
		} else {
			b = append(b, '[')
			for j, f := range v {
				if j > 0 {
					b = append(b, ',')
				}
				if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
					f = 0
				}
				b = strconv.AppendFloat(b, float64(f), 'g', -1, 32)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	b = append(b, `],"model":`...)
	b = AppendString(b, model)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(promptTokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(promptTokens), 10)
	return append(b, "}}"...)
}

// jsonErr words a decode error without echoing the client's values.
func jsonErr(err error) string {
	var ute *json.UnmarshalTypeError
	if e, ok := err.(*json.UnmarshalTypeError); ok {
		ute = e
		return "member " + strconv.Quote(ute.Field) + " has the wrong type"
	}
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

package bedrockstub

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stubcore"
)

// Embeddings through InvokeModel, in the two text embedding families'
// own bodies, validated as Bedrock does where a driver can get it wrong:
//
//	amazon.titan-embed-text-v2:0   {"inputText","dimensions"(256|512|1024),"normalize","embeddingTypes"}
//	                               → {"embedding":[...],"embeddingsByType":{"float":[...]},"inputTextTokenCount":n}
//	amazon.titan-embed-text-v1     {"inputText"} → {"embedding":[...],"inputTextTokenCount":n}
//	cohere.embed-english-v3,       {"texts"(1..96),"input_type","truncate","embedding_types","output_dimension"(v4)}
//	cohere.embed-multilingual-v3,  → {"id","response_type":"embeddings_floats","embeddings":[[...]],"texts":[...]}
//	cohere.embed-v4:0                or, with embedding_types, "embeddings_by_type" and {"float":[[...]]}
//
// Vectors are EmbeddingVector(text, dims): deterministic, so a test can
// compare them exactly. Token counts are TokenCount (one per word): in
// Titan's body, and for every model in the X-Amzn-Bedrock-Input-Token-Count
// header, as Bedrock sends it. A queued Scenario's Error and Delay apply;
// the model-id conventions do not (these ids are real ones).

// Default vector sizes.
const (
	TitanV2Dims  = 1024
	TitanV1Dims  = 1536
	CohereV3Dims = 1024
	CohereV4Dims = 1536
)

// CohereMaxTexts is Cohere Embed's limit of texts per call.
const CohereMaxTexts = 96

// IsEmbeddingModel reports whether the stub answers modelID's InvokeModel
// as a text embedding model.
func IsEmbeddingModel(modelID string) bool { return embeddingFamily(modelID) != "" }

func embeddingFamily(modelID string) string {
	m := strings.ToLower(modelID)
	switch {
	case strings.Contains(m, "amazon.titan-embed-text-v2"):
		return "titan-v2"
	case strings.Contains(m, "amazon.titan-embed-text-v1"):
		return "titan-v1"
	case strings.Contains(m, "cohere.embed-v4"):
		return "cohere-v4"
	case strings.Contains(m, "cohere.embed-english-v3"), strings.Contains(m, "cohere.embed-multilingual-v3"):
		return "cohere-v3"
	}
	return ""
}

// EmbeddingVector is the stub's embedding of text: dims values in
// [-1, 1), derived from an FNV hash of the text, exactly representable
// as float32.
func EmbeddingVector(text string, dims int) []float32 { return stubcore.Vector(text, 0, dims) }

// TitanRequest and CohereRequest are the decoded embedding bodies.
type TitanRequest struct {
	InputText      string   `json:"inputText"`
	Dimensions     int      `json:"dimensions,omitempty"`
	Normalize      *bool    `json:"normalize,omitempty"`
	EmbeddingTypes []string `json:"embeddingTypes,omitempty"`
}

type CohereRequest struct {
	Texts           []string `json:"texts"`
	InputType       string   `json:"input_type"`
	Truncate        string   `json:"truncate,omitempty"`
	EmbeddingTypes  []string `json:"embedding_types,omitempty"`
	OutputDimension int      `json:"output_dimension,omitempty"`
}

// DecodedTitan and DecodedCohere decode a recorded embeddings body (nil
// when it is not one).
func (r Request) DecodedTitan() *TitanRequest {
	var t TitanRequest
	if embeddingFamily(r.ModelID) == "" || !strings.HasPrefix(embeddingFamily(r.ModelID), "titan") || json.Unmarshal(r.Body, &t) != nil {
		return nil
	}
	return &t
}

func (r Request) DecodedCohere() *CohereRequest {
	var c CohereRequest
	if !strings.HasPrefix(embeddingFamily(r.ModelID), "cohere") || json.Unmarshal(r.Body, &c) != nil {
		return nil
	}
	return &c
}

// embed answers an embedding model's InvokeModel (signature already
// checked).
func (s *Server) embed(w http.ResponseWriter, r *http.Request, req Request) {
	s.record(req)
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		writeError(w, ErrValidation("Content-Type must be application/json"))
		return
	}
	fam := embeddingFamily(req.ModelID)
	var vectors [][]float32
	var texts []string
	var answer func() any
	switch fam {
	case "titan-v1", "titan-v2":
		allowed := []string{"inputText"}
		if fam == "titan-v2" {
			allowed = append(allowed, "dimensions", "normalize", "embeddingTypes")
		}
		if aerr := checkKeys(req.Body, "#", allowed...); aerr != nil {
			writeError(w, aerr)
			return
		}
		var t TitanRequest
		if err := json.Unmarshal(req.Body, &t); err != nil {
			writeError(w, malformed("#: %v", err))
			return
		}
		dims := TitanV1Dims
		if fam == "titan-v2" {
			dims = TitanV2Dims
			switch t.Dimensions {
			case 0:
			case 256, 512, 1024:
				dims = t.Dimensions
			default:
				writeError(w, malformed("#/dimensions: %d is not a valid enum value", t.Dimensions))
				return
			}
		}
		if t.InputText == "" {
			writeError(w, malformed("#/inputText: expected minLength: 1, actual: 0"))
			return
		}
		texts = []string{t.InputText}
		v := EmbeddingVector(t.InputText, dims)
		if t.Normalize != nil && *t.Normalize {
			v = normalized(v)
		}
		vectors = [][]float32{v}
		answer = func() any {
			out := map[string]any{"embedding": v, "inputTextTokenCount": TokenCount(t.InputText)}
			if fam == "titan-v2" {
				out["embeddingsByType"] = map[string]any{"float": v}
			}
			return out
		}
	default:
		allowed := []string{"texts", "input_type", "truncate", "embedding_types"}
		if fam == "cohere-v4" {
			allowed = append(allowed, "output_dimension", "max_tokens")
		}
		if aerr := checkKeys(req.Body, "#", allowed...); aerr != nil {
			writeError(w, aerr)
			return
		}
		var c CohereRequest
		if err := json.Unmarshal(req.Body, &c); err != nil {
			writeError(w, malformed("#: %v", err))
			return
		}
		dims := CohereV3Dims
		if fam == "cohere-v4" {
			dims = CohereV4Dims
			switch c.OutputDimension {
			case 0:
			case 256, 512, 1024, 1536:
				dims = c.OutputDimension
			default:
				writeError(w, malformed("#/output_dimension: %d is not a valid enum value", c.OutputDimension))
				return
			}
		}
		switch {
		case len(c.Texts) == 0:
			writeError(w, malformed("#: required key [texts] not found"))
			return
		case len(c.Texts) > CohereMaxTexts:
			writeError(w, malformed("#/texts: expected maximum item count: %d, found: %d", CohereMaxTexts, len(c.Texts)))
			return
		}
		switch c.InputType {
		case "search_document", "search_query", "classification", "clustering":
		default:
			writeError(w, malformed("#/input_type: %s is not a valid enum value", c.InputType))
			return
		}
		switch c.Truncate {
		case "", "NONE", "START", "END":
		default:
			writeError(w, malformed("#/truncate: %s is not a valid enum value", c.Truncate))
			return
		}
		for _, et := range c.EmbeddingTypes {
			if et != "float" {
				writeError(w, ErrValidation("the stub answers only float embeddings"))
				return
			}
		}
		texts = c.Texts
		for _, t := range c.Texts {
			vectors = append(vectors, EmbeddingVector(t, dims))
		}
		answer = func() any {
			out := map[string]any{"id": "emb-bdrk-stub", "texts": c.Texts}
			if len(c.EmbeddingTypes) > 0 {
				out["response_type"] = "embeddings_by_type"
				out["embeddings"] = map[string]any{"float": vectors}
			} else {
				out["response_type"] = "embeddings_floats"
				out["embeddings"] = vectors
			}
			return out
		}
	}
	if sc, ok := s.Take(); ok {
		if sc.Delay > 0 {
			select {
			case <-time.After(sc.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if sc.Error != nil {
			writeError(w, sc.Error)
			return
		}
	}
	b, _ := json.Marshal(answer())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", itoa(TokenCount(texts...)))
	w.Header().Set("X-Amzn-Bedrock-Invocation-Latency", "7")
	_, _ = w.Write(b)
}

// normalized scales v to unit length, as Titan's normalize does.
func normalized(v []float32) []float32 {
	var sum float64
	for _, f := range v {
		sum += float64(f) * float64(f)
	}
	if sum == 0 {
		return v
	}
	n := math.Sqrt(sum)
	out := make([]float32, len(v))
	for i, f := range v {
		out[i] = float32(float64(f) / n)
	}
	return out
}

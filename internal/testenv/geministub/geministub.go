// Package geministub is a Gemini API and Vertex AI server for tests and the
// offline demo. It speaks the real wire format: request bodies are decoded
// into the official Go SDK's types (google.golang.org/genai) with unknown
// members refused, answers and stream events are the SDK's
// GenerateContentResponse marshalled, streams are streamGenerateContent?alt=sse
// events, errors are Google's {"error":{"code","message","status"}}.
//
//	POST /v1beta/models/{model}:generateContent                 API key: key query or x-goog-api-key
//	POST /v1beta/models/{model}:streamGenerateContent?alt=sse
//	POST /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:{op}   Authorization: Bearer
//	POST .../models/{model}:embedContent, :batchEmbedContents, Vertex :predict   (embeddings.go)
//
// The answer comes from a Scenario queued with Next, else from the model
// name (see ScenarioFor): stub.text, stub.tools, stub.reasoning,
// stub.length, stub.safety, stub.blocked, stub.error-401, stub.error-429,
// stub.error-500, stub.error-midstream, stub.cut; any other model gets a
// text answer. A model whose name starts with gemini-3 checks thought
// signatures as Gemini 3 does.
package geministub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"google.golang.org/genai"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stubcore"
)

// Options configure a Server.
type Options struct {
	// APIKey is the Gemini API key (query key or header x-goog-api-key).
	APIKey string
	// Bearer is the access token Vertex AI paths must carry.
	Bearer string
	// Lockstep writes each stream event after the first only once the
	// test called Step.
	Lockstep bool
}

// Request is what the server received.
type Request struct {
	Path   string
	Query  string
	Header http.Header
	Body   []byte
	Model  string
	Stream bool
	Vertex bool
	// Decoded is the body as the SDK's types (nil when it did not decode).
	Decoded *GenerateContentRequest
}

// GenerateContentRequest is the REST body of generateContent, in the SDK's
// types.
type GenerateContentRequest struct {
	Contents          []*genai.Content        `json:"contents"`
	SystemInstruction *genai.Content          `json:"systemInstruction,omitempty"`
	Tools             []*genai.Tool           `json:"tools,omitempty"`
	ToolConfig        *genai.ToolConfig       `json:"toolConfig,omitempty"`
	GenerationConfig  *genai.GenerationConfig `json:"generationConfig,omitempty"`
	SafetySettings    []*genai.SafetySetting  `json:"safetySettings,omitempty"`
	CachedContent     string                  `json:"cachedContent,omitempty"`
	Labels            map[string]string       `json:"labels,omitempty"`
}

// Server is the test server; it is an http.Handler. Next queues
// scenarios for the next requests.
type Server struct {
	opts Options
	stubcore.Log[Request]
	stubcore.Queue[Scenario]
	stubcore.Lockstep
	mu     sync.Mutex
	issued map[string]bool // thought signatures handed out
}

// New returns a server.
func New(opts Options) *Server {
	return &Server{opts: opts, issued: map[string]bool{}}
}

// Listen serves on a free local port; it returns the base URL and a stop
// function.
func (s *Server) Listen() (string, func(), error) { return stubcore.Listen(s) }

// ListenT is Listen for a test: it fails t if it cannot listen, and stops
// the server when t ends.
func (s *Server) ListenT(t testing.TB) (base string) { return stubcore.ListenT(t, s) }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if model, op, vertex, ok := embedRoute(r.URL.Path); ok {
		s.embed(w, r, model, op, vertex) // embeddings.go
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 20<<20))
	req := Request{Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
	model, op, vertex, ok := route(r.URL.Path)
	req.Model, req.Vertex, req.Stream = model, vertex, op == "streamGenerateContent"
	if ok {
		if d, err := decode(body); err == nil {
			req.Decoded = d
		}
	}
	s.Add(req)
	switch {
	case r.Method != http.MethodPost || !ok:
		writeError(w, &APIError{Code: 404, Status: "NOT_FOUND", Message: "no such method: " + r.URL.Path})
		return
	case !s.authorized(w, r, vertex):
		return
	case req.Stream && r.URL.Query().Get("alt") != "sse":
		writeError(w, &APIError{Code: 400, Status: "INVALID_ARGUMENT", Message: "this server streams only with alt=sse"})
		return
	}
	if req.Decoded == nil {
		_, err := decode(body)
		writeError(w, &APIError{Code: 400, Status: "INVALID_ARGUMENT", Message: "Invalid JSON payload received. " + err.Error()})
		return
	}
	if e := s.validate(model, req.Decoded); e != nil {
		writeError(w, e)
		return
	}
	sc := s.scenario(model)
	if sc.Error != nil {
		writeError(w, sc.Error)
		return
	}
	s.remember(sc)
	if !req.Stream {
		writeJSON(w, 200, merge(sc.Events))
		return
	}
	s.stream(w, r, sc)
}

// splitPath splits a Gemini API or Vertex AI path into the model and the
// operation after its colon.
func splitPath(path string) (model, op string, vertex, ok bool) {
	var rest string
	if m, found := strings.CutPrefix(path, "/v1beta/models/"); found {
		rest = m
	} else if strings.HasPrefix(path, "/v1/projects/") {
		i := strings.Index(path, "/publishers/google/models/")
		if i < 0 {
			return "", "", false, false
		}
		rest, vertex = path[i+len("/publishers/google/models/"):], true
	} else {
		return "", "", false, false
	}
	model, op, found := strings.Cut(rest, ":")
	if !found || model == "" {
		return "", "", false, false
	}
	return model, op, vertex, true
}

// route recognises a generateContent or streamGenerateContent path.
func route(path string) (model, op string, vertex, ok bool) {
	model, op, vertex, ok = splitPath(path)
	if !ok || (op != "generateContent" && op != "streamGenerateContent") {
		return "", "", false, false
	}
	return model, op, vertex, true
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request, vertex bool) bool {
	if vertex {
		if s.opts.Bearer != "" && r.Header.Get("Authorization") != "Bearer "+s.opts.Bearer {
			writeError(w, &APIError{Code: 401, Status: "UNAUTHENTICATED", Message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."})
			return false
		}
		return true
	}
	if s.opts.APIKey == "" {
		return true
	}
	key := r.URL.Query().Get("key")
	if key == "" {
		key = r.Header.Get("x-goog-api-key")
	}
	switch {
	case key == "":
		writeError(w, &APIError{Code: 403, Status: "PERMISSION_DENIED", Message: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."})
		return false
	case key != s.opts.APIKey:
		writeError(w, &APIError{Code: 400, Status: "INVALID_ARGUMENT", Message: "API key not valid. Please pass a valid API key."})
		return false
	}
	return true
}

// decode reads a body into the SDK's types, refusing unknown members.
// thoughtSignature is bytes, which Google's JSON reads as standard or
// URL-safe base64; the SDK's []byte reads only the standard alphabet, so
// URL-safe values are converted first.
func decode(body []byte) (*GenerateContentRequest, error) {
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, err
	}
	if cs, ok := raw["contents"].([]any); ok {
		for _, c := range cs {
			cm, _ := c.(map[string]any)
			ps, _ := cm["parts"].([]any)
			for _, p := range ps {
				if pm, ok := p.(map[string]any); ok {
					if sig, ok := pm["thoughtSignature"].(string); ok {
						pm["thoughtSignature"] = strings.NewReplacer("-", "+", "_", "/").Replace(sig)
					}
				}
			}
		}
	}
	b, _ := json.Marshal(raw)
	var d GenerateContentRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%v", err)
	}
	return &d, nil
}

func (s *Server) scenario(model string) Scenario {
	if sc, ok := s.Take(); ok {
		return sc
	}
	return ScenarioFor(model)
}

// remember records the thought signatures a scenario hands out.
func (s *Server) remember(sc Scenario) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range sc.Events {
		for _, c := range ev.Candidates {
			if c.Content == nil {
				continue
			}
			for _, p := range c.Content.Parts {
				if len(p.ThoughtSignature) > 0 {
					s.issued[string(p.ThoughtSignature)] = true
				}
			}
		}
	}
}

// stream writes the events as SSE, lockstep if asked.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, sc Scenario) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	fl, _ := w.(http.Flusher)
	lock := s.opts.Lockstep || sc.Lockstep
	write := func(i int, v any) bool {
		// No bound on the wait: a test that forgets a Step hangs until
		// the client gives up.
		if i > 0 && lock && !s.Await(r.Context(), 0) {
			return false
		}
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "data: %s\r\n\r\n", b); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return true
	}
	n := 0
	for _, ev := range sc.Events {
		if !write(n, ev) {
			return
		}
		n++
	}
	if sc.StreamError != nil {
		write(n, map[string]any{"error": sc.StreamError})
	}
}

// merge folds stream events into one answer, as generateContent returns.
func merge(evs []*genai.GenerateContentResponse) *genai.GenerateContentResponse {
	out := &genai.GenerateContentResponse{}
	cand := &genai.Candidate{Content: &genai.Content{Role: "model"}}
	for _, ev := range evs {
		if ev.PromptFeedback != nil {
			out.PromptFeedback = ev.PromptFeedback
		}
		if ev.UsageMetadata != nil {
			out.UsageMetadata = ev.UsageMetadata
		}
		out.ModelVersion, out.ResponseID = ev.ModelVersion, ev.ResponseID
		for _, c := range ev.Candidates {
			if c.Content != nil {
				cand.Content.Parts = append(cand.Content.Parts, c.Content.Parts...)
			}
			if c.FinishReason != "" {
				cand.FinishReason = c.FinishReason
			}
		}
	}
	if len(cand.Content.Parts) > 0 || cand.FinishReason != "" {
		out.Candidates = []*genai.Candidate{cand}
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// APIError is Google's error object.
type APIError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []any  `json:"details,omitempty"`
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string `json:"-"`
}

func writeError(w http.ResponseWriter, e *APIError) {
	if e.RetryAfter != "" {
		w.Header().Set("Retry-After", e.RetryAfter)
	}
	writeJSON(w, e.Code, map[string]any{"error": e})
}

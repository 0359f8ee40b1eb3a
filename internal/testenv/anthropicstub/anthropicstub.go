// Package anthropicstub is an Anthropic Messages API server for tests and
// the offline demo. It speaks the real wire format: POST /v1/messages with
// the key in x-api-key and an anthropic-version header, answers and
// server-sent events encoded from the official Go SDK's types, errors in
// Anthropic's {"type":"error","error":{...}} shape. Request bodies are
// checked where Anthropic refuses what a translator might get wrong (see
// validate.go), so that a wrong translation fails the test.
//
// The answer comes from, in order: a Scenario queued with Next, else the
// model name (ScenarioFor), so that a binary started out of process can
// steer it. In lockstep, event i+1 of a stream is written only after the
// test called Step: streaming is proven by order, not by timing.
package anthropicstub

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stubcore"
)

// DefaultKey is the API key the server accepts unless told otherwise.
const DefaultKey = "sk-ant-stub-key"

// Request is what the server received.
type Request struct {
	Path    string
	Query   string
	Header  http.Header
	Body    []byte
	Decoded map[string]any
}

// Server is the test server; it is an http.Handler. Next queues
// scenarios for the next requests, before the model name's.
type Server struct {
	// Key is the x-api-key the server accepts (DefaultKey if empty).
	Key string

	stubcore.Log[Request]
	stubcore.Queue[Scenario]
	stubcore.Lockstep
	ids atomic.Int64
}

// New returns a server accepting key (DefaultKey if empty).
func New(key string) *Server {
	if key == "" {
		key = DefaultKey
	}
	return &Server{Key: key}
}

// lockstepWait bounds a lockstep stream's wait, so that a test that
// forgot a Step fails instead of hanging.
const lockstepWait = 20 * time.Second

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	req := Request{Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
	_ = json.Unmarshal(body, &req.Decoded)
	s.Add(req)
	var sc *Scenario
	if next, ok := s.Take(); ok {
		sc = &next
	}

	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/v1/messages":
		writeError(w, &APIError{Status: 404, Type: "not_found_error", Message: "Not found: " + r.Method + " " + r.URL.Path})
		return
	case r.Header.Get("x-api-key") != s.Key && r.Header.Get("Authorization") != "Bearer "+s.Key:
		writeError(w, &APIError{Status: 401, Type: "authentication_error", Message: "invalid x-api-key"})
		return
	case r.Header.Get("anthropic-version") == "":
		writeError(w, &APIError{Status: 400, Type: "invalid_request_error", Message: "anthropic-version: header is required"})
		return
	}
	if sc == nil || sc.Raw == nil {
		if msg := validate(req.Decoded); msg != "" {
			writeError(w, &APIError{Status: 400, Type: "invalid_request_error", Message: msg})
			return
		}
	}
	model, _ := req.Decoded["model"].(string)
	if sc == nil {
		v := ScenarioFor(model)
		sc = &v
	}
	stream, _ := req.Decoded["stream"].(bool)
	s.answer(w, r, *sc, model, stream)
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, sc Scenario, model string, stream bool) {
	if sc.Raw != nil {
		w.Header().Set("Content-Type", sc.Raw.ContentType)
		w.WriteHeader(sc.Raw.Status)
		_, _ = io.WriteString(w, sc.Raw.Body)
		return
	}
	if sc.Error != nil {
		writeError(w, sc.Error)
		return
	}
	id := "msg_stub" + strconv.FormatInt(s.ids.Add(1), 10)
	w.Header().Set("request-id", "req_stub")
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(message(id, model, sc))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	for i, ev := range streamEvents(id, model, sc) {
		if i > 0 && sc.Lockstep && !s.Await(r.Context(), lockstepWait) {
			return
		}
		if _, err := w.Write(ev); err != nil {
			return
		}
		if f != nil {
			f.Flush()
		}
	}
	if sc.Cut {
		// Half an event, then the connection goes.
		_, _ = io.WriteString(w, "event: message_delta\ndata: {\"type\":\"message_del")
		if f != nil {
			f.Flush()
		}
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
		}
	}
}

func writeError(w http.ResponseWriter, e *APIError) {
	if e.RetryAfter != "" {
		w.Header().Set("Retry-After", e.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	status := e.Status
	if status == 0 {
		status = 500
	}
	w.WriteHeader(status)
	b, _ := json.Marshal(errorBody(e))
	_, _ = w.Write(b)
}

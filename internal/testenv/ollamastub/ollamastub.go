// Package ollamastub is an Ollama server for tests: POST /api/chat in
// Ollama's native format, a JSON answer or an NDJSON stream (one JSON
// object per line, the last with done: true and the counts), as Ollama
// writes them.
//
// The model name steers it, so that a binary out of process can too: its
// "+"-separated words pick a scenario:
//
//	text       (default) an answer in five pieces
//	tools      text, then two tool calls in one line (Ollama sends a
//	           call whole, arguments as an object)
//	error-401, error-429 (with Retry-After: 7), error-500
//	           an error before the first byte, {"error": "..."}
//	fail-mid   an {"error": ...} line after the first piece
//	cut        the connection closed after the first piece
//	length     done_reason "length"
//	lockstep   line i+1 is written only after the test called Step
package ollamastub

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stubcore"
)

// Request is what the stub received.
type Request struct {
	Path   string
	Header http.Header
	Body   []byte
}

// Server is the stub. Key, when set, is the bearer token it requires.
type Server struct {
	Key string

	stubcore.Log[Request]
	stubcore.Lockstep
}

// New returns a stub that requires key (none when empty).
func New(key string) *Server { return &Server{Key: key} }

// lockstepWait bounds a lockstep stream's wait for a Step.
const lockstepWait = 10 * time.Second

// Answer words, as the text scenario sends them.
var Pieces = []string{"Hello", " from", " the", " Ollama", " stub."}

// Usage the stub reports: prompt_eval_count and eval_count.
const (
	PromptTokens = 17
	OutputTokens = 23
)

type chatRequest struct {
	Model    string            `json:"model"`
	Messages []json.RawMessage `json:"messages"`
	Stream   *bool             `json:"stream"`
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	s.Add(Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	if r.Method != http.MethodPost || r.URL.Path != "/api/chat" {
		writeError(w, http.StatusNotFound, "404 page not found")
		return
	}
	if s.Key != "" && r.Header.Get("Authorization") != "Bearer "+s.Key {
		writeError(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) == 0 {
		writeError(w, http.StatusBadRequest, "invalid request")
		return
	}
	sc := stubcore.Words(req.Model)
	switch {
	case sc["error-401"]:
		writeError(w, http.StatusUnauthorized, "unauthorized")
		return
	case sc["error-429"]:
		w.Header().Set("Retry-After", "7")
		writeError(w, http.StatusTooManyRequests, "too many requests")
		return
	case sc["error-500"]:
		writeError(w, http.StatusInternalServerError, "model runner crashed")
		return
	}
	lines := s.lines(req.Model, sc)
	if req.Stream != nil && !*req.Stream {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(whole(lines))
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	for i, l := range lines {
		if i > 0 && sc["lockstep"] && !s.Await(r.Context(), lockstepWait) {
			return
		}
		if i == 1 && sc["cut"] {
			panic(http.ErrAbortHandler)
		}
		if i == 1 && sc["fail-mid"] {
			_, _ = w.Write([]byte(`{"error":"an error occurred with model runner"}` + "\n"))
			return
		}
		b, _ := json.Marshal(l)
		_, _ = w.Write(append(b, '\n'))
		if fl != nil {
			fl.Flush()
		}
	}
}

// line is one line of Ollama's stream.
type line struct {
	Model           string  `json:"model"`
	CreatedAt       string  `json:"created_at"`
	Message         message `json:"message"`
	Done            bool    `json:"done"`
	DoneReason      string  `json:"done_reason,omitempty"`
	TotalDuration   int64   `json:"total_duration,omitempty"`
	PromptEvalCount int     `json:"prompt_eval_count,omitempty"`
	EvalCount       int     `json:"eval_count,omitempty"`
}

type message struct {
	Role      string     `json:"role"`
	Content   string     `json:"content"`
	ToolCalls []toolCall `json:"tool_calls,omitempty"`
}

type toolCall struct {
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

// ToolCalls are the calls the tools scenario makes: name and arguments.
var ToolCalls = [][2]string{
	{"get_weather", `{"city":"Paris","unit":"celsius"}`},
	{"get_time", `{"timezone":"Europe/Paris"}`},
}

func (s *Server) lines(model string, sc map[string]bool) []line {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	var out []line
	if sc["tools"] {
		out = append(out, line{Model: model, CreatedAt: now, Message: message{Role: "assistant", Content: "Let me check."}})
		var calls []toolCall
		for _, c := range ToolCalls {
			var tc toolCall
			tc.Function.Name, tc.Function.Arguments = c[0], json.RawMessage(c[1])
			calls = append(calls, tc)
		}
		out = append(out, line{Model: model, CreatedAt: now, Message: message{Role: "assistant", ToolCalls: calls}})
	} else {
		for _, p := range Pieces {
			out = append(out, line{Model: model, CreatedAt: now, Message: message{Role: "assistant", Content: p}})
		}
	}
	reason := "stop"
	if sc["length"] {
		reason = "length"
	}
	return append(out, line{Model: model, CreatedAt: now, Message: message{Role: "assistant"}, Done: true,
		DoneReason: reason, TotalDuration: 1234567, PromptEvalCount: PromptTokens, EvalCount: OutputTokens})
}

// whole folds a stream's lines into the non-streamed answer.
func whole(lines []line) []byte {
	last := lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		last.Message.Content += l.Message.Content
		last.Message.ToolCalls = append(last.Message.ToolCalls, l.Message.ToolCalls...)
	}
	b, _ := json.Marshal(last)
	return b
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"error": msg})
	_, _ = w.Write(b)
}

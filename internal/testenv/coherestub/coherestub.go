// Package coherestub is a Cohere server for tests: POST /v2/chat in
// Cohere's v2 format, a JSON answer or a server-sent event stream of v2
// events (message-start, content-start, content-delta, tool-plan-delta,
// tool-call-start, tool-call-delta, tool-call-end, content-end,
// message-end), each written as "event: <type>" and "data: <json>". It
// requires the key as Cohere does: Authorization: Bearer <key>.
//
// The model name steers it; its "+"-separated words pick a scenario:
//
//	text       (default) an answer in five pieces
//	tools      a tool plan in two pieces, then two tool calls whose
//	           arguments come in several pieces, finish TOOL_CALL
//	error-401, error-429 (with Retry-After: 7), error-500
//	           an error before the first byte, {"id":..., "message":...}
//	fail-mid   message-end with finish_reason ERROR after the first piece
//	cut        the connection closed after the first event
//	length     finish_reason MAX_TOKENS
//	lockstep   each event that makes a client chunk is written only
//	           after the test called Step (for the chunk before it)
package coherestub

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stubcore"
)

// Request is what the stub received.
type Request struct {
	Path   string
	Header http.Header
	Body   []byte
}

// Server is the stub.
type Server struct {
	Key string

	stubcore.Log[Request]
	stubcore.Lockstep
}

// New returns a stub that requires key.
func New(key string) *Server { return &Server{Key: key} }

// lockstepWait bounds a lockstep stream's wait for a Step.
const lockstepWait = 10 * time.Second

// Pieces are the text scenario's answer.
var Pieces = []string{"Hello", " from", " the", " Cohere", " stub."}

// Plan is the tools scenario's tool plan, in pieces.
var Plan = []string{"I will look up", " the weather and the time."}

// ToolCalls are the tools scenario's calls: id, name, and arguments in
// the pieces they are streamed in.
var ToolCalls = []struct {
	ID, Name string
	Args     []string
}{
	{"get_weather_ab12", "get_weather", []string{`{"city":`, `"Paris",`, `"unit":"celsius"}`}},
	{"get_time_cd34", "get_time", []string{`{"timezone"`, `:"Europe/Paris"}`}},
}

// Usage the stub reports, billed and total.
const (
	BilledInput  = 11
	BilledOutput = 29
	TokensInput  = 211
	TokensOutput = 29
)

type chatRequest struct {
	Model    string            `json:"model"`
	Messages []json.RawMessage `json:"messages"`
	Stream   bool              `json:"stream"`
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	s.Add(Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	if r.Method != http.MethodPost || r.URL.Path != "/v2/chat" {
		writeError(w, http.StatusNotFound, "no such endpoint")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.Key {
		writeError(w, http.StatusUnauthorized, "invalid api token")
		return
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Model == "" || len(req.Messages) == 0 {
		writeError(w, http.StatusBadRequest, "invalid request: model and messages are required")
		return
	}
	sc := stubcore.Words(req.Model)
	switch {
	case sc["error-401"]:
		writeError(w, http.StatusUnauthorized, "invalid api token")
		return
	case sc["error-429"]:
		w.Header().Set("Retry-After", "7")
		writeError(w, http.StatusTooManyRequests, "You are using a Trial key, which is limited to 10 API calls / minute.")
		return
	case sc["error-500"]:
		writeError(w, http.StatusInternalServerError, "internal server error, this has been reported to our developers")
		return
	}
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer(sc))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	for i, ev := range events(sc) {
		if i > 0 && sc["lockstep"] && chunky[ev["type"].(string)] && !s.Await(r.Context(), lockstepWait) {
			return
		}
		if i == 1 && sc["cut"] {
			panic(http.ErrAbortHandler)
		}
		b, _ := json.Marshal(ev)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev["type"], b)
		if fl != nil {
			fl.Flush()
		}
	}
}

// chunky are the events an OpenAI client sees a chunk for: in lockstep
// the stub waits for a Step before each (content-start, content-end and
// tool-call-end make none, so the client would have nothing to step on).
var chunky = map[string]bool{"content-delta": true, "tool-plan-delta": true, "tool-call-start": true, "tool-call-delta": true, "message-end": true}

type obj = map[string]any

func usage() obj {
	return obj{"billed_units": obj{"input_tokens": BilledInput, "output_tokens": BilledOutput},
		"tokens": obj{"input_tokens": TokensInput, "output_tokens": TokensOutput}}
}

// events is the v2 stream of a scenario.
func events(sc map[string]bool) []obj {
	out := []obj{{"type": "message-start", "id": "c14c80c3-18eb-4519-9460-6c92edd8cfb4",
		"delta": obj{"message": obj{"role": "assistant", "content": []any{}, "tool_plan": "", "tool_calls": []any{}, "citations": []any{}}}}}
	reason := "COMPLETE"
	if sc["tools"] {
		for _, p := range Plan {
			out = append(out, obj{"type": "tool-plan-delta", "delta": obj{"message": obj{"tool_plan": p}}})
		}
		for i, c := range ToolCalls {
			out = append(out, obj{"type": "tool-call-start", "index": i, "delta": obj{"message": obj{"tool_calls": obj{
				"id": c.ID, "type": "function", "function": obj{"name": c.Name, "arguments": ""}}}}})
			for _, a := range c.Args {
				out = append(out, obj{"type": "tool-call-delta", "index": i, "delta": obj{"message": obj{"tool_calls": obj{"function": obj{"arguments": a}}}}})
			}
			out = append(out, obj{"type": "tool-call-end", "index": i})
		}
		reason = "TOOL_CALL"
	} else {
		out = append(out, obj{"type": "content-start", "index": 0, "delta": obj{"message": obj{"content": obj{"type": "text", "text": ""}}}})
		for i, p := range Pieces {
			if i == 1 && sc["fail-mid"] {
				return append(out, obj{"type": "message-end", "delta": obj{"finish_reason": "ERROR", "error": "the model failed to generate"}})
			}
			out = append(out, obj{"type": "content-delta", "index": 0, "delta": obj{"message": obj{"content": obj{"text": p}}}})
		}
		out = append(out, obj{"type": "content-end", "index": 0})
	}
	if sc["length"] {
		reason = "MAX_TOKENS"
	}
	return append(out, obj{"type": "message-end", "delta": obj{"finish_reason": reason, "usage": usage()}})
}

// answer is the non-streamed v2 answer of a scenario.
func answer(sc map[string]bool) []byte {
	msg := obj{"role": "assistant"}
	reason := "COMPLETE"
	if sc["tools"] {
		msg["tool_plan"] = strings.Join(Plan, "")
		var calls []obj
		for _, c := range ToolCalls {
			calls = append(calls, obj{"id": c.ID, "type": "function", "function": obj{"name": c.Name, "arguments": strings.Join(c.Args, "")}})
		}
		msg["tool_calls"] = calls
		reason = "TOOL_CALL"
	} else {
		msg["content"] = []obj{{"type": "text", "text": strings.Join(Pieces, "")}}
	}
	if sc["length"] {
		reason = "MAX_TOKENS"
	}
	b, _ := json.Marshal(obj{"id": "5a50480a-cf52-46f0-af01-53d18539bd31", "finish_reason": reason, "message": msg, "usage": usage()})
	return b
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(obj{"id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "message": msg})
	_, _ = w.Write(b)
}

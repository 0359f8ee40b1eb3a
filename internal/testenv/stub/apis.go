package stub

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stubcore"
)

// OpenAI's Responses API (POST /v1/responses) and embeddings (POST
// /v1/embeddings), as OpenAI answers them, steered by the same headers as
// chat (X-Stub-Status, X-Stub-Chunks, X-Stub-Lockstep, X-Stub-Fail-After).
//
// A Responses request with tools whose input does not end with a
// function_call_output is answered with a call of the first tool
// (arguments StubToolArgs, sent in three pieces when streamed); any other
// with the text Word(0)..Word(n-1), cut to max_output_tokens words (status
// incomplete) when that is smaller. Usage: PromptTokens in, one token per
// word (or 7 for a call) out.
//
// Embeddings answer EmbeddingVector(i, dims) for input i (dims from
// "dimensions", default 4), as floats or, for encoding_format base64, as
// OpenAI sends them: little-endian float32, base64. Usage: one prompt token
// per word of the inputs.

// StubToolArgs are the arguments of the stub's function call.
const StubToolArgs = `{"city":"Paris"}`

// EmbeddingVector is the stub's vector for input i.
func EmbeddingVector(i, dims int) []float32 {
	v := make([]float32, dims)
	for j := range v {
		v[j] = float32(i) + float32(j)/8 - 0.5
	}
	return v
}

// serveAPIs answers the Responses and embeddings paths; false for others.
func (s *Server) serveAPIs(w http.ResponseWriter, r *http.Request, body []byte) bool {
	isResponses := strings.HasSuffix(r.URL.Path, "/responses")
	isEmbeddings := strings.HasSuffix(r.URL.Path, "/embeddings")
	if r.Method != http.MethodPost || (!isResponses && !isEmbeddings) {
		return false
	}
	if st, _ := strconv.Atoi(r.Header.Get("X-Stub-Status")); st >= 400 {
		if st == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
		}
		writeError(w, st, "stub error "+strconv.Itoa(st))
		return true
	}
	if isEmbeddings {
		s.embeddings(w, body)
		return true
	}
	var req struct {
		Model           string            `json:"model"`
		Stream          bool              `json:"stream"`
		MaxOutputTokens *int              `json:"max_output_tokens"`
		Tools           []json.RawMessage `json:"tools"`
		Input           json.RawMessage   `json:"input"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Input) == 0 {
		writeError(w, http.StatusBadRequest, "stub: invalid Responses request")
		return true
	}
	a := responsesAnswer{model: req.Model, n: headerInt(r, "X-Stub-Chunks", 5), id: "resp_stub" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	if len(req.Tools) > 0 && !endsWithOutput(req.Input) {
		var t struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(req.Tools[0], &t)
		a.call = t.Name
	} else if req.MaxOutputTokens != nil && *req.MaxOutputTokens < a.n {
		a.n, a.incomplete = *req.MaxOutputTokens, true
	}
	if req.Stream {
		s.responsesStream(w, r, a)
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(a.response("final"))
	return true
}

func endsWithOutput(input json.RawMessage) bool {
	var items []struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(input, &items) != nil || len(items) == 0 {
		return false
	}
	return items[len(items)-1].Type == "function_call_output"
}

type responsesAnswer struct {
	model, id, call string
	n               int
	incomplete      bool
}

func (a responsesAnswer) text() string { return stubcore.Text(a.n) }

func (a responsesAnswer) item(final bool) map[string]any {
	status := "in_progress"
	if final {
		status = "completed"
		if a.incomplete {
			status = "incomplete"
		}
	}
	if a.call != "" {
		args := ""
		if final {
			args = StubToolArgs
		}
		return map[string]any{"type": "function_call", "id": "fc_stub", "call_id": "call_stub", "name": a.call, "arguments": args, "status": status}
	}
	content := []any{}
	if final {
		content = append(content, map[string]any{"type": "output_text", "text": a.text(), "annotations": []any{}})
	}
	return map[string]any{"type": "message", "id": "msg_stub", "status": status, "role": "assistant", "content": content}
}

// response is the Response object: phase "created" (in progress, no
// output) or "final".
func (a responsesAnswer) response(phase string) []byte {
	doc := map[string]any{
		"id": a.id, "object": "response", "created_at": time.Now().Unix(), "model": a.model, "status": "in_progress",
		"output": []any{}, "usage": nil, "error": nil, "incomplete_details": nil, "parallel_tool_calls": true,
		"tool_choice": "auto", "tools": []any{}, "store": false, "text": map[string]any{"format": map[string]string{"type": "text"}},
	}
	if phase == "final" {
		out := a.n
		if a.call != "" {
			out = 7
		}
		doc["status"] = "completed"
		if a.incomplete {
			doc["status"] = "incomplete"
			doc["incomplete_details"] = map[string]string{"reason": "max_output_tokens"}
		}
		doc["output"] = []any{a.item(true)}
		doc["usage"] = map[string]any{"input_tokens": PromptTokens, "input_tokens_details": map[string]int{"cached_tokens": 0},
			"output_tokens": out, "output_tokens_details": map[string]int{"reasoning_tokens": 0}, "total_tokens": PromptTokens + out}
	}
	b, _ := json.Marshal(doc)
	return b
}

// responsesStream writes the events as OpenAI does, each delta in lockstep
// when asked.
func (s *Server) responsesStream(w http.ResponseWriter, r *http.Request, a responsesAnswer) {
	lockstep := r.Header.Get("X-Stub-Lockstep") == "1"
	failAfter := headerInt(r, "X-Stub-Fail-After", -1)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	seq := 0
	send := func(typ string, fields string) bool {
		_, err := fmt.Fprintf(w, "event: %s\ndata: {\"type\":%q,%s,\"sequence_number\":%d}\n\n", typ, typ, fields, seq)
		seq++
		_ = rc.Flush()
		return err == nil
	}
	created := string(a.response("created"))
	send("response.created", `"response":`+created)
	send("response.in_progress", `"response":`+created)
	item, _ := json.Marshal(a.item(false))
	send("response.output_item.added", `"output_index":0,"item":`+string(item))
	var pieces []string
	deltaType, idFields := "response.output_text.delta", `"item_id":"msg_stub","output_index":0,"content_index":0`
	if a.call != "" {
		pieces = []string{StubToolArgs[:4], StubToolArgs[4:10], StubToolArgs[10:]}
		deltaType, idFields = "response.function_call_arguments.delta", `"item_id":"fc_stub","output_index":0`
	} else {
		send("response.content_part.added", `"item_id":"msg_stub","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}`)
		for i := 0; i < a.n; i++ {
			pieces = append(pieces, Word(i))
		}
	}
	for i, p := range pieces {
		if i > 0 && lockstep && !s.Await(r.Context(), lockstepWait) {
			return
		}
		if i == failAfter {
			panic(http.ErrAbortHandler)
		}
		if !send(deltaType, idFields+`,"delta":`+strconv.Quote(p)) {
			return
		}
	}
	if a.call != "" {
		send("response.function_call_arguments.done", idFields+`,"arguments":`+strconv.Quote(StubToolArgs))
	} else {
		send("response.output_text.done", idFields+`,"text":`+strconv.Quote(a.text()))
		send("response.content_part.done", `"item_id":"msg_stub","output_index":0,"content_index":0,"part":{"type":"output_text","text":`+strconv.Quote(a.text())+`,"annotations":[]}`)
	}
	item, _ = json.Marshal(a.item(true))
	send("response.output_item.done", `"output_index":0,"item":`+string(item))
	final := "response.completed"
	if a.incomplete {
		final = "response.incomplete"
	}
	send(final, `"response":`+string(a.response("final")))
}

func (s *Server) embeddings(w http.ResponseWriter, body []byte) {
	var req struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		EncodingFormat string          `json:"encoding_format"`
		Dimensions     int             `json:"dimensions"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "stub: invalid embeddings request")
		return
	}
	var inputs []string
	var one string
	if json.Unmarshal(req.Input, &one) == nil {
		inputs = []string{one}
	} else if json.Unmarshal(req.Input, &inputs) != nil || len(inputs) == 0 {
		writeError(w, http.StatusBadRequest, "stub: input must be a string or a list of strings")
		return
	}
	dims := req.Dimensions
	if dims <= 0 {
		dims = 4
	}
	tokens := 0
	data := make([]any, len(inputs))
	for i, in := range inputs {
		tokens += len(strings.Fields(in))
		v := EmbeddingVector(i, dims)
		var emb any = v
		if req.EncodingFormat == "base64" {
			raw := make([]byte, 0, 4*dims)
			for _, f := range v {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(f))
			}
			emb = base64.StdEncoding.EncodeToString(raw)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": emb}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens}})
}

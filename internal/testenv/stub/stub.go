// Package stub is an OpenAI-compatible upstream for tests, the offline demo
// and benchmarks. It answers /v1/chat/completions and /v1/completions, as
// JSON or as a server-sent event stream written with real delays, and it
// records what it received so tests can check what the proxy sent.
//
// Each request can steer it with headers, which the proxy forwards:
//
//	X-Stub-Chunks: 10        content chunks in a stream (default 5)
//	X-Stub-Interval: 20ms    delay between chunks (default 0)
//	X-Stub-Lockstep: 1       write chunk i+1 only after the test called Step
//	                         (i.e. after its client saw chunk i): streaming
//	                         proven by order, not by timing
//	X-Stub-Fail-After: 3     cut the connection after that many chunks; on a
//	                         non-streamed answer (any value), after half of it
//	X-Stub-Status: 429       answer with this error status, OpenAI-shaped
//	X-Stub-Delay: 2s         wait before the response headers
//	X-Stub-Chunk-Bytes: 1000 pad each chunk's content to about this size
//	X-Stub-Answer: html      answer 200 with Kong's fixture HTML page; or
//	                         no-choices (Kong's bad_upstream_response.json),
//	                         no-usage (an answer without usage, a stream
//	                         without usage chunk even when asked), echo-auth (a 401 whose body echoes
//	                         the request's Authorization header and query,
//	                         as some servers' debug errors do), echo-auth-sse
//	                         (the same 401 as an event stream)
//	X-Stub-Gzip: 1           gzip a non-streamed answer when the request
//	                         accepts gzip, as OpenAI does (opt-in, so that
//	                         benchmarks keep measuring the proxy alone)
package stub

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stubcore"
)

// Request is what the stub received.
type Request struct {
	Method string
	Path   string
	Query  string
	// Host is the Host header as received (net/http moves it out of
	// Header, so a test reading Header["Host"] always sees nothing).
	Host   string
	Header http.Header
	Body   []byte
}

// Server is the stub upstream handler.
type Server struct {
	stubcore.Log[Request]
	// Record keeps every request for Requests(); benchmarks turn it off.
	Record bool
	// Lockstep releases lockstep chunks; its Stalled counts lockstep
	// streams that waited lockstepWait for a Step that never came (the
	// chunk before it never reached the client: something buffered), its
	// Cancelled the streams that stopped because the caller went away,
	// i.e. the proxy hung up on the stub.
	stubcore.Lockstep
	faults map[string]string // SetFault (fault.go)
}

// lockstepWait bounds how long a lockstep stream waits for the next Step.
const lockstepWait = 10 * time.Second

// New returns a recording stub.
func New() *Server { return &Server{Record: true} }

type chatRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	noUsage bool // X-Stub-Answer: no-usage
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if s.Record {
		s.Add(Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Host: r.Host, Header: r.Header.Clone(), Body: body})
	}
	if s.fault(w, r, body) { // on every API's path
		return
	}
	if s.serveAPIs(w, r, body) {
		return
	}
	if r.Method != http.MethodPost || (!strings.HasSuffix(r.URL.Path, "/chat/completions") && !strings.HasSuffix(r.URL.Path, "/completions")) {
		writeError(w, http.StatusNotFound, "unknown path "+r.URL.Path)
		return
	}
	if d, err := time.ParseDuration(r.Header.Get("X-Stub-Delay")); err == nil {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if s.canned(w, r) {
		return
	}
	if st, _ := strconv.Atoi(r.Header.Get("X-Stub-Status")); st >= 400 {
		if st == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
			w.Header().Set("X-Ratelimit-Remaining-Requests", "0")
		}
		writeError(w, st, "stub error "+strconv.Itoa(st))
		return
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "stub: invalid JSON")
		return
	}
	chat := strings.HasSuffix(r.URL.Path, "/chat/completions")
	req.noUsage = r.Header.Get("X-Stub-Answer") == "no-usage"
	if req.Stream {
		s.stream(w, r, req, chat)
		return
	}
	if headerInt(r, "X-Stub-Fail-After", -1) >= 0 {
		s.cutAnswer(w, req, chat, headerInt(r, "X-Stub-Chunks", 5), headerInt(r, "X-Stub-Chunk-Bytes", 0))
		return
	}
	if r.Header.Get("X-Stub-Gzip") == "1" && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		defer zw.Close()
		w = gzipWriter{w, zw}
	}
	s.answer(w, req, chat, headerInt(r, "X-Stub-Chunks", 5), headerInt(r, "X-Stub-Chunk-Bytes", 0))
}

type gzipWriter struct {
	http.ResponseWriter
	zw *gzip.Writer
}

func (g gzipWriter) Write(p []byte) (int, error) { return g.zw.Write(p) }

// cutAnswer announces the whole answer's Content-Length, sends half of it
// and resets the connection, as an upstream that dies mid-answer does.
func (s *Server) cutAnswer(w http.ResponseWriter, req chatRequest, chat bool, n, pad int) {
	rec := httptest.NewRecorder()
	s.answer(rec, req, chat, n, pad)
	body := rec.Body.Bytes()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body[:len(body)/2])
	_ = http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler) // net/http closes the connection
}

func headerInt(r *http.Request, name string, def int) int {
	if v, err := strconv.Atoi(r.Header.Get(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":%q,"type":"invalid_request_error","param":null,"code":"stub_%d"}}`, msg, status)
}

// Word returns the content of chunk i, so tests can predict the answer.
func Word(i int) string { return stubcore.Word(i) }

func content(i, pad int) string {
	w := Word(i)
	if pad > len(w) {
		w += strings.Repeat("x", pad-len(w))
	}
	return w
}

// Usage the stub reports: prompt tokens are fixed, completion tokens are
// the number of content chunks.
const PromptTokens = 11

func (s *Server) answer(w http.ResponseWriter, req chatRequest, chat bool, n, pad int) {
	var text strings.Builder
	for i := 0; i < n; i++ {
		text.WriteString(content(i, pad))
	}
	var choice any
	object := "chat.completion"
	if chat {
		choice = map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": text.String()}}
	} else {
		object = "text_completion"
		choice = map[string]any{"index": 0, "finish_reason": "stop", "text": text.String()}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-Id", "req_stub")
	doc := map[string]any{
		"id": "chatcmpl-stub", "object": object, "created": time.Now().Unix(), "model": req.Model,
		"choices": []any{choice},
		"usage":   map[string]int{"prompt_tokens": PromptTokens, "completion_tokens": n, "total_tokens": PromptTokens + n},
	}
	if req.noUsage {
		delete(doc, "usage")
	}
	_ = json.NewEncoder(w).Encode(doc)
}

// stream writes the answer as OpenAI does: one chunk per token, each with
// its write time in "created_ns" so a reader can measure relay delay.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, req chatRequest, chat bool) {
	n := headerInt(r, "X-Stub-Chunks", 5)
	pad := headerInt(r, "X-Stub-Chunk-Bytes", 0)
	failAfter := headerInt(r, "X-Stub-Fail-After", -1)
	var interval time.Duration
	if d, err := time.ParseDuration(r.Header.Get("X-Stub-Interval")); err == nil {
		interval = d
	}
	lockstep := r.Header.Get("X-Stub-Lockstep") == "1"
	usage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage && r.Header.Get("X-Stub-Answer") != "no-usage"
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	usageField := ""
	if usage {
		usageField = `,"usage":null`
	}
	buf := make([]byte, 0, 256+pad)
	for i := 0; i < n; i++ {
		if i > 0 && lockstep && !s.Await(r.Context(), lockstepWait) {
			return
		}
		if i > 0 && interval > 0 {
			select {
			case <-time.After(interval):
			case <-r.Context().Done():
				s.CountCancel()
				return
			}
		}
		if i == failAfter {
			// Cut the connection mid-stream, as a crashed upstream would.
			if conn, _, err := rc.Hijack(); err == nil {
				conn.Close()
			} else {
				panic(http.ErrAbortHandler)
			}
			return
		}
		buf = buf[:0]
		if chat {
			delta := `{"content":` + strconv.Quote(content(i, pad)) + `}`
			if i == 0 {
				delta = `{"role":"assistant","content":` + strconv.Quote(content(i, pad)) + `}`
			}
			buf = fmt.Appendf(buf, `data: {"id":"chatcmpl-stub","object":"chat.completion.chunk","created":%d,"created_ns":%d,"model":%q,"choices":[{"index":0,"delta":%s,"finish_reason":null}]%s}`+"\n\n",
				time.Now().Unix(), time.Now().UnixNano(), req.Model, delta, usageField)
		} else {
			buf = fmt.Appendf(buf, `data: {"id":"cmpl-stub","object":"text_completion","created":%d,"created_ns":%d,"model":%q,"choices":[{"index":0,"text":%s,"finish_reason":null}]%s}`+"\n\n",
				time.Now().Unix(), time.Now().UnixNano(), req.Model, strconv.Quote(content(i, pad)), usageField)
		}
		if _, err := w.Write(buf); err != nil {
			return
		}
		_ = rc.Flush()
	}
	if chat {
		fmt.Fprintf(w, `data: {"id":"chatcmpl-stub","object":"chat.completion.chunk","created":%d,"model":%q,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]%s}`+"\n\n", time.Now().Unix(), req.Model, usageField)
	}
	if usage {
		fmt.Fprintf(w, `data: {"id":"chatcmpl-stub","object":"chat.completion.chunk","created":%d,"model":%q,"choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`+"\n\n",
			time.Now().Unix(), req.Model, PromptTokens, n, PromptTokens+n)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	_ = rc.Flush()
}

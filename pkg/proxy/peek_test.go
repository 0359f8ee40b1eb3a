package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

func TestResponsesOpeningEvent(t *testing.T) {
	for _, tc := range []struct {
		name, ev string
		want     openingVerdict
	}{
		{"created", "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}", eventNone},
		{"in progress", "event: response.in_progress\ndata: {\"type\":\"response.in_progress\"}", eventNone},
		{"a message item starts", `data: {"type":"response.output_item.added","item":{"type":"message","content":[]}}`, eventNone},
		{"an empty part", `data: {"type":"response.content_part.added","part":{"type":"output_text","text":""}}`, eventNone},
		{"text", `data: {"type":"response.output_text.delta","delta":"hi"}`, eventContent},
		{"a function call starts", `data: {"type":"response.output_item.added","item":{"type":"function_call","name":"f"}}`, eventContent},
		{"reasoning", `data: {"type":"response.reasoning_summary_text.delta","delta":"x"}`, eventContent},
		{"completed", `data: {"type":"response.completed","response":{}}`, eventContent},
		{"an event not known here", `data: {"type":"response.something_new"}`, eventContent},
		{"error event", "event: error\ndata: {\"type\":\"error\",\"message\":\"boom\"}", eventError},
		{"error type", `data: {"type":"error","code":"server_error","message":"boom"}`, eventError},
		{"failed", `data: {"type":"response.failed","response":{"error":{"code":"server_error","message":"boom"}}}`, eventError},
		{"not JSON", "data: hello", eventContent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := responsesOpeningEvent([]byte(tc.ev)); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	// The chat judge holds Responses events to the end: the table above
	// would prove nothing if it did not.
	if openingEvent([]byte(`data: {"type":"response.output_text.delta","delta":"hi"}`)) == eventContent {
		t.Fatal("the chat judge took a Responses delta for content")
	}
}

// ai-proxy-advanced on the Responses API (relayed natively, streamed and
// not) and on embeddings: the primary's 503, or an error inside its 200
// Responses stream before any content, fails over to the secondary.
func TestFailoverClientAPIs(t *testing.T) {
	up := stub.New()
	mux := http.NewServeMux()
	mux.HandleFunc("/stream-error/v1/responses", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\",\"status\":\"in_progress\"}}\n\n")
		fmt.Fprint(w, "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"boom\"}\n\n")
	})
	mux.Handle("/", up)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, routeType, path, primary, body string
	}{
		{"responses 503", "llm/v1/responses", "/v1/responses", "", `{"model":"m","input":"hi"}`},
		{"responses stream 503", "llm/v1/responses", "/v1/responses", "", `{"model":"m","input":"hi","stream":true}`},
		{"responses stream error before content", "llm/v1/responses", "/v1/responses", "/stream-error", `{"model":"m","input":"hi","stream":true}`},
		{"embeddings 503", "llm/v1/embeddings", "/v1/embeddings", "", `{"model":"m","input":"hi"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := func(model, base, weight string) string {
				return fmt.Sprintf(`
        - route_type: %s
          weight: %s
          auth: {header_name: Authorization, header_value: "Bearer sk-%s"}
          logging: {log_statistics: true}
          model: {provider: openai, name: %s, options: {upstream_url: "%s%s"}}`, tc.routeType, weight, model, model, base, tc.path)
			}
			doc := `_format_version: "3.0"
routes:
  - {name: r, paths: ["` + tc.path + `"]}
plugins:
  - name: ai-proxy-advanced
    config:
      balancer: {algorithm: priority, failover_criteria: [error, http_503]}
      targets:` + target("fault-503", srv.URL+tc.primary, "100") + target("good", srv.URL, "1") + "\n"
			p := newFailoverProxyDoc(t, doc, nil, nil)
			req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			p.h.ServeHTTP(w, req)
			if w.Code != 200 || w.Header().Get("X-Kong-LLM-Model") != "openai/good" || strings.Contains(w.Body.String(), "boom") {
				t.Fatalf("%d %q %.400s", w.Code, w.Header().Get("X-Kong-LLM-Model"), w.Body.String())
			}
			if rec := p.last(t); len(rec.Attempts) != 2 || rec.Target != "1:openai/good" {
				t.Fatalf("attempts %+v target %q", rec.Attempts, rec.Target)
			}
		})
	}
}

// The error the client gets when an error event before content ends every
// target's try: the upstream's message, and 429 for a throttle, whichever
// API's event shape it came in.
func TestStreamErrorEvent(t *testing.T) {
	const generic = "the upstream stream failed before any content"
	for _, tc := range []struct {
		name, ev string
		status   int
		message  string
	}{
		{"chat", `data: {"error":{"message":"boom","type":"server_error"}}`, 502, "boom"},
		{"chat throttle", `data: {"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}`, 429, "slow down"},
		{"Anthropic throttle", "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow down\"}}", 429, "slow down"},
		{"Responses", "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"boom\"}", 502, "boom"},
		{"Responses throttle", "event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"slow down\"}", 429, "slow down"},
		{"another event's message is not the error's", `data: {"type":"response.output_text.delta","message":"hi"}`, 502, generic},
		{"error null", `data: {"error":null,"message":"hi"}`, 502, generic},
		{"not JSON", "event: error\ndata: boom", 502, generic},
		{"no data", "event: error", 502, generic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := streamErrorEvent([]byte(tc.ev))
			if e.Status != tc.status || e.Message != tc.message {
				t.Fatalf("%d %q, want %d %q", e.Status, e.Message, tc.status, tc.message)
			}
		})
	}
}

package lambda_test

import (
	"bytes"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// ai-proxy-advanced through the real bootstrap: the primary target answers
// 503, the chain fails over to the secondary before the first byte, and
// the secondary's answer streams out chunk by chunk (lockstep, as the
// compat cases prove it), with its usage in the statistics line.
func TestFailoverStreamsThroughRuntimeAPI(t *testing.T) {
	up := stub.New()
	var primary atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/primary/", func(w http.ResponseWriter, r *http.Request) {
		primary.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":{"message":"overloaded","type":"server_error"}}`))
	})
	mux.Handle("/", up)
	runCompatStream(t, compatStream{
		name: "openai failover", model: "gpt-4o-mini",
		headers: map[string]string{"x-stub-lockstep": "1", "x-stub-chunks": "4"},
		steps:   contentMarks(stub.Word(0), stub.Word(1), stub.Word(2)),
		handler: mux,
		config: `targets:
  - route_type: llm/v1/chat
    weight: 100
    logging: {log_statistics: true}
    model: {provider: openai, name: "$(uri_captures.model)", options: {upstream_url: "UPSTREAM/primary/v1/chat/completions"}}
  - route_type: llm/v1/chat
    weight: 50
    logging: {log_statistics: true}
    model: {provider: openai, name: "$(uri_captures.model)", options: {upstream_url: "UPSTREAM/v1/chat/completions"}}
balancer: {algorithm: priority, failover_criteria: [error, timeout, http_503]}
`,
		step: up.Step, stalled: up.Stalled, want: contentMarks(stub.Word(0), stub.Word(3)), prompt: stub.PromptTokens,
		upstream: func(t *testing.T) {
			if primary.Load() != 1 {
				t.Errorf("the primary was asked %d times, want once", primary.Load())
			}
			last := up.Last()
			if last.Path != "/v1/chat/completions" || !bytes.Contains(last.Body, []byte(`"stream":true`)) || strings.Contains(last.Path, "primary") {
				t.Errorf("the secondary got %s %s", last.Path, last.Body)
			}
		},
	})
}

package lambda_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// ai-proxy-advanced through the real bootstrap: the primary target fails
// in each way before the first byte, the chain fails over to the
// secondary, and the secondary's answer streams out chunk by chunk
// (lockstep, as the compat cases prove it), with its usage in the
// statistics line.
func TestFailoverStreamsThroughRuntimeAPI(t *testing.T) {
	refused := stub.ClosedAddr(t)
	for _, fault := range []string{"fault-503", "fault-429", "fault-stream-error-first", "fault-stream-429-first", "fault-hang", "refused"} {
		t.Run(fault, func(t *testing.T) {
			// The client's model names a fault for the primary's stub
			// only (the model is the client's: a target that fixed
			// another would refuse the request).
			up, faulty := stub.New(), stub.New()
			faulty.SetFault("gpt-4o-mini", fault)
			mux := http.NewServeMux()
			mux.Handle("/primary/", http.StripPrefix("/primary", faulty))
			mux.Handle("/", up)
			primary := "UPSTREAM/primary"
			if fault == "refused" {
				primary = "http://" + refused
			}
			runCompatStream(t, compatStream{
				name: "openai failover", model: "gpt-4o-mini",
				headers: map[string]string{"x-stub-lockstep": "1", "x-stub-chunks": "4"},
				steps:   contentMarks(stub.Word(0), stub.Word(1), stub.Word(2)),
				handler: mux,
				config: `targets:
  - route_type: llm/v1/chat
    weight: 100
    logging: {log_statistics: true}
    model: {provider: openai, name: "$(uri_captures.model)", options: {upstream_url: "` + primary + `/v1/chat/completions"}}
  - route_type: llm/v1/chat
    weight: 50
    logging: {log_statistics: true}
    model: {provider: openai, name: "$(uri_captures.model)", options: {upstream_url: "UPSTREAM/v1/chat/completions"}}
balancer: {algorithm: priority, read_timeout: 500, failover_criteria: [error, timeout, http_429, http_503]}
`,
				step: up.Step, stalled: up.Stalled, want: contentMarks(stub.Word(0), stub.Word(3)), prompt: stub.PromptTokens,
				upstream: func(t *testing.T) {
					if n := faulty.Hits("gpt-4o-mini"); fault != "refused" && n != 1 {
						t.Errorf("the primary was asked %d times, want once", n)
					}
					last := up.Last()
					if last.Path != "/v1/chat/completions" || !bytes.Contains(last.Body, []byte(`"stream":true`)) || !bytes.Contains(last.Body, []byte(`"model":"gpt-4o-mini"`)) {
						t.Errorf("the secondary got %s %s", last.Path, last.Body)
					}
				},
			})
		})
	}
}

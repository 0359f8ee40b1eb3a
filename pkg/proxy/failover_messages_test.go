package proxy

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/anthropicstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/health"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
)

// Anthropic's stream events, as the API (and the Bedrock driver's
// InvokeModel stream) frames them.
const (
	evMessageStart = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
	evPing         = "event: ping\ndata: {\"type\": \"ping\"}\n\n"
	evTextStart    = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
	evTextStartFul = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"Hi\"}}\n\n"
	evToolStart    = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{}}}\n\n"
	evThinkStart   = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n"
	evRedacted     = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"redacted_thinking\",\"data\":\"xx\"}}\n\n"
	evTextDelta    = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n"
	evJSONDelta    = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n"
	evBlockStop    = "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
	evMessageDelta = "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":0}}\n\n"
	evMessageStop  = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	evError        = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
	evErrorNoName  = "data: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow down\"}}\n\n"
	evUnknown      = "event: citations_thing\ndata: {\"type\":\"some_new_event\"}\n\n"
)

func TestAnthropicOpeningEvent(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   string
		want openingVerdict
	}{
		{"message_start is no content", evMessageStart, eventNone},
		{"ping is no content", evPing, eventNone},
		{"an empty text block's start is no content", evTextStart, eventNone},
		{"a block's stop is no content", evBlockStop, eventNone},
		{"a text block that starts with text", evTextStartFul, eventContent},
		{"tool_use's start is content", evToolStart, eventContent},
		{"thinking's start is content", evThinkStart, eventContent},
		{"redacted_thinking's start is content", evRedacted, eventContent},
		{"a text delta is content", evTextDelta, eventContent},
		{"a tool input delta is content", evJSONDelta, eventContent},
		{"message_delta (the stop reason) is the answer", evMessageDelta, eventContent},
		{"message_stop is the answer", evMessageStop, eventContent},
		{"event: error is a failure", evError, eventError},
		{"an error's data without the event name is a failure", evErrorNoName, eventError},
		{"an unknown event is not held back", evUnknown, eventContent},
		{"a comment is nothing", ": keep-alive\n\n", eventNone},
		{"not JSON: not ours to judge", "event: x\ndata: hello\n\n", eventContent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := anthropicOpeningEvent([]byte(strings.TrimSuffix(tc.ev, "\n\n"))); got != tc.want {
				t.Fatalf("verdict %d, want %d", got, tc.want)
			}
		})
	}
	// The chat judge would hold every Anthropic event: it knows choices.
	if openingEvent([]byte(evTextDelta)) != eventNone {
		t.Fatal("the chat judge took a Messages delta for content: the test above proves nothing")
	}
}

// peekStream on Anthropic event sequences: what commits (and replays
// every held byte), what fails over, and the error the client would see.
func TestPeekStreamAnthropic(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []string
		kind   config.Criteria
		status int    // of the answer peekStream returns
		body   string // in it, for a failure
	}{
		{"text", []string{evMessageStart, evPing, evTextStart, evTextDelta, evBlockStop, evMessageDelta, evMessageStop}, 0, 200, ""},
		{"tool use first", []string{evMessageStart, evToolStart, evJSONDelta}, 0, 200, ""},
		{"thinking first", []string{evMessageStart, evThinkStart}, 0, 200, ""},
		{"an empty answer, whole", []string{evMessageStart, evTextStart, evBlockStop, evMessageDelta, evMessageStop}, 0, 200, ""},
		{"error after message_start and ping", []string{evMessageStart, evPing, evError}, config.FailError, 502,
			`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`},
		{"a rate limit error after an empty text block's start is http_429", []string{evMessageStart, evTextStart, evErrorNoName}, config.FailHTTP429, 429,
			`{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`},
		{"ended before content", []string{evMessageStart, evPing}, config.FailError, 502, "before any content"},
		{"error after content is the answer", []string{evMessageStart, evTextStart, evTextDelta, evError}, 0, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			whole := strings.Join(tc.events, "")
			req := httptest.NewRequest(http.MethodPost, "/v1/messages", nil)
			res := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(strings.NewReader(whole)), Request: req}
			got, kind, err := peekStream(res, req, config.FailError|config.FailHTTP429, anthropicOpeningEvent, true)
			if err != nil || kind != tc.kind || got.StatusCode != tc.status {
				t.Fatalf("kind %v status %d err %v, want %v %d", kind, got.StatusCode, err, tc.kind, tc.status)
			}
			b, _ := io.ReadAll(got.Body)
			if tc.kind == 0 {
				if string(b) != whole {
					t.Fatalf("replayed %q, want every byte: %q", b, whole)
				}
				return
			}
			if !strings.Contains(string(b), tc.body) {
				t.Fatalf("error %s, want %s", b, tc.body)
			}
		})
	}
}

// anthropicTarget is a native Messages target: the Anthropic test server,
// every client name mapped to scenario (the stub's answer).
func anthropicTarget(url, scenario string, weight int, extra string) string {
	return fmt.Sprintf(`
  - route_type: llm/v1/chat
    weight: %d
    auth: {header_name: x-api-key, header_value: %q}
    logging: {log_statistics: true}
    model_aliases: {"*": %q}
    model: {provider: anthropic, options: {anthropic_version: "2023-06-01", upstream_url: %q%s}}`, weight, anthropicstub.DefaultKey, scenario, url+"/v1/messages", extra)
}

// hubTarget is an OpenAI target, reached through the chat hub.
func hubTarget(url, model string, weight int, extra string) string {
	return fmt.Sprintf(`
  - route_type: llm/v1/chat
    weight: %d
    auth: {header_name: Authorization, header_value: "Bearer sk-%s"}
    logging: {log_statistics: true}
    model_aliases: {"*": %q}
    model: {provider: openai, options: {upstream_url: %q%s}}`, weight, model, model, url, extra)
}

func newMessagesFailover(t *testing.T, balancer string, targets ...string) *failoverProxy {
	t.Helper()
	return newFailoverProxyDoc(t, "llm_format: anthropic\ntargets:"+strings.Join(targets, "")+"\nbalancer: "+balancer+"\n", nil, nil)
}

func anthropicServer(t *testing.T) (*anthropicstub.Server, string) {
	s := anthropicstub.New("")
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// serveMessages posts a Messages body as Claude Code would (anthropic-version
// and anthropic-beta set).
func (p *failoverProxy) serveMessages(path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Anthropic-Version", "2023-06-01")
	req.Header.Set("Anthropic-Beta", "claude-code-20250219")
	w := httptest.NewRecorder()
	func() {
		defer func() { _ = recover() }() // an aborted answer panics with http.ErrAbortHandler
		p.h.ServeHTTP(w, req)
	}()
	return w
}

const (
	msgBody       = `{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
	msgStreamBody = `{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
)

// Each failure of a native Anthropic primary, streamed and not, fails over
// to the chat hub's secondary before the first byte: the client gets the
// secondary's whole answer as an Anthropic message, and the secondary
// never sees the primary's key or Anthropic's headers.
func TestMessagesFailoverNativeToHub(t *testing.T) {
	for _, tc := range []struct {
		name     string
		scenario string
		next     *anthropicstub.Scenario
		stream   bool // only streamed (an in-stream failure)
		outcome  string
		status   int
	}{
		{name: "429", scenario: "stub-error-429", outcome: "http_429", status: 429},
		{name: "529 overloaded is http_503", scenario: "stub-error-529", outcome: "http_503", status: 529},
		{name: "500 page", scenario: "stub-error-500", outcome: "http_500", status: 500},
		{name: "refused", scenario: "refused", outcome: "error"},
		{name: "error event after message_start and ping", scenario: "stub-x", stream: true, outcome: "error", status: 502,
			next: &anthropicstub.Scenario{Ping: true, StreamError: &anthropicstub.APIError{Type: "overloaded_error", Message: "Overloaded"}}},
		{name: "cut after an empty text block", scenario: "stub-x", stream: true, outcome: "error", status: 502,
			next: &anthropicstub.Scenario{Blocks: []anthropicstub.Block{anthropicstub.Text()}, Cut: true}},
	} {
		for _, body := range []string{msgBody, msgStreamBody} {
			if tc.stream && body == msgBody {
				continue
			}
			name := tc.name + map[bool]string{true: "/stream", false: "/json"}[body == msgStreamBody]
			t.Run(name, func(t *testing.T) {
				as, aURL := anthropicServer(t)
				up, oURL := stubServer(t)
				if tc.scenario == "refused" {
					aURL = strings.TrimSuffix(refusedURL(t), "/v1/chat/completions")
				}
				if tc.next != nil {
					as.Next(*tc.next)
				}
				p := newMessagesFailover(t, "{algorithm: priority, read_timeout: 2000, failover_criteria: "+allCriteria+"}",
					anthropicTarget(aURL, tc.scenario, 100, ""), hubTarget(oURL, "gpt-ok", 1, ""))
				w := p.serveMessages("/v1/messages", body)
				if w.Code != 200 || w.Header().Get("X-Kong-LLM-Model") != "openai/gpt-ok" {
					t.Fatalf("answer %d %q %s", w.Code, w.Header().Get("X-Kong-LLM-Model"), w.Body.String())
				}
				got := w.Body.String()
				if body == msgStreamBody {
					if !strings.HasPrefix(got, "event: message_start\n") || !strings.Contains(got, stub.Word(4)) || !strings.HasSuffix(got, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") ||
						strings.Contains(got, "event: error") || strings.Contains(got, "Overloaded") {
						t.Fatalf("stream %q", got)
					}
				} else if !strings.Contains(got, `"type":"message"`) || !strings.Contains(got, stub.Word(4)) {
					t.Fatalf("answer %s", got)
				}
				rec := p.last(t)
				if len(rec.Attempts) != 2 || rec.Attempts[0].Outcome != tc.outcome || rec.Attempts[0].Status != tc.status || rec.Attempts[1].Outcome != "ok" || rec.Target != "1:openai/(aliases)" {
					t.Fatalf("attempts %+v target %q", rec.Attempts, rec.Target)
				}
				if rec.Usage == nil || rec.Usage.PromptTokens != stub.PromptTokens || rec.RequestModel != "gpt-ok" {
					t.Fatalf("statistics %+v usage %+v", rec, rec.Usage)
				}
				if tc.scenario != "refused" && len(as.Requests()) != 1 {
					t.Fatalf("the primary was asked %d times", len(as.Requests()))
				}
				last := up.Last().Header
				if last.Get("Authorization") != "Bearer sk-gpt-ok" || last.Get("X-Api-Key") != "" || last.Get("Anthropic-Version") != "" || last.Get("Anthropic-Beta") != "" {
					t.Fatalf("the hub's upstream got %v", last)
				}
			})
		}
	}
}

// The other way round: a chat hub primary fails, the native Anthropic
// secondary answers with its own bytes and gets Anthropic's headers (the
// client's anthropic-version and anthropic-beta, its configured key),
// though the first target's shaping had removed them.
func TestMessagesFailoverHubToNative(t *testing.T) {
	for _, body := range []string{msgBody, msgStreamBody} {
		t.Run(map[bool]string{true: "stream", false: "json"}[body == msgStreamBody], func(t *testing.T) {
			as, aURL := anthropicServer(t)
			up, oURL := stubServer(t)
			p := newMessagesFailover(t, "{algorithm: priority, failover_criteria: "+allCriteria+"}",
				hubTarget(oURL, "fault-503", 100, ""), anthropicTarget(aURL, "stub-answer", 1, ""))
			w := p.serveMessages("/v1/messages", body)
			if w.Code != 200 || w.Header().Get("X-Kong-LLM-Model") != "anthropic/stub-answer" || !strings.Contains(w.Body.String(), "Hello from ") {
				t.Fatalf("answer %d %q %s", w.Code, w.Header().Get("X-Kong-LLM-Model"), w.Body.String())
			}
			if up.Hits("fault-503") != 1 {
				t.Fatalf("primary hits %d", up.Hits("fault-503"))
			}
			h := as.Last().Header
			if h.Get("X-Api-Key") != anthropicstub.DefaultKey || h.Get("Authorization") != "" || h.Get("Anthropic-Version") != "2023-06-01" || h.Get("Anthropic-Beta") != "claude-code-20250219" {
				t.Fatalf("the native upstream got %v", h)
			}
			if rec := p.last(t); rec.Target != "1:anthropic/(aliases)" || len(rec.Attempts) != 2 || rec.Attempts[0].Outcome != "http_503" || rec.Usage == nil || rec.Usage.PromptTokens != 25 {
				t.Fatalf("attempts %+v target %q usage %+v", rec.Attempts, rec.Target, rec.Usage)
			}
		})
	}
}

// After content has reached the client, a failure is Anthropic's
// `event: error`, never a second answer: natively and through the hub.
func TestMessagesNoFailoverAfterContent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		primary func(aURL, oURL string) string
		word    string
	}{
		{"native", func(aURL, _ string) string { return anthropicTarget(aURL, "stub-error-midstream", 100, "") }, "Partial "},
		{"hub", func(_, oURL string) string { return hubTarget(oURL, "fault-stream-error-after", 100, "") }, `"text":"tok0`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as, aURL := anthropicServer(t)
			up, oURL := stubServer(t)
			second := hubTarget(oURL, "gpt-ok", 1, "")
			if tc.name == "hub" {
				second = anthropicTarget(aURL, "stub-answer", 1, "")
			}
			p := newMessagesFailover(t, "{algorithm: priority, failover_criteria: "+allCriteria+"}", tc.primary(aURL, oURL), second)
			w := p.serveMessages("/v1/messages", msgStreamBody)
			got := w.Body.String()
			if w.Code != 200 || !strings.Contains(got, tc.word) || !strings.Contains(got, "event: error\ndata: {") || !strings.Contains(got, `"type":"overloaded_error"`) || strings.Contains(got, "message_stop") {
				t.Fatalf("answer %d %q", w.Code, got)
			}
			if strings.Count(got, "event: message_start") != 1 || up.Hits("gpt-ok") != 0 || (tc.name == "hub" && len(as.Requests()) != 0) {
				t.Fatalf("a second answer was spliced in: %q", got)
			}
			if rec := p.last(t); len(rec.Attempts) != 1 || rec.Attempts[0].Outcome != "ok" {
				t.Fatalf("attempts %+v", rec.Attempts)
			}
		})
	}
}

// When every target fails, the client sees the last one's error in
// Anthropic's shape with its status; when every circuit is open, the
// proxy's own 503 is Anthropic's 529 overloaded_error with Retry-After.
func TestMessagesFailoverErrors(t *testing.T) {
	t.Run("last error, hub", func(t *testing.T) {
		_, aURL := anthropicServer(t)
		_, oURL := stubServer(t)
		p := newMessagesFailover(t, "{algorithm: priority, retries: 1, failover_criteria: "+allCriteria+"}",
			anthropicTarget(aURL, "stub-error-429", 100, ""), hubTarget(oURL, "fault-503", 1, ""))
		for _, body := range []string{msgBody, msgStreamBody} {
			w := p.serveMessages("/v1/messages", body)
			if w.Code != 503 || !strings.HasPrefix(w.Body.String(), `{"type":"error","error":{"type":"overloaded_error","message":`) {
				t.Fatalf("answer %d %s", w.Code, w.Body.String())
			}
		}
	})
	t.Run("last error, native", func(t *testing.T) {
		_, aURL := anthropicServer(t)
		_, oURL := stubServer(t)
		p := newMessagesFailover(t, "{algorithm: priority, retries: 1, failover_criteria: "+allCriteria+"}",
			hubTarget(oURL, "fault-503", 100, ""), anthropicTarget(aURL, "stub-error-429", 1, ""))
		w := p.serveMessages("/v1/messages", msgBody)
		if w.Code != 429 || w.Header().Get("Retry-After") != "7" || !strings.Contains(w.Body.String(), `"type":"rate_limit_error"`) || !strings.Contains(w.Body.String(), `"message":"Number of request tokens`) {
			t.Fatalf("answer %d %v %s", w.Code, w.Header(), w.Body.String())
		}
	})
	t.Run("last error, in-stream before content", func(t *testing.T) {
		as, aURL := anthropicServer(t)
		as.Next(anthropicstub.Scenario{StreamError: &anthropicstub.APIError{Type: "overloaded_error", Message: "Overloaded right now"}})
		p := newMessagesFailover(t, "{retries: 0, failover_criteria: "+allCriteria+"}", anthropicTarget(aURL, "stub-x", 100, ""))
		w := p.serveMessages("/v1/messages", msgStreamBody)
		if w.Code != 502 || w.Body.String() != `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded right now"}}` {
			t.Fatalf("answer %d %s", w.Code, w.Body.String())
		}
	})
	t.Run("every circuit open", func(t *testing.T) {
		_, oURL := stubServer(t)
		p := newMessagesFailover(t, "{max_fails: 1, fail_timeout: 60000, retries: 0, failover_criteria: [http_503]}", hubTarget(oURL, "fault-503", 100, ""))
		p.serveMessages("/v1/messages", msgBody)
		w := p.serveMessages("/v1/messages", msgBody)
		if w.Code != 529 || w.Header().Get("Retry-After") == "" ||
			!strings.HasPrefix(w.Body.String(), `{"type":"error","error":{"type":"overloaded_error","message":"every target of this route failed recently`) {
			t.Fatalf("answer %d %v %s", w.Code, w.Header(), w.Body.String())
		}
		if rec := p.last(t); rec.Status != 529 || len(rec.Attempts) != 1 || rec.Attempts[0].Outcome != "circuit_open" {
			t.Fatalf("record %+v", rec)
		}
	})
}

// A Messages request's budget is reserved once, at the dearest target's
// prices, and settled once, to the answering target's usage at its price.
func TestMessagesFailoverBudgetChargedOnce(t *testing.T) {
	_, aURL := anthropicServer(t)
	_, oURL := stubServer(t)
	store := &countingStore{Store: limits.NewMemory(1000)}
	lim := limits.New(limits.Options{Local: store, Logger: discardLogger})
	doc := `_format_version: "3.0"
routes:
  - {name: claude, paths: [/anthropic]}
plugins:
  - name: ai-proxy-advanced
    config:
      llm_format: anthropic
      balancer: {algorithm: priority, failover_criteria: ` + allCriteria + `}
      targets:` + strings.ReplaceAll(anthropicTarget(aURL, "stub-error-529", 100, ", input_cost: 100, output_cost: 100")+
		hubTarget(oURL, "gpt-ok", 1, ", input_cost: 1, output_cost: 2"), "\n", "\n    ") + `
  - name: ai-rate-limiting-advanced
    config:
      llm_providers: [{name: openai, limit: [1000], window_size: [3600]}]
      tokens_count_strategy: cost
`
	p := newFailoverProxyDoc(t, doc, lim, nil)
	for _, body := range []string{msgBody, msgStreamBody} {
		store.mu.Lock()
		store.reserves, store.adds, store.total = 0, 0, 0
		store.mu.Unlock()
		w := p.serveMessages("/anthropic/v1/messages", body)
		if w.Code != 200 {
			t.Fatalf("answer %d %s", w.Code, w.Body.String())
		}
		store.mu.Lock()
		want := (float64(stub.PromptTokens)*1 + 5*2) / 1e6
		if store.reserves != 1 || store.adds != 1 || math.Abs(store.total-want) > 1e-12 {
			t.Fatalf("%d reservations, %d settlements, charged %g, want 1, 1, %g", store.reserves, store.adds, store.total, want)
		}
		store.mu.Unlock()
		if rec := p.last(t); rec.InputCost != 1 || rec.OutputCost != 2 {
			t.Fatalf("statistics priced at %g/%g, not the answering target's", rec.InputCost, rec.OutputCost)
		}
	}
}

// count_tokens goes to the targets that can count (natively), in the
// balancer's order; the chat hub's are left out; with none, a 404.
func TestMessagesFailoverCountTokens(t *testing.T) {
	var counted int
	counter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/messages/count_tokens" || r.Header.Get("X-Api-Key") != anthropicstub.DefaultKey {
			http.Error(w, "unexpected "+r.URL.Path, 400)
			return
		}
		counted++
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"input_tokens":42}`))
	}))
	t.Cleanup(counter.Close)
	up, oURL := stubServer(t)
	body := `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`
	reg := health.New(health.Options{})
	p := newFailoverProxyDoc(t, "llm_format: anthropic\ntargets:"+hubTarget(oURL, "gpt-ok", 100, "")+anthropicTarget(counter.URL, "claude-counted", 1, "")+
		"\nbalancer: {algorithm: lowest-latency, latency_strategy: e2e, failover_criteria: "+allCriteria+"}\n", nil, reg)
	w := p.serveMessages("/v1/messages/count_tokens", body)
	if w.Code != 200 || w.Body.String() != `{"input_tokens":42}` || counted != 1 || len(up.Requests()) != 0 {
		t.Fatalf("answer %d %s, counted %d, hub asked %d times", w.Code, w.Body.String(), counted, len(up.Requests()))
	}
	if rec := p.last(t); rec.Target != "1:anthropic/(aliases)" || len(rec.Attempts) != 1 {
		t.Fatalf("record %+v", rec)
	}
	// A count is no generation: it feeds no latency figure.
	if l, _ := reg.Get("default|1:anthropic/(aliases)").Figures(time.Now()); l != 0 {
		t.Fatalf("the count fed the latency figure: %g", l)
	}
	hubOnly := newMessagesFailover(t, "{algorithm: priority}", hubTarget(oURL, "gpt-ok", 100, ""), hubTarget(oURL, "gpt-other", 1, ""))
	w = hubOnly.serveMessages("/v1/messages/count_tokens", body)
	if w.Code != 404 || !strings.Contains(w.Body.String(), `"type":"not_found_error"`) || len(up.Requests()) != 0 {
		t.Fatalf("answer %d %s", w.Code, w.Body.String())
	}
}

// A target whose model_aliases do not name the client's model is left out
// of that request; when no target names it, the client gets the 400 that
// says which alias to add, in Anthropic's shape.
func TestMessagesFailoverAliasesPerTarget(t *testing.T) {
	as, aURL := anthropicServer(t)
	up, oURL := stubServer(t)
	native := strings.Replace(anthropicTarget(aURL, "stub-answer", 100, ""), `{"*": "stub-answer"}`, `{claude-haiku: stub-answer}`, 1)
	p := newMessagesFailover(t, "{algorithm: priority, failover_criteria: "+allCriteria+"}", native,
		strings.Replace(hubTarget(oURL, "gpt-ok", 1, ""), `{"*": "gpt-ok"}`, `{claude-sonnet-4-5: gpt-ok}`, 1))
	w := p.serveMessages("/v1/messages", msgBody) // claude-sonnet-4-5: the hub's alone
	if w.Code != 200 || w.Header().Get("X-Kong-LLM-Model") != "openai/gpt-ok" || len(as.Requests()) != 0 {
		t.Fatalf("answer %d %q %s; native asked %d times", w.Code, w.Header().Get("X-Kong-LLM-Model"), w.Body.String(), len(as.Requests()))
	}
	if rec := p.last(t); len(rec.Attempts) != 1 || rec.Target != "1:openai/(aliases)" {
		t.Fatalf("attempts %+v", rec.Attempts)
	}
	w = p.serveMessages("/v1/messages", strings.Replace(msgBody, "claude-sonnet-4-5", "claude-opus", 1))
	if w.Code != 400 || !strings.HasPrefix(w.Body.String(), `{"type":"error","error":{"type":"invalid_request_error","message":"model \"claude-opus\" is not configured`) ||
		len(as.Requests()) != 0 || up.Hits("gpt-ok") != 1 {
		t.Fatalf("answer %d %s", w.Code, w.Body.String())
	}
}

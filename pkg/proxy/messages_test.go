package proxy

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/anthropicstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

func TestMessagesModel(t *testing.T) {
	aliases := map[string]string{"claude-sonnet-4-5-20250929": "anthropic.claude-sonnet-4-5", "claude-haiku-4-5": "anthropic.claude-haiku-4-5"}
	tests := []struct {
		name       string
		aliases    map[string]string
		configured string
		alias      string
		client     string
		want, err  string
	}{
		{"alias", aliases, "", "", "claude-haiku-4-5", "anthropic.claude-haiku-4-5", ""},
		{"alias beats configured", aliases, "fixed", "", "claude-sonnet-4-5-20250929", "anthropic.claude-sonnet-4-5", ""},
		{"configured by name", aliases, "fixed", "", "fixed", "fixed", ""},
		{"configured by model_alias", nil, "fixed", "fast", "fast", "fixed", ""},
		{"unknown with aliases", aliases, "", "", "claude-opus-4-1", "", "claude-haiku-4-5, claude-sonnet-4-5-20250929"},
		{"unknown with configured", nil, "fixed", "", "claude-opus-4-1", "", "model_aliases"},
		{"wildcard", map[string]string{"*": "any-model"}, "", "", "claude-opus-4-1", "any-model", ""},
		{"nothing configured: the client's", nil, "", "", "claude-opus-4-1", "claude-opus-4-1", ""},
		{"nothing at all", nil, "", "", "", "", "field required"},
		{"no model, configured", nil, "fixed", "", "", "fixed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &config.Plugin{ModelAliases: tt.aliases, Model: config.Model{Alias: tt.alias}}
			got, e := messagesModel(p, tt.configured, tt.client)
			if tt.err != "" {
				if e == nil || e.status != 400 || !strings.Contains(e.message, tt.err) {
					t.Fatalf("got %q, %v; want a 400 with %q", got, e, tt.err)
				}
				return
			}
			if e != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, e, tt.want)
			}
		})
	}
}

func TestRewriteMessages(t *testing.T) {
	max, temp, topK := 100, 0.2, 5
	capped := &config.Plugin{ResponseStreaming: config.StreamAllow, Model: config.Model{Options: config.ModelOptions{MaxTokens: &max, Temperature: &temp, TopK: &topK}}}
	tests := []struct {
		name   string
		p      *config.Plugin
		in     string
		count  bool
		want   string
		stream bool
		err    string
	}{
		{"model set, cap applied", capped, `{"model":"c","max_tokens":4096,"messages":[]}`, false,
			`{"model":"m","max_tokens":100,"messages":[],"temperature":0.2,"top_k":5}`, false, ""},
		{"smaller max kept", capped, `{"model":"c","max_tokens":10,"stream":true,"messages":[]}`, false,
			`{"model":"m","max_tokens":10,"stream":true,"messages":[],"temperature":0.2,"top_k":5}`, true, ""},
		{"max set when absent", capped, `{"messages":[]}`, false, `{"messages":[],"model":"m","max_tokens":100,"temperature":0.2,"top_k":5}`, false, ""},
		{"count: model only", capped, `{"model":"c","messages":[],"stream":false}`, true, `{"model":"m","messages":[]}`, false, ""},
		{"always streams", &config.Plugin{ResponseStreaming: config.StreamAlways}, `{"model":"c","messages":[]}`, false, `{"model":"m","messages":[],"stream":true}`, true, ""},
		{"deny refuses", &config.Plugin{ResponseStreaming: config.StreamDeny}, `{"model":"c","stream":true}`, false, "", false, "streaming is not enabled"},
		{"ambiguous refused", capped, `{"Model":"c","messages":[]}`, false, "", false, "ambiguous"},
		{"bad stream", capped, `{"stream":"yes"}`, false, "", false, "boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rw, e := rewriteMessages(tt.p, []byte(tt.in), "m", tt.count)
			if tt.err != "" {
				if e == nil || !strings.Contains(e.message, tt.err) {
					t.Fatalf("got %v, want %q", e, tt.err)
				}
				return
			}
			if e != nil || string(rw.body) != tt.want || rw.stream != tt.stream {
				t.Fatalf("got %s stream=%v (%v)\nwant %s stream=%v", rw.body, rw.stream, e, tt.want, tt.stream)
			}
		})
	}
}

func TestAnthropicUsage(t *testing.T) {
	start := mergeAnthropicUsage(nil, []byte(`{"input_tokens":11,"cache_creation_input_tokens":3,"cache_read_input_tokens":100,"output_tokens":1}`))
	end := mergeAnthropicUsage(start, []byte(`{"output_tokens":9}`))
	want := stats.Usage{PromptTokens: 114, CompletionTokens: 9, TotalTokens: 123, CacheReadTokens: 100, CacheWriteTokens: 3}
	if *end != want {
		t.Fatalf("got %+v, want %+v", *end, want)
	}
	// A newer server repeats the input side in message_delta.
	again := mergeAnthropicUsage(end, []byte(`{"input_tokens":11,"cache_read_input_tokens":100,"cache_creation_input_tokens":3,"output_tokens":9}`))
	if *again != want {
		t.Fatalf("got %+v, want %+v", *again, want)
	}
	if mergeAnthropicUsage(nil, []byte(`nope`)) != nil {
		t.Fatal("usage from nothing")
	}
}

// A plain ai-proxy Messages route is priced too: its statistics carry the
// configured costs and a cost budget charges the answer.
func TestMessagesPriced(t *testing.T) {
	_, oURL := stubServer(t)
	store := &countingStore{Store: limits.NewMemory(1000)}
	lim := limits.New(limits.Options{Local: store, Logger: discardLogger})
	doc := `_format_version: "3.0"
routes:
  - {name: claude, paths: [/anthropic]}
plugins:
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      llm_format: anthropic
      logging: {log_statistics: true}
      model: {provider: openai, name: gpt-ok, options: {upstream_url: "` + oURL + `", input_cost: 1, output_cost: 2}}
  - name: ai-rate-limiting-advanced
    config:
      llm_providers: [{name: openai, limit: [1000], window_size: [3600]}]
      tokens_count_strategy: cost
`
	p := newFailoverProxyDoc(t, doc, lim, nil)
	req := httptest.NewRequest(http.MethodPost, "/anthropic/v1/messages", strings.NewReader(`{"model":"gpt-ok","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	p.h.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("answer %d %s", w.Code, w.Body.String())
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if want := (float64(stub.PromptTokens)*1 + 5*2) / 1e6; store.adds != 1 || math.Abs(store.total-want) > 1e-12 {
		t.Fatalf("%d settlements, charged %g, want 1, %g", store.adds, store.total, want)
	}
	if rec := p.last(t); rec.InputCost != 1 || rec.OutputCost != 2 {
		t.Fatalf("statistics priced at %g/%g", rec.InputCost, rec.OutputCost)
	}
}

// count_tokens generates nothing: a token budget reserves its worst case
// like any request's and gets every token back; a request-count limit
// still counts it.
func TestMessagesCountNotCharged(t *testing.T) {
	counter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"input_tokens":42}`))
	}))
	t.Cleanup(counter.Close)
	store := &countingStore{Store: limits.NewMemory(1000)}
	lim := limits.New(limits.Options{Local: store, Logger: discardLogger})
	doc := `_format_version: "3.0"
routes:
  - {name: claude, paths: [/anthropic]}
plugins:
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      llm_format: anthropic
      auth: {header_name: x-api-key, header_value: k}
      model: {provider: anthropic, options: {anthropic_version: "2023-06-01", upstream_url: "` + counter.URL + `"}}
  - name: ai-rate-limiting-advanced
    config:
      llm_providers: [{name: openai, limit: [100000], window_size: [3600]}]
  - name: rate-limiting
    config: {minute: 100}
`
	p := newFailoverProxyDoc(t, doc, lim, nil)
	req := httptest.NewRequest(http.MethodPost, "/anthropic/v1/messages/count_tokens", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"one two three"}]}`))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	p.h.ServeHTTP(w, req)
	store.mu.Lock()
	defer store.mu.Unlock()
	if w.Code != 200 || store.reserves != 1 || store.adds != 1 || store.total != 1 {
		t.Fatalf("answer %d %s: %d reservations, %d settlements, %g left charged (want the one request)", w.Code, w.Body.String(), store.reserves, store.adds, store.total)
	}
}

// The native Anthropic relay on a plain ai-proxy route, as the upstream
// sees it: the endpoint (count_tokens below it) with the client's query
// (Claude Code's ?beta=true), the client's anthropic-version or else the
// configured one, its anthropic-beta, the configured key in place of the
// client's credentials, the body with the policy applied, and the answer
// relayed as Anthropic sent it.
func TestMessagesAnthropicRelay(t *testing.T) {
	as, aURL := anthropicServer(t)
	doc := `_format_version: "3.0"
routes:
  - {name: claude, paths: [/anthropic]}
plugins:
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      llm_format: anthropic
      auth: {header_name: x-api-key, header_value: "` + anthropicstub.DefaultKey + `"}
      model_aliases: {"*": stub-answer}
      model: {provider: anthropic, options: {anthropic_version: "2023-06-01", max_tokens: 50, upstream_url: "` + aURL + `"}}
`
	p := newFailoverProxyDoc(t, doc, nil, nil)
	for _, tc := range []struct {
		name, path, body string
		header           map[string]string
		wantPath         string
		wantHeader       map[string]string // "" is absent
		answer           string            // in the client's answer, when 200
	}{
		{name: "no version from the client: the configured one", path: "/anthropic/v1/messages?beta=true", body: msgBody,
			header:   map[string]string{"X-Api-Key": "client-key", "Authorization": "Bearer client-key", "Accept-Encoding": "gzip"},
			wantPath: "/v1/messages",
			wantHeader: map[string]string{"Anthropic-Version": "2023-06-01", "Anthropic-Beta": "", "X-Api-Key": anthropicstub.DefaultKey,
				"Authorization": "", "Accept-Encoding": "gzip"},
			answer: `"type":"message"`},
		{name: "the client's version and betas, streamed", path: "/anthropic/v1/messages?beta=true", body: msgStreamBody,
			header:     map[string]string{"Anthropic-Version": "2024-01-01", "Anthropic-Beta": "claude-code-20250219,interleaved-thinking-2025-05-14", "X-Api-Key": "client-key"},
			wantPath:   "/v1/messages",
			wantHeader: map[string]string{"Anthropic-Version": "2024-01-01", "Anthropic-Beta": "claude-code-20250219,interleaved-thinking-2025-05-14", "X-Api-Key": anthropicstub.DefaultKey, "Accept-Encoding": "identity"},
			answer:     "event: message_stop\n"},
		{name: "count_tokens", path: "/anthropic/v1/messages/count_tokens?beta=true", body: `{"model":"claude","messages":[{"role":"user","content":"hi"}]}`,
			header:     map[string]string{"Anthropic-Beta": "token-counting-2024-11-01"},
			wantPath:   "/v1/messages/count_tokens",
			wantHeader: map[string]string{"Anthropic-Version": "2023-06-01", "Anthropic-Beta": "token-counting-2024-11-01", "X-Api-Key": anthropicstub.DefaultKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			p.h.ServeHTTP(w, req)
			if tc.answer != "" && (w.Code != 200 || !strings.Contains(w.Body.String(), tc.answer)) {
				t.Fatalf("answer %d %s", w.Code, w.Body.String())
			}
			got := as.Last()
			if got.Path != tc.wantPath || got.Query != "beta=true" {
				t.Fatalf("upstream asked at %s?%s", got.Path, got.Query)
			}
			for k, v := range tc.wantHeader {
				if got.Header.Get(k) != v {
					t.Errorf("upstream %s: %q, want %q", k, got.Header.Get(k), v)
				}
			}
			if got.Decoded["model"] != "stub-answer" {
				t.Fatalf("upstream body %s", got.Body)
			}
			if _, ok := got.Decoded["stream"]; tc.wantPath != "/v1/messages" && ok {
				t.Fatalf("a count with stream: %s", got.Body)
			}
			if tc.wantPath == "/v1/messages" && got.Decoded["max_tokens"] != float64(50) {
				t.Fatalf("max_tokens not capped: %s", got.Body)
			}
		})
	}
}

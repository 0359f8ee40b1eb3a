package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/openai"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// The configured prices reach the statistics, cache prices included, so
// that a provider's cached prompt tokens cost what the operator said.
func TestRecordCarriesPrices(t *testing.T) {
	p := plugin(t, `{route_type: llm/v1/chat, model: {provider: openai, name: m, options: {input_cost: 3, output_cost: 15, cache_read_cost: 0.3, cache_write_cost: 3.75}}}`)
	o := &outcome{status: 200, usage: &stats.Usage{PromptTokens: 1000, CompletionTokens: 100, CacheReadTokens: 600, CacheWriteTokens: 200}}
	rec := record(&plan{plugin: p, price: priceFor(p, openai.Driver{}, "m")}, o)
	want := (200*3 + 600*0.3 + 200*3.75 + 100*15) / 1e6
	if got := rec.Cost(); got < want-1e-12 || got > want+1e-12 {
		t.Fatalf("cost = %v, want %v", got, want)
	}
}

type listPriced struct{ openai.Driver }

func (listPriced) Prices(model string) (provider.Prices, bool) {
	if model != "listed" {
		return provider.Prices{}, false
	}
	return provider.Prices{Input: 1, Output: 2, CacheRead: 0.1}, true
}

// Without configured costs, a driver's list prices cost the request; with
// them, the configuration wins (Kong's rule).
func TestPriceForPrefersConfig(t *testing.T) {
	bare := plugin(t, `{route_type: llm/v1/chat, model: {provider: openai}}`)
	if pc := priceFor(bare, listPriced{}, "listed"); !pc.known || pc.input != 1 || pc.output != 2 || pc.cacheRead == nil || *pc.cacheRead != 0.1 || pc.cacheWrite != nil {
		t.Errorf("list price = %+v", pc)
	}
	if pc := priceFor(bare, listPriced{}, "unlisted"); pc.known {
		t.Errorf("an unlisted model is priced: %+v", pc)
	}
	set := plugin(t, `{route_type: llm/v1/chat, model: {provider: openai, options: {input_cost: 5}}}`)
	if pc := priceFor(set, listPriced{}, "listed"); pc.input != 5 || pc.output != 0 {
		t.Errorf("configured price = %+v, want input 5 from the config", pc)
	}
}

// estimatingEmbedder answers embeddings as a driver whose provider counts
// no tokens (Gemini API): its own estimate in the answer's usage, and, when
// estimate is set, the report that it is one.
type estimatingEmbedder struct{ estimate bool }

func (d estimatingEmbedder) Prepare(*provider.Call) (provider.Upstream, error) {
	return provider.Upstream{}, provider.Unsupported("", "chat")
}

func (d estimatingEmbedder) PrepareEmbeddings(c *provider.Call) (provider.Upstream, error) {
	return provider.Upstream{URL: &url.URL{Scheme: "https", Host: "embed.invalid", Path: "/embed"}, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if d.estimate {
			provider.ReportEstimatedUsage(r.Context())
		}
		return provider.JSONResponse(r, http.StatusOK, provider.EmbeddingsJSON("m", [][]float32{{1, 2}}, 3, false)), nil
	})}, nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A driver's estimated usage is marked in the statistics as the proxy's
// own estimates are, and nowhere in the client's answer (OpenAI's shape
// has no such field); the provider's counts stay unmarked. The rate
// limit settles to the estimate as a whole count: no completion reserve.
func TestDriverEstimateMarked(t *testing.T) {
	tests := []struct {
		name     string
		estimate bool
	}{
		{name: "driver estimate", estimate: true},
		{name: "provider count", estimate: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse(context.Background(), []byte(`
_format_version: "3.0"
routes:
  - name: embed
    paths: [/v1/embeddings]
    plugins:
      - name: ai-proxy
        config:
          route_type: llm/v1/embeddings
          logging: {log_statistics: true}
          model: {provider: gemini, name: gemini-embedding-001}
`), config.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var rec *stats.Record
			var line strings.Builder
			sr := stats.New(stats.Options{Logger: discardLogger, Out: &line})
			h := New(configsource.NewStatic(cfg), Options{Logger: discardLogger, Drivers: provider.Set{config.ProviderGemini: estimatingEmbedder{tt.estimate}},
				Observe: func(r *stats.Record) { rec = r; sr.Observe(r) }})
			req := httptest.NewRequest(http.MethodPost, "/v1/embeddings", strings.NewReader(`{"input":"hello there"}`))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 || strings.Contains(w.Body.String(), "estimated") {
				t.Fatalf("answer %d %s", w.Code, w.Body)
			}
			if rec == nil || rec.Usage == nil || rec.Usage.PromptTokens != 3 || rec.Usage.Estimated != tt.estimate {
				t.Fatalf("statistics usage %+v, want 3 prompt tokens, estimated %v", rec.Usage, tt.estimate)
			}
			if got := strings.Contains(line.String(), `"estimated":true`); got != tt.estimate {
				t.Errorf("statistics line %s", line.String())
			}
		})
	}
	// record marks a copy: the outcome's usage, which the settlement reads,
	// stays a whole count.
	o := &outcome{status: 200, usage: &stats.Usage{PromptTokens: 3, TotalTokens: 3}, report: &provider.Report{}}
	provider.ReportEstimatedUsage(provider.WithReport(context.Background(), o.report))
	pl := &plan{plugin: plugin(t, `{route_type: llm/v1/embeddings, model: {provider: gemini, name: m}}`), rewritten: rewritten{body: []byte(`{"input":"hello there"}`)}}
	if rec := record(pl, o); !rec.Usage.Estimated || o.usage.Estimated {
		t.Fatalf("record %+v, outcome %+v", rec.Usage, o.usage)
	}
	if u := settlement(pl, o); u == nil || u.PromptTokens != 3 || u.CompletionTokens != 0 {
		t.Errorf("settled %+v, want the 3 prompt tokens alone", u)
	}
}

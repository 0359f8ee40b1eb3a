package proxy

import (
	"testing"

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

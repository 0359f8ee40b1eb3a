package proxy

import (
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// The configured prices reach the statistics, cache prices included, so
// that a provider's cached prompt tokens cost what the operator said.
func TestRecordCarriesPrices(t *testing.T) {
	p := plugin(t, `{route_type: llm/v1/chat, model: {provider: openai, name: m, options: {input_cost: 3, output_cost: 15, cache_read_cost: 0.3, cache_write_cost: 3.75}}}`)
	o := &outcome{status: 200, usage: &stats.Usage{PromptTokens: 1000, CompletionTokens: 100, CacheReadTokens: 600, CacheWriteTokens: 200}}
	rec := record(&plan{plugin: p}, o)
	want := (200*3 + 600*0.3 + 200*3.75 + 100*15) / 1e6
	if got := rec.Cost(); got < want-1e-12 || got > want+1e-12 {
		t.Fatalf("cost = %v, want %v", got, want)
	}
}

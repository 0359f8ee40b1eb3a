package bedrock

import (
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// prices are Bedrock's on-demand list prices in us-east-1, USD per 1M
// tokens (input, output, cache read, cache write), by base model id.
// Configured input_cost / output_cost take precedence; cross-region
// inference profiles (us., eu., apac., global.) cost the same as the model.
var prices = map[string]provider.Prices{
	"anthropic.claude-3-haiku-20240307-v1:0":    {Input: 0.25, Output: 1.25},
	"anthropic.claude-3-5-haiku-20241022-v1:0":  {Input: 0.80, Output: 4.00, CacheRead: 0.08, CacheWrite: 1.00},
	"anthropic.claude-haiku-4-5-20251001-v1:0":  {Input: 1.00, Output: 5.00, CacheRead: 0.10, CacheWrite: 1.25},
	"anthropic.claude-3-5-sonnet-20240620-v1:0": {Input: 3.00, Output: 15.00},
	"anthropic.claude-3-5-sonnet-20241022-v2:0": {Input: 3.00, Output: 15.00, CacheRead: 0.30, CacheWrite: 3.75},
	"anthropic.claude-3-7-sonnet-20250219-v1:0": {Input: 3.00, Output: 15.00, CacheRead: 0.30, CacheWrite: 3.75},
	"anthropic.claude-sonnet-4-20250514-v1:0":   {Input: 3.00, Output: 15.00, CacheRead: 0.30, CacheWrite: 3.75},
	"anthropic.claude-sonnet-4-5-20250929-v1:0": {Input: 3.00, Output: 15.00, CacheRead: 0.30, CacheWrite: 3.75},
	"anthropic.claude-opus-4-20250514-v1:0":     {Input: 15.00, Output: 75.00, CacheRead: 1.50, CacheWrite: 18.75},
	"anthropic.claude-opus-4-1-20250805-v1:0":   {Input: 15.00, Output: 75.00, CacheRead: 1.50, CacheWrite: 18.75},
	"amazon.nova-micro-v1:0":                    {Input: 0.035, Output: 0.14, CacheRead: 0.00875},
	"amazon.nova-lite-v1:0":                     {Input: 0.06, Output: 0.24, CacheRead: 0.015},
	"amazon.nova-pro-v1:0":                      {Input: 0.80, Output: 3.20, CacheRead: 0.20},
	"amazon.nova-premier-v1:0":                  {Input: 2.50, Output: 12.50, CacheRead: 0.625},
	"meta.llama3-1-8b-instruct-v1:0":            {Input: 0.22, Output: 0.22},
	"meta.llama3-1-70b-instruct-v1:0":           {Input: 0.72, Output: 0.72},
	"meta.llama3-3-70b-instruct-v1:0":           {Input: 0.72, Output: 0.72},
	"mistral.mistral-large-2402-v1:0":           {Input: 4.00, Output: 12.00},
	"mistral.mistral-small-2402-v1:0":           {Input: 1.00, Output: 3.00},
	"deepseek.r1-v1:0":                          {Input: 1.35, Output: 5.40},
	"openai.gpt-oss-20b-1:0":                    {Input: 0.07, Output: 0.30},
	"openai.gpt-oss-120b-1:0":                   {Input: 0.15, Output: 0.60},
	"cohere.command-r-plus-v1:0":                {Input: 3.00, Output: 15.00},
	"cohere.command-r-v1:0":                     {Input: 0.50, Output: 1.50},
}

// baseModel strips an ARN's resource prefix and a cross-region inference
// profile's geography from a model id.
func baseModel(model string) string {
	if strings.HasPrefix(model, "arn:") {
		if k := strings.LastIndexByte(model, '/'); k >= 0 {
			model = model[k+1:]
		}
	}
	for _, geo := range []string{"us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca."} {
		if rest, ok := strings.CutPrefix(model, geo); ok {
			return rest
		}
	}
	return model
}

// Prices implements provider.Pricer: the list prices of a model id,
// inference profile id or ARN Bedrock knows.
func (d *Driver) Prices(model string) (provider.Prices, bool) {
	p, ok := prices[baseModel(model)]
	return p, ok
}

var _ provider.Pricer = (*Driver)(nil)

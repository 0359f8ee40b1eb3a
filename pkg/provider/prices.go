package provider

// Prices are a model's list prices in the unit Kong's model.options
// input_cost / output_cost use: currency per 1M tokens. CacheRead prices
// prompt tokens read from the provider's cache, CacheWrite those written to
// it; zero means "as Input".
type Prices struct {
	Input, Output, CacheRead, CacheWrite float64
}

// Pricer is an optional interface of a Driver: default prices for the
// models it knows, used when the configuration sets no
// model.options.input_cost / output_cost.
//
// What the proxy does with it (pkg/proxy/record.go and the cost limits):
//
//  1. Prices come from configuration first: when model.options.input_cost
//     and output_cost are both set, they (and cache_read_cost /
//     cache_write_cost) are used and the Pricer is not asked.
//  2. Otherwise, when the plugin's driver implements Pricer, call
//     Prices(model) with the model the upstream was asked for (Call.Model,
//     the same string the completion's "model" carries). ok false: no cost
//     is computed (as today without input_cost/output_cost).
//  3. cost = (prompt_tokens - cached_tokens - cache_creation_tokens) * Input
//     + cached_tokens * CacheRead (Input when 0)
//     + cache_creation_tokens * CacheWrite (Input when 0)
//     + completion_tokens * Output, all divided by 1e6; prompt_tokens
//     includes the cached tokens (OpenAI's arithmetic, which the drivers'
//     usage follows).
//  4. Prices is called once per request after the answer, is safe for
//     concurrent use and allocates nothing; the statistics line says which
//     source priced it only if the lead wants to (not required).
type Pricer interface {
	Prices(model string) (Prices, bool)
}

package proxy

import (
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// price is what a request's tokens cost, per million, in the unit of
// Kong's model.options costs.
type price struct {
	input, output         float64
	cacheRead, cacheWrite *float64 // nil: as input
	known                 bool
}

// priceFor takes the configured costs when model.options sets any (Kong's
// rule), else the driver's list prices for the model it calls, when it
// has them (provider.Pricer): a Bedrock or Anthropic model is costed
// without the operator copying a price list.
func priceFor(p *config.Plugin, d provider.Driver, model string) price {
	o := p.Model.Options
	if o.InputCost != nil || o.OutputCost != nil {
		return price{input: deref(o.InputCost), output: deref(o.OutputCost), cacheRead: o.CacheReadCost, cacheWrite: o.CacheWriteCost, known: true}
	}
	pr, ok := d.(provider.Pricer)
	if !ok {
		return price{}
	}
	list, ok := pr.Prices(model)
	if !ok {
		return price{}
	}
	pc := price{input: list.Input, output: list.Output, known: true}
	if list.CacheRead != 0 {
		pc.cacheRead = &list.CacheRead
	}
	if list.CacheWrite != 0 {
		pc.cacheWrite = &list.CacheWrite
	}
	return pc
}

// limits is the price a cost budget reserves and settles at.
func (pc price) limits() limits.Prices { return limits.Prices{Input: pc.input, Output: pc.output} }

// apply puts the price on a statistics record.
func (pc price) apply(rec *stats.Record) {
	rec.InputCost, rec.OutputCost = pc.input, pc.output
	rec.CacheReadCost, rec.CacheWriteCost = pc.cacheRead, pc.cacheWrite
}

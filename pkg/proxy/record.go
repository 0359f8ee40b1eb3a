package proxy

import (
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// record summarizes the exchange for statistics. It runs after the response
// is complete, off the relay's path.
func (ex *exchange) record() *stats.Record {
	now := time.Now()
	rec := &stats.Record{
		Time:         ex.Start,
		RequestID:    ex.RequestID,
		Route:        ex.Route,
		Consumer:     ex.Consumer,
		Status:       ex.Status,
		ErrorCode:    ex.ErrCode,
		Stream:       ex.Stream,
		RequestModel: ex.Model,
		Duration:     now.Sub(ex.Start),
	}
	if ex.streamErr != nil {
		rec.StreamError = ex.streamErr.Error()
	}
	if !ex.upstreamStart.IsZero() {
		rec.LLMLatency = now.Sub(ex.upstreamStart)
		switch {
		case !ex.firstToken.IsZero():
			rec.TimeToFirstToken = ex.firstToken.Sub(ex.upstreamStart)
		case !ex.headersAt.IsZero():
			rec.TimeToFirstToken = ex.headersAt.Sub(ex.upstreamStart)
		}
	}
	rec.ResponseModel = ex.responseModel
	if u := ex.usage; u != nil {
		rec.Usage = &stats.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	}
	if p := ex.Plugin; p != nil {
		rec.PluginID = p.ID
		rec.Provider = p.Model.Provider
		rec.LogStatistics = p.Logging.LogStatistics
		rec.LogPayloads = p.Logging.LogPayloads
		// Only a name the operator configured is trusted as a metric
		// dimension value as it is; stats bounds the others.
		rec.ModelFixed = p.Model.Name.IsStatic() && !p.Model.Name.IsZero() && ex.Model == p.Model.Name.Raw
		if o := p.Model.Options; o.InputCost != nil {
			rec.InputCost = *o.InputCost
		}
		if o := p.Model.Options; o.OutputCost != nil {
			rec.OutputCost = *o.OutputCost
		}
		if rec.LogPayloads {
			rec.RequestBody = ex.requestBody
			rec.ResponseBody = ex.responseBody
			rec.Secrets = secrets(p.Auth.HeaderValue, p.Auth.ParamValue, ex.clientKey)
		}
	}
	return rec
}

// secrets lists the values a payload log must not show: the configured
// credentials (and the token inside "Bearer <token>") and the client's key.
func secrets(values ...string) []string {
	var out []string
	for _, v := range values {
		if v == "" {
			continue
		}
		out = append(out, v)
		if _, tok, ok := strings.Cut(v, " "); ok && tok != "" {
			out = append(out, tok)
		}
	}
	return out
}

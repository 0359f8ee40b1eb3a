package proxy

import (
	"net/http"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// record summarizes a request for statistics from its plan and outcome. It
// runs after the response is complete, off the relay's path.
func record(pl *plan, o *outcome) *stats.Record {
	now := time.Now()
	rec := &stats.Record{
		Time:          o.start,
		RequestID:     pl.requestID,
		Route:         pl.route,
		Consumer:      pl.consumer,
		Status:        o.status,
		ErrorCode:     o.errCode,
		Stream:        pl.stream,
		RequestModel:  pl.model,
		ResponseModel: o.responseModel,
		Usage:         o.usage,
		Duration:      now.Sub(o.start),
	}
	if o.report.UsageEstimated() && rec.Usage != nil && !rec.Usage.Estimated {
		// The driver estimated the counts in its answer (Gemini API
		// embeddings carry none), which OpenAI's shape cannot say: the
		// statistics mark it as they mark Kong's estimates. Marked on a
		// copy: the rate limit has settled to these counts as they are
		// (an estimate of the whole usage, with no completion to reserve).
		u := *rec.Usage
		u.Estimated = true
		rec.Usage = &u
	}
	if o.streamErr != nil {
		rec.StreamError = scrub(pl, o, o.streamErr.Error())
	}
	rec.Limits = limitsRecord(pl.limit)
	if !o.upstreamStart.IsZero() {
		rec.LLMLatency = now.Sub(o.upstreamStart)
		switch {
		case !o.firstToken.IsZero():
			rec.TimeToFirstToken = o.firstToken.Sub(o.upstreamStart)
		case !o.headersAt.IsZero():
			rec.TimeToFirstToken = o.headersAt.Sub(o.upstreamStart)
		}
	}
	if p := pl.plugin; p != nil {
		rec.PluginID = p.ID
		rec.Provider = p.Model.Provider
		rec.LogStatistics = p.Logging.LogStatistics
		rec.LogPayloads = p.Logging.LogPayloads
		// Only a name the operator configured is trusted as a metric
		// dimension value as it is; stats bounds the others.
		rec.ModelFixed = p.Model.Name.IsStatic() && !p.Model.Name.IsZero() && pl.model == p.Model.Name.Raw
		pl.price.apply(rec)
		streamStats(rec, pl, o)
		chainRecord(rec, pl)
		if rec.LogPayloads {
			// Kong logs the body it sent upstream, after its rewrite;
			// the client's own only when the request ended before that.
			rec.RequestBody = pl.body
			if rec.RequestBody == nil {
				rec.RequestBody = pl.requestBody
			}
			rec.ResponseBody = o.responseBody
			rec.Secrets = credentialForms(pl, o, pl.clientKey)
		}
	}
	return rec
}

// streamStats completes a relayed stream's statistics: Kong's estimate
// when the upstream sent no usage (estimateMissing made it for a complete
// stream; one cut short is estimated here, for the statistics only), and
// the assembled answer as its payload.
func streamStats(rec *stats.Record, pl *plan, o *outcome) {
	c := o.collect
	if c == nil || o.status != http.StatusOK {
		return
	}
	if rec.Usage == nil {
		rec.Usage = estimateUsage(pl.body, c)
	}
	if rec.LogPayloads {
		o.responseBody = streamPayload(c, rec.Usage)
	}
}

package stats

import (
	"strconv"
)

// emfMetrics are the metrics of every EMF record, in the order written.
var emfMetrics = [...]struct{ name, unit string }{
	{"Requests", "Count"},
	{"Errors4xx", "Count"},
	{"Errors5xx", "Count"},
	{"StreamErrors", "Count"},
	{"PromptTokens", "Count"},
	{"CompletionTokens", "Count"},
	{"Latency", "Milliseconds"},
	{"LLMLatency", "Milliseconds"},
	{"Cost", "None"},
}

// ttftMetric is declared only on records of streams that produced a first
// event: a non-streamed answer, or a request that never reached the
// upstream, has no first token, and a zero would drag the percentiles the
// TTFT alarm watches towards nothing. EMF requires every declared metric
// to be present, so such records declare it not at all.
var ttftMetric = struct{ name, unit string }{"TimeToFirstToken", "Milliseconds"}

// Dimension sets: route and model, route alone (so an alarm on a route
// covers every model behind it), and, for a request a key-auth consumer
// made, the consumer alone (spend per team). Each dimension's values are
// bounded: routes and consumers by the configuration, models by modelSet.
const (
	emfDimensions         = `[["Route","Model"],["Route"]]`
	emfDimensionsConsumer = `[["Route","Model"],["Route"],["Consumer"]]`
)

// emfMetricsDoc is the part of the _aws member after the timestamp: the
// same for every record of a namespace and dimension sets, so it is built
// once.
func emfMetricsDoc(namespace, dimensions string, ttft bool) string {
	b := []byte(`,"CloudWatchMetrics":[{"Namespace":`)
	b = appendString(b, namespace)
	b = append(b, `,"Dimensions":`+dimensions+`,"Metrics":[`...)
	metrics := emfMetrics[:]
	if ttft {
		metrics = append(metrics[:len(metrics):len(metrics)], ttftMetric)
	}
	for i, m := range metrics {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Name":"`+m.name+`","Unit":"`+m.unit+`"}`...)
	}
	return string(append(b, "]}]}"...))
}

// emfDocs are the four _aws tails: [with Consumer][with TimeToFirstToken].
type emfDocs [2][2]string

func newEMFDocs(namespace string) emfDocs {
	var d emfDocs
	for i, dims := range []string{emfDimensions, emfDimensionsConsumer} {
		d[i][0] = emfMetricsDoc(namespace, dims, false)
		d[i][1] = emfMetricsDoc(namespace, dims, true)
	}
	return d
}

// appendEMF appends one CloudWatch Embedded Metric Format record. Cost is
// in the currency of the configured input_cost/output_cost (per request,
// so its Sum is the spend).
func (r *Recorder) appendEMF(b []byte, rec *Record) []byte {
	b = append(b, `{"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, rec.Time.UnixMilli(), 10)
	ttft := rec.Stream && rec.TimeToFirstToken > 0
	b = append(b, r.emfDocs[b2i(rec.Consumer != "")][b2i(ttft)]...)
	b = appendStringField(b, "Route", orNone(rec.Route))
	b = appendStringField(b, "Model", r.models.dimension(rec))
	if rec.Consumer != "" {
		b = appendStringField(b, "Consumer", rec.Consumer)
	}
	if rec.RequestID != "" {
		b = appendStringField(b, "RequestId", rec.RequestID)
	}
	b = append(appendKey(b, "StatusCode"), '"')
	b = strconv.AppendInt(b, int64(rec.Status), 10)
	b = append(b, '"')
	var prompt, completion int
	if u := rec.Usage; u != nil {
		prompt, completion = u.PromptTokens, u.CompletionTokens
	}
	b = appendIntField(b, "Requests", 1)
	b = appendIntField(b, "Errors4xx", b2i(rec.Status >= 400 && rec.Status < 500))
	b = appendIntField(b, "Errors5xx", b2i(rec.Status >= 500))
	b = appendIntField(b, "StreamErrors", b2i(rec.StreamError != ""))
	b = appendIntField(b, "PromptTokens", int64(prompt))
	b = appendIntField(b, "CompletionTokens", int64(completion))
	b = appendFloatField(b, "Latency", ms(rec.Duration.Microseconds()))
	b = appendFloatField(b, "LLMLatency", ms(rec.LLMLatency.Microseconds()))
	if ttft {
		b = appendFloatField(b, "TimeToFirstToken", ms(rec.TimeToFirstToken.Microseconds()))
	}
	b = appendFloatField(b, "Cost", rec.Cost())
	return append(b, '}', '\n')
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

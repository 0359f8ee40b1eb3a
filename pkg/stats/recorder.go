package stats

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// MaxPayloadLog caps each logged payload; CloudWatch rejects log events over
// 256 KiB and a chat history can be far larger.
const MaxPayloadLog = 16 << 10

// Options configure a Recorder.
type Options struct {
	// Logger's level decides whether the statistics line is written (it is
	// an INFO line, WARN for a 5xx or a broken stream); nil means
	// slog.Default(). The line itself goes to Out, not through the logger.
	Logger *slog.Logger
	// Out receives one JSON line per request, shaped as log/slog's
	// JSONHandler would write it; nil discards them. The binary passes a
	// *Writer so that no request waits on a write to stdout.
	Out io.Writer
	// EMF receives one CloudWatch Embedded Metric Format record per request;
	// nil disables metrics.
	EMF io.Writer
	// Namespace of the metrics; empty means LambdaAIProxy.
	Namespace string
	// MaxModels bounds the Model dimension values a process emits for
	// models clients chose (see modelSet); 0 means DefaultMaxModels.
	MaxModels int
}

// Recorder writes one statistics line per request and, when EMF is set,
// one EMF record. It is safe for concurrent use.
type Recorder struct {
	log *slog.Logger
	out io.Writer
	emf io.Writer
	// The _aws member after its timestamp, by Consumer and TTFT presence.
	emfDocs   emfDocs
	models    modelSet
	namespace string // for the rate-limit records
}

// New returns a Recorder.
func New(o Options) *Recorder {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Namespace == "" {
		o.Namespace = "LambdaAIProxy"
	}
	if o.MaxModels <= 0 {
		o.MaxModels = DefaultMaxModels
	}
	return &Recorder{log: o.Logger, out: o.Out, emf: o.EMF, models: modelSet{max: o.MaxModels}, namespace: o.Namespace,
		emfDocs: newEMFDocs(o.Namespace)}
}

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// Observe records one request.
func (r *Recorder) Observe(rec *Record) {
	bp := linePool.Get().(*[]byte)
	if level := lineLevel(rec); r.log.Enabled(context.Background(), level) {
		*bp = appendLine((*bp)[:0], rec, level, time.Now())
		_, _ = r.out.Write(*bp)
	}
	if r.emf != nil {
		*bp = r.appendEMF((*bp)[:0], rec)
		_, _ = r.emf.Write(*bp)
		r.writeLimitsEMF(rec)
	}
	if cap(*bp) <= 64<<10 { // a payload line may be large; do not keep it
		linePool.Put(bp)
	}
}

func lineLevel(rec *Record) slog.Level {
	if rec.Status >= 500 || rec.StreamError != "" {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// appendLine appends the statistics line: the request's outcome and, with
// log_statistics, Kong's ai.proxy analytics (meta, usage, payload).
func appendLine(b []byte, rec *Record, level slog.Level, now time.Time) []byte {
	b = append(b, `{"time":"`...)
	b = now.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"`...)
	b = append(b, level.String()...)
	b = append(b, `","msg":"request"`...)
	b = appendStringField(b, "request_id", rec.RequestID)
	b = appendStringField(b, "route", rec.Route)
	b = appendIntField(b, "status", int64(rec.Status))
	b = appendFloatField(b, "latency_ms", ms(rec.Duration.Microseconds()))
	b = appendBoolField(b, "stream", rec.Stream)
	if rec.Consumer != "" {
		b = appendStringField(b, "consumer", rec.Consumer)
	}
	if rec.ErrorCode != "" {
		b = appendStringField(b, "error_code", rec.ErrorCode)
	}
	if rec.StreamError != "" {
		b = appendStringField(b, "stream_error", rec.StreamError)
	}
	b = appendAttempts(b, rec)
	if rec.LogStatistics {
		b = append(b, `,"ai":{"proxy":{"meta":{`...)
		b = appendStringField(b, "plugin_id", rec.PluginID)
		b = appendStringField(b, "provider_name", rec.Provider)
		b = appendStringField(b, "request_model", rec.RequestModel)
		b = appendStringField(b, "response_model", rec.ResponseModel)
		b = appendIntField(b, "llm_latency", rec.LLMLatency.Milliseconds())
		b = appendFloatField(b, "time_to_first_token", ms(rec.TimeToFirstToken.Microseconds()))
		b = append(b, '}')
		if u := rec.Usage; u != nil {
			b = append(b, `,"usage":{`...)
			b = appendIntField(b, "prompt_tokens", int64(u.PromptTokens))
			b = appendIntField(b, "completion_tokens", int64(u.CompletionTokens))
			b = appendIntField(b, "total_tokens", int64(u.TotalTokens))
			b = appendFloatField(b, "cost", rec.Cost())
			b = appendFloatField(b, "time_per_token", rec.TimePerToken())
			if u.Estimated {
				b = appendBoolField(b, "estimated", true)
			}
			b = append(b, '}')
		}
		if rec.LogPayloads && !refusedCredentials(rec) {
			b = append(b, `,"payload":{`...)
			b = appendString(appendKey(b, "request"), redact(rec.RequestBody, rec.Secrets))
			b = appendString(appendKey(b, "response"), redact(rec.ResponseBody, rec.Secrets))
			b = append(b, '}')
		}
		b = append(b, "}}"...)
	}
	return append(b, '}', '\n')
}

func ms(us int64) float64 { return float64(us) / 1000 }

// refusedCredentials reports a request the proxy itself refused for its
// credentials (key-auth's 401, or a 403): its payload is a stranger's and is
// never logged, as under Kong, where key-auth ends such a request before
// ai-proxy sees it. An upstream's own 401 carries no error code and keeps
// its payload.
func refusedCredentials(rec *Record) bool {
	return rec.ErrorCode != "" && (rec.Status == 401 || rec.Status == 403)
}

package stats

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"sync"
)

// MaxPayloadLog caps each logged payload; CloudWatch rejects log events over
// 256 KiB and a chat history can be far larger.
const MaxPayloadLog = 16 << 10

// Recorder writes one log line per request and, when a namespace is set, one
// EMF record.
type Recorder struct {
	log *slog.Logger
	// emf receives EMF records; nil disables metrics.
	emf       io.Writer
	namespace string
	mu        sync.Mutex
}

// NewRecorder returns a Recorder logging to log and, if emf is non-nil,
// writing EMF records in namespace to it.
func NewRecorder(log *slog.Logger, emf io.Writer, namespace string) *Recorder {
	if namespace == "" {
		namespace = "LambdaAIProxy"
	}
	return &Recorder{log: log, emf: emf, namespace: namespace}
}

// Observe records one request.
func (r *Recorder) Observe(rec *Record) {
	r.logLine(rec)
	if r.emf != nil {
		r.writeEMF(rec)
		r.writeLimitsEMF(rec)
	}
}

func (r *Recorder) logLine(rec *Record) {
	attrs := []slog.Attr{
		slog.String("request_id", rec.RequestID),
		slog.String("route", rec.Route),
		slog.Int("status", rec.Status),
		slog.Float64("latency_ms", ms(rec.Duration.Microseconds())),
		slog.Bool("stream", rec.Stream),
	}
	if rec.Consumer != "" {
		attrs = append(attrs, slog.String("consumer", rec.Consumer))
	}
	if rec.ErrorCode != "" {
		attrs = append(attrs, slog.String("error_code", rec.ErrorCode))
	}
	if rec.StreamError != "" {
		attrs = append(attrs, slog.String("stream_error", rec.StreamError))
	}
	if rec.LogStatistics {
		ai := []any{
			slog.Group("meta",
				slog.String("plugin_id", rec.PluginID),
				slog.String("provider_name", rec.Provider),
				slog.String("request_model", rec.RequestModel),
				slog.String("response_model", rec.ResponseModel),
				slog.Int64("llm_latency", rec.LLMLatency.Milliseconds()),
				slog.Float64("time_to_first_token", ms(rec.TimeToFirstToken.Microseconds())),
			),
		}
		if u := rec.Usage; u != nil {
			ai = append(ai, slog.Group("usage",
				slog.Int("prompt_tokens", u.PromptTokens),
				slog.Int("completion_tokens", u.CompletionTokens),
				slog.Int("total_tokens", u.TotalTokens),
				slog.Float64("cost", rec.Cost()),
				slog.Float64("time_per_token", rec.TimePerToken()),
			))
		}
		if rec.LogPayloads {
			ai = append(ai, slog.Group("payload",
				slog.String("request", redact(rec.RequestBody, rec.Secrets)),
				slog.String("response", redact(rec.ResponseBody, rec.Secrets)),
			))
		}
		attrs = append(attrs, slog.Group("ai", slog.Group("proxy", ai...)))
	}
	level := slog.LevelInfo
	if rec.Status >= 500 || rec.StreamError != "" {
		level = slog.LevelWarn
	}
	r.log.LogAttrs(context.Background(), level, "request", attrs...)
}

func ms(us int64) float64 { return float64(us) / 1000 }

// redact blanks every configured secret in a payload, then caps it (in that
// order, so a secret cut in half by the cap cannot leak its first half).
func redact(b []byte, secrets []string) string {
	for _, s := range secrets {
		if len(s) >= 4 && bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte("[REDACTED]"))
		}
	}
	if len(b) > MaxPayloadLog {
		// slog writes invalid UTF-8 at the cut as U+FFFD.
		b = b[:MaxPayloadLog]
	}
	return string(b)
}

// writeEMF writes one CloudWatch Embedded Metric Format record. Dimensions
// are route and model, plus route alone so an alarm on a route covers every
// model behind it.
func (r *Recorder) writeEMF(rec *Record) {
	class := "2xx"
	switch {
	case rec.Status >= 500:
		class = "5xx"
	case rec.Status >= 400:
		class = "4xx"
	}
	m := map[string]any{
		"_aws": map[string]any{
			"Timestamp": rec.Time.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  r.namespace,
				"Dimensions": [][]string{{"Route", "Model"}, {"Route"}},
				"Metrics": []map[string]string{
					{"Name": "Requests", "Unit": "Count"},
					{"Name": "Errors4xx", "Unit": "Count"},
					{"Name": "Errors5xx", "Unit": "Count"},
					{"Name": "StreamErrors", "Unit": "Count"},
					{"Name": "PromptTokens", "Unit": "Count"},
					{"Name": "CompletionTokens", "Unit": "Count"},
					{"Name": "Latency", "Unit": "Milliseconds"},
					{"Name": "LLMLatency", "Unit": "Milliseconds"},
					{"Name": "TimeToFirstToken", "Unit": "Milliseconds"},
				},
			}},
		},
		"Route":            rec.Route,
		"Model":            rec.RequestModel,
		"Requests":         1,
		"Errors4xx":        b2i(class == "4xx"),
		"Errors5xx":        b2i(class == "5xx"),
		"StreamErrors":     b2i(rec.StreamError != ""),
		"Latency":          ms(rec.Duration.Microseconds()),
		"LLMLatency":       ms(rec.LLMLatency.Microseconds()),
		"TimeToFirstToken": ms(rec.TimeToFirstToken.Microseconds()),
		"StatusCode":       strconv.Itoa(rec.Status),
	}
	if rec.Usage != nil {
		m["PromptTokens"] = rec.Usage.PromptTokens
		m["CompletionTokens"] = rec.Usage.CompletionTokens
	} else {
		m["PromptTokens"], m["CompletionTokens"] = 0, 0
	}
	if rec.Consumer != "" {
		m["Consumer"] = rec.Consumer
	}
	if rec.RequestID != "" {
		m["RequestId"] = rec.RequestID
	}
	line, err := json.Marshal(m)
	if err != nil {
		return
	}
	line = append(line, '\n')
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.emf.Write(line)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

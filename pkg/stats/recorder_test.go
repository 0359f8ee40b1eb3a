package stats

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestCostAndTimePerToken(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name      string
		rec       Record
		cost, tpt float64
	}{
		{"kong's formula", Record{Usage: &Usage{PromptTokens: 1000, CompletionTokens: 500}, InputCost: 2.5, OutputCost: 10, LLMLatency: 1000 * time.Millisecond}, (1000*2.5 + 500*10) / 1e6, 2},
		{"no costs configured", Record{Usage: &Usage{PromptTokens: 10, CompletionTokens: 5}, LLMLatency: 50 * time.Millisecond}, 0, 10},
		{"no usage", Record{InputCost: 1}, 0, 0},
		{"cached tokens without cache costs cost input_cost", Record{Usage: &Usage{PromptTokens: 1000, CacheReadTokens: 400, CompletionTokens: 10}, InputCost: 2, OutputCost: 8}, (1000*2 + 10*8) / 1e6, 0},
		{"cache read cost", Record{Usage: &Usage{PromptTokens: 1000, CacheReadTokens: 400, CompletionTokens: 10}, InputCost: 2, OutputCost: 8, CacheReadCost: f(0.5)}, (600*2 + 400*0.5 + 10*8) / 1e6, 0},
		{"cache write cost", Record{Usage: &Usage{PromptTokens: 1000, CacheWriteTokens: 300, CompletionTokens: 10}, InputCost: 2, OutputCost: 8, CacheWriteCost: f(2.5)}, (700*2 + 300*2.5 + 10*8) / 1e6, 0},
		{"cached tokens never exceed the prompt", Record{Usage: &Usage{PromptTokens: 100, CacheReadTokens: 5000, CacheWriteTokens: 5000}, InputCost: 2, CacheReadCost: f(1), CacheWriteCost: f(3)}, 100 * 1 / 1e6, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rec.Cost(); got != tt.cost {
				t.Errorf("Cost = %v, want %v", got, tt.cost)
			}
			if got := tt.rec.TimePerToken(); got != tt.tpt {
				t.Errorf("TimePerToken = %v, want %v", got, tt.tpt)
			}
		})
	}
}

// slogLine is how the statistics line was written before it was formatted
// by hand: through log/slog's JSONHandler. appendLine must write the same
// bytes.
func slogLine(t *testing.T, rec *Record, now time.Time) string {
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
		ai := []any{slog.Group("meta",
			slog.String("plugin_id", rec.PluginID),
			slog.String("provider_name", rec.Provider),
			slog.String("request_model", rec.RequestModel),
			slog.String("response_model", rec.ResponseModel),
			slog.Int64("llm_latency", rec.LLMLatency.Milliseconds()),
			slog.Float64("time_to_first_token", ms(rec.TimeToFirstToken.Microseconds())),
		)}
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
	var buf bytes.Buffer
	r := slog.NewRecord(now, lineLevel(rec), "request", 0)
	r.AddAttrs(attrs...)
	if err := slog.NewJSONHandler(&buf, nil).Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestLineMatchesSlog(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 123456789, time.FixedZone("X", 3600))
	odd := "q\"uote\\ back\x01\x1f\t\n\r <html>&amp; \u2028\u2029 é 日本 \xff\xfe end"
	base := Record{RequestID: "req-1", Route: "default", Status: 200, Duration: 1234567 * time.Nanosecond, LogStatistics: true,
		PluginID: "p", Provider: "openai", RequestModel: "gpt-4o", ResponseModel: "gpt-4o-2024", LLMLatency: 999 * time.Millisecond, TimeToFirstToken: 1500 * time.Microsecond}
	tests := []struct {
		name string
		edit func(r *Record)
	}{
		{"minimal, statistics off", func(r *Record) { *r = Record{} }},
		{"statistics without usage", func(r *Record) {}},
		{"usage and cost", func(r *Record) {
			r.Usage = &Usage{PromptTokens: 11, CompletionTokens: 7, TotalTokens: 18}
			r.InputCost, r.OutputCost = 2.5, 10
		}},
		{"tiny float", func(r *Record) {
			r.Usage = &Usage{PromptTokens: 1}
			r.InputCost = 0.1 // cost 1e-07
			r.Duration = 1 * time.Microsecond
		}},
		{"huge float", func(r *Record) {
			r.Usage = &Usage{PromptTokens: 1, CompletionTokens: 3}
			r.InputCost, r.OutputCost = 3e27, 1
			r.LLMLatency = 10 * time.Millisecond
		}},
		{"consumer, error, stream error, warn", func(r *Record) {
			r.Status, r.Consumer, r.ErrorCode, r.StreamError, r.Stream = 502, "team-a", "upstream_unreachable", "unexpected EOF", true
		}},
		{"odd strings everywhere", func(r *Record) {
			r.RequestID, r.Route, r.Consumer, r.ErrorCode, r.StreamError = odd, odd, odd, odd, odd
			r.PluginID, r.Provider, r.RequestModel, r.ResponseModel = odd, odd, odd, odd
		}},
		{"payloads, redacted and cut inside a rune", func(r *Record) {
			r.LogPayloads = true
			r.RequestBody = []byte(`{"k":"sk-secret-1","m":"` + strings.Repeat("é", MaxPayloadLog) + `"}`)
			r.ResponseBody = []byte(odd)
			r.Secrets = []string{"sk-secret-1"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := base
			tt.edit(&rec)
			want := slogLine(t, &rec, now)
			got := string(appendLine(nil, &rec, lineLevel(&rec), now))
			if got != want {
				t.Errorf("line differs from slog's\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

// The level of the logger still decides: at WARN, a 200's line is not
// written and a 5xx's is.
func TestLineHonoursLogLevel(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r := New(Options{Logger: log, Out: &out})
	r.Observe(&Record{Status: 200, Route: "ok"})
	r.Observe(&Record{Status: 503, Route: "failed"})
	if s := out.String(); strings.Contains(s, `"route":"ok"`) || !strings.Contains(s, `"level":"WARN","msg":"request","request_id":"","route":"failed"`) {
		t.Errorf("lines at WARN: %s", s)
	}
}

func TestPayloadRedaction(t *testing.T) {
	secret := "sk-canary-0123456789"
	body := []byte(`{"api_key":"` + secret + `","messages":"` + strings.Repeat("a", MaxPayloadLog) + `"}`)
	var logs bytes.Buffer
	r := New(Options{Out: &logs})
	r.Observe(&Record{Status: 200, LogStatistics: true, LogPayloads: true, RequestBody: body, Secrets: []string{secret}})
	if strings.Contains(logs.String(), "sk-canary") {
		t.Fatalf("secret in the log: %s", logs.String()[:200])
	}
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	payload := line["ai"].(map[string]any)["proxy"].(map[string]any)["payload"].(map[string]any)["request"].(string)
	if !strings.Contains(payload, "[REDACTED]") || len(payload) > MaxPayloadLog+8 {
		t.Errorf("payload not redacted or not capped: %d bytes", len(payload))
	}
}

func TestNoStatisticsWhenOff(t *testing.T) {
	var logs, emf bytes.Buffer
	r := New(Options{Out: &logs, EMF: &emf, Namespace: "NS"})
	r.Observe(&Record{Status: 502, Route: "r", Usage: &Usage{PromptTokens: 1}})
	if strings.Contains(logs.String(), `"ai"`) {
		t.Errorf("analytics fields without log_statistics: %s", logs.String())
	}
	if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(emf.String(), `"Errors5xx":1`) || !strings.Contains(emf.String(), `"Namespace":"NS"`) {
		t.Errorf("log %s / emf %s", logs.String(), emf.String())
	}
}

func TestNoPayloadWhenCredentialsRefused(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		code        string
		wantPayload bool
	}{
		{"key-auth refused", 401, "invalid_api_key", false},
		{"forbidden by the proxy", 403, "forbidden", false},
		{"the upstream's own 401", 401, "", true},
		{"a proxy 400", 400, "invalid_json", true},
		{"success", 200, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			New(Options{Out: &out}).Observe(&Record{Status: tt.status, ErrorCode: tt.code, LogStatistics: true, LogPayloads: true,
				RequestBody: []byte(`{"messages":"stranger-payload"}`)})
			if got := strings.Contains(out.String(), "stranger-payload"); got != tt.wantPayload {
				t.Errorf("payload logged = %v, want %v: %s", got, tt.wantPayload, out.String())
			}
		})
	}
}

package stats

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestCostAndTimePerToken(t *testing.T) {
	tests := []struct {
		name      string
		rec       Record
		cost, tpt float64
	}{
		{"kong's formula", Record{Usage: &Usage{PromptTokens: 1000, CompletionTokens: 500}, InputCost: 2.5, OutputCost: 10, LLMLatency: 1000 * time.Millisecond}, (1000*2.5 + 500*10) / 1e6, 2},
		{"no costs configured", Record{Usage: &Usage{PromptTokens: 10, CompletionTokens: 5}, LLMLatency: 50 * time.Millisecond}, 0, 10},
		{"no usage", Record{InputCost: 1}, 0, 0},
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

func TestPayloadRedaction(t *testing.T) {
	secret := "sk-canary-0123456789"
	body := []byte(`{"api_key":"` + secret + `","messages":"` + strings.Repeat("a", MaxPayloadLog) + `"}`)
	var logs bytes.Buffer
	r := NewRecorder(slog.New(slog.NewJSONHandler(&logs, nil)), nil, "")
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
	r := NewRecorder(slog.New(slog.NewJSONHandler(&logs, nil)), &emf, "NS")
	r.Observe(&Record{Status: 502, Route: "r", Usage: &Usage{PromptTokens: 1}})
	if strings.Contains(logs.String(), `"ai"`) {
		t.Errorf("analytics fields without log_statistics: %s", logs.String())
	}
	if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(emf.String(), `"Errors5xx":1`) || !strings.Contains(emf.String(), `"Namespace":"NS"`) {
		t.Errorf("log %s / emf %s", logs.String(), emf.String())
	}
}

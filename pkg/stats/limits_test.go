package stats

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// The rate-limit metrics: per consumer, only for requests a limit covered.
func TestLimitsEMF(t *testing.T) {
	tests := []struct {
		name   string
		rec    Record
		want   []map[string]any // the limit records expected, in order
		nLines int              // all EMF lines
	}{
		{"no limit applied", Record{Consumer: "team-a"}, nil, 1},
		{"refused", Record{Consumer: "team-a", Status: 429, Limits: &Limits{Refused: true}},
			[]map[string]any{{"Consumer": "team-a", "RateLimited": 1.0, "RateLimitStoreErrors": 0.0}}, 2},
		{"store down, no consumer", Record{Limits: &Limits{StoreDown: true}},
			[]map[string]any{{"Consumer": "-", "RateLimited": 0.0, "RateLimitStoreErrors": 1.0}}, 2},
		{"served with a budget", Record{Consumer: "team-b", Limits: &Limits{Remaining: []Remaining{{"ai-rate-limiting-advanced 2592000-openai", 12.5}}}},
			[]map[string]any{{"Consumer": "team-b", "RateLimited": 0.0}, {"Consumer": "team-b", "Limit": "ai-rate-limiting-advanced 2592000-openai", "Remaining": 12.5}}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var emf bytes.Buffer
			tt.rec.Time = time.Unix(1700000000, 0)
			New(Options{Logger: slog.New(slog.DiscardHandler), EMF: &emf, Namespace: "Test"}).Observe(&tt.rec)
			lines := strings.Split(strings.TrimSpace(emf.String()), "\n")
			if len(lines) != tt.nLines {
				t.Fatalf("%d EMF lines, want %d:\n%s", len(lines), tt.nLines, emf.String())
			}
			for i, want := range tt.want {
				var got map[string]any
				if err := json.Unmarshal([]byte(lines[i+1]), &got); err != nil {
					t.Fatal(err)
				}
				for k, v := range want {
					if got[k] != v {
						t.Errorf("line %d: %s = %v, want %v\n%s", i+1, k, got[k], v, lines[i+1])
					}
				}
				aws := got["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
				if aws["Namespace"] != "Test" || len(aws["Metrics"].([]any)) == 0 {
					t.Errorf("line %d: bad _aws block %v", i+1, aws)
				}
			}
		})
	}
}

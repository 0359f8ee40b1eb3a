package proxy

import "testing"

// The reservation takes the largest cap any decoder could read.
func TestCompletionCap(t *testing.T) {
	tests := []struct {
		body string
		want int64
	}{
		{`{"messages":[],"max_tokens":50}`, 50},
		{`{"max_completion_tokens":70,"max_tokens":50}`, 70},
		{`{"max_tokens":1,"max_tokens":9000}`, 9000},
		{`{"max_tokens":9000,"max_tokens":1}`, 9000},
		{`{"max_tokens":"lots"}`, 0},
		{`{"max_tokens":-5}`, 0},
		{`{"messages":[{"max_tokens":99999}]}`, 0},
		{`[1]`, 0},
	}
	for _, tt := range tests {
		if got := completionCap([]byte(tt.body)); got != tt.want {
			t.Errorf("completionCap(%s) = %d, want %d", tt.body, got, tt.want)
		}
	}
}

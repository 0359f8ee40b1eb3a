package proxy

import (
	"io"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

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

// A request is charged its usage, else Kong's estimate of it, and keeps
// its reservation only when what the upstream generated is unknown.
func TestSettlement(t *testing.T) {
	body := []byte(`{"max_tokens":50,"messages":[{"role":"user","content":"one two three four five"}]}`)
	text := func() *streamCollect {
		c := &streamCollect{}
		c.add("tok0 tok1 tok2 tok3 tok4 ") // 24 bytes stripped: 6 tokens
		return c
	}
	real := &stats.Usage{PromptTokens: 11, CompletionTokens: 7, TotalTokens: 18}
	tests := []struct {
		name string
		o    outcome
		want *limits.Usage // nil: the reservation stands
	}{
		{"stream with usage", outcome{status: 200, usage: real, collect: text(), streamDone: true}, &limits.Usage{PromptTokens: 11, CompletionTokens: 7}},
		// 5 words x 1.8 = 9.
		{"stream without usage", outcome{status: 200, collect: text(), streamDone: true}, &limits.Usage{PromptTokens: 9, CompletionTokens: 6}},
		{"stream cut by the upstream", outcome{status: 200, collect: text(), streamErr: io.ErrUnexpectedEOF}, nil},
		{"stream the client left", outcome{status: 200, collect: text()}, nil},
		{"stream the deadline ended", outcome{status: 504, usage: &stats.Usage{PromptTokens: 9, CompletionTokens: 6, Estimated: true}, collect: text(), streamErr: ErrDeadline}, &limits.Usage{PromptTokens: 9, CompletionTokens: 6}},
		{"JSON with usage", outcome{status: 200, usage: real, tap: &answerTap{queue: tapQueue{complete: true}}}, &limits.Usage{PromptTokens: 11, CompletionTokens: 7}},
		// 5 words x 1.0; the completion unknown: the reserved max_tokens.
		{"JSON without usage", outcome{status: 200, tap: &answerTap{queue: tapQueue{complete: true}}}, &limits.Usage{PromptTokens: 5, CompletionTokens: 50}},
		// The edge refused a full answer (Lambda's 6 MB): the upstream billed it.
		{"answer refused by the edge", outcome{status: 502, refused: true, tap: &answerTap{}}, nil},
		{"upstream error", outcome{status: 500}, &limits.Usage{}},
		{"upstream timeout", outcome{status: 504}, nil},
		{"client gone", outcome{status: 499}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pl := &plan{}
			pl.body = body
			o := tc.o
			estimateMissing(pl, &o)
			got := settlement(pl, &o)
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("settled %+v, want %+v", got, tc.want)
			}
		})
	}
}

package proxy

import (
	"bytes"
	"io"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

func TestAnswerUsage(t *testing.T) {
	tests := []struct {
		name, body string
		model      string
		usage      *stats.Usage
	}{
		{"chat completion", `{"id":"x","model":"gpt-4o-mini","choices":[{"message":{"content":"\"usage\":{}"}}],"usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13}}`,
			"gpt-4o-mini", &stats.Usage{PromptTokens: 11, CompletionTokens: 2, TotalTokens: 13}},
		{"escaped model", `{"model":"gpt\u002d4o","usage":null}`, "gpt-4o", nil},
		{"no usage", `{"model":"m","choices":[]}`, "m", nil},
		{"model not a string", `{"model":5,"usage":{"total_tokens":1}}`, "", &stats.Usage{TotalTokens: 1}},
		{"invalid JSON", `{"model":"m","usage":{"total_tokens":1}`, "", nil},
		{"not an object", `[1,2]`, "", nil},
		{"empty", ``, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model, usage := answerUsage([]byte(tc.body))
			if model != tc.model {
				t.Errorf("model = %q, want %q", model, tc.model)
			}
			switch {
			case (usage == nil) != (tc.usage == nil):
				t.Errorf("usage = %+v, want %+v", usage, tc.usage)
			case usage != nil && *usage != *tc.usage:
				t.Errorf("usage = %+v, want %+v", *usage, *tc.usage)
			}
		})
	}
}

// answerUsage runs a whole answer through the tap, as the relay does.
func answerUsage(body []byte) (model string, usage *stats.Usage) {
	t := newAnswerTap(tapSetup{upstream: io.NopCloser(bytes.NewReader(body)), wantUsage: true})
	_, _ = io.Copy(io.Discard, t)
	var o outcome
	t.parse(&o)
	if !t.scan.stream.valid() {
		return "", nil
	}
	return o.responseModel, o.usage
}

var usageDocs = []string{
	`{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13}`,
	`{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13,"prompt_tokens_details":{"cached_tokens":4,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}`,
	`{"total_tokens":null}`, `{"total_tokens":1,"total_tokens":2}`, `{"total_tokens":-0}`, `{}`, `{ "total_tokens" : 7 } `,
	`{"total_tokens":1.0}`, `{"total_tokens":1e2}`, `{"total_tokens":"3"}`, `{"total_tokens":true}`, `{"total_tokens":99999999999999999999}`,
	`{"Total_Tokens":5}`, `{"TOTAL_TOKENS":5,"total_tokens":6}`, `{"total_tokens":6,"TOTAL_TOKENS":5}`, `{"total_\u0074okens":5}`,
	"{\"total_to\u212Aens\":5}", "{\"prompt_to\u017Fens\":5}",
	`{"prompt_tokens_details":null}`, `{"prompt_tokens_details":{"cached_tokens":5},"prompt_tokens_details":null}`,
	`{"prompt_tokens_details":{"cached_tokens":5},"prompt_tokens_details":{}}`,
	`{"prompt_tokens_details":{"cached_tokens":5},"prompt_tokens_details":null,"prompt_tokens_details":{}}`,
	`{"prompt_tokens_details":{"Cached_Tokens":5}}`, `{"prompt_tokens_details":[1]}`, `{"prompt_tokens_details":{"cached_tokens":1.5}}`,
	`{"prompt_tokens":160,"completion_tokens":2,"total_tokens":162,"prompt_tokens_details":{"cached_tokens":100,"cache_creation_tokens":50}}`,
	`{"prompt_tokens_details":{"cache_creation_tokens":5},"prompt_tokens_details":{"cached_tokens":1}}`, `{"prompt_tokens_details":{"Cache_Creation_Tokens":5}}`,
	`{"unknown":{"a":[1,2,{"b":null}]},"total_tokens":3}`, `{"total_tokens":3}x`, `{"total_tokens":`, `[]`,
}

// scanUsage decodes exactly what encoding/json decodes, or leaves the
// object to it; the usual OpenAI shape never needs reflection.
func TestScanUsageMatchesEncodingJSON(t *testing.T) {
	for i, doc := range usageDocs {
		want := unmarshalUsage([]byte(doc))
		got := decodeUsage([]byte(doc))
		if (got == nil) != (want == nil) || (got != nil && *got != *want) {
			t.Errorf("%q: got %+v, encoding/json %+v", doc, got, want)
		}
		if _, ok := scanUsage([]byte(doc)); !ok && i < 2 {
			t.Errorf("%q: OpenAI's shape left to encoding/json", doc)
		}
	}
	// Without reflection: the one allocation is the result.
	raw := []byte(usageDocs[1])
	if n := testing.AllocsPerRun(100, func() { _ = decodeUsage(raw) }); n > 1 {
		t.Errorf("decodeUsage of OpenAI's shape: %v allocations, want 1", n)
	}
}

func FuzzScanUsage(f *testing.F) {
	for _, doc := range usageDocs {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		if len(doc) == 0 || doc[0] != '{' {
			return
		}
		want := unmarshalUsage([]byte(doc))
		if got := decodeUsage([]byte(doc)); (got == nil) != (want == nil) || (got != nil && *got != *want) {
			t.Fatalf("%q: got %+v, encoding/json %+v", doc, got, want)
		}
	})
}

// A translating driver's cache writes reach the statistics, for their cost.
func TestUsageCacheCounts(t *testing.T) {
	u := decodeUsage([]byte(`{"prompt_tokens":160,"completion_tokens":2,"total_tokens":162,"prompt_tokens_details":{"cached_tokens":100,"cache_creation_tokens":50}}`))
	if u == nil || u.CacheReadTokens != 100 || u.CacheWriteTokens != 50 || u.PromptTokens != 160 {
		t.Fatalf("usage = %+v, want cache read 100, write 50 within 160 prompt tokens", u)
	}
}

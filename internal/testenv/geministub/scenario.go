package geministub

import (
	"strings"

	"google.golang.org/genai"
)

// Scenario is what the server answers to one request.
type Scenario struct {
	// Error is answered before any byte.
	Error *APIError
	// Events are the stream's events; a non-streamed answer is them merged.
	Events []*genai.GenerateContentResponse
	// StreamError is written as an error event after the events.
	StreamError *APIError
	// Lockstep: see Options.Lockstep.
	Lockstep bool
}

// Usage is the usage metadata of a default answer's last event.
var Usage = genai.GenerateContentResponseUsageMetadata{PromptTokenCount: 11, CandidatesTokenCount: 7, TotalTokenCount: 18}

// Event is one stream event: these parts, and finishReason and usage when
// given.
func Event(finish genai.FinishReason, usage *genai.GenerateContentResponseUsageMetadata, parts ...*genai.Part) *genai.GenerateContentResponse {
	c := &genai.Candidate{Content: &genai.Content{Role: "model", Parts: parts}, FinishReason: finish}
	return &genai.GenerateContentResponse{Candidates: []*genai.Candidate{c}, UsageMetadata: usage,
		ModelVersion: "gemini-stub-001", ResponseID: "stub-response"}
}

// TextScenario streams these text pieces, the last event with STOP and usage.
func TextScenario(pieces ...string) Scenario {
	var evs []*genai.GenerateContentResponse
	for i, p := range pieces {
		var fin genai.FinishReason
		u := &genai.GenerateContentResponseUsageMetadata{PromptTokenCount: Usage.PromptTokenCount}
		if i == len(pieces)-1 {
			fin, u = genai.FinishReasonStop, &Usage
		}
		evs = append(evs, Event(fin, u, &genai.Part{Text: p}))
	}
	return Scenario{Events: evs}
}

// Text of the default answer, in the pieces it is streamed in.
var TextPieces = []string{"Hello", " from", " the Gemini", " stub", "."}

// ToolSignature is the thought signature the tools scenario gives its
// first function call.
var ToolSignature = []byte("stub-signature-1")

// ToolsScenario: text, then two parallel function calls in two events, the
// first signed.
func ToolsScenario() Scenario {
	u := &genai.GenerateContentResponseUsageMetadata{PromptTokenCount: 40, CandidatesTokenCount: 25, TotalTokenCount: 65}
	return Scenario{Events: []*genai.GenerateContentResponse{
		Event("", nil, &genai.Part{Text: "Let me check both."}),
		Event("", nil, &genai.Part{FunctionCall: &genai.FunctionCall{Name: "get_weather", Args: map[string]any{"city": "Paris", "unit": "celsius"}}, ThoughtSignature: ToolSignature}),
		Event(genai.FinishReasonStop, u, &genai.Part{FunctionCall: &genai.FunctionCall{Name: "get_time", Args: map[string]any{"tz": "Europe/Paris"}}}),
	}}
}

// ReasoningScenario: thought summaries, then the answer; thinking tokens
// and cached tokens in usage.
func ReasoningScenario() Scenario {
	u := &genai.GenerateContentResponseUsageMetadata{PromptTokenCount: 30, CachedContentTokenCount: 10, CandidatesTokenCount: 5, ThoughtsTokenCount: 50, TotalTokenCount: 85}
	return Scenario{Events: []*genai.GenerateContentResponse{
		Event("", nil, &genai.Part{Text: "Thinking about it.", Thought: true}),
		Event("", nil, &genai.Part{Text: " Still thinking.", Thought: true}),
		Event(genai.FinishReasonStop, u, &genai.Part{Text: "42"}),
	}}
}

// ScenarioFor picks a scenario from the model name.
func ScenarioFor(model string) Scenario {
	_, name, _ := strings.Cut(model, "stub.")
	switch name {
	case "tools":
		return ToolsScenario()
	case "reasoning":
		return ReasoningScenario()
	case "length":
		sc := TextScenario("Cut", " short")
		sc.Events[1].Candidates[0].FinishReason = genai.FinishReasonMaxTokens
		return sc
	case "safety":
		sc := TextScenario("I can")
		sc.Events[0].Candidates[0].FinishReason = genai.FinishReasonSafety
		return sc
	case "blocked":
		return Scenario{Events: []*genai.GenerateContentResponse{{
			PromptFeedback: &genai.GenerateContentResponsePromptFeedback{BlockReason: genai.BlockedReasonSafety, BlockReasonMessage: "The prompt was blocked."},
			UsageMetadata:  &genai.GenerateContentResponseUsageMetadata{PromptTokenCount: 5, TotalTokenCount: 5}}}}
	case "error-401":
		return Scenario{Error: &APIError{Code: 401, Status: "UNAUTHENTICATED", Message: "Request had invalid authentication credentials."}}
	case "error-429":
		return Scenario{Error: &APIError{Code: 429, Status: "RESOURCE_EXHAUSTED", Message: "You exceeded your current quota.",
			Details: []any{map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}}}}
	case "error-500":
		return Scenario{Error: &APIError{Code: 500, Status: "INTERNAL", Message: "An internal error has occurred."}}
	case "error-midstream":
		sc := TextScenario(TextPieces[:2]...)
		sc.Events[1].Candidates[0].FinishReason = ""
		sc.StreamError = &APIError{Code: 503, Status: "UNAVAILABLE", Message: "The model is overloaded."}
		return sc
	case "cut":
		sc := TextScenario(TextPieces...)
		sc.Events = sc.Events[:3]
		return sc
	}
	return TextScenario(TextPieces...)
}

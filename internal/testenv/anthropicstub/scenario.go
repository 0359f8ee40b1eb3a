package anthropicstub

import (
	"encoding/json"
	"strings"

	"github.com/anthropics/anthropic-sdk-go/v2"
)

// Scenario is what the server answers to one request.
type Scenario struct {
	// Raw, when set, is answered as it is (status, content type, body):
	// Kong's fixtures and malformed answers.
	Raw *Raw
	// Error is answered before any stream, in Anthropic's error shape.
	Error *APIError

	Blocks     []Block
	StopReason anthropic.StopReason
	Usage      Usage

	// Streams only: StreamError is sent as an error event after the
	// blocks (no message_delta, no message_stop); Cut closes the
	// connection after the blocks; Ping sends a ping after message_start.
	StreamError *APIError
	Cut         bool
	Ping        bool
	// Lockstep writes each event after the first only once the test
	// called Step.
	Lockstep bool
}

// Raw is an answer written as it is.
type Raw struct {
	Status      int
	ContentType string
	Body        string
}

// APIError is an error answer: HTTP status, Anthropic's error type and
// message, and Retry-After when set.
type APIError struct {
	Status     int
	Type       string
	Message    string
	RetryAfter string
}

// Block is one content block; Deltas is how it is streamed (joined: the
// text, the tool input JSON or the thinking text).
type Block struct {
	Kind      string // text, tool_use, thinking, redacted_thinking
	Deltas    []string
	ID, Name  string
	Signature string
	Data      string
}

// Joined is the block's whole text, input JSON or thinking.
func (b Block) Joined() string { return strings.Join(b.Deltas, "") }

// Text, ToolUse, Thinking and Redacted build blocks.
func Text(deltas ...string) Block { return Block{Kind: "text", Deltas: deltas} }
func ToolUse(id, name string, input ...string) Block {
	return Block{Kind: "tool_use", ID: id, Name: name, Deltas: input}
}
func Thinking(signature string, deltas ...string) Block {
	return Block{Kind: "thinking", Signature: signature, Deltas: deltas}
}
func Redacted(data string) Block { return Block{Kind: "redacted_thinking", Data: data} }

// Usage is what an answer reports; Input excludes the cache's tokens, as
// Anthropic counts.
type Usage struct {
	Input, Output, CacheRead, CacheWrite int64
}

// param is the block as the SDK encodes a content block (the response
// block's wire shape).
func (b Block) param() anthropic.ContentBlockParamUnion {
	switch b.Kind {
	case "tool_use":
		return anthropic.NewToolUseBlock(b.ID, json.RawMessage(b.Joined()), b.Name)
	case "thinking":
		return anthropic.NewThinkingBlock(b.Signature, b.Joined())
	case "redacted_thinking":
		return anthropic.NewRedactedThinkingBlock(b.Data)
	}
	return anthropic.NewTextBlock(b.Joined())
}

// Scenarios steered by the model name, so that a binary started out of
// process can pick one:
//
//	stub-tools      text, then two parallel tool calls, arguments in pieces
//	stub-thinking   a signed thinking block, then text
//	stub-cache      text, usage with cache reads and writes
//	stub-length     stop_reason max_tokens
//	stub-refusal    stop_reason refusal
//	stub-error-401, stub-error-429 (Retry-After: 7), stub-error-500 (an
//	                HTML page), stub-error-529 (overloaded)
//	stub-error-midstream  text, then an overloaded_error event
//	stub-cut        text, then the connection closes
//
// A "-lockstep" suffix makes the stream lockstep; any other model gets a
// text answer naming it.
func ScenarioFor(model string) Scenario {
	name, lockstep := strings.CutSuffix(model, "-lockstep")
	sc := scenarioFor(name)
	sc.Lockstep = sc.Lockstep || lockstep
	return sc
}

// Tool calls of stub-tools.
var (
	ToolsText  = "Let me check both cities."
	ToolCalls  = [][3]string{{"toolu_01", "get_weather", `{"city":"Paris","unit":"celsius"}`}, {"toolu_02", "get_weather", `{"city":"Tokyo","unit":"celsius"}`}}
	ThinkText  = "The user greets me. I should greet back."
	ThinkSig   = "EqQBCkYIBxgCKkBsignature=="
	CacheUsage = Usage{Input: 12, Output: 7, CacheRead: 1000, CacheWrite: 200}
)

func scenarioFor(name string) Scenario {
	u := Usage{Input: 25, Output: 9}
	switch name {
	case "stub-tools":
		return Scenario{Blocks: []Block{
			Text("Let me check ", "both cities."),
			ToolUse(ToolCalls[0][0], ToolCalls[0][1], `{"city":`, ` "Paris", `, `"unit": "celsius"}`),
			ToolUse(ToolCalls[1][0], ToolCalls[1][1], `{"city": "Tokyo",`, ` "unit": "celsius"}`),
		}, StopReason: anthropic.StopReasonToolUse, Usage: Usage{Input: 310, Output: 88}}
	case "stub-thinking":
		return Scenario{Blocks: []Block{Thinking(ThinkSig, "The user greets me. ", "I should greet back."), Text("Hello!")}, Usage: u}
	case "stub-cache":
		return Scenario{Blocks: []Block{Text("Cached ", "answer.")}, Usage: CacheUsage}
	case "stub-length":
		return Scenario{Blocks: []Block{Text("Once upon ", "a time")}, StopReason: anthropic.StopReasonMaxTokens, Usage: u}
	case "stub-refusal":
		return Scenario{Blocks: []Block{Text("I can't help with that.")}, StopReason: anthropic.StopReasonRefusal, Usage: u}
	case "stub-error-401":
		return Scenario{Error: &APIError{Status: 401, Type: "authentication_error", Message: "invalid x-api-key"}}
	case "stub-error-429":
		return Scenario{Error: &APIError{Status: 429, Type: "rate_limit_error", Message: "Number of request tokens has exceeded your per-minute rate limit", RetryAfter: "7"}}
	case "stub-error-500":
		return Scenario{Raw: &Raw{Status: 500, ContentType: "text/html", Body: "<html><body><h1>500 Internal Server Error</h1></body></html>"}}
	case "stub-error-529":
		return Scenario{Error: &APIError{Status: 529, Type: "overloaded_error", Message: "Overloaded"}}
	case "stub-error-midstream":
		return Scenario{Blocks: []Block{Text("Partial ", "answer")}, StreamError: &APIError{Type: "overloaded_error", Message: "Overloaded"}}
	case "stub-cut":
		return Scenario{Blocks: []Block{Text("Partial ", "answer")}, Cut: true}
	}
	return Scenario{Blocks: []Block{Text("Hello from ", name, ".")}, Usage: u, Ping: true}
}

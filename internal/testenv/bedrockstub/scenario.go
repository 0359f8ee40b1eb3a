package bedrockstub

import (
	"strconv"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stubcore"
)

// Scenario is what the server answers to one request.
type Scenario struct {
	// Error, when set, is answered before any stream (HTTP error).
	Error *APIError
	// Delay before the response headers.
	Delay time.Duration

	// Blocks of the assistant message, in order.
	Blocks []Block
	// StopReason: end_turn (if empty), tool_use, max_tokens,
	// stop_sequence, guardrail_intervened, content_filtered.
	StopReason string
	Usage      Usage
	LatencyMs  int64

	// Streams only. StreamError ends the stream with this exception event
	// after the blocks (no messageStop/metadata); its Type picks the
	// :exception-type (ModelStreamErrorException → modelStreamErrorException).
	StreamError *APIError
	// Cut ends the stream after the blocks by writing half of the
	// messageStop frame and closing the connection.
	Cut bool
	// Lockstep writes each event frame after the first only once the test
	// called Step; EventDelay waits before each event after the first.
	Lockstep   bool
	EventDelay time.Duration
}

// Block is one content block of the answer. Exactly one of Text,
// ToolUse, Reasoning is meaningful; Deltas, when set, is how the block is
// streamed (joined, it is the block's text, tool input JSON, or reasoning
// text).
type Block struct {
	Kind BlockKind
	// Deltas of the text, the tool input JSON, or the reasoning text.
	Deltas []string
	// ToolUseID and ToolName for a tool use.
	ToolUseID, ToolName string
	// Signature of a reasoning block, streamed as its last delta.
	Signature string
}

// BlockKind says what a Block holds.
type BlockKind int

const (
	KindText BlockKind = iota
	KindToolUse
	KindReasoning
)

// Text returns a text block streamed as these deltas.
func Text(deltas ...string) Block { return Block{Kind: KindText, Deltas: deltas} }

// ToolUse returns a tool-use block whose input JSON is streamed as these
// pieces (their concatenation must be a JSON object).
func ToolUse(id, name string, input ...string) Block {
	return Block{Kind: KindToolUse, ToolUseID: id, ToolName: name, Deltas: input}
}

// Reasoning returns a reasoning block streamed as these text deltas, then
// its signature.
func Reasoning(signature string, deltas ...string) Block {
	return Block{Kind: KindReasoning, Signature: signature, Deltas: deltas}
}

// Joined returns the block's whole text / input JSON / reasoning text.
func (b Block) Joined() string { return strings.Join(b.Deltas, "") }

// Usage is the token usage an answer reports. TotalTokens is input +
// output (cache tokens are reported beside input, as Bedrock does).
type Usage struct {
	InputTokens, OutputTokens                   int
	CacheReadInputTokens, CacheWriteInputTokens int
}

// InputTokens is the input token count default scenarios report.
const InputTokens = 11

// Word returns the text of delta i of a default answer, so tests can
// predict it (the OpenAI stub's words).
func Word(i int) string { return stubcore.Word(i) }

// Fixed ids and signatures the model-id scenarios use.
const (
	ToolUseID1         = "tooluse_stub_1"
	ToolUseID2         = "tooluse_stub_2"
	ReasoningSignature = "c3R1Yi1yZWFzb25pbmctc2lnbmF0dXJl"
)

// words returns n deltas of Word(i), each padded to about pad bytes.
func words(n, pad int) []string {
	out := make([]string, n)
	for i := range out {
		w := Word(i)
		if pad > len(w) {
			w += strings.Repeat("x", pad-len(w))
		}
		out[i] = w
	}
	return out
}

// ScenarioFor returns the scenario a model id asks for. The id is a
// scenario name and optional dot-separated modifiers:
//
//	stub.text                 Chunks text deltas: Word(0) Word(1) ...
//	stub.tools                "Let me check." then two parallel tool uses
//	                          (ToolUseID1 get_weather {"city":"Paris"},
//	                          ToolUseID2 get_time {"tz":"Europe/Paris"}),
//	                          each input streamed in three pieces;
//	                          stopReason tool_use
//	stub.reasoning            reasoning text (3 deltas) + ReasoningSignature,
//	                          then the text answer
//	stub.cache                text, usage with cacheRead 100 / cacheWrite 50
//	stub.length               text, stopReason max_tokens
//	stub.guardrail            text, stopReason guardrail_intervened
//	stub.error-throttle       429 ThrottlingException
//	stub.error-validation     400 ValidationException
//	stub.error-access         403 AccessDeniedException
//	stub.error-notfound       404 ResourceNotFoundException
//	stub.error-notready       429 ModelNotReadyException
//	stub.error-timeout        408 ModelTimeoutException
//	stub.error-unavailable    503 ServiceUnavailableException
//	stub.error-internal       500 InternalServerException
//	stub.error-midstream      text deltas, then a modelStreamErrorException
//	                          event (non-streamed: 424 ModelErrorException)
//	stub.cut                  text deltas, then the connection is cut
//	                          mid-frame (no messageStop); non-streamed: half
//	                          the JSON then cut
//
// Modifiers: .chunks-N (text deltas), .pad-N (bytes per delta),
// .delay-D (per event, Go duration: delay-20ms), .lockstep. Example:
// "stub.text.chunks-50.pad-1000". Any other model id (a real one, an
// inference profile ARN) gets a text answer "Answer from <model id>."
// streamed in words.
func (s *Server) ScenarioFor(modelID string) Scenario {
	sc := s.fill(Scenario{})
	chunks, pad := s.opts.Chunks, s.opts.ChunkBytes
	name, ok := strings.CutPrefix(modelID, "stub.")
	if !ok {
		sc.Blocks = []Block{Text(echoDeltas(modelID)...)}
		sc.Usage = Usage{InputTokens: InputTokens, OutputTokens: len(sc.Blocks[0].Deltas)}
		sc.LatencyMs = 42
		return sc
	}
	parts := strings.Split(name, ".")
	name = parts[0]
	for _, m := range parts[1:] {
		k, v, _ := strings.Cut(m, "-")
		switch k {
		case "chunks":
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				chunks = n
			}
		case "pad":
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				pad = n
			}
		case "delay":
			if d, err := time.ParseDuration(v); err == nil {
				sc.EventDelay = d
			}
		case "lockstep":
			sc.Lockstep = true
		}
	}
	text := Text(words(chunks, pad)...)
	sc.Blocks = []Block{text}
	sc.Usage = Usage{InputTokens: InputTokens, OutputTokens: chunks}
	sc.LatencyMs = 42
	switch name {
	case "text":
	case "tools":
		sc.Blocks = []Block{
			Text("Let me ", "check."),
			ToolUse(ToolUseID1, "get_weather", `{"ci`, `ty":"Pa`, `ris"}`),
			ToolUse(ToolUseID2, "get_time", `{"tz":`, `"Europe/`, `Paris"}`),
		}
		sc.StopReason = "tool_use"
		sc.Usage.OutputTokens = 30
	case "reasoning":
		sc.Blocks = []Block{Reasoning(ReasoningSignature, "The user ", "wants words; ", "answer briefly."), text}
		sc.Usage.OutputTokens = chunks + 12
	case "cache":
		sc.Usage.CacheReadInputTokens, sc.Usage.CacheWriteInputTokens = 100, 50
	case "length":
		sc.StopReason = "max_tokens"
	case "guardrail":
		sc.StopReason = "guardrail_intervened"
	case "error-throttle":
		sc.Error = ErrThrottling("Too many requests, please wait before trying again.")
	case "error-validation":
		sc.Error = ErrValidation("The provided request is not valid")
	case "error-access":
		sc.Error = ErrAccessDenied("You don't have access to the model with the specified model ID.")
	case "error-notfound":
		sc.Error = ErrResourceNotFound("Model not found.")
	case "error-notready":
		sc.Error = ErrModelNotReady("Model is not ready for inference. Wait and try your request again.")
	case "error-timeout":
		sc.Error = ErrModelTimeout("Model has timed out in processing the request. Try your request again.")
	case "error-unavailable":
		sc.Error = ErrServiceUnavailable("Bedrock is unable to process your request.")
	case "error-internal":
		sc.Error = ErrInternalServer("The server encountered an internal error while processing the request.")
	case "error-midstream":
		sc.StreamError = ErrModelStreamError("The model stream was interrupted.")
	case "cut":
		sc.Cut = true
	default:
		sc.Error = ErrResourceNotFound("stub: no scenario named " + modelID)
	}
	return sc
}

// echoDeltas is the default answer for a real model id, in word deltas.
func echoDeltas(modelID string) []string {
	f := strings.Fields("Answer from " + modelID + ".")
	for i := range f[:len(f)-1] {
		f[i] += " "
	}
	return f
}

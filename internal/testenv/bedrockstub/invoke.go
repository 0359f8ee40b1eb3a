package bedrockstub

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// AnthropicVersion is the anthropic_version Claude on Bedrock requires.
const AnthropicVersion = "bedrock-2023-05-31"

// AnthropicRequest is an InvokeModel body in Claude's native Messages
// format, as Bedrock takes it (no "model", no "stream": those are the
// path's and the operation's).
type AnthropicRequest struct {
	AnthropicVersion string            `json:"anthropic_version"`
	AnthropicBeta    []string          `json:"anthropic_beta,omitempty"`
	MaxTokens        int               `json:"max_tokens"`
	Messages         []json.RawMessage `json:"messages"`
	System           json.RawMessage   `json:"system,omitempty"`
	StopSequences    []string          `json:"stop_sequences,omitempty"`
	Temperature      *float64          `json:"temperature,omitempty"`
	TopP             *float64          `json:"top_p,omitempty"`
	TopK             *int              `json:"top_k,omitempty"`
	Tools            json.RawMessage   `json:"tools,omitempty"`
	ToolChoice       json.RawMessage   `json:"tool_choice,omitempty"`
	Thinking         json.RawMessage   `json:"thinking,omitempty"`
}

var anthropicKeys = []string{"anthropic_version", "anthropic_beta", "max_tokens", "messages", "system",
	"stop_sequences", "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking"}

// decodeAnthropic decodes and validates a native Anthropic body; the stub
// speaks no other model family's native format.
func decodeAnthropic(body []byte) (*AnthropicRequest, *APIError) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, malformed("#: expected type: JSONObject")
	}
	if _, ok := top["anthropic_version"]; !ok {
		return nil, malformed("#: required key [anthropic_version] not found (the stub's InvokeModel speaks only Claude's Messages format)")
	}
	if aerr := checkKeys(body, "#", anthropicKeys...); aerr != nil {
		return nil, aerr
	}
	var req AnthropicRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, malformed("#: %v", err)
	}
	switch {
	case req.AnthropicVersion != AnthropicVersion:
		return &req, ErrValidation("Invalid API version: " + req.AnthropicVersion)
	case req.MaxTokens < 1:
		return &req, malformed("#: required key [max_tokens] not found")
	case len(req.Messages) == 0:
		return &req, malformed("#: required key [messages] not found")
	}
	return &req, nil
}

type (
	anthropicUsage struct {
		InputTokens              int `json:"input_tokens"`
		OutputTokens             int `json:"output_tokens"`
		CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	}
	anthropicBlock struct {
		Type      string          `json:"type"`
		Text      *string         `json:"text,omitempty"`
		ID        string          `json:"id,omitempty"`
		Name      string          `json:"name,omitempty"`
		Input     json.RawMessage `json:"input,omitempty"`
		Thinking  *string         `json:"thinking,omitempty"`
		Signature *string         `json:"signature,omitempty"`
	}
	anthropicMessage struct {
		ID              string           `json:"id"`
		Type            string           `json:"type"`
		Role            string           `json:"role"`
		Model           string           `json:"model"`
		Content         []anthropicBlock `json:"content"`
		StopReason      *string          `json:"stop_reason"`
		StopSequence    *string          `json:"stop_sequence"`
		Usage           anthropicUsage   `json:"usage"`
		GuardrailAction string           `json:"amazon-bedrock-guardrailAction,omitempty"`
	}
)

func anthropicStop(sc Scenario) (reason, guardrail string) {
	switch r := stopReason(sc); r {
	case "guardrail_intervened":
		return "end_turn", "INTERVENED"
	case "content_filtered":
		return "refusal", ""
	default:
		return r, ""
	}
}

func (u Usage) anthropic() anthropicUsage {
	return anthropicUsage{u.InputTokens, u.OutputTokens, u.CacheWriteInputTokens, u.CacheReadInputTokens}
}

func (b Block) anthropic() anthropicBlock {
	switch b.Kind {
	case KindToolUse:
		w := b.wire().ToolUse
		return anthropicBlock{Type: "tool_use", ID: w.ToolUseID, Name: w.Name, Input: w.Input}
	case KindReasoning:
		t, sig := b.Joined(), b.Signature
		return anthropicBlock{Type: "thinking", Thinking: &t, Signature: &sig}
	default:
		t := b.Joined()
		return anthropicBlock{Type: "text", Text: &t}
	}
}

// AnthropicAnswer returns the InvokeModel body (Claude's Messages
// response) for a scenario.
func AnthropicAnswer(modelID string, sc Scenario) []byte {
	reason, guardrail := anthropicStop(sc)
	m := anthropicMessage{ID: "msg_bdrk_stub", Type: "message", Role: "assistant", Model: modelID,
		Content: []anthropicBlock{}, StopReason: &reason, Usage: sc.Usage.anthropic(), GuardrailAction: guardrail}
	for _, b := range sc.Blocks {
		m.Content = append(m.Content, b.anthropic())
	}
	out, _ := json.Marshal(m)
	return out
}

func (s *Server) invoke(w http.ResponseWriter, req Request, sc Scenario) {
	if sc.StreamError != nil {
		writeError(w, &APIError{"ModelErrorException", http.StatusFailedDependency, sc.StreamError.Message})
		return
	}
	body := AnthropicAnswer(req.ModelID, sc)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", itoa(sc.Usage.InputTokens))
	w.Header().Set("X-Amzn-Bedrock-Output-Token-Count", itoa(sc.Usage.OutputTokens))
	w.Header().Set("X-Amzn-Bedrock-Invocation-Latency", itoa(int(sc.LatencyMs)))
	if sc.Cut {
		cutBody(w, body)
	}
	_, _ = w.Write(body)
}

// chunk is a ResponseStream chunk event: PayloadPart{bytes}. The JSON
// encoder writes []byte as base64, as the wire wants.
type chunk struct {
	Bytes []byte `json:"bytes"`
	P     string `json:"p"`
}

// AnthropicStreamEvents returns the Anthropic SSE event JSONs Claude on
// Bedrock streams for a scenario, one per chunk event: message_start,
// per block content_block_start / content_block_delta... /
// content_block_stop, message_delta, message_stop (with Bedrock's
// amazon-bedrock-invocationMetrics).
func AnthropicStreamEvents(modelID string, sc Scenario) [][]byte {
	var out [][]byte
	add := func(v any) {
		b, _ := json.Marshal(v)
		out = append(out, b)
	}
	u := sc.Usage.anthropic()
	startUsage := u
	startUsage.OutputTokens = 1
	add(map[string]any{"type": "message_start", "message": anthropicMessage{ID: "msg_bdrk_stub", Type: "message", Role: "assistant",
		Model: modelID, Content: []anthropicBlock{}, Usage: startUsage}})
	for i, b := range sc.Blocks {
		var start anthropicBlock
		switch b.Kind {
		case KindToolUse:
			start = anthropicBlock{Type: "tool_use", ID: b.ToolUseID, Name: b.ToolName, Input: json.RawMessage(`{}`)}
		case KindReasoning:
			empty, sig := "", ""
			start = anthropicBlock{Type: "thinking", Thinking: &empty, Signature: &sig}
		default:
			empty := ""
			start = anthropicBlock{Type: "text", Text: &empty}
		}
		add(map[string]any{"type": "content_block_start", "index": i, "content_block": start})
		for _, d := range b.Deltas {
			var delta map[string]string
			switch b.Kind {
			case KindToolUse:
				delta = map[string]string{"type": "input_json_delta", "partial_json": d}
			case KindReasoning:
				delta = map[string]string{"type": "thinking_delta", "thinking": d}
			default:
				delta = map[string]string{"type": "text_delta", "text": d}
			}
			add(map[string]any{"type": "content_block_delta", "index": i, "delta": delta})
		}
		if b.Kind == KindReasoning && b.Signature != "" {
			add(map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]string{"type": "signature_delta", "signature": b.Signature}})
		}
		add(map[string]any{"type": "content_block_stop", "index": i})
	}
	reason, guardrail := anthropicStop(sc)
	md := map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": reason, "stop_sequence": nil},
		"usage": map[string]int{"output_tokens": u.OutputTokens}}
	if guardrail != "" {
		md["amazon-bedrock-guardrailAction"] = guardrail
	}
	add(md)
	add(map[string]any{"type": "message_stop", "amazon-bedrock-invocationMetrics": map[string]any{
		"inputTokenCount": u.InputTokens, "outputTokenCount": u.OutputTokens,
		"invocationLatency": sc.LatencyMs, "firstByteLatency": sc.LatencyMs / 2,
		"cacheReadInputTokenCount": u.CacheReadInputTokens, "cacheWriteInputTokenCount": u.CacheCreationInputTokens}})
	return out
}

func (s *Server) invokeStream(w http.ResponseWriter, r *http.Request, req Request, sc Scenario) {
	events := AnthropicStreamEvents(req.ModelID, sc)
	e := s.startEvents(w, r, sc)
	// A stream error or cut comes before message_delta, the last two.
	body := events
	if sc.StreamError != nil || sc.Cut {
		body = events[:len(events)-2]
	}
	for i, ev := range body {
		if !e.event("chunk", chunk{ev, pad(i)}) {
			return
		}
	}
	switch {
	case sc.StreamError != nil:
		e.exception(sc.StreamError)
	case sc.Cut:
		e.cut(e.frame("event", ":event-type", "chunk", chunk{events[len(events)-2], pad(0)}))
	}
}

// TokenCount is what CountTokens answers: one token per whitespace-
// separated word of the texts, at least 1.
func TokenCount(texts ...string) int {
	n := 0
	for _, t := range texts {
		n += len(strings.Fields(t))
	}
	return max(n, 1)
}

func (s *Server) countTokens(w http.ResponseWriter, body []byte) {
	if aerr := checkKeys(body, "", "input"); aerr != nil {
		writeError(w, aerr)
		return
	}
	var in struct {
		Input struct {
			Converse    json.RawMessage `json:"converse"`
			InvokeModel *struct {
				Body []byte `json:"body"`
			} `json:"invokeModel"`
		} `json:"input"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, malformed("%v", err))
		return
	}
	var n int
	switch {
	case in.Input.Converse != nil && in.Input.InvokeModel == nil:
		req, aerr := decodeConverse(in.Input.Converse)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		n = TokenCount(req.Texts()...)
	case in.Input.InvokeModel != nil && in.Input.Converse == nil:
		if _, aerr := decodeAnthropic(in.Input.InvokeModel.Body); aerr != nil {
			writeError(w, aerr)
			return
		}
		n = TokenCount(anthropicTexts(in.Input.InvokeModel.Body)...)
	default:
		writeError(w, ErrValidation("input must set exactly one of converse, invokeModel"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"inputTokens":` + itoa(n) + `}`))
}

// anthropicTexts collects every "text" string of an Anthropic body.
func anthropicTexts(body []byte) []string {
	var v any
	_ = json.Unmarshal(body, &v)
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && k == "text" {
					out = append(out, s)
				} else {
					walk(e)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	if m, ok := v.(map[string]any); ok {
		if s, ok := m["system"].(string); ok {
			out = append(out, s)
		}
		walk(m["messages"])
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

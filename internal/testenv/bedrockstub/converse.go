package bedrockstub

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// Wire shapes of the answers, with the API model's member names.
type (
	wireUsage struct {
		InputTokens           int  `json:"inputTokens"`
		OutputTokens          int  `json:"outputTokens"`
		TotalTokens           int  `json:"totalTokens"`
		CacheReadInputTokens  *int `json:"cacheReadInputTokens,omitempty"`
		CacheWriteInputTokens *int `json:"cacheWriteInputTokens,omitempty"`
	}
	wireMetrics struct {
		LatencyMs int64 `json:"latencyMs"`
	}
	wireToolUse struct {
		ToolUseID string          `json:"toolUseId"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input,omitempty"`
	}
	wireReasoningText struct {
		Text      string `json:"text"`
		Signature string `json:"signature,omitempty"`
	}
	wireReasoning struct {
		ReasoningText wireReasoningText `json:"reasoningText"`
	}
	wireBlock struct {
		Text             *string        `json:"text,omitempty"`
		ToolUse          *wireToolUse   `json:"toolUse,omitempty"`
		ReasoningContent *wireReasoning `json:"reasoningContent,omitempty"`
	}
	wireMessage struct {
		Role    string      `json:"role"`
		Content []wireBlock `json:"content"`
	}
	wireConverseResponse struct {
		Output struct {
			Message wireMessage `json:"message"`
		} `json:"output"`
		StopReason string      `json:"stopReason"`
		Usage      wireUsage   `json:"usage"`
		Metrics    wireMetrics `json:"metrics"`
	}
)

func (u Usage) wire() wireUsage {
	w := wireUsage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, TotalTokens: u.InputTokens + u.OutputTokens}
	if u.CacheReadInputTokens > 0 || u.CacheWriteInputTokens > 0 {
		r, c := u.CacheReadInputTokens, u.CacheWriteInputTokens
		w.CacheReadInputTokens, w.CacheWriteInputTokens = &r, &c
		w.TotalTokens += r + c
	}
	return w
}

func stopReason(sc Scenario) string {
	if sc.StopReason == "" {
		return "end_turn"
	}
	return sc.StopReason
}

func (b Block) wire() wireBlock {
	switch b.Kind {
	case KindToolUse:
		in := json.RawMessage(b.Joined())
		if len(in) == 0 {
			in = json.RawMessage(`{}`)
		}
		return wireBlock{ToolUse: &wireToolUse{ToolUseID: b.ToolUseID, Name: b.ToolName, Input: in}}
	case KindReasoning:
		return wireBlock{ReasoningContent: &wireReasoning{ReasoningText: wireReasoningText{Text: b.Joined(), Signature: b.Signature}}}
	default:
		t := b.Joined()
		return wireBlock{Text: &t}
	}
}

// ConverseAnswer returns the Converse response body for a scenario.
func ConverseAnswer(sc Scenario) []byte {
	var resp wireConverseResponse
	resp.Output.Message.Role = "assistant"
	resp.Output.Message.Content = []wireBlock{}
	for _, b := range sc.Blocks {
		resp.Output.Message.Content = append(resp.Output.Message.Content, b.wire())
	}
	resp.StopReason = stopReason(sc)
	resp.Usage = sc.Usage.wire()
	resp.Metrics.LatencyMs = sc.LatencyMs
	b, _ := json.Marshal(resp)
	return b
}

func (s *Server) converse(w http.ResponseWriter, req Request, sc Scenario) {
	if sc.StreamError != nil {
		writeError(w, &APIError{"ModelErrorException", http.StatusFailedDependency, sc.StreamError.Message})
		return
	}
	body := ConverseAnswer(sc)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", "00000000-0000-4000-8000-00000000b5ed")
	if sc.Cut {
		cutBody(w, body)
	}
	_, _ = w.Write(body)
}

// cutBody announces the whole body's length, sends half of it and drops
// the connection, as an upstream that dies mid-answer does.
func cutBody(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body[:len(body)/2])
	_ = http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler) // net/http closes the connection
}

// eventWriter writes event-stream frames with the SDK's encoder, flushing
// each, in lockstep or with delays as the scenario says.
type eventWriter struct {
	s   *Server
	w   http.ResponseWriter
	r   *http.Request
	rc  *http.ResponseController
	sc  Scenario
	enc *eventstream.Encoder
	buf bytes.Buffer
	n   int // frames written
}

func (s *Server) startEvents(w http.ResponseWriter, r *http.Request, sc Scenario) *eventWriter {
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.Header().Set("X-Amzn-RequestId", "00000000-0000-4000-8000-00000000b5ed")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	return &eventWriter{s: s, w: w, r: r, rc: rc, sc: sc, enc: eventstream.NewEncoder()}
}

// frame encodes one message; the caller writes it.
func (e *eventWriter) frame(msgType, typeHeader, typ string, payload any) []byte {
	p, _ := json.Marshal(payload)
	var msg eventstream.Message
	msg.Headers.Set(":message-type", eventstream.StringValue(msgType))
	msg.Headers.Set(typeHeader, eventstream.StringValue(typ))
	msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	msg.Payload = p
	e.buf.Reset()
	_ = e.enc.Encode(&e.buf, msg)
	return e.buf.Bytes()
}

// pace waits for the test's Step (lockstep) or the event delay before
// every frame after the first; false ends the stream.
func (e *eventWriter) pace() bool {
	if e.n == 0 {
		return true
	}
	if e.sc.Lockstep && !e.s.Await(e.r.Context(), lockstepWait) {
		return false
	}
	if e.sc.EventDelay > 0 {
		t := time.NewTimer(e.sc.EventDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-e.r.Context().Done():
			e.s.CountCancel()
			return false
		}
	}
	return true
}

func (e *eventWriter) write(frame []byte) bool {
	if !e.pace() {
		return false
	}
	e.n++
	if _, err := e.w.Write(frame); err != nil {
		return false
	}
	_ = e.rc.Flush()
	return true
}

// event writes an :message-type event frame.
func (e *eventWriter) event(typ string, payload any) bool {
	return e.write(e.frame("event", ":event-type", typ, payload))
}

// exception writes an :message-type exception frame.
func (e *eventWriter) exception(ae *APIError) bool {
	return e.write(e.frame("exception", ":exception-type", exceptionEventType(ae), map[string]string{"message": ae.Message}))
}

// cut writes half of the frame and drops the connection.
func (e *eventWriter) cut(frame []byte) {
	if !e.pace() {
		return
	}
	_, _ = e.w.Write(frame[:len(frame)/2])
	_ = e.rc.Flush()
	panic(http.ErrAbortHandler)
}

// pad is Bedrock's "p" member: filler that hides payload lengths, which
// clients ignore.
func pad(n int) string { return strings.Repeat("abcdefghijklmnopqrstuvwxyz", 1+n/26)[:n%26+1] }

type (
	deltaEvent struct {
		ContentBlockIndex int    `json:"contentBlockIndex"`
		Delta             any    `json:"delta"`
		P                 string `json:"p"`
	}
	indexEvent struct {
		ContentBlockIndex int    `json:"contentBlockIndex"`
		P                 string `json:"p"`
	}
	startEvent struct {
		ContentBlockIndex int    `json:"contentBlockIndex"`
		Start             any    `json:"start"`
		P                 string `json:"p"`
	}
)

// ConverseStream events, as Bedrock writes them: messageStart; per block
// (contentBlockStart for a tool use only), contentBlockDelta...,
// contentBlockStop; messageStop; metadata.
func (s *Server) converseStream(w http.ResponseWriter, r *http.Request, req Request, sc Scenario) {
	e := s.startEvents(w, r, sc)
	if !e.event("messageStart", map[string]string{"role": "assistant", "p": pad(0)}) {
		return
	}
	for i, b := range sc.Blocks {
		switch b.Kind {
		case KindToolUse:
			if !e.event("contentBlockStart", startEvent{i, map[string]any{"toolUse": map[string]string{"toolUseId": b.ToolUseID, "name": b.ToolName}}, pad(i)}) {
				return
			}
			for k, d := range b.Deltas {
				if !e.event("contentBlockDelta", deltaEvent{i, map[string]any{"toolUse": map[string]string{"input": d}}, pad(k)}) {
					return
				}
			}
		case KindReasoning:
			for k, d := range b.Deltas {
				if !e.event("contentBlockDelta", deltaEvent{i, map[string]any{"reasoningContent": map[string]string{"text": d}}, pad(k)}) {
					return
				}
			}
			if b.Signature != "" && !e.event("contentBlockDelta", deltaEvent{i, map[string]any{"reasoningContent": map[string]string{"signature": b.Signature}}, pad(i)}) {
				return
			}
		default:
			for k, d := range b.Deltas {
				if !e.event("contentBlockDelta", deltaEvent{i, map[string]string{"text": d}, pad(k)}) {
					return
				}
			}
		}
		if !e.event("contentBlockStop", indexEvent{i, pad(i)}) {
			return
		}
	}
	if sc.StreamError != nil {
		e.exception(sc.StreamError)
		return
	}
	stop := map[string]string{"stopReason": stopReason(sc), "p": pad(3)}
	if sc.Cut {
		e.cut(e.frame("event", ":event-type", "messageStop", stop))
		return
	}
	if !e.event("messageStop", stop) {
		return
	}
	e.event("metadata", map[string]any{"usage": sc.Usage.wire(), "metrics": wireMetrics{sc.LatencyMs}, "p": pad(5)})
}

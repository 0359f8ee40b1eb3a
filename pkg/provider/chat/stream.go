package chat

import "encoding/json"

// Stream writes one translated answer as OpenAI chunk events: one id for
// the whole stream, always choices[0], tool calls numbered from 0 in the
// order they start. Each method returns the complete event(s) to send.
type Stream struct {
	ID           string
	Model        string
	Created      int64
	IncludeUsage bool

	calls int // tool calls started so far
}

// NewStream starts a stream for model.
func NewStream(model string, includeUsage bool) *Stream {
	return &Stream{ID: NewID(), Model: model, Created: Now(), IncludeUsage: includeUsage}
}

type chunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	SystemFingerprint *string       `json:"system_fingerprint"`
	Choices           []chunkChoice `json:"choices"`
	Usage             *Usage        `json:"usage,omitempty"`
}

type chunkChoice struct {
	Index        int       `json:"index"`
	Delta        Delta     `json:"delta"`
	FinishReason *string   `json:"finish_reason"`
	Logprobs     *struct{} `json:"logprobs"`
}

// Delta is what one chunk adds to the message.
type Delta struct {
	Role             string          `json:"role,omitempty"`
	Content          *string         `json:"content,omitempty"`
	ReasoningContent string          `json:"reasoning_content,omitempty"`
	ThinkingBlocks   []ThinkingBlock `json:"thinking_blocks,omitempty"`
	ToolCalls        []ToolCall      `json:"tool_calls,omitempty"`
}

func (s *Stream) event(c chunk) []byte {
	c.ID, c.Object, c.Created, c.Model = s.ID, "chat.completion.chunk", s.Created, s.Model
	if c.Choices == nil {
		c.Choices = []chunkChoice{}
	}
	b, _ := json.Marshal(c)
	out := make([]byte, 0, len(b)+8)
	out = append(out, "data: "...)
	out = append(out, b...)
	return append(out, "\n\n"...)
}

func (s *Stream) delta(d Delta) []byte {
	return s.event(chunk{Choices: []chunkChoice{{Delta: d}}})
}

// Role is the first chunk: the assistant's role and empty content.
func (s *Stream) Role() []byte {
	empty := ""
	return s.delta(Delta{Role: "assistant", Content: &empty})
}

// Content is a piece of the answer's text.
func (s *Stream) Content(text string) []byte { return s.delta(Delta{Content: &text}) }

// Reasoning is a piece of the model's reasoning text.
func (s *Stream) Reasoning(text string) []byte { return s.delta(Delta{ReasoningContent: text}) }

// Thinking is a reasoning block's signature (or a redacted block), sent
// when the block ends so that a client can replay it on the next turn.
func (s *Stream) Thinking(b ThinkingBlock) []byte {
	return s.delta(Delta{ThinkingBlocks: []ThinkingBlock{b}})
}

// ToolCallStart opens the next tool call with its id and name and returns
// the index it has in this stream.
func (s *Stream) ToolCallStart(id, name string) (int, []byte) {
	i := s.calls
	s.calls++
	return i, s.delta(Delta{ToolCalls: []ToolCall{{Index: &i, ID: id, Type: "function", Function: FunctionCall{Name: name}}}})
}

// ToolCallArgs is a piece of tool call i's arguments.
func (s *Stream) ToolCallArgs(i int, args string) []byte {
	return s.delta(Delta{ToolCalls: []ToolCall{{Index: &i, Function: FunctionCall{Arguments: args}}}})
}

// ToolCalls is how many tool calls the stream has started.
func (s *Stream) ToolCalls() int { return s.calls }

// Finish is the chunk with the finish reason.
func (s *Stream) Finish(reason string) []byte {
	return s.event(chunk{Choices: []chunkChoice{{FinishReason: &reason}}})
}

// Usage is the usage chunk (no choices), when the client asked for it
// with stream_options.include_usage; nil otherwise.
func (s *Stream) Usage(u *Usage) []byte {
	if !s.IncludeUsage || u == nil {
		return nil
	}
	return s.event(chunk{Usage: u})
}

// Done ends the stream.
func (s *Stream) Done() []byte { return []byte("data: [DONE]\n\n") }

// Package chat is OpenAI's chat completions wire format as the translating
// drivers read and write it: the request they translate from, and the
// completion and chunks they translate into. It is the hub every provider
// meets: a provider translates to and from these types only.
package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Request is an OpenAI chat completions request. Fields the proxy's policy
// has already applied (model, stream, token caps, options) are read as the
// upstream would read them.
type Request struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	TopK                *int            `json:"top_k,omitempty"`
	Stop                Stop            `json:"stop,omitempty"`
	N                   *int            `json:"n,omitempty"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          *ToolChoice     `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	ReasoningEffort     string          `json:"reasoning_effort,omitempty"`
	ResponseFormat      *ResponseFormat `json:"response_format,omitempty"`
	Logprobs            *bool           `json:"logprobs,omitempty"`
	TopLogprobs         *int            `json:"top_logprobs,omitempty"`
	Seed                *int64          `json:"seed,omitempty"`
	PresencePenalty     *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty,omitempty"`
	LogitBias           json.RawMessage `json:"logit_bias,omitempty"`
	User                string          `json:"user,omitempty"`
	Metadata            json.RawMessage `json:"metadata,omitempty"`
	Store               *bool           `json:"store,omitempty"`
	ServiceTier         string          `json:"service_tier,omitempty"`
	Modalities          []string        `json:"modalities,omitempty"`
	// Functions and FunctionCall are the deprecated forms of tools.
	Functions    json.RawMessage `json:"functions,omitempty"`
	FunctionCall json.RawMessage `json:"function_call,omitempty"`
}

// StreamOptions is stream_options.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// IncludeUsage reports whether the stream ends with a usage chunk.
func (r *Request) IncludeUsage() bool { return r.StreamOptions != nil && r.StreamOptions.IncludeUsage }

// MaxOutput is the completion cap the request asks for: max_completion_tokens,
// else max_tokens; 0 when neither is set.
func (r *Request) MaxOutput() int {
	switch {
	case r.MaxCompletionTokens != nil:
		return *r.MaxCompletionTokens
	case r.MaxTokens != nil:
		return *r.MaxTokens
	}
	return 0
}

// Message is one chat message. Content is a string or a list of parts.
type Message struct {
	Role       string     `json:"role"`
	Content    Content    `json:"content"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	// ReasoningContent is the text of a model's reasoning, and
	// ThinkingBlocks its signed blocks (LiteLLM's names, which clients
	// send back on later turns so that a provider can check them).
	ReasoningContent string          `json:"reasoning_content,omitempty"`
	ThinkingBlocks   []ThinkingBlock `json:"thinking_blocks,omitempty"`
	Refusal          string          `json:"refusal,omitempty"`
}

// ThinkingBlock is one signed reasoning block: thinking text and its
// signature, or a redacted block's opaque data.
type ThinkingBlock struct {
	Type      string `json:"type"` // "thinking" or "redacted_thinking"
	Thinking  string `json:"thinking,omitempty"`
	Signature string `json:"signature,omitempty"`
	Data      string `json:"data,omitempty"`
}

// Content is a message's content: Text when it was a string, else Parts.
// Null is neither.
type Content struct {
	Text    string
	Parts   []Part
	IsParts bool
	IsNull  bool
}

func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*c = Content{IsNull: true}
		return nil
	case b[0] == '"':
		*c = Content{}
		return json.Unmarshal(b, &c.Text)
	case b[0] == '[':
		*c = Content{IsParts: true}
		return json.Unmarshal(b, &c.Parts)
	}
	return fmt.Errorf("content must be a string, an array of parts or null")
}

func (c Content) MarshalJSON() ([]byte, error) {
	switch {
	case c.IsParts:
		return json.Marshal(c.Parts)
	case c.IsNull:
		return []byte("null"), nil
	}
	return json.Marshal(c.Text)
}

// PlainText joins the text of a content: the string, or its text parts.
// ok is false when a part is not text.
func (c Content) PlainText() (text string, ok bool) {
	if !c.IsParts {
		return c.Text, true
	}
	var b strings.Builder
	for _, p := range c.Parts {
		if p.Type != "text" {
			return "", false
		}
		b.WriteString(p.Text)
	}
	return b.String(), true
}

// Part is one content part: text, image_url, input_audio or file.
type Part struct {
	Type       string      `json:"type"`
	Text       string      `json:"text,omitempty"`
	ImageURL   *ImageURL   `json:"image_url,omitempty"`
	InputAudio *InputAudio `json:"input_audio,omitempty"`
	File       *File       `json:"file,omitempty"`
	// CacheControl is Anthropic's prompt-cache breakpoint, which clients
	// of Anthropic-backed gateways put on parts.
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// ImageURL is an image part's source: a data: URL or an http(s) URL.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// InputAudio is an audio part.
type InputAudio struct {
	Data   string `json:"data"`
	Format string `json:"format"`
}

// File is a file part: base64 data as a data: URL, or an uploaded file id.
type File struct {
	FileData string `json:"file_data,omitempty"`
	FileID   string `json:"file_id,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// Tool is a function tool.
type Tool struct {
	Type     string   `json:"type"`
	Function Function `json:"function"`
}

// Function declares a function tool.
type Function struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolCall is a call the model made, on an assistant message or in a
// chunk's delta (where Index says which call a piece belongs to).
type ToolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// FunctionCall is a call's function name and arguments (a JSON string).
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// ToolChoice is "none", "auto", "required", or a named function.
type ToolChoice struct {
	Mode     string // none, auto, required; "" when Function is set
	Function string
}

func (t *ToolChoice) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		*t = ToolChoice{}
		if err := json.Unmarshal(b, &t.Mode); err != nil {
			return err
		}
		switch t.Mode {
		case "none", "auto", "required":
			return nil
		}
		return fmt.Errorf("tool_choice must be none, auto, required or a function")
	}
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	if obj.Type != "function" || obj.Function.Name == "" {
		return fmt.Errorf(`tool_choice must be {"type":"function","function":{"name":...}}`)
	}
	*t = ToolChoice{Function: obj.Function.Name}
	return nil
}

func (t ToolChoice) MarshalJSON() ([]byte, error) {
	if t.Function != "" {
		return json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": t.Function}})
	}
	return json.Marshal(t.Mode)
}

// ResponseFormat is response_format: text, json_object or json_schema.
type ResponseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
		Strict *bool           `json:"strict,omitempty"`
	} `json:"json_schema,omitempty"`
}

// Stop is stop: a string or a list of strings.
type Stop []string

func (s *Stop) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = Stop{one}
		return nil
	}
	if string(b) == "null" {
		*s = nil
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("stop must be a string or an array of strings")
	}
	*s = list
	return nil
}

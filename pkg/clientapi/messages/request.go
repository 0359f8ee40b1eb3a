// Package messages translates Anthropic's Messages API (what Claude Code and
// the Anthropic SDKs speak, llm_format: anthropic) to and from the OpenAI
// chat shape, the hub every provider meets: a Messages request becomes a
// chat request (ToChat), and the chat answer becomes an Anthropic message
// (FromCompletion) or, chunk by chunk, Anthropic's event stream (Stream).
// Providers with a native Messages path (Anthropic itself, Claude on
// Bedrock) do not come here; every other one does.
//
// What the chat shape cannot carry is refused by name (400), never dropped,
// except hints that only steer Anthropic's own servers (context_management,
// service_tier), which are documented as dropped.
package messages

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// Request is an Anthropic Messages request as the translation reads it.
type Request struct {
	Model         string          `json:"model"`
	Messages      []Message       `json:"messages"`
	System        json.RawMessage `json:"system,omitempty"`
	MaxTokens     *int            `json:"max_tokens,omitempty"`
	Metadata      *Metadata       `json:"metadata,omitempty"`
	StopSequences []string        `json:"stop_sequences,omitempty"`
	Stream        *bool           `json:"stream,omitempty"`
	Temperature   *float64        `json:"temperature,omitempty"`
	TopP          *float64        `json:"top_p,omitempty"`
	TopK          *int            `json:"top_k,omitempty"`
	Tools         []Tool          `json:"tools,omitempty"`
	ToolChoice    *ToolChoice     `json:"tool_choice,omitempty"`
	Thinking      *Thinking       `json:"thinking,omitempty"`
	OutputConfig  *OutputConfig   `json:"output_config,omitempty"`
	// Dropped: they steer Anthropic's own servers only.
	ContextManagement json.RawMessage `json:"context_management,omitempty"`
	ServiceTier       json.RawMessage `json:"service_tier,omitempty"`
}

// Metadata is the request's metadata.
type Metadata struct {
	UserID string `json:"user_id,omitempty"`
}

// Message is one turn: content is a string or a list of blocks.
type Message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// Block is one content block, any type; each type reads its own fields.
type Block struct {
	Type         string          `json:"type"`
	Text         string          `json:"text,omitempty"`
	Source       *Source         `json:"source,omitempty"`
	ID           string          `json:"id,omitempty"`
	Name         string          `json:"name,omitempty"`
	Input        json.RawMessage `json:"input,omitempty"`
	ToolUseID    string          `json:"tool_use_id,omitempty"`
	Content      json.RawMessage `json:"content,omitempty"`
	IsError      bool            `json:"is_error,omitempty"`
	Thinking     string          `json:"thinking,omitempty"`
	Signature    string          `json:"signature,omitempty"`
	Data         string          `json:"data,omitempty"`
	Title        string          `json:"title,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
	Citations    json.RawMessage `json:"citations,omitempty"`
	Context      json.RawMessage `json:"context,omitempty"`
}

// Source is an image's or document's source.
type Source struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

// Tool is a client tool (a function) or one of Anthropic's server tools.
type Tool struct {
	Type         string          `json:"type,omitempty"`
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// ToolChoice is auto, any, tool (with a name) or none.
type ToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

// Thinking is extended thinking's switch and budget.
type Thinking struct {
	Type         string `json:"type"`
	BudgetTokens int    `json:"budget_tokens,omitempty"`
}

// OutputConfig is output_config: the effort (and a structured format).
type OutputConfig struct {
	Effort string          `json:"effort,omitempty"`
	Format json.RawMessage `json:"format,omitempty"`
}

// Decode reads a Messages request, refusing members it does not know by
// name.
func Decode(body []byte) (*Request, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var r Request
	if err := dec.Decode(&r); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return nil, provider.Unsupported(strings.Trim(f, `"`), "%s is not supported by this model's provider through the Messages API", f)
		}
		return nil, provider.Invalid("", "the request body is not a valid Messages request: %s", strings.TrimPrefix(msg, "json: "))
	}
	if dec.More() {
		return nil, provider.Invalid("", "the request body holds more than one JSON value")
	}
	return &r, nil
}

// ToChat translates a Messages request into an OpenAI chat request for
// model. A stream asks for the usage chunk: the Anthropic stream reports
// usage in its message_delta.
func ToChat(r *Request, model string) (*chat.Request, error) {
	out := &chat.Request{Model: model, MaxTokens: r.MaxTokens, Temperature: r.Temperature, TopP: r.TopP, TopK: r.TopK}
	if len(r.StopSequences) > 0 {
		out.Stop = chat.Stop(r.StopSequences)
	}
	if r.Stream != nil && *r.Stream {
		out.Stream = true
		out.StreamOptions = &chat.StreamOptions{IncludeUsage: true}
	}
	if r.Metadata != nil {
		out.User = r.Metadata.UserID
	}
	if len(r.System) > 0 && string(r.System) != "null" {
		m, err := systemMessage(r.System)
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, m)
	}
	for i, m := range r.Messages {
		msgs, err := turn(m, i)
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, msgs...)
	}
	if len(r.Messages) == 0 {
		return nil, provider.Invalid("messages", "messages: at least one message is required")
	}
	for i, t := range r.Tools {
		if t.Type != "" && t.Type != "custom" {
			return nil, provider.Unsupported(fmt.Sprintf("tools[%d].type", i), "tools[%d]: Anthropic's server tool %q needs an Anthropic model (provider anthropic or bedrock)", i, t.Type)
		}
		if t.Name == "" {
			return nil, provider.Invalid(fmt.Sprintf("tools[%d].name", i), "tools[%d].name is required", i)
		}
		params := t.InputSchema
		if len(params) == 0 {
			params = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		out.Tools = append(out.Tools, chat.Tool{Type: "function", Function: chat.Function{Name: t.Name, Description: t.Description, Parameters: params}})
	}
	if err := toolChoice(r.ToolChoice, out); err != nil {
		return nil, err
	}
	if err := effort(r, out); err != nil {
		return nil, err
	}
	if r.OutputConfig != nil && len(r.OutputConfig.Format) > 0 && string(r.OutputConfig.Format) != "null" {
		return nil, provider.Unsupported("output_config.format", "output_config.format is not supported through the chat translation")
	}
	return out, nil
}

func toolChoice(tc *ToolChoice, out *chat.Request) error {
	if tc == nil {
		return nil
	}
	switch tc.Type {
	case "auto":
		out.ToolChoice = &chat.ToolChoice{Mode: "auto"}
	case "any":
		out.ToolChoice = &chat.ToolChoice{Mode: "required"}
	case "none":
		out.ToolChoice = &chat.ToolChoice{Mode: "none"}
	case "tool":
		if tc.Name == "" {
			return provider.Invalid("tool_choice.name", "tool_choice of type tool needs a name")
		}
		out.ToolChoice = &chat.ToolChoice{Function: tc.Name}
	default:
		return provider.Invalid("tool_choice.type", "tool_choice.type must be auto, any, tool or none")
	}
	if tc.DisableParallelToolUse && len(out.Tools) > 0 {
		f := false
		out.ParallelToolCalls = &f
	}
	return nil
}

// effort maps extended thinking (a token budget) and output_config.effort
// to OpenAI's reasoning_effort, the chat shape's only reasoning knob.
func effort(r *Request, out *chat.Request) error {
	if r.OutputConfig != nil && r.OutputConfig.Effort != "" {
		switch r.OutputConfig.Effort {
		case "low", "medium", "high":
			out.ReasoningEffort = r.OutputConfig.Effort
		case "max", "xhigh":
			out.ReasoningEffort = "high"
		default:
			return provider.Invalid("output_config.effort", "output_config.effort must be low, medium or high")
		}
	}
	if r.Thinking == nil || out.ReasoningEffort != "" {
		return nil
	}
	switch r.Thinking.Type {
	case "disabled":
	case "adaptive":
		out.ReasoningEffort = "medium"
	case "enabled":
		switch b := r.Thinking.BudgetTokens; {
		case b < 4096:
			out.ReasoningEffort = "low"
		case b < 16384:
			out.ReasoningEffort = "medium"
		default:
			out.ReasoningEffort = "high"
		}
	default:
		return provider.Invalid("thinking.type", "thinking.type must be enabled, adaptive or disabled")
	}
	return nil
}

// systemMessage is the system prompt: a string or text blocks (their
// cache_control kept on the parts).
func systemMessage(raw json.RawMessage) (chat.Message, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return chat.Message{Role: "system", Content: chat.Content{Text: s}}, nil
	}
	var blocks []Block
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return chat.Message{}, provider.Invalid("system", "system must be a string or a list of text blocks")
	}
	parts := make([]chat.Part, 0, len(blocks))
	for _, b := range blocks {
		if b.Type != "text" {
			return chat.Message{}, provider.Invalid("system", "system blocks must be of type text")
		}
		parts = append(parts, chat.Part{Type: "text", Text: b.Text, CacheControl: b.CacheControl})
	}
	return chat.Message{Role: "system", Content: chat.Content{Parts: parts, IsParts: true}}, nil
}

// blocks reads a message's content: a string is one text block.
func blocks(raw json.RawMessage, param string) ([]Block, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []Block{{Type: "text", Text: s}}, nil
	}
	var bs []Block
	if err := json.Unmarshal(raw, &bs); err != nil {
		return nil, provider.Invalid(param, "%s must be a string or a list of content blocks", param)
	}
	return bs, nil
}

// turn translates one message into chat messages: a user turn's
// tool_result blocks become tool messages (first, as OpenAI wants them right
// after the assistant's calls), the rest one user message; an assistant
// turn becomes one assistant message with its tool calls and thinking.
func turn(m Message, i int) ([]chat.Message, error) {
	param := fmt.Sprintf("messages[%d].content", i)
	bs, err := blocks(m.Content, param)
	if err != nil {
		return nil, err
	}
	switch m.Role {
	case "user":
		return userTurn(bs, param)
	case "assistant":
		am, err := assistantTurn(bs, param)
		if err != nil {
			return nil, err
		}
		return []chat.Message{am}, nil
	}
	return nil, provider.Invalid(fmt.Sprintf("messages[%d].role", i), "messages[%d].role must be user or assistant", i)
}

func userTurn(bs []Block, param string) ([]chat.Message, error) {
	var out []chat.Message
	var parts []chat.Part
	for j, b := range bs {
		p := fmt.Sprintf("%s[%d]", param, j)
		switch b.Type {
		case "tool_result":
			tm, err := toolResult(b, p)
			if err != nil {
				return nil, err
			}
			out = append(out, tm)
		default:
			part, err := userPart(b, p)
			if err != nil {
				return nil, err
			}
			parts = append(parts, part)
		}
	}
	if len(parts) > 0 {
		out = append(out, chat.Message{Role: "user", Content: chat.Content{Parts: parts, IsParts: true}})
	}
	if len(out) == 0 {
		out = append(out, chat.Message{Role: "user", Content: chat.Content{Text: ""}})
	}
	return out, nil
}

func userPart(b Block, p string) (chat.Part, error) {
	switch b.Type {
	case "text":
		return chat.Part{Type: "text", Text: b.Text, CacheControl: b.CacheControl}, nil
	case "image":
		u, err := sourceURL(b.Source, p)
		if err != nil {
			return chat.Part{}, err
		}
		return chat.Part{Type: "image_url", ImageURL: &chat.ImageURL{URL: u}, CacheControl: b.CacheControl}, nil
	case "document":
		if b.Source == nil || b.Source.Type != "base64" {
			return chat.Part{}, provider.Unsupported(p+".source", "%s: only base64 documents can be translated", p)
		}
		return chat.Part{Type: "file", File: &chat.File{FileData: "data:" + b.Source.MediaType + ";base64," + b.Source.Data, Filename: b.Title}, CacheControl: b.CacheControl}, nil
	}
	return chat.Part{}, provider.Unsupported(p+".type", "%s: content block type %q is not supported in a user message here", p, b.Type)
}

func sourceURL(s *Source, p string) (string, error) {
	switch {
	case s == nil:
		return "", provider.Invalid(p+".source", "%s.source is required", p)
	case s.Type == "base64":
		return "data:" + s.MediaType + ";base64," + s.Data, nil
	case s.Type == "url":
		return s.URL, nil
	}
	return "", provider.Unsupported(p+".source.type", "%s.source.type %q is not supported here", p, s.Type)
}

// toolResult is a tool message: its content a string, or text parts (an
// image in a tool result has no place in OpenAI's tool message).
func toolResult(b Block, p string) (chat.Message, error) {
	if b.ToolUseID == "" {
		return chat.Message{}, provider.Invalid(p+".tool_use_id", "%s.tool_use_id is required", p)
	}
	text := ""
	if len(b.Content) > 0 && string(b.Content) != "null" {
		bs, err := blocks(b.Content, p+".content")
		if err != nil {
			return chat.Message{}, err
		}
		var sb strings.Builder
		for _, c := range bs {
			if c.Type != "text" {
				return chat.Message{}, provider.Unsupported(p+".content", "%s: a tool result of type %q cannot be translated (text only)", p, c.Type)
			}
			sb.WriteString(c.Text)
		}
		text = sb.String()
	}
	if b.IsError && !strings.HasPrefix(text, "Error") {
		text = "Error: " + text
	}
	return chat.Message{Role: "tool", ToolCallID: b.ToolUseID, Content: chat.Content{Text: text}}, nil
}

func assistantTurn(bs []Block, param string) (chat.Message, error) {
	m := chat.Message{Role: "assistant"}
	var text strings.Builder
	hasText := false
	for j, b := range bs {
		p := fmt.Sprintf("%s[%d]", param, j)
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
			hasText = true
		case "tool_use":
			if b.ID == "" || b.Name == "" {
				return m, provider.Invalid(p, "%s: a tool_use block needs an id and a name", p)
			}
			args := string(b.Input)
			if len(b.Input) == 0 || args == "null" {
				args = "{}"
			}
			m.ToolCalls = append(m.ToolCalls, chat.ToolCall{ID: b.ID, Type: "function", Function: chat.FunctionCall{Name: b.Name, Arguments: args}})
		case "thinking":
			m.ReasoningContent += b.Thinking
			m.ThinkingBlocks = append(m.ThinkingBlocks, chat.ThinkingBlock{Type: "thinking", Thinking: b.Thinking, Signature: b.Signature})
		case "redacted_thinking":
			m.ThinkingBlocks = append(m.ThinkingBlocks, chat.ThinkingBlock{Type: "redacted_thinking", Data: b.Data})
		default:
			return m, provider.Unsupported(p+".type", "%s: content block type %q is not supported in an assistant message here", p, b.Type)
		}
	}
	switch {
	case hasText:
		m.Content = chat.Content{Text: text.String()}
	default:
		m.Content = chat.Content{IsNull: true}
	}
	return m, nil
}

// Package cohere is the driver for Cohere's current chat API (v2,
// POST /v2/chat): Kong's cohere config (a bearer key in auth, the model)
// moves over unchanged, and OpenAI chat is translated to v2 and back,
// tools, tool plans and streams included. Kong's own driver speaks the
// retired v1 API.
package cohere

import (
	"encoding/json"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// Request is a v2 chat request.
type Request struct {
	Model            string          `json:"model"`
	Messages         []Message       `json:"messages"`
	Stream           bool            `json:"stream"`
	Tools            []Tool          `json:"tools,omitempty"`
	ToolChoice       string          `json:"tool_choice,omitempty"`
	StrictTools      *bool           `json:"strict_tools,omitempty"`
	ResponseFormat   *ResponseFormat `json:"response_format,omitempty"`
	MaxTokens        *int            `json:"max_tokens,omitempty"`
	StopSequences    []string        `json:"stop_sequences,omitempty"`
	Temperature      *float64        `json:"temperature,omitempty"`
	Seed             *int64          `json:"seed,omitempty"`
	FrequencyPenalty *float64        `json:"frequency_penalty,omitempty"`
	PresencePenalty  *float64        `json:"presence_penalty,omitempty"`
	K                *int            `json:"k,omitempty"`
	P                *float64        `json:"p,omitempty"`
	Thinking         *Thinking       `json:"thinking,omitempty"`
}

// Message is a v2 message: system, user, assistant or tool.
type Message struct {
	Role       string     `json:"role"`
	Content    any        `json:"content,omitempty"` // a string or []Part
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolPlan   string     `json:"tool_plan,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// Part is a content part: text, image_url, or a reasoning model's thinking.
type Part struct {
	Type     string         `json:"type"`
	Text     string         `json:"text,omitempty"`
	Thinking string         `json:"thinking,omitempty"`
	ImageURL *chat.ImageURL `json:"image_url,omitempty"`
}

// Tool is a v2 function tool (OpenAI's shape without strict, which v2
// sets once for all tools).
type Tool struct {
	Type     string       `json:"type"`
	Function ToolFunction `json:"function"`
}

// ToolFunction declares a tool.
type ToolFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

// ToolCall is a call on an assistant message; arguments are a JSON string.
type ToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// ResponseFormat is v2's response_format: text, or json_object with an
// optional JSON schema.
type ResponseFormat struct {
	Type       string          `json:"type"`
	JSONSchema json.RawMessage `json:"json_schema,omitempty"`
}

// Thinking switches a reasoning model's thinking.
type Thinking struct {
	Type string `json:"type"` // enabled, disabled
}

// Translate turns an OpenAI chat request into a v2 one. topK is the
// configured model.options.top_k (the proxy removes top_k from the body).
func Translate(r *chat.Request, model string, topK *int) (*Request, error) {
	if err := r.CheckPortable(); err != nil {
		return nil, err
	}
	if r.ParallelToolCalls != nil && !*r.ParallelToolCalls {
		return nil, provider.Unsupported("parallel_tool_calls", "Cohere cannot be kept from calling tools in parallel: parallel_tool_calls false is not supported")
	}
	out := &Request{Model: model, Stream: r.Stream, StopSequences: r.Stop, Temperature: r.Temperature, Seed: r.Seed,
		FrequencyPenalty: r.FrequencyPenalty, PresencePenalty: r.PresencePenalty, K: topK, P: r.TopP}
	if n := r.MaxOutput(); n > 0 {
		out.MaxTokens = &n
	}
	if err := tools(r, out); err != nil {
		return nil, err
	}
	if f := r.ResponseFormat; f != nil {
		switch f.Type {
		case "text":
			out.ResponseFormat = &ResponseFormat{Type: "text"}
		case "json_object":
			out.ResponseFormat = &ResponseFormat{Type: "json_object"}
		case "json_schema":
			if f.JSONSchema == nil || len(f.JSONSchema.Schema) == 0 {
				return nil, provider.Invalid("response_format.json_schema", "response_format json_schema needs json_schema.schema")
			}
			out.ResponseFormat = &ResponseFormat{Type: "json_object", JSONSchema: f.JSONSchema.Schema}
		default:
			return nil, provider.Unsupported("response_format.type", "response_format type %q is not supported by Cohere", f.Type)
		}
	}
	switch r.ReasoningEffort {
	case "":
	case "none":
		out.Thinking = &Thinking{Type: "disabled"}
	default:
		out.Thinking = &Thinking{Type: "enabled"}
	}
	msgs, err := messages(r.Messages)
	if err != nil {
		return nil, err
	}
	out.Messages = msgs
	return out, nil
}

// tools maps tools and tool_choice. A named tool_choice becomes
// REQUIRED with only that tool offered: the same constraint in v2's terms.
func tools(r *chat.Request, out *Request) error {
	var strict *bool
	for i, t := range r.Tools {
		if t.Type != "function" {
			return provider.Unsupported("tools", "tools[%d]: only function tools are supported by Cohere", i)
		}
		if t.Function.Strict != nil && *t.Function.Strict {
			yes := true
			strict = &yes
		}
		out.Tools = append(out.Tools, Tool{Type: "function", Function: ToolFunction{Name: t.Function.Name,
			Description: t.Function.Description, Parameters: t.Function.Parameters}})
	}
	out.StrictTools = strict
	tc := r.ToolChoice
	switch {
	case tc == nil || tc.Mode == "auto":
	case tc.Mode == "none":
		out.ToolChoice = "NONE"
	case tc.Mode == "required":
		out.ToolChoice = "REQUIRED"
	default:
		var only []Tool
		for _, t := range out.Tools {
			if t.Function.Name == tc.Function {
				only = append(only, t)
			}
		}
		if len(only) == 0 {
			return provider.Invalid("tool_choice", "tool_choice names %q, which is not among the tools", tc.Function)
		}
		out.Tools, out.ToolChoice = only, "REQUIRED"
	}
	return nil
}

func messages(in []chat.Message) ([]Message, error) {
	out := make([]Message, 0, len(in))
	for i, m := range in {
		switch m.Role {
		case "system", "developer":
			text, ok := m.Content.PlainText()
			if !ok {
				return nil, provider.Unsupported("messages", "messages[%d]: a system message takes text only", i)
			}
			out = append(out, Message{Role: "system", Content: text})
		case "user":
			c, err := userContent(m.Content, i)
			if err != nil {
				return nil, err
			}
			out = append(out, Message{Role: "user", Content: c})
		case "assistant":
			am, err := assistant(m, i)
			if err != nil {
				return nil, err
			}
			out = append(out, am)
		case "tool":
			text, ok := m.Content.PlainText()
			if !ok {
				return nil, provider.Unsupported("messages", "messages[%d]: a tool result takes text only", i)
			}
			if m.ToolCallID == "" {
				return nil, provider.Invalid("messages", "messages[%d]: a tool message needs tool_call_id", i)
			}
			out = append(out, Message{Role: "tool", ToolCallID: m.ToolCallID, Content: text})
		default:
			return nil, provider.Invalid("messages", "messages[%d]: unknown role %q", i, m.Role)
		}
	}
	return out, nil
}

func userContent(c chat.Content, i int) (any, error) {
	if !c.IsParts {
		return c.Text, nil
	}
	parts := make([]Part, 0, len(c.Parts))
	for _, p := range c.Parts {
		switch p.Type {
		case "text":
			parts = append(parts, Part{Type: "text", Text: p.Text})
		case "image_url":
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return nil, provider.Invalid("messages", "messages[%d]: image_url part without a url", i)
			}
			parts = append(parts, Part{Type: "image_url", ImageURL: p.ImageURL})
		default:
			return nil, provider.Unsupported("messages", "messages[%d]: content part type %q is not supported by Cohere", i, p.Type)
		}
	}
	return parts, nil
}

// assistant maps an assistant turn. Text that came with tool calls is the
// tool plan (as the answer side gives a plan back as the content).
func assistant(m chat.Message, i int) (Message, error) {
	text, ok := m.Content.PlainText()
	if !ok {
		return Message{}, provider.Unsupported("messages", "messages[%d]: an assistant message takes text only", i)
	}
	out := Message{Role: "assistant"}
	for j, tc := range m.ToolCalls {
		var c ToolCall
		c.ID, c.Type = tc.ID, "function"
		c.Function.Name = tc.Function.Name
		c.Function.Arguments = tc.Function.Arguments
		if strings.TrimSpace(c.Function.Arguments) == "" {
			c.Function.Arguments = "{}"
		}
		if !json.Valid([]byte(c.Function.Arguments)) {
			return Message{}, provider.Invalid("messages", "messages[%d].tool_calls[%d].function.arguments is not JSON", i, j)
		}
		out.ToolCalls = append(out.ToolCalls, c)
	}
	switch {
	case len(out.ToolCalls) > 0:
		out.ToolPlan = text
	case m.ReasoningContent != "":
		out.Content = []Part{{Type: "thinking", Thinking: m.ReasoningContent}, {Type: "text", Text: text}}
	default:
		out.Content = text
	}
	return out, nil
}

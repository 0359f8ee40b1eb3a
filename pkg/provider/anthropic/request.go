package anthropic

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// DefaultMaxTokens is max_tokens when neither the request nor
// model.options.max_tokens sets it: Anthropic requires one, and Kong sends
// none (Anthropic then refuses every such request).
const DefaultMaxTokens = 4096

// Thinking budgets for reasoning_effort. Anthropic's minimum is 1024.
var thinkingBudget = map[string]int{"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384}

const minThinkingBudget = 1024

// request is the Messages API request body (POST /v1/messages).
type request struct {
	Model         string      `json:"model"`
	System        []block     `json:"system,omitempty"`
	Messages      []message   `json:"messages"`
	MaxTokens     int         `json:"max_tokens"`
	StopSequences []string    `json:"stop_sequences,omitempty"`
	Stream        bool        `json:"stream,omitempty"`
	Temperature   *float64    `json:"temperature,omitempty"`
	TopP          *float64    `json:"top_p,omitempty"`
	TopK          *int        `json:"top_k,omitempty"`
	Tools         []tool      `json:"tools,omitempty"`
	ToolChoice    *toolChoice `json:"tool_choice,omitempty"`
	Thinking      *thinking   `json:"thinking,omitempty"`
	Metadata      *metadata   `json:"metadata,omitempty"`
}

type message struct {
	Role    string  `json:"role"`
	Content []block `json:"content"`
}

// block is a request content block; its type says which members it has.
type block struct {
	Type string `json:"type"`
	// text
	Text *string `json:"text,omitempty"`
	// image, document
	Source *source `json:"source,omitempty"`
	// tool_use
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	// tool_result
	ToolUseID string  `json:"tool_use_id,omitempty"`
	Content   []block `json:"content,omitempty"`
	// thinking, redacted_thinking
	Thinking  *string `json:"thinking,omitempty"`
	Signature string  `json:"signature,omitempty"`
	Data      string  `json:"data,omitempty"`

	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

type source struct {
	Type      string `json:"type"` // base64, url, text
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type toolChoice struct {
	Type                   string `json:"type"` // auto, any, tool, none
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

type thinking struct {
	Type         string `json:"type"`
	BudgetTokens int    `json:"budget_tokens"`
}

type metadata struct {
	UserID string `json:"user_id"`
}

func textBlock(s string, cache json.RawMessage) block {
	return block{Type: "text", Text: &s, CacheControl: cache}
}

// translate turns an OpenAI chat request (after the proxy's policy) into
// a Messages request for model. Whatever cannot be carried over is
// refused by name.
func translate(r *chat.Request, model string, stream bool, o *config.ModelOptions) (*request, error) {
	if err := r.CheckPortable(); err != nil {
		return nil, err
	}
	if err := checkUnmapped(r); err != nil {
		return nil, err
	}
	out := &request{Model: model, Stream: stream, Temperature: r.Temperature, TopP: r.TopP, TopK: r.TopK}
	if o.TopK != nil {
		out.TopK = o.TopK
	}
	out.StopSequences = r.Stop
	if r.User != "" {
		out.Metadata = &metadata{UserID: r.User}
	}
	if err := out.messages(r.Messages); err != nil {
		return nil, err
	}
	if err := out.tools(r); err != nil {
		return nil, err
	}
	return out, out.budget(r, o)
}

// checkUnmapped refuses what Anthropic has no equivalent for.
func checkUnmapped(r *chat.Request) error {
	switch {
	case r.Seed != nil:
		return provider.Unsupported("seed", "seed is not supported by Anthropic")
	case r.PresencePenalty != nil && *r.PresencePenalty != 0:
		return provider.Unsupported("presence_penalty", "presence_penalty is not supported by Anthropic")
	case r.FrequencyPenalty != nil && *r.FrequencyPenalty != 0:
		return provider.Unsupported("frequency_penalty", "frequency_penalty is not supported by Anthropic")
	case r.Store != nil && *r.Store:
		return provider.Unsupported("store", "store is not supported by Anthropic")
	case r.ServiceTier != "" && r.ServiceTier != "auto":
		return provider.Unsupported("service_tier", "service_tier other than auto is not supported here for Anthropic")
	case r.ResponseFormat != nil && r.ResponseFormat.Type != "text":
		return provider.Unsupported("response_format", "response_format %q is not supported for Anthropic; describe the format in the prompt or use a tool", r.ResponseFormat.Type)
	}
	return nil
}

// budget sets max_tokens (the request's, else model.options.max_tokens,
// else DefaultMaxTokens) and the thinking budget for reasoning_effort,
// which must stay below max_tokens.
func (out *request) budget(r *chat.Request, o *config.ModelOptions) error {
	maxTokens, explicit := r.MaxOutput(), true
	if maxTokens <= 0 && o.MaxTokens != nil && *o.MaxTokens > 0 {
		maxTokens = *o.MaxTokens
	}
	if maxTokens <= 0 {
		maxTokens, explicit = DefaultMaxTokens, false
	}
	out.MaxTokens = maxTokens
	effort := r.ReasoningEffort
	if effort == "" || effort == "none" {
		return nil
	}
	b, ok := thinkingBudget[effort]
	if !ok {
		return provider.Invalid("reasoning_effort", "reasoning_effort must be one of none, minimal, low, medium, high")
	}
	switch {
	case !explicit:
		// No cap was asked for: room for the thinking and for the answer.
		out.MaxTokens = b + DefaultMaxTokens
	case b >= maxTokens:
		// The cap the client (or the policy) set holds: the budget shrinks.
		b = maxTokens - 1
	}
	if b < minThinkingBudget {
		return provider.Invalid("reasoning_effort", "reasoning_effort needs max_tokens above %d for Anthropic (its smallest thinking budget is %d tokens)", minThinkingBudget, minThinkingBudget)
	}
	out.Thinking = &thinking{Type: "enabled", BudgetTokens: b}
	return nil
}

// messages maps the conversation. System and developer messages go to
// system, in order; tool results join the user turn that follows the
// assistant's calls; consecutive messages of one role become one turn.
func (out *request) messages(msgs []chat.Message) error {
	for i := range msgs {
		m := &msgs[i]
		at := fmt.Sprintf("messages[%d]", i)
		var role string
		var blocks []block
		var err error
		switch m.Role {
		case "system", "developer":
			b, err := systemBlocks(m.Content, at)
			if err != nil {
				return err
			}
			out.System = append(out.System, b...)
			continue
		case "user":
			role = "user"
			blocks, err = userBlocks(m.Content, at)
		case "assistant":
			role = "assistant"
			blocks, err = assistantBlocks(m, at)
		case "tool":
			role = "user"
			blocks, err = toolResult(m, at)
		case "function":
			return provider.Unsupported(at+".role", "function messages are deprecated and not supported here; use tool messages")
		default:
			return provider.Invalid(at+".role", "unknown role %q", m.Role)
		}
		if err != nil {
			return err
		}
		if len(blocks) == 0 {
			if role == "assistant" {
				continue // an empty assistant turn carries nothing
			}
			return provider.Invalid(at+".content", "%s.content must not be empty", at)
		}
		if n := len(out.Messages); n > 0 && out.Messages[n-1].Role == role {
			out.Messages[n-1].Content = append(out.Messages[n-1].Content, blocks...)
			continue
		}
		out.Messages = append(out.Messages, message{Role: role, Content: blocks})
	}
	if len(out.Messages) == 0 {
		return provider.Invalid("messages", "messages must hold a user message besides system messages")
	}
	return nil
}

func systemBlocks(c chat.Content, at string) ([]block, error) {
	if !c.IsParts {
		if c.Text == "" {
			return nil, nil
		}
		return []block{textBlock(c.Text, nil)}, nil
	}
	var out []block
	for j, p := range c.Parts {
		if p.Type != "text" {
			return nil, provider.Unsupported(fmt.Sprintf("%s.content[%d]", at, j), "system messages hold text only for Anthropic")
		}
		if p.Text != "" {
			out = append(out, textBlock(p.Text, p.CacheControl))
		}
	}
	return out, nil
}

func userBlocks(c chat.Content, at string) ([]block, error) {
	if !c.IsParts {
		if c.Text == "" {
			return nil, nil
		}
		return []block{textBlock(c.Text, nil)}, nil
	}
	out := make([]block, 0, len(c.Parts))
	for j := range c.Parts {
		b, skip, err := part(&c.Parts[j], fmt.Sprintf("%s.content[%d]", at, j))
		if err != nil {
			return nil, err
		}
		if !skip {
			out = append(out, b)
		}
	}
	return out, nil
}

// part maps one user content part. Empty text is skipped: Anthropic
// refuses empty text blocks.
func part(p *chat.Part, at string) (b block, skip bool, err error) {
	switch p.Type {
	case "text":
		return textBlock(p.Text, p.CacheControl), p.Text == "", nil
	case "image_url":
		if p.ImageURL == nil || p.ImageURL.URL == "" {
			return b, false, provider.Invalid(at+".image_url.url", "an image part needs image_url.url")
		}
		src, err := imageSource(p.ImageURL.URL, at+".image_url.url")
		return block{Type: "image", Source: src, CacheControl: p.CacheControl}, false, err
	case "file":
		src, err := fileSource(p.File, at+".file")
		return block{Type: "document", Source: src, CacheControl: p.CacheControl}, false, err
	}
	return b, false, provider.Unsupported(at+".type", "content parts of type %q are not supported by Anthropic", p.Type)
}

var imageTypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp"}

// imageSource: a data: URL becomes base64 data; an http(s) URL is passed
// as a URL source, which Anthropic fetches itself (this proxy never does).
func imageSource(u, at string) (*source, error) {
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		return &source{Type: "url", URL: u}, nil
	}
	mt, data, ok := dataURL(u)
	if !ok {
		return nil, provider.Invalid(at, "an image must be a base64 data: URL or an http(s) URL")
	}
	if !contains(imageTypes, mt) {
		return nil, provider.Unsupported(at, "image type %q is not supported by Anthropic (jpeg, png, gif, webp)", mt)
	}
	return &source{Type: "base64", MediaType: mt, Data: data}, nil
}

// fileSource: a PDF goes as a base64 document; plain text as a text
// document. Uploaded file ids are OpenAI's and mean nothing to Anthropic.
func fileSource(f *chat.File, at string) (*source, error) {
	switch {
	case f == nil:
		return nil, provider.Invalid(at, "a file part needs file")
	case f.FileID != "":
		return nil, provider.Unsupported(at+".file_id", "file ids are not supported for Anthropic; send file_data")
	}
	mt, data, ok := dataURL(f.FileData)
	if !ok {
		return nil, provider.Invalid(at+".file_data", "file_data must be a base64 data: URL")
	}
	switch mt {
	case "application/pdf":
		return &source{Type: "base64", MediaType: mt, Data: data}, nil
	case "text/plain":
		text, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return nil, provider.Invalid(at+".file_data", "file_data is not valid base64")
		}
		return &source{Type: "text", MediaType: mt, Data: string(text)}, nil
	}
	return nil, provider.Unsupported(at+".file_data", "file type %q is not supported by Anthropic (application/pdf, text/plain)", mt)
}

// dataURL splits "data:<type>;base64,<data>".
func dataURL(u string) (mediaType, data string, ok bool) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return "", "", false
	}
	meta, data, ok := strings.Cut(rest, ",")
	if !ok {
		return "", "", false
	}
	mediaType, params, _ := strings.Cut(meta, ";")
	if !strings.Contains(";"+params+";", ";base64;") || mediaType == "" {
		return "", "", false
	}
	return strings.ToLower(mediaType), data, true
}

// assistantBlocks: signed thinking blocks first (Anthropic requires them
// first when it checks them), then text, then tool calls.
func assistantBlocks(m *chat.Message, at string) ([]block, error) {
	out := make([]block, 0, len(m.ThinkingBlocks)+1+len(m.ToolCalls))
	for j, t := range m.ThinkingBlocks {
		switch t.Type {
		case "thinking":
			text := t.Thinking
			out = append(out, block{Type: "thinking", Thinking: &text, Signature: t.Signature})
		case "redacted_thinking":
			out = append(out, block{Type: "redacted_thinking", Data: t.Data})
		default:
			return nil, provider.Invalid(fmt.Sprintf("%s.thinking_blocks[%d].type", at, j), "thinking blocks are of type thinking or redacted_thinking")
		}
	}
	if !m.Content.IsParts {
		if m.Content.Text != "" {
			out = append(out, textBlock(m.Content.Text, nil))
		}
	} else {
		for j, p := range m.Content.Parts {
			switch {
			case p.Type == "refusal":
				continue
			case p.Type != "text":
				return nil, provider.Unsupported(fmt.Sprintf("%s.content[%d].type", at, j), "assistant messages hold text only")
			case p.Text != "":
				out = append(out, textBlock(p.Text, p.CacheControl))
			}
		}
	}
	for j, tc := range m.ToolCalls {
		input, err := toolInput(tc.Function.Arguments)
		if err != nil {
			return nil, provider.Invalid(fmt.Sprintf("%s.tool_calls[%d].function.arguments", at, j), "tool call arguments must be a JSON object")
		}
		out = append(out, block{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
	}
	return out, nil
}

func toolInput(args string) (json.RawMessage, error) {
	a := bytes.TrimSpace([]byte(args))
	if len(a) == 0 {
		return json.RawMessage("{}"), nil
	}
	if a[0] != '{' || !json.Valid(a) {
		return nil, fmt.Errorf("not an object")
	}
	return a, nil
}

// toolResult is a tool message as a tool_result block; its text (or text
// and image parts) is the result.
func toolResult(m *chat.Message, at string) ([]block, error) {
	if m.ToolCallID == "" {
		return nil, provider.Invalid(at+".tool_call_id", "a tool message needs tool_call_id")
	}
	r := block{Type: "tool_result", ToolUseID: m.ToolCallID}
	if m.Content.IsParts {
		for j := range m.Content.Parts {
			p := &m.Content.Parts[j]
			if p.Type != "text" && p.Type != "image_url" {
				return nil, provider.Unsupported(fmt.Sprintf("%s.content[%d].type", at, j), "tool results hold text and images only for Anthropic")
			}
			b, skip, err := part(p, fmt.Sprintf("%s.content[%d]", at, j))
			if err != nil {
				return nil, err
			}
			if !skip {
				r.Content = append(r.Content, b)
			}
		}
	} else if m.Content.Text != "" {
		r.Content = []block{textBlock(m.Content.Text, nil)}
	}
	return []block{r}, nil
}

// tools maps function tools and tool_choice (Kong's mapping: required is
// any, a named function is tool). parallel_tool_calls false disables
// parallel tool use.
func (out *request) tools(r *chat.Request) error {
	for i, t := range r.Tools {
		if t.Type != "function" {
			return provider.Unsupported(fmt.Sprintf("tools[%d].type", i), "tools of type %q are not supported for Anthropic", t.Type)
		}
		if t.Function.Name == "" {
			return provider.Invalid(fmt.Sprintf("tools[%d].function.name", i), "a tool needs a name")
		}
		schema := t.Function.Parameters
		if len(bytes.TrimSpace(schema)) == 0 || string(schema) == "null" {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		out.Tools = append(out.Tools, tool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema})
	}
	noParallel := r.ParallelToolCalls != nil && !*r.ParallelToolCalls
	if tc := r.ToolChoice; tc != nil {
		switch {
		case tc.Function != "":
			out.ToolChoice = &toolChoice{Type: "tool", Name: tc.Function}
		case tc.Mode == "required":
			out.ToolChoice = &toolChoice{Type: "any"}
		case tc.Mode == "auto":
			out.ToolChoice = &toolChoice{Type: "auto"}
		case tc.Mode == "none" && len(out.Tools) > 0:
			out.ToolChoice = &toolChoice{Type: "none"}
			noParallel = false
		}
	}
	if len(out.Tools) == 0 {
		if out.ToolChoice != nil {
			return provider.Invalid("tool_choice", "tool_choice needs tools")
		}
		return nil
	}
	if noParallel {
		if out.ToolChoice == nil {
			out.ToolChoice = &toolChoice{Type: "auto"}
		}
		out.ToolChoice.DisableParallelToolUse = true
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

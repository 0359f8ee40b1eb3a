// Package ollama translates OpenAI chat to Ollama's native /api/chat and
// back (Kong's drivers/shared to_ollama / from_ollama). The mistral and
// llama2 drivers use it for their `ollama` format: one translator, two
// Kong provider names.
package ollama

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// Request is Ollama's /api/chat request.
type Request struct {
	Model    string          `json:"model"`
	Messages []Message       `json:"messages"`
	Stream   bool            `json:"stream"`
	Tools    []chat.Tool     `json:"tools,omitempty"`
	Format   json.RawMessage `json:"format,omitempty"`
	Options  *Options        `json:"options,omitempty"`
	Think    *bool           `json:"think,omitempty"`
}

// Options are the sampling options Ollama takes beside the messages.
type Options struct {
	NumPredict       *int     `json:"num_predict,omitempty"`
	Temperature      *float64 `json:"temperature,omitempty"`
	TopP             *float64 `json:"top_p,omitempty"`
	TopK             *int     `json:"top_k,omitempty"`
	Stop             []string `json:"stop,omitempty"`
	Seed             *int64   `json:"seed,omitempty"`
	PresencePenalty  *float64 `json:"presence_penalty,omitempty"`
	FrequencyPenalty *float64 `json:"frequency_penalty,omitempty"`
}

// Message is one Ollama chat message. Images are bare base64.
type Message struct {
	Role      string     `json:"role"`
	Content   string     `json:"content"`
	Thinking  string     `json:"thinking,omitempty"`
	Images    []string   `json:"images,omitempty"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	ToolName  string     `json:"tool_name,omitempty"`
}

// ToolCall is a call the model made; Ollama's arguments are an object.
type ToolCall struct {
	ID       string `json:"id,omitempty"`
	Function struct {
		Index     *int            `json:"index,omitempty"`
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

// Translate turns an OpenAI chat request into Ollama's. topK is the
// configured model.options.top_k (the proxy removes top_k from the body).
// What Ollama cannot take is refused by name.
func Translate(r *chat.Request, model string, topK *int) (*Request, error) {
	if err := r.CheckPortable(); err != nil {
		return nil, err
	}
	out := &Request{Model: model, Stream: r.Stream}
	o := Options{Temperature: r.Temperature, TopP: r.TopP, TopK: topK, Stop: r.Stop, Seed: r.Seed,
		PresencePenalty: r.PresencePenalty, FrequencyPenalty: r.FrequencyPenalty}
	if n := r.MaxOutput(); n > 0 {
		o.NumPredict = &n
	}
	if !o.empty() {
		out.Options = &o
	}
	if err := translateTools(r, out); err != nil {
		return nil, err
	}
	if f := r.ResponseFormat; f != nil {
		switch f.Type {
		case "text":
		case "json_object":
			out.Format = json.RawMessage(`"json"`)
		case "json_schema":
			if f.JSONSchema == nil || len(f.JSONSchema.Schema) == 0 {
				return nil, provider.Invalid("response_format.json_schema", "response_format json_schema needs json_schema.schema")
			}
			out.Format = f.JSONSchema.Schema
		default:
			return nil, provider.Unsupported("response_format.type", "response_format type %q is not supported by Ollama", f.Type)
		}
	}
	switch r.ReasoningEffort {
	case "":
	case "none", "minimal":
		f := false
		out.Think = &f
	default:
		t := true
		out.Think = &t
	}
	msgs, err := translateMessages(r.Messages)
	if err != nil {
		return nil, err
	}
	out.Messages = msgs
	return out, nil
}

func translateTools(r *chat.Request, out *Request) error {
	for i, t := range r.Tools {
		if t.Type != "function" {
			return provider.Unsupported("tools", "tools[%d]: only function tools are supported by Ollama", i)
		}
	}
	if tc := r.ToolChoice; tc != nil {
		switch {
		case tc.Mode == "none":
			return nil // no tools offered: Ollama has no tool_choice
		case tc.Mode == "required" || tc.Function != "":
			return provider.Unsupported("tool_choice", "Ollama cannot be made to call a tool: tool_choice must be auto or none")
		}
	}
	out.Tools = r.Tools
	return nil
}

func translateMessages(in []chat.Message) ([]Message, error) {
	out := make([]Message, 0, len(in))
	names := map[string]string{} // tool call id -> function name
	for i, m := range in {
		om := Message{Role: m.Role, Thinking: m.ReasoningContent}
		switch m.Role {
		case "system", "developer":
			om.Role = "system"
		case "user", "assistant":
		case "tool":
			om.ToolName = names[m.ToolCallID]
		default:
			return nil, provider.Invalid("messages", "messages[%d]: unknown role %q", i, m.Role)
		}
		text, images, err := content(m.Content, i)
		if err != nil {
			return nil, err
		}
		om.Content, om.Images = text, images
		for j, tc := range m.ToolCalls {
			var call ToolCall
			call.ID = tc.ID
			call.Function.Name = tc.Function.Name
			args := strings.TrimSpace(tc.Function.Arguments)
			if args == "" {
				args = "{}"
			}
			if !json.Valid([]byte(args)) || args[0] != '{' {
				return nil, provider.Invalid("messages", "messages[%d].tool_calls[%d].function.arguments is not a JSON object", i, j)
			}
			call.Function.Arguments = json.RawMessage(args)
			names[tc.ID] = tc.Function.Name
			om.ToolCalls = append(om.ToolCalls, call)
		}
		out = append(out, om)
	}
	return out, nil
}

// content flattens a message's content into Ollama's text and images.
func content(c chat.Content, i int) (string, []string, error) {
	if !c.IsParts {
		return c.Text, nil, nil
	}
	var b strings.Builder
	var images []string
	for _, p := range c.Parts {
		switch p.Type {
		case "text":
			b.WriteString(p.Text)
		case "image_url":
			if p.ImageURL == nil {
				return "", nil, provider.Invalid("messages", "messages[%d]: image_url part without image_url", i)
			}
			data, ok := dataURL(p.ImageURL.URL)
			if !ok {
				return "", nil, provider.Unsupported("messages", "messages[%d]: Ollama takes images as base64 data: URLs only, not links", i)
			}
			images = append(images, data)
		default:
			return "", nil, provider.Unsupported("messages", "messages[%d]: content part type %q is not supported by Ollama", i, p.Type)
		}
	}
	return b.String(), images, nil
}

// dataURL returns the base64 payload of a data:<mime>;base64, URL.
func dataURL(u string) (string, bool) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return "", false
	}
	meta, data, ok := strings.Cut(rest, ",")
	if !ok || !strings.HasSuffix(meta, ";base64") {
		return "", false
	}
	if _, err := base64.StdEncoding.DecodeString(data); err != nil {
		return "", false
	}
	return data, true
}

func (o *Options) empty() bool {
	return o.NumPredict == nil && o.Temperature == nil && o.TopP == nil && o.TopK == nil && len(o.Stop) == 0 &&
		o.Seed == nil && o.PresencePenalty == nil && o.FrequencyPenalty == nil
}

// Package responses serves OpenAI's Responses API (POST /v1/responses,
// route_type llm/v1/responses) through the chat hub, statelessly, for every
// provider that does not serve it natively: Request translates a Responses
// request into a chat completions request, Answer translates the chat
// completion back into a Response object, and Stream translates the chat
// chunk stream into the Responses stream events, chunk by chunk as they
// arrive, never buffered. Nothing is stored: previous_response_id and
// store: true are refused by name rather than ignored, and a client sends
// the whole conversation every turn (as Codex does).
package responses

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// Translated is a Responses request made into a chat request, with what
// the answer echoes back.
type Translated struct {
	// Chat is the chat completions request body.
	Chat   []byte
	Stream bool
	Echo   Echo
}

// Echo is what a Response object repeats of its request.
type Echo struct {
	Instructions      json.RawMessage
	Metadata          json.RawMessage
	Tools             json.RawMessage
	ToolChoice        json.RawMessage
	Text              json.RawMessage
	Reasoning         json.RawMessage
	Temperature       json.RawMessage
	TopP              json.RawMessage
	MaxOutputTokens   json.RawMessage
	ParallelToolCalls json.RawMessage
	User              json.RawMessage
	// Calls names the chat tools that are not a plain function tool of
	// the request: a function declared inside a namespace tool (chat
	// knows it as namespace__name) or a custom tool. A chat tool call of
	// such a name is answered as the Responses API's own item.
	Calls map[string]Call
}

// Call is what a chat tool name stands for in the Responses API.
type Call struct {
	Namespace string // the namespace tool that declared it, if any
	Name      string
	// Custom: a custom (free-form) tool, whose calls are custom_tool_call
	// items with a string input, carried through chat as {"input": ...}.
	Custom bool
}

// call returns what the chat tool name stands for.
func (e *Echo) call(chatName string) Call {
	if c, ok := e.Calls[chatName]; ok {
		return c
	}
	return Call{Name: chatName}
}

// accepted are the request members this translation reads; any other is
// refused by name. ignored are accepted and have no effect on a stateless,
// chat-shaped call (hints and stream options of OpenAI's own service).
var (
	accepted = map[string]bool{
		"model": true, "input": true, "instructions": true, "stream": true, "tools": true, "tool_choice": true,
		"parallel_tool_calls": true, "max_output_tokens": true, "temperature": true, "top_p": true, "text": true,
		"reasoning": true, "metadata": true, "user": true, "store": true, "previous_response_id": true,
		"include": true, "truncation": true, "service_tier": true, "prompt_cache_key": true, "safety_identifier": true,
		"stream_options": true, "background": true, "top_k": true, "client_metadata": true,
	}
)

// Request translates a Responses request body. skip names members to drop
// unread (key-auth keys sent in the body). Refusals are *provider.Error.
func Request(body []byte, skip []string) (*Translated, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, provider.Invalid("", "the request body is not a JSON object")
	}
	for _, k := range skip {
		delete(raw, k)
	}
	for k, v := range raw {
		if !accepted[k] {
			return nil, provider.Unsupported(k, "%q is not supported by the Responses API on this provider (it is served statelessly through chat)", k)
		}
		if isNull(v) {
			delete(raw, k)
		}
	}
	if v, ok := raw["previous_response_id"]; ok && string(v) != `""` {
		return nil, provider.Unsupported("previous_response_id", "previous_response_id is not supported: this provider keeps no response state; send the whole conversation in input")
	}
	if v, ok := raw["store"]; ok && string(bytes.TrimSpace(v)) != "false" {
		return nil, provider.Unsupported("store", "store: true is not supported: this provider keeps no response state; send store: false")
	}
	if v, ok := raw["background"]; ok && string(bytes.TrimSpace(v)) != "false" {
		return nil, provider.Unsupported("background", "background responses are not supported: this provider keeps no response state")
	}
	if v, ok := raw["truncation"]; ok && string(v) != `"disabled"` {
		return nil, provider.Unsupported("truncation", `truncation must be "disabled" here: the conversation is sent as it is`)
	}
	if v, ok := raw["service_tier"]; ok && string(v) != `"auto"` && string(v) != `"default"` {
		return nil, provider.Unsupported("service_tier", "service_tier is not supported by this provider")
	}
	var req chat.Request
	t := &Translated{}
	if v, ok := raw["model"]; ok {
		if json.Unmarshal(v, &req.Model) != nil {
			return nil, provider.Invalid("model", "model must be a string")
		}
	}
	if v, ok := raw["stream"]; ok {
		if json.Unmarshal(v, &t.Stream) != nil {
			return nil, provider.Invalid("stream", "stream must be a boolean")
		}
		req.Stream = t.Stream
	}
	if v, ok := raw["instructions"]; ok {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, provider.Invalid("instructions", "instructions must be a string")
		}
		if s != "" {
			req.Messages = append(req.Messages, chat.Message{Role: "system", Content: chat.Content{Text: s}})
		}
		t.Echo.Instructions = v
	}
	msgs, err := inputMessages(raw["input"])
	if err != nil {
		return nil, err
	}
	req.Messages = append(req.Messages, msgs...)
	if len(req.Messages) == 0 {
		return nil, provider.Invalid("input", "input is required")
	}
	if v, ok := raw["tools"]; ok {
		if req.Tools, t.Echo.Calls, err = tools(v); err != nil {
			return nil, err
		}
		t.Echo.Tools = v
	}
	if v, ok := raw["tool_choice"]; ok {
		tc, err := toolChoice(v)
		if err != nil {
			return nil, err
		}
		req.ToolChoice = tc
		t.Echo.ToolChoice = v
	}
	if v, ok := raw["parallel_tool_calls"]; ok {
		var b bool
		if json.Unmarshal(v, &b) != nil {
			return nil, provider.Invalid("parallel_tool_calls", "parallel_tool_calls must be a boolean")
		}
		req.ParallelToolCalls = &b
		t.Echo.ParallelToolCalls = v
	}
	if v, ok := raw["max_output_tokens"]; ok {
		var n int
		if json.Unmarshal(v, &n) != nil || n < 1 {
			return nil, provider.Invalid("max_output_tokens", "max_output_tokens must be a positive integer")
		}
		req.MaxCompletionTokens = &n
		t.Echo.MaxOutputTokens = v
	}
	for _, f := range []struct {
		name string
		dst  **float64
		echo *json.RawMessage
	}{{"temperature", &req.Temperature, &t.Echo.Temperature}, {"top_p", &req.TopP, &t.Echo.TopP}} {
		if v, ok := raw[f.name]; ok {
			var x float64
			if json.Unmarshal(v, &x) != nil {
				return nil, provider.Invalid(f.name, "%s must be a number", f.name)
			}
			*f.dst, *f.echo = &x, v
		}
	}
	if v, ok := raw["top_k"]; ok {
		var k int
		if json.Unmarshal(v, &k) != nil {
			return nil, provider.Invalid("top_k", "top_k must be an integer")
		}
		req.TopK = &k
	}
	if v, ok := raw["text"]; ok {
		if req.ResponseFormat, err = textFormat(v); err != nil {
			return nil, err
		}
		t.Echo.Text = v
	}
	if v, ok := raw["reasoning"]; ok {
		var r struct {
			Effort  *string `json:"effort"`
			Summary *string `json:"summary"`
			// generate_summary is the deprecated name of summary.
			GenerateSummary *string `json:"generate_summary"`
		}
		if err := strictDecode(v, &r); err != nil {
			return nil, provider.Invalid("reasoning", "reasoning must be an object with effort and summary: %v", err)
		}
		if r.Effort != nil {
			req.ReasoningEffort = *r.Effort
		}
		t.Echo.Reasoning = v
	}
	if v, ok := raw["metadata"]; ok {
		t.Echo.Metadata = v
	}
	// client_metadata is the client's own bookkeeping for OpenAI's logs
	// (Codex sends its session, thread and turn ids in it): it does not
	// change the answer, so it is read as an object and goes no further.
	if v, ok := raw["client_metadata"]; ok {
		var m map[string]json.RawMessage
		if json.Unmarshal(v, &m) != nil {
			return nil, provider.Invalid("client_metadata", "client_metadata must be an object")
		}
	}
	if v, ok := raw["user"]; ok {
		if json.Unmarshal(v, &req.User) != nil {
			return nil, provider.Invalid("user", "user must be a string")
		}
		t.Echo.User = v
	}
	if v, ok := raw["include"]; ok {
		var inc []string
		if json.Unmarshal(v, &inc) != nil {
			return nil, provider.Invalid("include", "include must be a list of strings")
		}
		for _, s := range inc {
			if s != "reasoning.encrypted_content" && s != "message.output_text.logprobs" {
				return nil, provider.Unsupported("include", "include %q is not supported by this provider", s)
			}
		}
	}
	t.Chat, _ = json.Marshal(&req)
	return t, nil
}

// inputMessages turns input (a string, or a list of items) into chat
// messages: consecutive assistant output (text, function calls, reasoning)
// becomes one assistant message, each function_call_output a tool message.
func inputMessages(v json.RawMessage) ([]chat.Message, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil, nil
	}
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, provider.Invalid("input", "input must be a string or a list of items")
		}
		return []chat.Message{{Role: "user", Content: chat.Content{Text: s}}}, nil
	}
	var items []json.RawMessage
	if v[0] != '[' || json.Unmarshal(v, &items) != nil {
		return nil, provider.Invalid("input", "input must be a string or a list of items")
	}
	var out []chat.Message
	// assistant is the open assistant message that output items join.
	var assistant *chat.Message
	flush := func() {
		if assistant != nil {
			if len(assistant.Content.Parts) == 0 && !assistant.Content.IsNull {
				assistant.Content = chat.Content{IsNull: true}
			} else if !assistant.Content.IsNull {
				txt, _ := assistant.Content.PlainText()
				assistant.Content = chat.Content{Text: txt}
			}
			out = append(out, *assistant)
			assistant = nil
		}
	}
	open := func() *chat.Message {
		if assistant == nil {
			assistant = &chat.Message{Role: "assistant", Content: chat.Content{IsParts: true}}
		}
		return assistant
	}
	for i, it := range items {
		var item struct {
			Type             string          `json:"type"`
			ID               string          `json:"id"`
			Role             string          `json:"role"`
			Content          json.RawMessage `json:"content"`
			Status           string          `json:"status"`
			CallID           string          `json:"call_id"`
			Name             string          `json:"name"`
			Arguments        *string         `json:"arguments"`
			Output           json.RawMessage `json:"output"`
			Summary          []textPart      `json:"summary"`
			EncryptedContent string          `json:"encrypted_content"`
			Namespace        string          `json:"namespace"`
			Input            *string         `json:"input"`
		}
		if err := json.Unmarshal(it, &item); err != nil {
			return nil, provider.Invalid(itemParam(i), "input item %d is not a valid item", i)
		}
		switch item.Type {
		case "message", "":
			if item.Role == "" {
				return nil, provider.Invalid(itemParam(i)+".role", "input item %d has no role", i)
			}
			parts, err := contentParts(item.Content, i)
			if err != nil {
				return nil, err
			}
			switch item.Role {
			case "assistant":
				a := open()
				for _, p := range parts.Parts {
					if p.Type != "text" {
						return nil, provider.Invalid(itemParam(i)+".content", "an assistant message holds text only")
					}
				}
				if parts.IsParts {
					a.Content.Parts = append(a.Content.Parts, parts.Parts...)
				} else {
					a.Content.Parts = append(a.Content.Parts, chat.Part{Type: "text", Text: parts.Text})
				}
			case "user", "system", "developer":
				flush()
				role := item.Role
				if role == "developer" {
					role = "system" // chat-only providers know no developer role
				}
				out = append(out, chat.Message{Role: role, Content: parts})
			default:
				return nil, provider.Invalid(itemParam(i)+".role", "role %q is not one of user, assistant, system, developer", item.Role)
			}
		case "function_call":
			if item.CallID == "" || item.Name == "" {
				return nil, provider.Invalid(itemParam(i), "a function_call item needs call_id and name")
			}
			args := "{}"
			if item.Arguments != nil && *item.Arguments != "" {
				args = *item.Arguments
			}
			a := open()
			a.ToolCalls = append(a.ToolCalls, chat.ToolCall{ID: item.CallID, Type: "function", Function: chat.FunctionCall{Name: chatName(item.Namespace, item.Name), Arguments: args}})
		case "custom_tool_call":
			if item.CallID == "" || item.Name == "" || item.Input == nil {
				return nil, provider.Invalid(itemParam(i), "a custom_tool_call item needs call_id, name and input")
			}
			args, _ := json.Marshal(customArgs{Input: *item.Input})
			a := open()
			a.ToolCalls = append(a.ToolCalls, chat.ToolCall{ID: item.CallID, Type: "function", Function: chat.FunctionCall{Name: chatName(item.Namespace, item.Name), Arguments: string(args)}})
		case "function_call_output", "custom_tool_call_output":
			if item.CallID == "" {
				return nil, provider.Invalid(itemParam(i)+".call_id", "a %s item needs call_id", item.Type)
			}
			flush()
			text, err := callOutput(item.Output, i)
			if err != nil {
				return nil, err
			}
			out = append(out, chat.Message{Role: "tool", ToolCallID: item.CallID, Content: chat.Content{Text: text}})
		case "reasoning":
			a := open()
			var b strings.Builder
			for _, s := range item.Summary {
				b.WriteString(s.Text)
			}
			if c := bytes.TrimSpace(item.Content); len(c) > 0 && c[0] == '[' {
				var parts []textPart
				_ = json.Unmarshal(c, &parts)
				for _, p := range parts {
					b.WriteString(p.Text)
				}
			}
			if item.EncryptedContent != "" {
				a.ThinkingBlocks = append(a.ThinkingBlocks, chat.ThinkingBlock{Type: "thinking", Thinking: b.String(), Signature: item.EncryptedContent})
			}
			a.ReasoningContent += b.String()
		case "item_reference":
			return nil, provider.Unsupported(itemParam(i), "item_reference is not supported: this provider keeps no response state")
		default:
			return nil, provider.Unsupported(itemParam(i)+".type", "input items of type %q are not supported by this provider", item.Type)
		}
	}
	flush()
	return out, nil
}

type textPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func itemParam(i int) string { return "input[" + strconv.Itoa(i) + "]" }

// contentParts reads a message's content: a string, or input_text,
// output_text, refusal and input_image parts.
func contentParts(v json.RawMessage, i int) (chat.Content, error) {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return chat.Content{}, provider.Invalid(itemParam(i)+".content", "content is not valid")
		}
		return chat.Content{Text: s}, nil
	}
	var parts []struct {
		Type     string          `json:"type"`
		Text     string          `json:"text"`
		Refusal  string          `json:"refusal"`
		ImageURL string          `json:"image_url"`
		FileID   string          `json:"file_id"`
		Detail   string          `json:"detail"`
		FileData string          `json:"file_data"`
		Filename string          `json:"filename"`
		Extra    json.RawMessage `json:"annotations"`
	}
	if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &parts) != nil {
		return chat.Content{}, provider.Invalid(itemParam(i)+".content", "content must be a string or a list of parts")
	}
	c := chat.Content{IsParts: true}
	for _, p := range parts {
		switch p.Type {
		case "input_text", "output_text", "text":
			c.Parts = append(c.Parts, chat.Part{Type: "text", Text: p.Text})
		case "refusal":
			c.Parts = append(c.Parts, chat.Part{Type: "text", Text: p.Refusal})
		case "input_image":
			if p.ImageURL == "" {
				return chat.Content{}, provider.Unsupported(itemParam(i)+".content", "input_image needs image_url (a data: or https URL); file_id needs stored files")
			}
			c.Parts = append(c.Parts, chat.Part{Type: "image_url", ImageURL: &chat.ImageURL{URL: p.ImageURL, Detail: p.Detail}})
		case "input_file":
			if p.FileData == "" {
				return chat.Content{}, provider.Unsupported(itemParam(i)+".content", "input_file needs file_data; file_id needs stored files")
			}
			c.Parts = append(c.Parts, chat.Part{Type: "file", File: &chat.File{FileData: p.FileData, Filename: p.Filename}})
		default:
			return chat.Content{}, provider.Unsupported(itemParam(i)+".content", "content parts of type %q are not supported", p.Type)
		}
	}
	return c, nil
}

// callOutput reads a function_call_output's output: a string, or text parts.
func callOutput(v json.RawMessage, i int) (string, error) {
	v = bytes.TrimSpace(v)
	var s string
	if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
		return s, nil
	}
	var parts []textPart
	if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &parts) != nil {
		return "", provider.Invalid(itemParam(i)+".output", "output must be a string or a list of text parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type != "input_text" && p.Type != "output_text" && p.Type != "text" {
			return "", provider.Unsupported(itemParam(i)+".output", "output parts of type %q are not supported", p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// toolDecl is one entry of tools: a function, a custom tool, or a
// namespace grouping function and custom tools.
type toolDecl struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      *bool           `json:"strict"`
	Format      *struct {
		Type       string `json:"type"`
		Syntax     string `json:"syntax"`
		Definition string `json:"definition"`
	} `json:"format"`
	Tools []toolDecl `json:"tools"`
}

// customParams is the chat schema of a custom tool: its free-form input
// as one string.
const customParams = `{"type":"object","properties":{"input":{"type":"string","description":"The tool's whole input, as raw text."}},"required":["input"],"additionalProperties":false}`

// customArgs is a custom tool call's input in chat's JSON arguments.
type customArgs struct {
	Input string `json:"input"`
}

// maxToolName is the longest tool name chat providers take (OpenAI,
// Bedrock, Gemini: 64): a flattened namespace__name must fit.
const maxToolName = 64

// chatName is the chat tool name of a Responses tool: the name, or
// namespace__name for one declared in a namespace (as Codex itself
// flattens namespaces for chat providers).
func chatName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "__" + name
}

// tools reads the Responses API's tools into chat function tools: function
// tools as they are; custom tools as a function of one string, input,
// whose description carries the tool's grammar, if any (the model is shown
// it; no chat provider constrains decoding to it); the function and custom
// tools of a namespace tool as namespace__name. calls maps the chat names
// that are not a plain function back. Hosted tools (web search, file
// search, ...) are refused by name: only OpenAI runs them.
func tools(v json.RawMessage) (out []chat.Tool, calls map[string]Call, err error) {
	var list []toolDecl
	if json.Unmarshal(v, &list) != nil {
		return nil, nil, provider.Invalid("tools", "tools must be a list of function, custom or namespace tools")
	}
	seen := map[string]bool{}
	add := func(i int, ns string, t toolDecl) error {
		if t.Name == "" {
			return provider.Invalid("tools", "tools[%d] has no name", i)
		}
		name := chatName(ns, t.Name)
		if ns != "" && len(name) > maxToolName {
			return provider.Invalid("tools", "tools[%d]: the tool name %q is longer than %d characters", i, name, maxToolName)
		}
		if seen[name] {
			return provider.Invalid("tools", "tools[%d]: the tool name %q is declared twice", i, name)
		}
		seen[name] = true
		f := chat.Function{Name: name, Description: t.Description}
		switch t.Type {
		case "function":
			if !isNull(t.Parameters) {
				f.Parameters = t.Parameters
			}
			f.Strict = t.Strict
		case "custom":
			desc, err := customDescription(i, t)
			if err != nil {
				return err
			}
			f.Description, f.Parameters = desc, json.RawMessage(customParams)
		default:
			return provider.Unsupported("tools", "tools[%d]: a namespace holds function and custom tools, not %q", i, t.Type)
		}
		if ns != "" || t.Type == "custom" {
			if calls == nil {
				calls = map[string]Call{}
			}
			calls[name] = Call{Namespace: ns, Name: t.Name, Custom: t.Type == "custom"}
		}
		out = append(out, chat.Tool{Type: "function", Function: f})
		return nil
	}
	out = make([]chat.Tool, 0, len(list))
	for i, t := range list {
		switch t.Type {
		case "function", "custom":
			err = add(i, "", t)
		case "namespace":
			if t.Name == "" {
				return nil, nil, provider.Invalid("tools", "tools[%d]: a namespace tool needs a name", i)
			}
			for _, inner := range t.Tools {
				if err = add(i, t.Name, inner); err != nil {
					break
				}
			}
		default:
			hint := ""
			if strings.HasPrefix(t.Type, "web_search") {
				hint = ` (Codex: set web_search = "disabled" in config.toml)`
			}
			err = provider.Unsupported("tools", "tools[%d]: tools of type %q are not supported by this provider: it runs function, custom and namespace tools, not the ones OpenAI hosts%s", i, t.Type, hint)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return out, calls, nil
}

// customDescription is a custom tool's description for chat: its own,
// how its input is passed, and its grammar.
func customDescription(i int, t toolDecl) (string, error) {
	var b strings.Builder
	b.WriteString(t.Description)
	if b.Len() > 0 {
		b.WriteString("\n\n")
	}
	b.WriteString("Its input is free-form text: put the whole of it, verbatim, in the string argument `input`.")
	f := t.Format
	if f == nil || f.Type == "text" {
		return b.String(), nil
	}
	if f.Type != "grammar" || f.Definition == "" {
		return "", provider.Invalid("tools", "tools[%d].format must be text or a grammar with a definition", i)
	}
	switch f.Syntax {
	case "lark":
		b.WriteString(" The input must match this Lark grammar:\n")
	case "regex":
		b.WriteString(" The input must match this regular expression:\n")
	default:
		return "", provider.Invalid("tools", "tools[%d].format.syntax must be lark or regex", i)
	}
	b.WriteString(f.Definition)
	return b.String(), nil
}

// toolChoice reads "none", "auto", "required" or {type: function or
// custom, name, namespace}.
func toolChoice(v json.RawMessage) (*chat.ToolChoice, error) {
	var mode string
	if json.Unmarshal(v, &mode) == nil {
		switch mode {
		case "none", "auto", "required":
			return &chat.ToolChoice{Mode: mode}, nil
		}
		return nil, provider.Invalid("tool_choice", "tool_choice must be none, auto, required or a function")
	}
	var obj struct {
		Type      string `json:"type"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	}
	if json.Unmarshal(v, &obj) != nil || (obj.Type != "function" && obj.Type != "custom") || obj.Name == "" {
		return nil, provider.Unsupported("tool_choice", `tool_choice must be none, auto, required or {"type":"function"|"custom","name":...}`)
	}
	return &chat.ToolChoice{Function: chatName(obj.Namespace, obj.Name)}, nil
}

// textFormat reads text.format into chat's response_format.
func textFormat(v json.RawMessage) (*chat.ResponseFormat, error) {
	var text struct {
		Format *struct {
			Type        string          `json:"type"`
			Name        string          `json:"name"`
			Schema      json.RawMessage `json:"schema"`
			Strict      *bool           `json:"strict"`
			Description string          `json:"description"`
		} `json:"format"`
		Verbosity *string `json:"verbosity"`
	}
	if err := strictDecode(v, &text); err != nil {
		return nil, provider.Invalid("text", "text must be an object with format: %v", err)
	}
	// verbosity asks OpenAI's models for shorter or longer answers; chat
	// has no such control, so on a translated call it is a hint the model
	// never sees (Codex sends "low" for the models it knows).
	if v := text.Verbosity; v != nil && *v != "low" && *v != "medium" && *v != "high" {
		return nil, provider.Invalid("text.verbosity", "text.verbosity must be low, medium or high")
	}
	f := text.Format
	if f == nil {
		return nil, nil
	}
	switch f.Type {
	case "text":
		return nil, nil
	case "json_object":
		return &chat.ResponseFormat{Type: "json_object"}, nil
	case "json_schema":
		if f.Name == "" || isNull(f.Schema) {
			return nil, provider.Invalid("text.format", "a json_schema format needs name and schema")
		}
		rf := &chat.ResponseFormat{Type: "json_schema"}
		rf.JSONSchema = &struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
			Strict *bool           `json:"strict,omitempty"`
		}{Name: f.Name, Schema: f.Schema, Strict: f.Strict}
		return rf, nil
	}
	return nil, provider.Invalid("text.format.type", "text.format.type must be text, json_object or json_schema")
}

func strictDecode(v json.RawMessage, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

func isNull(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) == 0 || string(v) == "null"
}

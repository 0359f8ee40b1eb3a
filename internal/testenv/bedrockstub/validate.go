package bedrockstub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
)

// ConverseRequest is a Converse / ConverseStream body, decoded with the
// API model's JSON member names. Unions stay json.RawMessage where the
// stub only passes them on.
type ConverseRequest struct {
	Messages                          []Message         `json:"messages"`
	System                            []SystemBlock     `json:"system,omitempty"`
	InferenceConfig                   *InferenceConfig  `json:"inferenceConfig,omitempty"`
	ToolConfig                        *ToolConfig       `json:"toolConfig,omitempty"`
	GuardrailConfig                   json.RawMessage   `json:"guardrailConfig,omitempty"`
	AdditionalModelRequestFields      json.RawMessage   `json:"additionalModelRequestFields,omitempty"`
	PromptVariables                   json.RawMessage   `json:"promptVariables,omitempty"`
	AdditionalModelResponseFieldPaths []string          `json:"additionalModelResponseFieldPaths,omitempty"`
	RequestMetadata                   map[string]string `json:"requestMetadata,omitempty"`
	PerformanceConfig                 json.RawMessage   `json:"performanceConfig,omitempty"`
	ServiceTier                       json.RawMessage   `json:"serviceTier,omitempty"`
	OutputConfig                      json.RawMessage   `json:"outputConfig,omitempty"`
}

// Message is one turn.
type Message struct {
	Role    string         `json:"role"`
	Content []ContentBlock `json:"content"`
}

// ContentBlock is the ContentBlock union: one member set.
type ContentBlock struct {
	Text             *string          `json:"text,omitempty"`
	Image            *ImageBlock      `json:"image,omitempty"`
	Document         *DocumentBlock   `json:"document,omitempty"`
	ToolUse          *ToolUseBlock    `json:"toolUse,omitempty"`
	ToolResult       *ToolResultBlock `json:"toolResult,omitempty"`
	ReasoningContent json.RawMessage  `json:"reasoningContent,omitempty"`
	CachePoint       json.RawMessage  `json:"cachePoint,omitempty"`
	GuardContent     json.RawMessage  `json:"guardContent,omitempty"`
	Video            json.RawMessage  `json:"video,omitempty"`
	Audio            json.RawMessage  `json:"audio,omitempty"`
	CitationsContent json.RawMessage  `json:"citationsContent,omitempty"`
	SearchResult     json.RawMessage  `json:"searchResult,omitempty"`
}

// ImageBlock: format png|jpeg|gif|webp, source {bytes (base64)} or
// {s3Location}.
type ImageBlock struct {
	Format string          `json:"format"`
	Source json.RawMessage `json:"source"`
}

// DocumentBlock: format, name, source.
type DocumentBlock struct {
	Format string          `json:"format"`
	Name   string          `json:"name"`
	Source json.RawMessage `json:"source"`
}

// ToolUseBlock is an assistant's tool call.
type ToolUseBlock struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

// ToolResultBlock answers a tool use.
type ToolResultBlock struct {
	ToolUseID string            `json:"toolUseId"`
	Content   []json.RawMessage `json:"content"`
	Status    string            `json:"status,omitempty"`
}

// SystemBlock is a SystemContentBlock union member.
type SystemBlock struct {
	Text         *string         `json:"text,omitempty"`
	GuardContent json.RawMessage `json:"guardContent,omitempty"`
	CachePoint   json.RawMessage `json:"cachePoint,omitempty"`
}

// InferenceConfig is inferenceConfig.
type InferenceConfig struct {
	MaxTokens     *int     `json:"maxTokens,omitempty"`
	Temperature   *float64 `json:"temperature,omitempty"`
	TopP          *float64 `json:"topP,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

// ToolConfig is toolConfig.
type ToolConfig struct {
	Tools      []Tool          `json:"tools"`
	ToolChoice json.RawMessage `json:"toolChoice,omitempty"`
}

// Tool is a Tool union member (toolSpec, or a cachePoint).
type Tool struct {
	ToolSpec *struct {
		Name        string `json:"name"`
		Description string `json:"description,omitempty"`
		InputSchema struct {
			JSON json.RawMessage `json:"json"`
		} `json:"inputSchema"`
		Strict *bool `json:"strict,omitempty"`
	} `json:"toolSpec,omitempty"`
	CachePoint json.RawMessage `json:"cachePoint,omitempty"`
	SystemTool json.RawMessage `json:"systemTool,omitempty"`
}

// Texts returns the request's text: system then message text blocks.
func (c *ConverseRequest) Texts() []string {
	var out []string
	for _, b := range c.System {
		if b.Text != nil {
			out = append(out, *b.Text)
		}
	}
	for _, m := range c.Messages {
		for _, b := range m.Content {
			if b.Text != nil {
				out = append(out, *b.Text)
			}
		}
	}
	return out
}

func malformed(format string, a ...any) *APIError {
	return ErrValidation("Malformed input request: " + fmt.Sprintf(format, a...) + ", please reformat your input and try again.")
}

// checkKeys refuses members of obj not in allowed, as Bedrock does.
func checkKeys(raw json.RawMessage, path string, allowed ...string) *APIError {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return malformed("%s: expected type: JSONObject", path)
	}
	var extra []string
outer:
	for k := range obj {
		for _, a := range allowed {
			if k == a {
				continue outer
			}
		}
		extra = append(extra, k)
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		where := ""
		if path != "" {
			where = path + ": "
		}
		return malformed("%sextraneous key [%s] is not permitted", where, extra[0])
	}
	return nil
}

var toolNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

var converseKeys = []string{"messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig",
	"additionalModelRequestFields", "promptVariables", "additionalModelResponseFieldPaths",
	"requestMetadata", "performanceConfig", "serviceTier", "outputConfig"}

var contentKeys = []string{"text", "image", "document", "video", "audio", "toolUse", "toolResult",
	"guardContent", "cachePoint", "reasoningContent", "citationsContent", "searchResult"}

// decodeConverse decodes and validates a Converse body.
func decodeConverse(body []byte) (*ConverseRequest, *APIError) {
	if aerr := checkKeys(body, "", converseKeys...); aerr != nil {
		return nil, aerr
	}
	var top map[string]json.RawMessage
	_ = json.Unmarshal(body, &top)
	if raw, ok := top["inferenceConfig"]; ok {
		if aerr := checkKeys(raw, "inferenceConfig", "maxTokens", "temperature", "topP", "stopSequences"); aerr != nil {
			return nil, aerr
		}
	}
	var rawMsgs []struct {
		Content []json.RawMessage `json:"content"`
	}
	_ = json.Unmarshal(top["messages"], &rawMsgs)
	if raw, ok := top["messages"]; ok {
		var msgs []json.RawMessage
		if err := json.Unmarshal(raw, &msgs); err != nil {
			return nil, malformed("messages: expected type: JSONArray")
		}
		for i, m := range msgs {
			if aerr := checkKeys(m, fmt.Sprintf("messages.%d", i), "role", "content"); aerr != nil {
				return nil, aerr
			}
		}
		for i, m := range rawMsgs {
			for j, b := range m.Content {
				if aerr := checkKeys(b, fmt.Sprintf("messages.%d.content.%d", i, j), contentKeys...); aerr != nil {
					return nil, aerr
				}
			}
		}
	}
	var req ConverseRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return nil, malformed("%v", err)
	}
	if aerr := req.validate(); aerr != nil {
		return &req, aerr
	}
	return &req, nil
}

var imageFormats = map[string]bool{"png": true, "jpeg": true, "gif": true, "webp": true}
var documentFormats = map[string]bool{"pdf": true, "csv": true, "doc": true, "docx": true, "xls": true, "xlsx": true, "html": true, "txt": true, "md": true}

func (c *ConverseRequest) validate() *APIError {
	if len(c.Messages) == 0 {
		return ErrValidation("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	usesTools := false
	for i, m := range c.Messages {
		switch {
		case m.Role != "user" && m.Role != "assistant":
			return ErrValidation(fmt.Sprintf("1 validation error detected: Value '%s' at 'messages.%d.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]", m.Role, i+1))
		case i == 0 && m.Role != "user":
			return ErrValidation("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
		case i > 0 && m.Role == c.Messages[i-1].Role:
			return ErrValidation("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.")
		case len(m.Content) == 0:
			return ErrValidation(fmt.Sprintf("The content field in the Message object at messages.%d is empty. Add a ContentBlock object to the content field and try again.", i))
		}
		hasText, hasDoc, results := false, false, 0
		for j, b := range m.Content {
			n := b.members()
			if n != 1 {
				return malformed("messages.%d.content.%d: a ContentBlock must set exactly one member, found %d", i, j, n)
			}
			switch {
			case b.Text != nil:
				hasText = true
			case b.Image != nil:
				if !imageFormats[b.Image.Format] {
					return ErrValidation(fmt.Sprintf("1 validation error detected: Value '%s' at 'messages.%d.member.content.%d.member.image.format' failed to satisfy constraint: Member must satisfy enum value set: [png, jpeg, gif, webp]", b.Image.Format, i+1, j+1))
				}
				if len(b.Image.Source) == 0 {
					return ErrValidation(fmt.Sprintf("messages.%d.content.%d.image.source is required", i, j))
				}
			case b.Document != nil:
				hasDoc = true
				if !documentFormats[b.Document.Format] {
					return ErrValidation(fmt.Sprintf("1 validation error detected: Value '%s' at 'messages.%d.member.content.%d.member.document.format' failed to satisfy constraint: Member must satisfy enum value set: [pdf, csv, doc, docx, xls, xlsx, html, txt, md]", b.Document.Format, i+1, j+1))
				}
				if b.Document.Name == "" {
					return ErrValidation(fmt.Sprintf("messages.%d.content.%d.document.name is required", i, j))
				}
			case b.ToolUse != nil:
				usesTools = true
				if m.Role != "assistant" {
					return ErrValidation(fmt.Sprintf("messages.%d.content.%d: toolUse blocks are only allowed in assistant messages.", i, j))
				}
				if b.ToolUse.ToolUseID == "" || b.ToolUse.Name == "" || len(b.ToolUse.Input) == 0 {
					return ErrValidation(fmt.Sprintf("messages.%d.content.%d.toolUse: toolUseId, name and input are required", i, j))
				}
			case b.ToolResult != nil:
				usesTools = true
				results++
				if m.Role != "user" {
					return ErrValidation(fmt.Sprintf("messages.%d.content.%d: toolResult blocks are only allowed in user messages.", i, j))
				}
			}
		}
		if hasDoc && !hasText {
			return ErrValidation(fmt.Sprintf("messages.%d.content: a document block must be accompanied by a text block in the same message.", i))
		}
		if m.Role != "user" {
			continue
		}
		var uses []string
		if i > 0 {
			for _, b := range c.Messages[i-1].Content {
				if b.ToolUse != nil {
					uses = append(uses, b.ToolUse.ToolUseID)
				}
			}
		}
		if results > len(uses) {
			return ErrValidation(fmt.Sprintf("The number of toolResult blocks at messages.%d.content exceeds the number of toolUse blocks of previous turn.", i))
		}
		answered := map[string]bool{}
		for _, b := range m.Content {
			if b.ToolResult == nil {
				continue
			}
			found := false
			for _, id := range uses {
				found = found || id == b.ToolResult.ToolUseID
			}
			if !found {
				return ErrValidation(fmt.Sprintf("The toolUseId %s at messages.%d.content does not match any toolUse id of the previous turn.", b.ToolResult.ToolUseID, i))
			}
			answered[b.ToolResult.ToolUseID] = true
		}
		var missing []string
		for _, id := range uses {
			if !answered[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return ErrValidation(fmt.Sprintf("Expected toolResult blocks at messages.%d.content for the following Ids: %s", i, joinComma(missing)))
		}
	}
	for i, b := range c.System {
		n := 0
		if b.Text != nil {
			n++
			if *b.Text == "" {
				return ErrValidation(fmt.Sprintf("system.%d.text must not be empty", i))
			}
		}
		if b.GuardContent != nil {
			n++
		}
		if b.CachePoint != nil {
			n++
		}
		if n != 1 {
			return malformed("system.%d: a SystemContentBlock must set exactly one member", i)
		}
	}
	if ic := c.InferenceConfig; ic != nil {
		switch {
		case ic.MaxTokens != nil && *ic.MaxTokens < 1:
			return ErrValidation(fmt.Sprintf("1 validation error detected: Value '%d' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1", *ic.MaxTokens))
		case ic.Temperature != nil && (*ic.Temperature < 0 || *ic.Temperature > 1):
			return ErrValidation(fmt.Sprintf("1 validation error detected: Value '%g' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1", *ic.Temperature))
		case ic.TopP != nil && (*ic.TopP < 0 || *ic.TopP > 1):
			return ErrValidation(fmt.Sprintf("1 validation error detected: Value '%g' at 'inferenceConfig.topP' failed to satisfy constraint: Member must have value less than or equal to 1", *ic.TopP))
		case len(ic.StopSequences) > 4:
			return ErrValidation("1 validation error detected: Value at 'inferenceConfig.stopSequences' failed to satisfy constraint: Member must have length less than or equal to 4")
		}
		for _, s := range ic.StopSequences {
			if s == "" {
				return ErrValidation("inferenceConfig.stopSequences: stop sequences must not be empty")
			}
		}
	}
	if usesTools && c.ToolConfig == nil {
		return ErrValidation("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
	}
	if tc := c.ToolConfig; tc != nil {
		if len(tc.Tools) == 0 {
			return ErrValidation("1 validation error detected: Value '[]' at 'toolConfig.tools' failed to satisfy constraint: Member must have length greater than or equal to 1")
		}
		names := map[string]bool{}
		for i, t := range tc.Tools {
			if t.ToolSpec == nil {
				continue
			}
			if !toolNameRE.MatchString(t.ToolSpec.Name) {
				return ErrValidation(fmt.Sprintf("1 validation error detected: Value '%s' at 'toolConfig.tools.%d.member.toolSpec.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+", t.ToolSpec.Name, i+1))
			}
			if names[t.ToolSpec.Name] {
				return ErrValidation("The toolConfig field contains duplicate tool names: " + t.ToolSpec.Name)
			}
			names[t.ToolSpec.Name] = true
			var schema map[string]any
			if json.Unmarshal(t.ToolSpec.InputSchema.JSON, &schema) != nil {
				return ErrValidation(fmt.Sprintf("toolConfig.tools.%d.toolSpec.inputSchema.json must be a JSON object", i))
			}
		}
		if len(tc.ToolChoice) > 0 {
			var choice struct {
				Auto *struct{} `json:"auto"`
				Any  *struct{} `json:"any"`
				Tool *struct {
					Name string `json:"name"`
				} `json:"tool"`
			}
			if aerr := checkKeys(tc.ToolChoice, "toolConfig.toolChoice", "auto", "any", "tool"); aerr != nil {
				return aerr
			}
			_ = json.Unmarshal(tc.ToolChoice, &choice)
			if choice.Tool != nil && !names[choice.Tool.Name] {
				return ErrValidation("The tool " + choice.Tool.Name + " named in toolConfig.toolChoice is not defined in toolConfig.tools.")
			}
		}
	}
	return nil
}

func (b ContentBlock) members() int {
	n := 0
	for _, set := range []bool{b.Text != nil, b.Image != nil, b.Document != nil, b.ToolUse != nil, b.ToolResult != nil,
		b.ReasoningContent != nil, b.CachePoint != nil, b.GuardContent != nil, b.Video != nil, b.Audio != nil,
		b.CitationsContent != nil, b.SearchResult != nil} {
		if set {
			n++
		}
	}
	return n
}

func joinComma(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x)
	}
	return b.String()
}

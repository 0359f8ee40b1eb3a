package bedrock

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithydoc "github.com/aws/smithy-go/document"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// converse is one translated request: the members ConverseInput and
// ConverseStreamInput share.
type converse struct {
	ModelID         string
	System          []types.SystemContentBlock
	Messages        []types.Message
	Inference       *types.InferenceConfiguration
	ToolConfig      *types.ToolConfiguration
	Additional      map[string]any
	Performance     *types.PerformanceConfiguration
	Output          *types.OutputConfig
	ServiceTier     *types.ServiceTier
	RequestMetadata map[string]string
}

// Thinking budgets per reasoning_effort (LiteLLM's, which clients of
// OpenAI-shaped gateways expect); Bedrock's floor is 1024.
var thinkingBudget = map[string]int{"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096}

// defaultAnswerTokens is what an answer gets beside a thinking budget when
// the client set no max_tokens.
const defaultAnswerTokens = 4096

var thinkingModel = regexp.MustCompile(`anthropic\.claude-(3-7|(sonnet|opus|haiku)-4|4)`)

// family helpers: a model id, inference profile id or ARN names its
// provider after a dot ("us.anthropic.claude...", ".../anthropic.claude...").
func isAnthropic(model string) bool      { return strings.Contains(model, "anthropic.") }
func hasThinking(model string) bool      { return thinkingModel.MatchString(model) }
func alwaysReasons(model string) bool    { return strings.Contains(model, "deepseek.r1") }
func takesReasoningEffort(m string) bool { return strings.Contains(m, "openai.gpt-oss") }

// translate turns an OpenAI chat request into Converse's members. What
// cannot be mapped is refused with a 400 naming the field.
func translate(r *chat.Request, model string, p *config.Plugin) (*converse, error) {
	if err := r.CheckPortable(); err != nil {
		return nil, err
	}
	switch {
	case r.Seed != nil:
		return nil, provider.Unsupported("seed", "seed is not supported by Bedrock")
	case r.PresencePenalty != nil && *r.PresencePenalty != 0:
		return nil, provider.Unsupported("presence_penalty", "presence_penalty is not supported by Bedrock")
	case r.FrequencyPenalty != nil && *r.FrequencyPenalty != 0:
		return nil, provider.Unsupported("frequency_penalty", "frequency_penalty is not supported by Bedrock")
	case r.ParallelToolCalls != nil && !*r.ParallelToolCalls:
		return nil, provider.Unsupported("parallel_tool_calls", "parallel_tool_calls: false is not supported by Bedrock's Converse API")
	case r.Store != nil && *r.Store:
		return nil, provider.Unsupported("store", "store: true is not supported by Bedrock")
	}
	c := &converse{ModelID: model}
	t := &translator{model: model, anthropic: isAnthropic(model)}
	if err := t.messages(r.Messages); err != nil {
		return nil, err
	}
	c.System, c.Messages = t.system, t.out

	inf := &types.InferenceConfiguration{}
	max := r.MaxOutput()
	if max < 0 {
		return nil, provider.Invalid("max_tokens", "max_tokens must be positive")
	}
	temperature, topP := r.Temperature, r.TopP
	topK := p.Model.Options.TopK
	add := map[string]any{}
	if e := r.ReasoningEffort; e != "" && e != "none" {
		switch {
		case hasThinking(model):
			budget, ok := thinkingBudget[e]
			if !ok {
				return nil, provider.Invalid("reasoning_effort", "reasoning_effort must be minimal, low, medium, high or none")
			}
			// Bedrock wants max_tokens above the budget: the client's
			// max_tokens is what the answer itself gets.
			if max <= budget {
				if max == 0 {
					max = defaultAnswerTokens
				}
				max += budget
			}
			add["thinking"] = map[string]any{"type": "enabled", "budget_tokens": budget}
			// Extended thinking refuses temperature, top_p below 0.95 and top_k.
			temperature, topK = nil, nil
			if topP != nil && *topP < 0.95 {
				topP = nil
			}
		case takesReasoningEffort(model):
			switch e {
			case "low", "medium", "high":
				add["reasoning_effort"] = e
			default:
				return nil, provider.Invalid("reasoning_effort", "reasoning_effort must be low, medium or high for this model")
			}
		case alwaysReasons(model):
			// DeepSeek R1 always reasons and has no effort knob.
		default:
			return nil, provider.Unsupported("reasoning_effort", "reasoning_effort is not supported by Bedrock model %s", model)
		}
	}
	if max > 0 {
		inf.MaxTokens = aws.Int32(int32(min(max, 1<<30)))
	}
	if temperature != nil {
		inf.Temperature = aws.Float32(float32(*temperature))
	}
	if topP != nil {
		inf.TopP = aws.Float32(float32(*topP))
	}
	if len(r.Stop) > 0 {
		if len(r.Stop) > 4 {
			return nil, provider.Invalid("stop", "Bedrock takes at most 4 stop sequences")
		}
		for _, s := range r.Stop {
			if s == "" {
				return nil, provider.Invalid("stop", "stop sequences must not be empty")
			}
		}
		inf.StopSequences = r.Stop
	}
	if inf.MaxTokens != nil || inf.Temperature != nil || inf.TopP != nil || inf.StopSequences != nil {
		c.Inference = inf
	}
	if topK != nil {
		if !t.anthropic {
			return nil, provider.Unsupported("top_k", "model.options.top_k is supported on Bedrock for Anthropic models only")
		}
		add["top_k"] = *topK
	}
	if len(add) > 0 {
		c.Additional = add
	}

	tc, err := tools(r, t.usesTools)
	if err != nil {
		return nil, err
	}
	c.ToolConfig = tc

	if rf := r.ResponseFormat; rf != nil {
		switch rf.Type {
		case "text", "":
		case "json_schema":
			if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
				return nil, provider.Invalid("response_format", "response_format json_schema needs json_schema.schema")
			}
			schema := string(rf.JSONSchema.Schema)
			def := types.JsonSchemaDefinition{Schema: &schema}
			if rf.JSONSchema.Name != "" {
				def.Name = aws.String(rf.JSONSchema.Name)
			}
			c.Output = &types.OutputConfig{TextFormat: &types.OutputFormat{Type: types.OutputFormatTypeJsonSchema,
				Structure: &types.OutputFormatStructureMemberJsonSchema{Value: def}}}
		default:
			return nil, provider.Unsupported("response_format", "response_format %q is not supported by Bedrock; use json_schema", rf.Type)
		}
	}
	switch r.ServiceTier {
	case "", "auto":
	case "default", "flex", "priority":
		c.ServiceTier = &types.ServiceTier{Type: types.ServiceTierType(r.ServiceTier)}
	default:
		return nil, provider.Unsupported("service_tier", "service_tier %q is not one of Bedrock's: default, flex, priority", r.ServiceTier)
	}
	if len(r.Metadata) > 0 && string(r.Metadata) != "null" {
		var md map[string]string
		if err := json.Unmarshal(r.Metadata, &md); err != nil {
			return nil, provider.Invalid("metadata", "metadata must be an object of strings")
		}
		if len(md) > 0 {
			c.RequestMetadata = md
		}
	}
	if b := p.Model.Options.Bedrock; b != nil && b.PerformanceConfigLatency != "" {
		c.Performance = &types.PerformanceConfiguration{Latency: types.PerformanceConfigLatency(b.PerformanceConfigLatency)}
	}
	return c, nil
}

// tools maps tools and tool_choice onto toolConfig. Bedrock has no "none":
// tool_choice none drops the tools, unless the conversation already holds
// tool calls or results (Bedrock then requires a toolConfig): the tools
// stay and the model chooses (auto).
func tools(r *chat.Request, history bool) (*types.ToolConfiguration, error) {
	choice := r.ToolChoice
	if len(r.Tools) == 0 {
		if choice != nil && (choice.Mode == "required" || choice.Function != "") {
			return nil, provider.Invalid("tool_choice", "tool_choice requires tools")
		}
		if history {
			return nil, provider.Invalid("tools", "the conversation holds tool calls: Bedrock requires the tools to be declared")
		}
		return nil, nil
	}
	if choice != nil && choice.Mode == "none" && !history {
		return nil, nil
	}
	tc := &types.ToolConfiguration{}
	names := map[string]bool{}
	for i, t := range r.Tools {
		if t.Type != "function" {
			return nil, provider.Unsupported(fmt.Sprintf("tools[%d].type", i), "tool type %q is not supported by Bedrock", t.Type)
		}
		f := t.Function
		if f.Name == "" {
			return nil, provider.Invalid(fmt.Sprintf("tools[%d].function.name", i), "a tool needs a name")
		}
		names[f.Name] = true
		schema := any(map[string]any{"type": "object", "properties": map[string]any{}})
		if len(f.Parameters) > 0 && string(f.Parameters) != "null" {
			v, err := decodeDoc(f.Parameters)
			if err != nil {
				return nil, provider.Invalid(fmt.Sprintf("tools[%d].function.parameters", i), "parameters is not valid JSON")
			}
			schema = v
		}
		spec := types.ToolSpecification{Name: aws.String(f.Name), InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(schema)}}
		// Bedrock refuses an empty description: omitted instead.
		if f.Description != "" {
			spec.Description = aws.String(f.Description)
		}
		if f.Strict != nil && *f.Strict {
			spec.Strict = aws.Bool(true)
		}
		tc.Tools = append(tc.Tools, &types.ToolMemberToolSpec{Value: spec})
	}
	switch {
	case choice == nil || choice.Mode == "none":
	case choice.Mode == "auto":
		tc.ToolChoice = &types.ToolChoiceMemberAuto{}
	case choice.Mode == "required":
		tc.ToolChoice = &types.ToolChoiceMemberAny{}
	case choice.Function != "":
		if !names[choice.Function] {
			return nil, provider.Invalid("tool_choice", "tool_choice names %q, which is not in tools", choice.Function)
		}
		tc.ToolChoice = &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String(choice.Function)}}
	}
	return tc, nil
}

// translator builds the system blocks and the alternating turns.
type translator struct {
	model     string
	anthropic bool
	system    []types.SystemContentBlock
	out       []types.Message
	usesTools bool
	docs      map[string]bool
	// pending are the tool call ids of the last assistant turn that no
	// tool result has answered yet.
	pending map[string]bool
	callIdx int // message index of that assistant turn
}

func (t *translator) messages(msgs []chat.Message) error {
	for i := range msgs {
		m := &msgs[i]
		var err error
		switch m.Role {
		case "system", "developer":
			err = t.systemMessage(i, m)
		case "user":
			err = t.checkAnswered(i)
			if err == nil {
				err = t.userMessage(i, m)
			}
		case "assistant":
			err = t.checkAnswered(i)
			if err == nil {
				err = t.assistantMessage(i, m)
			}
		case "tool":
			err = t.toolMessage(i, m)
		case "function":
			err = provider.Unsupported(fmt.Sprintf("messages[%d].role", i), "role function is deprecated and not supported; use tool")
		default:
			err = provider.Invalid(fmt.Sprintf("messages[%d].role", i), "unknown role %q", m.Role)
		}
		if err != nil {
			return err
		}
	}
	return t.checkAnswered(len(msgs))
}

// checkAnswered refuses an assistant turn whose tool calls were not all
// answered before the next user or assistant message.
func (t *translator) checkAnswered(i int) error {
	for id := range t.pending {
		return provider.Invalid(fmt.Sprintf("messages[%d]", t.callIdx), "tool call %q has no tool message answering it before messages[%d]", id, i)
	}
	return nil
}

func (t *translator) add(role types.ConversationRole, blocks ...types.ContentBlock) {
	if n := len(t.out); n > 0 && t.out[n-1].Role == role {
		t.out[n-1].Content = append(t.out[n-1].Content, blocks...)
		return
	}
	t.out = append(t.out, types.Message{Role: role, Content: blocks})
}

func cachePoint() types.ContentBlock {
	return &types.ContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}}
}

func hasCache(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

func (t *translator) systemMessage(i int, m *chat.Message) error {
	if !m.Content.IsParts {
		if m.Content.Text != "" {
			t.system = append(t.system, &types.SystemContentBlockMemberText{Value: m.Content.Text})
		}
		return nil
	}
	for j, p := range m.Content.Parts {
		if p.Type != "text" {
			return provider.Unsupported(fmt.Sprintf("messages[%d].content[%d].type", i, j), "a %s message takes text parts only", m.Role)
		}
		if p.Text != "" {
			t.system = append(t.system, &types.SystemContentBlockMemberText{Value: p.Text})
		}
		if hasCache(p.CacheControl) {
			t.system = append(t.system, &types.SystemContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}})
		}
	}
	return nil
}

func (t *translator) userMessage(i int, m *chat.Message) error {
	blocks, err := t.parts(fmt.Sprintf("messages[%d].content", i), m.Content, true)
	if err != nil {
		return err
	}
	if len(blocks) == 0 {
		return provider.Invalid(fmt.Sprintf("messages[%d].content", i), "a user message must not be empty")
	}
	t.add(types.ConversationRoleUser, blocks...)
	return nil
}

// parts translates a user (or tool result) content into blocks.
func (t *translator) parts(path string, c chat.Content, user bool) ([]types.ContentBlock, error) {
	if !c.IsParts {
		if c.Text == "" {
			return nil, nil
		}
		return []types.ContentBlock{&types.ContentBlockMemberText{Value: c.Text}}, nil
	}
	var out []types.ContentBlock
	hasText, hasDoc := false, false
	for j, p := range c.Parts {
		at := fmt.Sprintf("%s[%d]", path, j)
		switch p.Type {
		case "text":
			if p.Text != "" {
				out = append(out, &types.ContentBlockMemberText{Value: p.Text})
				hasText = true
			}
		case "image_url":
			if p.ImageURL == nil {
				return nil, provider.Invalid(at+".image_url", "image_url is missing")
			}
			img, err := image(at+".image_url.url", p.ImageURL.URL)
			if err != nil {
				return nil, err
			}
			out = append(out, &types.ContentBlockMemberImage{Value: *img})
		case "file":
			if !user {
				return nil, provider.Unsupported(at, "file parts are supported in user messages only")
			}
			doc, err := t.document(at+".file", p.File)
			if err != nil {
				return nil, err
			}
			out = append(out, &types.ContentBlockMemberDocument{Value: *doc})
			hasDoc = true
		case "input_audio":
			return nil, provider.Unsupported(at+".type", "audio input is not supported by Bedrock's Converse API")
		default:
			return nil, provider.Unsupported(at+".type", "content part type %q is not supported by Bedrock", p.Type)
		}
		if hasCache(p.CacheControl) && len(out) > 0 {
			out = append(out, cachePoint())
		}
	}
	// Bedrock wants a text block beside a document.
	if hasDoc && !hasText {
		out = append(out, &types.ContentBlockMemberText{Value: "See the attached document."})
	}
	return out, nil
}

var imageFormats = map[string]types.ImageFormat{
	"image/png": types.ImageFormatPng, "image/jpeg": types.ImageFormatJpeg, "image/jpg": types.ImageFormatJpeg,
	"image/gif": types.ImageFormatGif, "image/webp": types.ImageFormatWebp,
}

var documentFormats = map[string]types.DocumentFormat{
	"application/pdf": types.DocumentFormatPdf, "text/csv": types.DocumentFormatCsv,
	"application/msword": types.DocumentFormatDoc,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": types.DocumentFormatDocx,
	"application/vnd.ms-excel": types.DocumentFormatXls,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": types.DocumentFormatXlsx,
	"text/html": types.DocumentFormatHtml, "text/plain": types.DocumentFormatTxt, "text/markdown": types.DocumentFormatMd,
}

// dataURL splits a base64 data: URL into its media type and bytes.
func dataURL(path, u string) (string, []byte, error) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return "", nil, provider.Invalid(path, "expected a base64 data: URL")
	}
	meta, data, ok := strings.Cut(rest, ",")
	mt, isB64 := strings.CutSuffix(meta, ";base64")
	if !ok || !isB64 {
		return "", nil, provider.Invalid(path, "expected a base64 data: URL")
	}
	if k := strings.IndexByte(mt, ';'); k >= 0 {
		mt = mt[:k]
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(data); err != nil {
			return "", nil, provider.Invalid(path, "the data: URL is not valid base64")
		}
	}
	return strings.ToLower(strings.TrimSpace(mt)), b, nil
}

func image(path, u string) (*types.ImageBlock, error) {
	if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
		return nil, provider.Unsupported(path, "Bedrock takes images as data: URLs only; this proxy does not fetch image URLs for a client: send the image as data:image/png;base64,...")
	}
	mt, b, err := dataURL(path, u)
	if err != nil {
		return nil, err
	}
	f, ok := imageFormats[mt]
	if !ok {
		return nil, provider.Unsupported(path, "image type %q is not supported by Bedrock (png, jpeg, gif, webp)", mt)
	}
	return &types.ImageBlock{Format: f, Source: &types.ImageSourceMemberBytes{Value: b}}, nil
}

func (t *translator) document(path string, f *chat.File) (*types.DocumentBlock, error) {
	if f == nil {
		return nil, provider.Invalid(path, "file is missing")
	}
	if f.FileID != "" {
		return nil, provider.Unsupported(path+".file_id", "uploaded file ids are not supported by Bedrock: send file_data as a data: URL")
	}
	mt, b, err := dataURL(path+".file_data", f.FileData)
	if err != nil {
		return nil, err
	}
	format, ok := documentFormats[mt]
	if !ok {
		return nil, provider.Unsupported(path+".file_data", "document type %q is not supported by Bedrock (pdf, csv, doc, docx, xls, xlsx, html, txt, md)", mt)
	}
	if t.docs == nil {
		t.docs = map[string]bool{}
	}
	name := documentName(f.Filename, len(t.docs))
	for k := 2; t.docs[name]; k++ {
		name = documentName(f.Filename, len(t.docs)) + " (" + strconv.Itoa(k) + ")"
	}
	t.docs[name] = true
	return &types.DocumentBlock{Format: format, Name: aws.String(name), Source: &types.DocumentSourceMemberBytes{Value: b}}, nil
}

// documentName makes a file name one Bedrock accepts: letters, digits,
// single spaces, hyphens, parentheses and square brackets; the extension
// goes (Bedrock's advice: the name is prompt text, and "." is refused).
func documentName(filename string, n int) string {
	if k := strings.LastIndexByte(filename, '.'); k > 0 {
		filename = filename[:k]
	}
	var b strings.Builder
	space := false
	for _, r := range filename {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '(', r == ')', r == '[', r == ']':
			b.WriteRune(r)
			space = false
		default:
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
				space = true
			}
		}
		if b.Len() >= 100 {
			break
		}
	}
	name := strings.TrimSpace(b.String())
	if name == "" {
		name = "document-" + strconv.Itoa(n+1)
	}
	return name
}

func (t *translator) assistantMessage(i int, m *chat.Message) error {
	path := fmt.Sprintf("messages[%d]", i)
	var blocks []types.ContentBlock
	rb, err := t.reasoning(path, m)
	if err != nil {
		return err
	}
	blocks = append(blocks, rb...)
	if m.Content.IsParts {
		for j, p := range m.Content.Parts {
			switch p.Type {
			case "text":
				if p.Text != "" {
					blocks = append(blocks, &types.ContentBlockMemberText{Value: p.Text})
				}
			case "refusal":
			default:
				return provider.Unsupported(fmt.Sprintf("%s.content[%d].type", path, j), "assistant content part type %q is not supported by Bedrock", p.Type)
			}
			if hasCache(p.CacheControl) && len(blocks) > 0 {
				blocks = append(blocks, cachePoint())
			}
		}
	} else if m.Content.Text != "" {
		blocks = append(blocks, &types.ContentBlockMemberText{Value: m.Content.Text})
	}
	for j, tc := range m.ToolCalls {
		at := fmt.Sprintf("%s.tool_calls[%d]", path, j)
		if tc.ID == "" || tc.Function.Name == "" {
			return provider.Invalid(at, "a tool call needs an id and a function name")
		}
		args := strings.TrimSpace(tc.Function.Arguments)
		if args == "" {
			args = "{}"
		}
		input, err := decodeDoc([]byte(args))
		if err != nil {
			return provider.Invalid(at+".function.arguments", "arguments is not valid JSON")
		}
		if _, ok := input.(map[string]any); !ok {
			return provider.Invalid(at+".function.arguments", "arguments must be a JSON object")
		}
		blocks = append(blocks, &types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{
			ToolUseId: aws.String(tc.ID), Name: aws.String(tc.Function.Name), Input: document.NewLazyDocument(input)}})
		if t.pending == nil {
			t.pending = map[string]bool{}
		}
		t.pending[tc.ID] = true
		t.callIdx = i
		t.usesTools = true
	}
	if len(blocks) == 0 {
		// An empty assistant turn (a client's placeholder) carries nothing
		// Bedrock would accept: it goes.
		return nil
	}
	t.add(types.ConversationRoleAssistant, blocks...)
	return nil
}

// reasoning replays a prior answer's reasoning before its text: signed
// thinking blocks as they came; reasoning_content alone only for models
// that take unsigned reasoning (Claude refuses thinking without its
// signature, and drops earlier turns' thinking anyway).
func (t *translator) reasoning(path string, m *chat.Message) ([]types.ContentBlock, error) {
	var out []types.ContentBlock
	for j, tb := range m.ThinkingBlocks {
		switch tb.Type {
		case "thinking":
			text := tb.Thinking
			if text == "" && len(m.ThinkingBlocks) == 1 {
				text = m.ReasoningContent // streamed: text in reasoning_content, signature in the block
			}
			rt := types.ReasoningTextBlock{Text: aws.String(text)}
			if tb.Signature != "" {
				rt.Signature = aws.String(tb.Signature)
			}
			out = append(out, &types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberReasoningText{Value: rt}})
		case "redacted_thinking":
			data, err := base64.StdEncoding.DecodeString(tb.Data)
			if err != nil {
				return nil, provider.Invalid(fmt.Sprintf("%s.thinking_blocks[%d].data", path, j), "redacted thinking data is not valid base64")
			}
			out = append(out, &types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberRedactedContent{Value: data}})
		default:
			return nil, provider.Invalid(fmt.Sprintf("%s.thinking_blocks[%d].type", path, j), "thinking block type must be thinking or redacted_thinking")
		}
	}
	if len(out) == 0 && m.ReasoningContent != "" && !t.anthropic {
		out = append(out, &types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberReasoningText{
			Value: types.ReasoningTextBlock{Text: aws.String(m.ReasoningContent)}}})
	}
	return out, nil
}

// toolMessage puts a tool result in the user message after the assistant
// turn that called the tool, matched by id.
func (t *translator) toolMessage(i int, m *chat.Message) error {
	path := fmt.Sprintf("messages[%d]", i)
	if !t.pending[m.ToolCallID] {
		return provider.Invalid(path+".tool_call_id", "tool_call_id %q does not answer a tool call of the assistant message before it", m.ToolCallID)
	}
	delete(t.pending, m.ToolCallID)
	var content []types.ToolResultContentBlock
	if m.Content.IsParts {
		for j, p := range m.Content.Parts {
			at := fmt.Sprintf("%s.content[%d]", path, j)
			switch p.Type {
			case "text":
				content = append(content, &types.ToolResultContentBlockMemberText{Value: p.Text})
			case "image_url":
				if p.ImageURL == nil {
					return provider.Invalid(at+".image_url", "image_url is missing")
				}
				img, err := image(at+".image_url.url", p.ImageURL.URL)
				if err != nil {
					return err
				}
				content = append(content, &types.ToolResultContentBlockMemberImage{Value: *img})
			default:
				return provider.Unsupported(at+".type", "tool result part type %q is not supported by Bedrock", p.Type)
			}
		}
	} else {
		// Text or JSON: both go as text, which every model reads.
		content = append(content, &types.ToolResultContentBlockMemberText{Value: m.Content.Text})
	}
	if len(content) == 0 {
		content = append(content, &types.ToolResultContentBlockMemberText{Value: ""})
	}
	t.add(types.ConversationRoleUser, &types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{
		ToolUseId: aws.String(m.ToolCallID), Content: content}})
	return nil
}

// decodeDoc decodes JSON for a smithy document, numbers kept exact.
func decodeDoc(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return docNumbers(v), nil
}

// docNumbers swaps json.Number for the document encoder's Number type.
func docNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		return smithydoc.Number(x)
	case map[string]any:
		for k, e := range x {
			x[k] = docNumbers(e)
		}
	case []any:
		for k, e := range x {
			x[k] = docNumbers(e)
		}
	}
	return v
}

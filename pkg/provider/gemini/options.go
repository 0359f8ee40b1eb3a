package gemini

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// userParts maps a user message's content: text, images and files as data:
// URLs (inlineData), Cloud Storage gs:// URIs (fileData, which Vertex AI
// reads), audio. An http(s) image URL is refused: Gemini does not fetch
// URLs, and the proxy will not fetch them on a client's behalf.
func userParts(c chat.Content, field string) ([]part, error) {
	if !c.IsParts {
		if c.IsNull || c.Text == "" {
			return nil, nil
		}
		return []part{{Text: c.Text}}, nil
	}
	out := make([]part, 0, len(c.Parts))
	for j, p := range c.Parts {
		f := fmt.Sprintf("%s.content[%d]", field, j)
		switch p.Type {
		case "text":
			if p.Text != "" {
				out = append(out, part{Text: p.Text})
			}
		case "image_url":
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return nil, provider.Invalid(f+".image_url", "%s: image_url.url is missing", f)
			}
			q, err := mediaPart(p.ImageURL.URL, f+".image_url.url", "image/")
			if err != nil {
				return nil, err
			}
			out = append(out, q)
		case "input_audio":
			if p.InputAudio == nil || p.InputAudio.Data == "" {
				return nil, provider.Invalid(f+".input_audio", "%s: input_audio.data is missing", f)
			}
			mime := map[string]string{"wav": "audio/wav", "mp3": "audio/mp3"}[p.InputAudio.Format]
			if mime == "" {
				return nil, provider.Unsupported(f+".input_audio.format", "%s: audio format %q is not wav or mp3", f, p.InputAudio.Format)
			}
			out = append(out, part{InlineData: &blob{MimeType: mime, Data: p.InputAudio.Data}})
		case "file":
			if p.File == nil || p.File.FileData == "" {
				return nil, provider.Unsupported(f+".file", "%s: only files sent inline as file_data (a data: URL) are supported by Gemini", f)
			}
			q, err := mediaPart(p.File.FileData, f+".file.file_data", "")
			if err != nil {
				return nil, err
			}
			out = append(out, q)
		default:
			return nil, provider.Unsupported(f+".type", "%s: content part type %q is not supported by Gemini", f, p.Type)
		}
	}
	return out, nil
}

// mediaPart maps a data: URL to inlineData and a gs:// URI to fileData.
func mediaPart(u, field, kind string) (part, error) {
	if rest, ok := strings.CutPrefix(u, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		mime, enc, _ := strings.Cut(meta, ";")
		if !ok || enc != "base64" || mime == "" || data == "" {
			return part{}, provider.Invalid(field, "%s: expected a data:<mime type>;base64,<data> URL", field)
		}
		if kind != "" && !strings.HasPrefix(mime, kind) {
			return part{}, provider.Invalid(field, "%s: %q is not an %s type", field, mime, strings.TrimSuffix(kind, "/"))
		}
		return part{InlineData: &blob{MimeType: mime, Data: data}}, nil
	}
	if strings.HasPrefix(u, "gs://") {
		mime := extMime[strings.ToLower(path.Ext(u))]
		if mime == "" {
			return part{}, provider.Invalid(field, "%s: the type of %s is not known from its extension (png, jpg, jpeg, webp, gif, heic, heif, pdf, mp3, wav)", field, path.Base(u))
		}
		return part{FileData: &fileData{MimeType: mime, FileURI: u}}, nil
	}
	return part{}, provider.Unsupported(field, "%s: Gemini takes media inline as a data: URL (or a gs:// URI on Vertex AI); it does not fetch http(s) URLs", field)
}

var extMime = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif",
	".heic": "image/heic", ".heif": "image/heif", ".pdf": "application/pdf", ".mp3": "audio/mp3", ".wav": "audio/wav",
}

// tools maps function tools to one functionDeclarations tool, each with
// its JSON Schema as parametersJsonSchema (which takes JSON Schema as it
// is, additionalProperties and $schema included, rather than the OpenAPI
// subset of parameters), and tool_choice to functionCallingConfig.
func tools(r *chat.Request, g *generateRequest) error {
	if len(r.Tools) > 0 {
		decls := make([]functionDeclaration, 0, len(r.Tools))
		for i, t := range r.Tools {
			f := fmt.Sprintf("tools[%d]", i)
			if t.Type != "function" {
				return provider.Unsupported(f+".type", "%s: tool type %q is not supported by Gemini", f, t.Type)
			}
			if t.Function.Name == "" {
				return provider.Invalid(f+".function.name", "%s: the function name is missing", f)
			}
			d := functionDeclaration{Name: t.Function.Name, Description: t.Function.Description}
			if p := t.Function.Parameters; len(p) > 0 && string(p) != "null" {
				d.ParametersJSONSchema = p
			}
			decls = append(decls, d)
		}
		g.Tools = []tool{{FunctionDeclarations: decls}}
	}
	tc := r.ToolChoice
	if tc == nil {
		return nil
	}
	if len(r.Tools) == 0 {
		if tc.Mode == "none" {
			return nil
		}
		return provider.Invalid("tool_choice", "tool_choice needs tools")
	}
	fc := functionCallingConfig{}
	switch {
	case tc.Function != "":
		fc = functionCallingConfig{Mode: "ANY", AllowedFunctionNames: []string{tc.Function}}
	case tc.Mode == "none":
		fc.Mode = "NONE"
	case tc.Mode == "required":
		fc.Mode = "ANY"
	default:
		fc.Mode = "AUTO"
	}
	g.ToolConfig = &toolConfig{FunctionCallingConfig: fc}
	return nil
}

// thinking budgets for Gemini 2.5 per reasoning_effort; Gemini 3 takes the
// effort as thinkingLevel.
var budgets = map[string]int{"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}

// generation maps the sampling, length, stop, output-format and reasoning
// members to generationConfig.
func generation(r *chat.Request, model string, topK *int) (*generationConfig, error) {
	c := &generationConfig{Temperature: r.Temperature, TopP: r.TopP, Seed: r.Seed,
		PresencePenalty: r.PresencePenalty, FrequencyPenalty: r.FrequencyPenalty, TopK: r.TopK}
	if topK != nil {
		c.TopK = topK
	}
	if n := r.MaxOutput(); n > 0 {
		c.MaxOutputTokens = &n
	}
	if len(r.Stop) > 0 {
		if len(r.Stop) > 5 {
			return nil, provider.Invalid("stop", "Gemini takes at most 5 stop sequences")
		}
		c.StopSequences = r.Stop
	}
	if rf := r.ResponseFormat; rf != nil {
		switch rf.Type {
		case "text":
		case "json_object":
			c.ResponseMimeType = "application/json"
		case "json_schema":
			if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 || !json.Valid(rf.JSONSchema.Schema) {
				return nil, provider.Invalid("response_format.json_schema.schema", "response_format json_schema needs json_schema.schema")
			}
			c.ResponseMimeType = "application/json"
			c.ResponseJSONSchema = rf.JSONSchema.Schema
		default:
			return nil, provider.Unsupported("response_format.type", "response_format type %q is not supported by Gemini", rf.Type)
		}
	}
	if e := r.ReasoningEffort; e != "" {
		budget, ok := budgets[e]
		if !ok {
			return nil, provider.Invalid("reasoning_effort", "reasoning_effort %q is not one of none, minimal, low, medium, high", e)
		}
		t := &thinkingConfig{IncludeThoughts: e != "none"}
		switch {
		case strings.HasPrefix(model, "gemini-3"):
			level := e
			if e == "none" {
				level = "minimal"
			}
			t.ThinkingLevel = level
		default:
			t.ThinkingBudget = &budget
		}
		c.ThinkingConfig = t
	}
	if b, _ := json.Marshal(c); string(b) == "{}" {
		return nil, nil
	}
	return c, nil
}

package geministub

import (
	"encoding/base64"
	"fmt"
	"strings"

	"google.golang.org/genai"
)

// validate checks a request as Gemini does where it matters to a driver.
func (s *Server) validate(model string, r *GenerateContentRequest) *APIError {
	bad := func(format string, a ...any) *APIError {
		return &APIError{Code: 400, Status: "INVALID_ARGUMENT", Message: fmt.Sprintf(format, a...)}
	}
	if len(r.Contents) == 0 {
		return bad("* GenerateContentRequest.contents: contents is not specified")
	}
	if si := r.SystemInstruction; si != nil && (len(si.Parts) == 0 || si.Role != "" && si.Role != "user") {
		return bad("* GenerateContentRequest.system_instruction: invalid")
	}
	gemini3 := strings.HasPrefix(model, "gemini-3")
	var lastCalls []string
	for i, c := range r.Contents {
		if c == nil || (c.Role != "user" && c.Role != "model") {
			return bad("* GenerateContentRequest.contents[%d].role: must be user or model", i)
		}
		if len(c.Parts) == 0 {
			return bad("* GenerateContentRequest.contents[%d].parts: contents.parts must not be empty.", i)
		}
		var calls, responses []string
		for j, p := range c.Parts {
			if p == nil {
				return bad("* GenerateContentRequest.contents[%d].parts[%d]: empty part", i, j)
			}
			n := 0
			if p.Text != "" {
				n++
			}
			if p.InlineData != nil {
				n++
				if p.InlineData.MIMEType == "" || len(p.InlineData.Data) == 0 {
					return bad("* GenerateContentRequest.contents[%d].parts[%d].inline_data: mime_type and data are required", i, j)
				}
			}
			if p.FileData != nil {
				n++
				if p.FileData.MIMEType == "" || p.FileData.FileURI == "" {
					return bad("* GenerateContentRequest.contents[%d].parts[%d].file_data: mime_type and file_uri are required", i, j)
				}
			}
			if p.FunctionCall != nil {
				n++
				if c.Role != "model" {
					return bad("* GenerateContentRequest.contents[%d].parts[%d].function_call: only a model turn calls functions", i, j)
				}
				calls = append(calls, p.FunctionCall.Name)
				if gemini3 && len(calls) == 1 {
					sig := string(p.ThoughtSignature)
					s.mu.Lock()
					known := s.issued[sig]
					s.mu.Unlock()
					if !known && !isSkip(p.ThoughtSignature) {
						return bad("Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:%s` , position %d.", p.FunctionCall.Name, j+1)
					}
				}
			}
			if p.FunctionResponse != nil {
				n++
				if p.FunctionResponse.Response == nil {
					return bad("* GenerateContentRequest.contents[%d].parts[%d].function_response.response: must be an object", i, j)
				}
				responses = append(responses, p.FunctionResponse.Name)
			}
			if n != 1 {
				return bad("* GenerateContentRequest.contents[%d].parts[%d].data: required oneof field 'data' must have one initialized field", i, j)
			}
		}
		if len(responses) > 0 {
			if len(responses) != len(lastCalls) {
				return bad("Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.")
			}
			for k, name := range responses {
				if name != lastCalls[k] {
					return bad("function response %d names %q, the call was %q", k, name, lastCalls[k])
				}
			}
		}
		lastCalls = calls
	}
	for _, t := range r.Tools {
		for _, d := range t.FunctionDeclarations {
			if d.Name == "" {
				return bad("* GenerateContentRequest.tools[0].function_declarations: name is required")
			}
		}
	}
	if tc := r.ToolConfig; tc != nil && tc.FunctionCallingConfig != nil {
		switch tc.FunctionCallingConfig.Mode {
		case genai.FunctionCallingConfigModeAuto, genai.FunctionCallingConfigModeAny, genai.FunctionCallingConfigModeNone:
		default:
			return bad("* GenerateContentRequest.tool_config.function_calling_config.mode: unknown mode %q", tc.FunctionCallingConfig.Mode)
		}
	}
	return nil
}

// isSkip: the documented dummy signatures (decoded from URL-safe base64).
func isSkip(sig []byte) bool {
	for _, s := range []string{"skip_thought_signature_validator", "context_engineering_is_the_way_to_go"} {
		if b, err := decodeURL(s); err == nil && string(b) == string(sig) {
			return true
		}
	}
	return false
}

func decodeURL(s string) ([]byte, error) {
	return base64.URLEncoding.WithPadding(base64.NoPadding).DecodeString(strings.TrimRight(s, "="))
}

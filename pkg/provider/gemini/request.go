package gemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// thoughtSep joins a generated tool-call id and the thoughtSignature of the
// functionCall part it came from (LiteLLM's convention): Gemini 2.5+ and 3
// sign function calls, Gemini 3 refuses a replayed call without its
// signature, and an OpenAI client keeps nothing of a tool call but its id,
// name and arguments.
const thoughtSep = "__thought__"

// skipSignature is the value Google documents for function calls whose
// signature was lost (history written by another model or client): Gemini 3
// then skips the check instead of refusing the request.
const skipSignature = "skip_thought_signature_validator"

// translate turns the OpenAI chat request into a generateContent body.
func translate(body []byte, model string, topK *int) (*chat.Request, []byte, error) {
	r, err := chat.Decode(body)
	if err != nil {
		return nil, nil, err
	}
	if err := r.CheckPortable(); err != nil {
		return nil, nil, err
	}
	if err := checkIgnored(r); err != nil {
		return nil, nil, err
	}
	g := generateRequest{}
	if err := messages(r.Messages, model, &g); err != nil {
		return nil, nil, err
	}
	if err := tools(r, &g); err != nil {
		return nil, nil, err
	}
	cfg, err := generation(r, model, topK)
	if err != nil {
		return nil, nil, err
	}
	g.GenerationConfig = cfg
	var buf bytes.Buffer
	buf.Grow(len(body) + 128)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&g); err != nil {
		return nil, nil, provider.Invalid("", "the request could not be encoded for Gemini: %v", err)
	}
	return r, bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// checkIgnored refuses the OpenAI members Gemini has no counterpart for
// and that would change the answer; user, metadata and store only concern
// OpenAI's own records and are ignored.
func checkIgnored(r *chat.Request) error {
	switch {
	case r.ParallelToolCalls != nil && !*r.ParallelToolCalls:
		return provider.Unsupported("parallel_tool_calls", "parallel_tool_calls: false is not supported by Gemini, which decides itself how many functions to call")
	case r.ServiceTier != "" && r.ServiceTier != "auto" && r.ServiceTier != "default":
		return provider.Unsupported("service_tier", "service_tier %q is not supported by Gemini", r.ServiceTier)
	}
	return nil
}

// messages maps the conversation: system and developer messages to
// systemInstruction, assistant to model turns, tool results to
// functionResponse parts of a user turn; consecutive turns of one role are
// merged, as Gemini wants roles to alternate.
func messages(msgs []chat.Message, model string, g *generateRequest) error {
	names := map[string]string{} // tool_call_id -> function name
	gemini3 := strings.HasPrefix(model, "gemini-3")
	for i, m := range msgs {
		field := fmt.Sprintf("messages[%d]", i)
		var role string
		var parts []part
		switch m.Role {
		case "system", "developer":
			text, ok := m.Content.PlainText()
			if !ok {
				return provider.Unsupported(field+".content", "%s: a %s message may only hold text", field, m.Role)
			}
			if g.SystemInstruction == nil {
				g.SystemInstruction = &content{}
			}
			g.SystemInstruction.Parts = append(g.SystemInstruction.Parts, part{Text: text})
			continue
		case "user":
			role = "user"
			p, err := userParts(m.Content, field)
			if err != nil {
				return err
			}
			if len(p) == 0 {
				return provider.Invalid(field+".content", "%s: a user message must not be empty", field)
			}
			parts = p
		case "assistant":
			role = "model"
			text, ok := m.Content.PlainText()
			if !ok {
				return provider.Unsupported(field+".content", "%s: an assistant message may only hold text", field)
			}
			if text != "" {
				parts = append(parts, part{Text: text})
			}
			for j, tc := range m.ToolCalls {
				fc, sig, err := replayCall(tc, fmt.Sprintf("%s.tool_calls[%d]", field, j))
				if err != nil {
					return err
				}
				if sig == "" && j == 0 && gemini3 {
					sig = skipSignature
				}
				names[tc.ID] = tc.Function.Name
				parts = append(parts, part{FunctionCall: fc, ThoughtSignature: sig})
			}
			if len(parts) == 0 {
				continue // an empty assistant turn says nothing
			}
		case "tool":
			role = "user"
			name, ok := names[m.ToolCallID]
			if !ok {
				return provider.Invalid(field+".tool_call_id", "%s: tool_call_id %q answers no tool call of an earlier assistant message", field, m.ToolCallID)
			}
			text, ok := m.Content.PlainText()
			if !ok {
				return provider.Unsupported(field+".content", "%s: a tool message may only hold text", field)
			}
			parts = []part{{FunctionResponse: &functionResponse{Name: name, Response: toolResult(text)}}}
		default:
			return provider.Invalid(field+".role", "%s: role %q is not one of system, developer, user, assistant, tool", field, m.Role)
		}
		if n := len(g.Contents); n > 0 && g.Contents[n-1].Role == role {
			g.Contents[n-1].Parts = append(g.Contents[n-1].Parts, parts...)
			continue
		}
		g.Contents = append(g.Contents, content{Role: role, Parts: parts})
	}
	if len(g.Contents) == 0 {
		return provider.Invalid("messages", "messages must hold at least one user message besides system messages")
	}
	return nil
}

// replayCall is an assistant's tool call as a functionCall part, with the
// thoughtSignature its id carries.
func replayCall(tc chat.ToolCall, field string) (*functionCall, string, error) {
	if tc.Type != "" && tc.Type != "function" {
		return nil, "", provider.Unsupported(field+".type", "%s: only function tool calls are supported by Gemini", field)
	}
	if tc.Function.Name == "" {
		return nil, "", provider.Invalid(field+".function.name", "%s: the function name is missing", field)
	}
	args := strings.TrimSpace(tc.Function.Arguments)
	if args == "" {
		args = "{}"
	}
	if !json.Valid([]byte(args)) || args[0] != '{' {
		return nil, "", provider.Invalid(field+".function.arguments", "%s: arguments must be a JSON object", field)
	}
	_, sig, _ := strings.Cut(tc.ID, thoughtSep)
	return &functionCall{Name: tc.Function.Name, Args: json.RawMessage(args)}, sig, nil
}

// toolResult is a tool's output as functionResponse.response, which must be
// a JSON object: an object passes, anything else is wrapped as {"result": ...}
// (text as a string).
func toolResult(text string) json.RawMessage {
	t := strings.TrimSpace(text)
	if t != "" && json.Valid([]byte(t)) {
		if t[0] == '{' {
			return json.RawMessage(t)
		}
		return json.RawMessage(`{"result":` + t + `}`)
	}
	return append(provider.AppendString([]byte(`{"result":`), text), '}')
}

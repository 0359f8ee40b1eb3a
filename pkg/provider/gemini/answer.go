package gemini

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// answer translates a generateContent answer into a chat completion.
func answer(body []byte, model string) ([]byte, *provider.Error) {
	var g generateResponse
	if err := json.Unmarshal(body, &g); err != nil {
		return nil, &provider.Error{Status: http.StatusBadGateway, Type: provider.TypeServer, Code: "bad_upstream_response",
			Message: "Gemini's answer could not be read"}
	}
	if g.Error != nil {
		return nil, fromAPIError(g.Error, http.StatusBadGateway, nil)
	}
	if e := blocked(&g); e != nil {
		return nil, e
	}
	if len(g.Candidates) == 0 {
		return nil, &provider.Error{Status: http.StatusBadGateway, Type: provider.TypeServer, Code: "no_candidates",
			Message: "Gemini answered with no candidate"}
	}
	c := g.Candidates[0]
	msg := chat.AnswerMessage{Role: "assistant"}
	var text, reasoning strings.Builder
	hasText := false
	if c.Content != nil {
		for _, p := range c.Content.Parts {
			switch {
			case p.FunctionCall != nil:
				msg.ToolCalls = append(msg.ToolCalls, toolCall(p))
			case p.Thought:
				reasoning.WriteString(p.Text)
			case p.Text != "":
				text.WriteString(p.Text)
				hasText = true
			}
		}
	}
	if hasText || len(msg.ToolCalls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	msg.ReasoningContent = reasoning.String()
	out := chat.Completion{ID: chat.NewID(), Created: chat.Now(), Model: model,
		Choices: []chat.Choice{{Message: msg, FinishReason: finish(c.FinishReason, len(msg.ToolCalls) > 0)}},
		Usage:   usage(g.UsageMetadata)}
	return out.Marshal(), nil
}

// blocked is the 400 for a prompt Gemini refused to answer.
func blocked(g *generateResponse) *provider.Error {
	if g.PromptFeedback == nil || g.PromptFeedback.BlockReason == "" || len(g.Candidates) > 0 {
		return nil
	}
	msg := "Gemini blocked the prompt: " + g.PromptFeedback.BlockReason
	if m := g.PromptFeedback.BlockReasonMessage; m != "" {
		msg += ": " + m
	}
	return &provider.Error{Status: http.StatusBadRequest, Type: provider.TypeInvalidRequest, Code: "content_filter", Message: msg}
}

// toolCall is a functionCall part as an OpenAI tool call: a fresh call_
// id, with the part's thoughtSignature after it so that the client sends
// it back with the call (see thoughtSep).
func toolCall(p part) chat.ToolCall {
	args := string(p.FunctionCall.Args)
	if args == "" || args == "null" {
		args = "{}"
	}
	id := newCallID()
	if p.ThoughtSignature != "" {
		id += thoughtSep + p.ThoughtSignature
	}
	return chat.ToolCall{ID: id, Type: "function", Function: chat.FunctionCall{Name: p.FunctionCall.Name, Arguments: args}}
}

func newCallID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "call_" + hex.EncodeToString(b[:])
}

// finish maps Gemini's finishReason: tool_calls whenever a function was
// called and the answer was not cut short, length for MAX_TOKENS,
// content_filter for the safety stops, stop for the rest.
func finish(reason string, called bool) string {
	switch reason {
	case "MAX_TOKENS":
		return chat.FinishLength
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
		return chat.FinishContentFilter
	}
	if called {
		return chat.FinishToolCalls
	}
	return chat.FinishStop
}

// usage maps usageMetadata: the prompt (cached tokens included, as
// OpenAI counts them, plus the prompt of tool use), and the completion as
// the candidates' tokens plus the thinking tokens, which are billed as
// output and reported as reasoning_tokens.
func usage(m *usageMetadata) *chat.Usage {
	if m == nil {
		return nil
	}
	prompt := m.PromptTokenCount + m.ToolUsePromptTokenCount
	u := chat.NewUsage(prompt-m.CachedContentTokenCount, m.CachedContentTokenCount, 0, m.CandidatesTokenCount+m.ThoughtsTokenCount)
	if m.ThoughtsTokenCount > 0 {
		u.CompletionTokensDetails = &chat.CompletionTokensDetails{ReasoningTokens: m.ThoughtsTokenCount}
	}
	return u
}

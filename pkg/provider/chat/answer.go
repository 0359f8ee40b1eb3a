package chat

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Finish reasons OpenAI's clients know.
const (
	FinishStop          = "stop"
	FinishLength        = "length"
	FinishToolCalls     = "tool_calls"
	FinishContentFilter = "content_filter"
)

// Completion is a chat completion (object "chat.completion").
type Completion struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	Choices           []Choice `json:"choices"`
	Usage             *Usage   `json:"usage,omitempty"`
	SystemFingerprint *string  `json:"system_fingerprint"`
}

// Choice is a completion's one choice.
type Choice struct {
	Index        int           `json:"index"`
	Message      AnswerMessage `json:"message"`
	FinishReason string        `json:"finish_reason"`
	Logprobs     *struct{}     `json:"logprobs"`
}

// AnswerMessage is the assistant's message in a completion.
type AnswerMessage struct {
	Role             string          `json:"role"`
	Content          *string         `json:"content"`
	Refusal          *string         `json:"refusal"`
	ToolCalls        []ToolCall      `json:"tool_calls,omitempty"`
	ReasoningContent string          `json:"reasoning_content,omitempty"`
	ThinkingBlocks   []ThinkingBlock `json:"thinking_blocks,omitempty"`
}

// Usage is OpenAI's usage object. PromptTokens includes the cached ones,
// as OpenAI counts them; CacheCreationTokens (LiteLLM's name) are the
// prompt tokens written to a provider's cache.
type Usage struct {
	PromptTokens            int                      `json:"prompt_tokens"`
	CompletionTokens        int                      `json:"completion_tokens"`
	TotalTokens             int                      `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
}

// PromptTokensDetails splits the prompt tokens by the provider's cache.
type PromptTokensDetails struct {
	CachedTokens        int `json:"cached_tokens"`
	CacheCreationTokens int `json:"cache_creation_tokens,omitempty"`
}

// CompletionTokensDetails counts the reasoning part of the completion.
type CompletionTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// NewUsage builds usage from a provider's counts, where input excludes the
// cached prompt tokens (Bedrock's and Anthropic's arithmetic): OpenAI's
// prompt_tokens includes them.
func NewUsage(input, cacheRead, cacheWrite, output int) *Usage {
	u := &Usage{PromptTokens: input + cacheRead + cacheWrite, CompletionTokens: output}
	u.TotalTokens = u.PromptTokens + output
	if cacheRead > 0 || cacheWrite > 0 {
		u.PromptTokensDetails = &PromptTokensDetails{CachedTokens: cacheRead, CacheCreationTokens: cacheWrite}
	}
	return u
}

// NewID is a fresh completion id, "chatcmpl-" and 24 hex digits.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "chatcmpl-" + hex.EncodeToString(b[:])
}

// Now is the completion's created time, in Unix seconds.
func Now() int64 { return time.Now().Unix() }

// Marshal encodes a completion.
func (c *Completion) Marshal() []byte {
	if c.Object == "" {
		c.Object = "chat.completion"
	}
	for i := range c.Choices {
		if c.Choices[i].Message.Role == "" {
			c.Choices[i].Message.Role = "assistant"
		}
	}
	b, _ := json.Marshal(c)
	return b
}

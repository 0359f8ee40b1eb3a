package responses

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// Response is a Response object (object "response").
type Response struct {
	ID                 string          `json:"id"`
	Object             string          `json:"object"`
	CreatedAt          int64           `json:"created_at"`
	Status             string          `json:"status"`
	Error              *ErrorObject    `json:"error"`
	IncompleteDetails  *Incomplete     `json:"incomplete_details"`
	Instructions       json.RawMessage `json:"instructions"`
	MaxOutputTokens    json.RawMessage `json:"max_output_tokens"`
	Metadata           json.RawMessage `json:"metadata"`
	Model              string          `json:"model"`
	Output             []Item          `json:"output"`
	ParallelToolCalls  json.RawMessage `json:"parallel_tool_calls"`
	PreviousResponseID *string         `json:"previous_response_id"`
	Reasoning          json.RawMessage `json:"reasoning"`
	Store              bool            `json:"store"`
	Temperature        json.RawMessage `json:"temperature"`
	Text               json.RawMessage `json:"text"`
	ToolChoice         json.RawMessage `json:"tool_choice"`
	Tools              json.RawMessage `json:"tools"`
	TopP               json.RawMessage `json:"top_p"`
	Truncation         string          `json:"truncation"`
	Usage              *Usage          `json:"usage"`
	User               json.RawMessage `json:"user,omitempty"`
}

// ErrorObject is a failed response's error.
type ErrorObject struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Incomplete says why a response is incomplete.
type Incomplete struct {
	Reason string `json:"reason"`
}

// Usage is the Responses API's usage object.
type Usage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

// Item is an output item: a message, a function_call, a
// custom_tool_call or a reasoning item.
type Item struct {
	Type      string
	ID        string
	Status    string
	Text      string // message: its output_text; reasoning: its reasoning_text
	CallID    string // function_call, custom_tool_call
	Name      string
	Namespace string // the namespace tool that declared the function
	// Arguments of a function_call; of a custom_tool_call, the chat
	// call's JSON arguments, whose input becomes Input at its end.
	Arguments string
	Input     string // custom_tool_call
	// Encrypted is a reasoning item's encrypted_content: the provider's
	// signature of its reasoning, sent back on the next turn.
	Encrypted string
	hasText   bool // a message's part has been added
}

type outputText struct {
	Type        string   `json:"type"`
	Text        string   `json:"text"`
	Annotations []string `json:"annotations"`
	Logprobs    []string `json:"logprobs"`
}

type reasoningText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func (it Item) MarshalJSON() ([]byte, error) {
	switch it.Type {
	case "function_call":
		return json.Marshal(struct {
			Type      string `json:"type"`
			ID        string `json:"id"`
			CallID    string `json:"call_id"`
			Namespace string `json:"namespace,omitempty"`
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
			Status    string `json:"status"`
		}{it.Type, it.ID, it.CallID, it.Namespace, it.Name, it.Arguments, it.Status})
	case "custom_tool_call":
		return json.Marshal(struct {
			Type      string `json:"type"`
			ID        string `json:"id"`
			CallID    string `json:"call_id"`
			Namespace string `json:"namespace,omitempty"`
			Name      string `json:"name"`
			Input     string `json:"input"`
			Status    string `json:"status"`
		}{it.Type, it.ID, it.CallID, it.Namespace, it.Name, it.Input, it.Status})
	case "reasoning":
		content := []reasoningText{}
		if it.Text != "" {
			content = append(content, reasoningText{Type: "reasoning_text", Text: it.Text})
		}
		return json.Marshal(struct {
			Type      string          `json:"type"`
			ID        string          `json:"id"`
			Summary   []reasoningText `json:"summary"`
			Content   []reasoningText `json:"content"`
			Encrypted string          `json:"encrypted_content,omitempty"`
			Status    string          `json:"status,omitempty"`
		}{it.Type, it.ID, []reasoningText{}, content, it.Encrypted, it.Status})
	}
	content := []outputText{}
	if it.hasText || it.Text != "" {
		content = append(content, outputText{Type: "output_text", Text: it.Text, Annotations: []string{}, Logprobs: []string{}})
	}
	return json.Marshal(struct {
		Type    string       `json:"type"`
		ID      string       `json:"id"`
		Status  string       `json:"status"`
		Role    string       `json:"role"`
		Content []outputText `json:"content"`
	}{"message", it.ID, it.Status, "assistant", content})
}

// newResponse starts a Response for echo, in status in_progress.
func newResponse(model string, e *Echo) Response {
	r := Response{
		ID: newID("resp_"), Object: "response", CreatedAt: time.Now().Unix(), Status: "in_progress", Model: model,
		Output: []Item{}, Instructions: e.Instructions, MaxOutputTokens: e.MaxOutputTokens, Metadata: e.Metadata,
		ParallelToolCalls: e.ParallelToolCalls, Reasoning: e.Reasoning, Temperature: e.Temperature, Text: e.Text,
		ToolChoice: e.ToolChoice, Tools: e.Tools, TopP: e.TopP, Truncation: "disabled", User: e.User,
	}
	if r.Metadata == nil {
		r.Metadata = json.RawMessage("{}")
	}
	if r.ParallelToolCalls == nil {
		r.ParallelToolCalls = json.RawMessage("true")
	}
	if r.Text == nil {
		r.Text = json.RawMessage(`{"format":{"type":"text"}}`)
	}
	if r.ToolChoice == nil {
		r.ToolChoice = json.RawMessage(`"auto"`)
	}
	if r.Tools == nil {
		r.Tools = json.RawMessage("[]")
	}
	return r
}

// settle sets the final status from the chat finish reason.
func (r *Response) settle(finish string) {
	status := "completed"
	switch finish {
	case chat.FinishLength:
		status, r.IncompleteDetails = "incomplete", &Incomplete{Reason: "max_output_tokens"}
	case chat.FinishContentFilter:
		status, r.IncompleteDetails = "incomplete", &Incomplete{Reason: "content_filter"}
	}
	r.Status = status
	for i := range r.Output {
		r.Output[i].Status = "completed"
		if status == "incomplete" && r.Output[i].Type != "reasoning" {
			r.Output[i].Status = "incomplete"
		}
	}
}

// fromChatUsage converts chat usage (prompt_tokens includes cached ones).
func fromChatUsage(u *chat.Usage) *Usage {
	if u == nil {
		return nil
	}
	out := &Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	if u.PromptTokensDetails != nil {
		out.InputTokensDetails.CachedTokens = u.PromptTokensDetails.CachedTokens
	}
	if u.CompletionTokensDetails != nil {
		out.OutputTokensDetails.ReasoningTokens = u.CompletionTokensDetails.ReasoningTokens
	}
	if out.TotalTokens == 0 {
		out.TotalTokens = out.InputTokens + out.OutputTokens
	}
	return out
}

// completion is what Answer reads of a chat completion.
type completion struct {
	Model   string `json:"model"`
	Choices []struct {
		Message      chat.AnswerMessage `json:"message"`
		FinishReason string             `json:"finish_reason"`
	} `json:"choices"`
	Usage *chat.Usage `json:"usage"`
}

// Answer translates a chat completion into a Response object. model is the
// model asked for, used when the completion names none.
func Answer(body []byte, model string, e *Echo) ([]byte, error) {
	var c completion
	if err := json.Unmarshal(body, &c); err != nil || len(c.Choices) == 0 {
		return nil, &provider.Error{Status: 502, Type: provider.TypeServer, Code: "invalid_upstream_answer",
			Message: "the upstream answer is not a chat completion"}
	}
	if c.Model != "" {
		model = c.Model
	}
	r := newResponse(model, e)
	ch := c.Choices[0]
	m := ch.Message
	if m.ReasoningContent != "" || len(m.ThinkingBlocks) > 0 {
		it := Item{Type: "reasoning", ID: newID("rs_"), Text: m.ReasoningContent}
		for _, b := range m.ThinkingBlocks {
			if it.Text == "" {
				it.Text = b.Thinking
			}
			if b.Signature != "" {
				it.Encrypted = b.Signature
			}
		}
		r.Output = append(r.Output, it)
	}
	text := ""
	if m.Content != nil {
		text = *m.Content
	}
	if m.Refusal != nil && *m.Refusal != "" && text == "" {
		text = *m.Refusal
	}
	if text != "" || len(m.ToolCalls) == 0 {
		r.Output = append(r.Output, Item{Type: "message", ID: newID("msg_"), Text: text, hasText: true})
	}
	for _, tc := range m.ToolCalls {
		it := e.callItem(tc.ID, tc.Function.Name)
		it.Arguments = tc.Function.Arguments
		if it.Type == "custom_tool_call" {
			it.Input = customInput(it.Arguments)
		}
		r.Output = append(r.Output, it)
	}
	r.settle(ch.FinishReason)
	r.Usage = fromChatUsage(c.Usage)
	return json.Marshal(&r)
}

// callItem starts the output item of a chat tool call: a function_call,
// with its namespace when the tool was declared in one, or a
// custom_tool_call.
func (e *Echo) callItem(callID, chatName string) Item {
	c := e.call(chatName)
	if c.Custom {
		return Item{Type: "custom_tool_call", ID: newID("ctc_"), CallID: callID, Name: c.Name, Namespace: c.Namespace}
	}
	return Item{Type: "function_call", ID: newID("fc_"), CallID: callID, Name: c.Name, Namespace: c.Namespace}
}

// customInput is a custom tool call's input from the chat call's
// arguments, {"input": "..."}. A model that sent something else has its
// arguments passed as they are: the client, which has to check a custom
// tool's input anyway, tells the model what was wrong.
func customInput(args string) string {
	var a struct {
		Input *string `json:"input"`
	}
	if json.Unmarshal([]byte(args), &a) == nil && a.Input != nil {
		return *a.Input
	}
	return args
}

// newID is prefix and 24 hex digits.
func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// OutputText joins the output_text of a Response's message items, for
// tests and logs.
func OutputText(body []byte) string {
	var r struct {
		Output []struct {
			Type    string `json:"type"`
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"output"`
	}
	if json.Unmarshal(bytes.TrimSpace(body), &r) != nil {
		return ""
	}
	var b strings.Builder
	for _, o := range r.Output {
		if o.Type == "message" {
			for _, c := range o.Content {
				b.WriteString(c.Text)
			}
		}
	}
	return b.String()
}

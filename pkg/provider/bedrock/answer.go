package bedrock

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go/transport/http/protocol/restjson1"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// call is one prepared Converse call: the proxy's transport for it.
type call struct {
	client       *bedrockruntime.Client
	in           *converse
	stream       bool
	includeUsage bool
	model        string
}

func (c *call) RoundTrip(req *http.Request) (*http.Response, error) {
	provider.DiscardBody(req)
	ctx := req.Context()
	in := c.in
	var additional document.Interface
	if in.Additional != nil {
		additional = document.NewLazyDocument(in.Additional)
	}
	if !c.stream {
		out, err := c.client.Converse(ctx, &bedrockruntime.ConverseInput{
			ModelId: aws.String(in.ModelID), System: in.System, Messages: in.Messages, InferenceConfig: in.Inference,
			ToolConfig: in.ToolConfig, AdditionalModelRequestFields: additional, PerformanceConfig: in.Performance,
			OutputConfig: in.Output, ServiceTier: in.ServiceTier, RequestMetadata: in.RequestMetadata,
		}, retries(ctx))
		if err != nil {
			return errorResponse(req, err)
		}
		return provider.JSONResponse(req, http.StatusOK, answer(out, c.model)), nil
	}
	out, err := c.client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(in.ModelID), System: in.System, Messages: in.Messages, InferenceConfig: in.Inference,
		ToolConfig: in.ToolConfig, AdditionalModelRequestFields: additional, PerformanceConfig: in.Performance,
		OutputConfig: in.Output, ServiceTier: in.ServiceTier, RequestMetadata: in.RequestMetadata,
	}, ownCodec, retries(ctx))
	if err != nil {
		return errorResponse(req, err)
	}
	return provider.StreamResponse(req, newEvents(out.GetStream(), c.model, c.includeUsage)), nil
}

// ownCodec gives one stream its own event-stream codec. The client's
// protocol holds one codec whose decoder and payload buffer every stream
// of the client shares (smithy-go v1.28.9 internal/eventstream/codec.go:68):
// two parallel ConverseStreams on one client race on them (go test -race
// shows it; frames of one stream can be decoded into another's buffer).
// restjson1.New ignores its schema argument.
func ownCodec(o *bedrockruntime.Options) { o.Protocol = restjson1.New(nil) }

// retries turns the SDK's own retries off for a call the proxy retries on
// another target (provider.RetriesOff).
func retries(ctx context.Context) func(*bedrockruntime.Options) {
	if provider.RetriesOff(ctx) {
		return oneAttempt
	}
	return keepRetries
}

func oneAttempt(o *bedrockruntime.Options) { o.RetryMaxAttempts = 1 }

func keepRetries(*bedrockruntime.Options) {}

// finishReason maps Bedrock's stopReason onto OpenAI's.
func finishReason(r types.StopReason) string {
	switch r {
	case types.StopReasonMaxTokens, types.StopReasonModelContextWindowExceeded:
		return chat.FinishLength
	case types.StopReasonToolUse:
		return chat.FinishToolCalls
	case types.StopReasonGuardrailIntervened, types.StopReasonContentFiltered:
		return chat.FinishContentFilter
	}
	return chat.FinishStop // end_turn, stop_sequence, and any newer reason
}

// usage is Bedrock's token usage in OpenAI's arithmetic: prompt_tokens
// includes the cache reads and writes Bedrock counts beside inputTokens.
func usage(u *types.TokenUsage) *chat.Usage {
	if u == nil {
		return nil
	}
	return chat.NewUsage(int(aws.ToInt32(u.InputTokens)), int(aws.ToInt32(u.CacheReadInputTokens)),
		int(aws.ToInt32(u.CacheWriteInputTokens)), int(aws.ToInt32(u.OutputTokens)))
}

// answer translates a Converse answer into a chat completion for model
// (the configured model id).
func answer(out *bedrockruntime.ConverseOutput, model string) []byte {
	msg := chat.AnswerMessage{Role: "assistant"}
	var text strings.Builder
	hasText := false
	if m, ok := out.Output.(*types.ConverseOutputMemberMessage); ok {
		for _, b := range m.Value.Content {
			switch b := b.(type) {
			case *types.ContentBlockMemberText:
				text.WriteString(b.Value)
				hasText = true
			case *types.ContentBlockMemberToolUse:
				args := "{}"
				if b.Value.Input != nil {
					if j, err := b.Value.Input.MarshalSmithyDocument(); err == nil && len(j) > 0 && string(j) != "null" {
						args = string(j)
					}
				}
				msg.ToolCalls = append(msg.ToolCalls, chat.ToolCall{ID: aws.ToString(b.Value.ToolUseId), Type: "function",
					Function: chat.FunctionCall{Name: aws.ToString(b.Value.Name), Arguments: args}})
			case *types.ContentBlockMemberReasoningContent:
				switch r := b.Value.(type) {
				case *types.ReasoningContentBlockMemberReasoningText:
					t := aws.ToString(r.Value.Text)
					msg.ReasoningContent += t
					msg.ThinkingBlocks = append(msg.ThinkingBlocks, chat.ThinkingBlock{Type: "thinking", Thinking: t, Signature: aws.ToString(r.Value.Signature)})
				case *types.ReasoningContentBlockMemberRedactedContent:
					msg.ThinkingBlocks = append(msg.ThinkingBlocks, chat.ThinkingBlock{Type: "redacted_thinking", Data: base64.StdEncoding.EncodeToString(r.Value)})
				}
			}
		}
	}
	if hasText || len(msg.ToolCalls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	c := chat.Completion{ID: chat.NewID(), Created: chat.Now(), Model: model,
		Choices: []chat.Choice{{Message: msg, FinishReason: finishReason(out.StopReason)}}, Usage: usage(out.Usage)}
	return c.Marshal()
}

package bedrock

import (
	"encoding/base64"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// eventSource is what the SDK's ConverseStreamEventStream offers.
type eventSource interface {
	Events() <-chan types.ConverseStreamOutput
	Close() error
	Err() error
}

// events translates ConverseStream events into OpenAI chunks as they
// arrive: each Next pulls one Bedrock event off the SDK's channel.
type events struct {
	src   eventSource
	out   *chat.Stream
	tools map[int32]int // content block index → tool call index
	args  map[int32]bool
	// stopped: messageStop arrived; done: metadata arrived and [DONE]
	// was sent; closed: io.EOF from now on.
	stopped, done, role bool
	buf                 []byte
}

func newEvents(src eventSource, model string, includeUsage bool) *events {
	return &events{src: src, out: chat.NewStream(model, includeUsage), tools: map[int32]int{}, args: map[int32]bool{}}
}

func (e *events) Next() ([]byte, error) {
	if e.done {
		return nil, io.EOF
	}
	for {
		ev, ok := <-e.src.Events()
		if !ok {
			return nil, e.end()
		}
		if b := e.translate(ev); len(b) > 0 {
			return b, nil
		}
		if e.done {
			return nil, io.EOF
		}
	}
}

// end is a stream that ended: an error, or a cut (no messageStop and
// metadata) — never a clean end.
func (e *events) end() error {
	e.done = true
	if err := e.src.Err(); err != nil {
		return streamError(err)
	}
	return &provider.StreamError{Message: "the Bedrock stream ended before its end (no messageStop and metadata)", Type: provider.TypeServer, Code: "upstream_stream_cut"}
}

func (e *events) Close() error {
	_ = e.src.Close()
	return nil
}

func (e *events) roleOnce() {
	if !e.role {
		e.role = true
		e.buf = append(e.buf, e.out.Role()...)
	}
}

// translate returns the chunks one Bedrock event makes, possibly none.
func (e *events) translate(ev types.ConverseStreamOutput) []byte {
	e.buf = e.buf[:0]
	switch v := ev.(type) {
	case *types.ConverseStreamOutputMemberMessageStart:
		e.roleOnce()
	case *types.ConverseStreamOutputMemberContentBlockStart:
		e.roleOnce()
		if tu, ok := v.Value.Start.(*types.ContentBlockStartMemberToolUse); ok {
			i, b := e.out.ToolCallStart(aws.ToString(tu.Value.ToolUseId), aws.ToString(tu.Value.Name))
			e.tools[aws.ToInt32(v.Value.ContentBlockIndex)] = i
			e.buf = append(e.buf, b...)
		}
	case *types.ConverseStreamOutputMemberContentBlockDelta:
		e.roleOnce()
		idx := aws.ToInt32(v.Value.ContentBlockIndex)
		switch d := v.Value.Delta.(type) {
		case *types.ContentBlockDeltaMemberText:
			if d.Value != "" {
				e.buf = append(e.buf, e.out.Content(d.Value)...)
			}
		case *types.ContentBlockDeltaMemberToolUse:
			i, ok := e.tools[idx]
			if !ok {
				// A delta for a tool use Bedrock never started: start one.
				i, _ = e.out.ToolCallStart("", "")
				e.tools[idx] = i
			}
			if s := aws.ToString(d.Value.Input); s != "" {
				e.args[idx] = true
				e.buf = append(e.buf, e.out.ToolCallArgs(i, s)...)
			}
		case *types.ContentBlockDeltaMemberReasoningContent:
			switch r := d.Value.(type) {
			case *types.ReasoningContentBlockDeltaMemberText:
				if r.Value != "" {
					e.buf = append(e.buf, e.out.Reasoning(r.Value)...)
				}
			case *types.ReasoningContentBlockDeltaMemberSignature:
				e.buf = append(e.buf, e.out.Thinking(chat.ThinkingBlock{Type: "thinking", Signature: r.Value})...)
			case *types.ReasoningContentBlockDeltaMemberRedactedContent:
				e.buf = append(e.buf, e.out.Thinking(chat.ThinkingBlock{Type: "redacted_thinking", Data: base64.StdEncoding.EncodeToString(r.Value)})...)
			}
		}
	case *types.ConverseStreamOutputMemberContentBlockStop:
		idx := aws.ToInt32(v.Value.ContentBlockIndex)
		if i, ok := e.tools[idx]; ok && !e.args[idx] {
			// A call without input: OpenAI's arguments are "{}".
			e.args[idx] = true
			e.buf = append(e.buf, e.out.ToolCallArgs(i, "{}")...)
		}
	case *types.ConverseStreamOutputMemberMessageStop:
		e.roleOnce()
		e.stopped = true
		e.buf = append(e.buf, e.out.Finish(finishReason(v.Value.StopReason))...)
	case *types.ConverseStreamOutputMemberMetadata:
		if !e.stopped {
			break // metadata before messageStop: the end check catches it
		}
		e.buf = append(e.buf, e.out.Usage(usage(v.Value.Usage))...)
		e.buf = append(e.buf, e.out.Done()...)
		e.done = true
	}
	return e.buf
}

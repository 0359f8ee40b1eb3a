package bedrock

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// Anthropic Messages in, Claude on Bedrock out, natively (llm_format:
// anthropic): the Messages body goes to InvokeModel or
// InvokeModelWithResponseStream in Bedrock's own Anthropic format, so that
// prompt-cache breakpoints, signed thinking and tool use pass untouched and
// the answer's cache usage comes back as Anthropic reports it. CountTokens
// answers count_tokens.

// BedrockAnthropicVersion is the anthropic_version Claude on Bedrock takes.
const BedrockAnthropicVersion = "bedrock-2023-05-31"

// invokeKeys are the body members Claude on Bedrock accepts; everything
// else is either dropped (droppedKeys) or refused by name.
var invokeKeys = map[string]bool{"anthropic_version": true, "anthropic_beta": true, "max_tokens": true, "messages": true, "system": true,
	"stop_sequences": true, "temperature": true, "top_p": true, "top_k": true, "tools": true, "tool_choice": true, "thinking": true}

// droppedKeys are members a Messages client sends that Bedrock refuses as
// extraneous and that change nothing Bedrock could do: model and stream
// are the path's and the operation's; metadata, context_management,
// output_config, service_tier and container steer Anthropic's own API.
var droppedKeys = map[string]bool{"model": true, "stream": true, "metadata": true, "context_management": true, "output_config": true,
	"service_tier": true, "container": true}

// BedrockBetas are the anthropic-beta flags Claude on Bedrock accepts;
// others (Claude Code sends many that only Anthropic's API knows) are
// removed rather than failing the call.
var BedrockBetas = map[string]bool{
	"interleaved-thinking-2025-05-14":  true,
	"context-1m-2025-08-07":            true,
	"computer-use-2024-10-22":          true,
	"computer-use-2025-01-24":          true,
	"token-efficient-tools-2025-02-19": true,
	"output-128k-2025-02-19":           true,
	"dev-full-thinking-2025-05-14":     true,
}

// PrepareMessages reshapes a Messages body for InvokeModel and returns the
// transport that makes the call.
func (d *Driver) PrepareMessages(c *provider.MessagesCall) (provider.Upstream, error) {
	p := c.Plugin
	model := c.Model
	if err := checkModelID(model); err != nil {
		return provider.Upstream{}, err
	}
	region, err := d.region(p)
	if err != nil {
		return provider.Upstream{}, err
	}
	body, err := InvokeBody(c.Body, c.Header, c.CountTokens)
	if err != nil {
		return provider.Upstream{}, err
	}
	endpoint := baseEndpoint(c.Upstream)
	client := d.client(p, region, endpoint)
	op := "invoke"
	switch {
	case c.CountTokens:
		op = "count-tokens"
	case c.Stream:
		op = "invoke-with-response-stream"
	}
	u := operationURL(endpoint, region, model, op)
	return provider.Upstream{URL: u, Transport: &invokeCall{client: client, model: model, body: body, stream: c.Stream, count: c.CountTokens}}, nil
}

// InvokeBody reshapes a Messages body into Claude on Bedrock's: the
// dropped members removed, anthropic_version set, the anthropic-beta
// header's flags (and the body's) that Bedrock accepts moved into
// anthropic_beta. A member Bedrock would refuse that is not known to be
// droppable is refused by name. A count has max_tokens 1 when the client
// sent none (Bedrock requires it even to count).
func InvokeBody(body []byte, header http.Header, count bool) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, provider.Invalid("", "the request body is not a JSON object")
	}
	out := make(map[string]json.RawMessage, len(top)+2)
	betas := map[string]bool{}
	for k, v := range top {
		switch {
		case k == "anthropic_beta":
			var list []string
			if json.Unmarshal(v, &list) != nil {
				return nil, provider.Invalid("anthropic_beta", "anthropic_beta must be a list of strings")
			}
			for _, b := range list {
				betas[b] = true
			}
		case invokeKeys[k]:
			out[k] = v
		case droppedKeys[k]:
		default:
			return nil, provider.Unsupported(k, "%q is not supported by Claude on Bedrock", k)
		}
	}
	for _, h := range header.Values("Anthropic-Beta") {
		for _, b := range strings.Split(h, ",") {
			if b = strings.TrimSpace(b); b != "" {
				betas[b] = true
			}
		}
	}
	var keep []string
	for b := range betas {
		if BedrockBetas[b] {
			keep = append(keep, b)
		}
	}
	if len(keep) > 0 {
		sort.Strings(keep)
		out["anthropic_beta"], _ = json.Marshal(keep)
	}
	out["anthropic_version"] = json.RawMessage(strconv.Quote(BedrockAnthropicVersion))
	if _, ok := out["max_tokens"]; !ok && count {
		out["max_tokens"] = json.RawMessage("1")
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, provider.Invalid("", "the request body could not be reshaped for Bedrock")
	}
	return b, nil
}

// invokeCall carries one native Messages call.
type invokeCall struct {
	client        *bedrockruntime.Client
	model         string
	body          []byte
	stream, count bool
}

// RoundTrip answers as Anthropic's API would: a message, an event stream,
// {"input_tokens": n}, or an error (OpenAI-shaped, which the proxy puts in
// Anthropic's shape on a Messages route).
func (c *invokeCall) RoundTrip(req *http.Request) (*http.Response, error) {
	provider.DiscardBody(req)
	ctx := req.Context()
	switch {
	case c.count:
		out, err := c.client.CountTokens(ctx, &bedrockruntime.CountTokensInput{ModelId: aws.String(c.model),
			Input: &types.CountTokensInputMemberInvokeModel{Value: types.InvokeModelTokensRequest{Body: c.body}}}, retries(ctx))
		if err != nil {
			return errorResponse(req, err)
		}
		return provider.JSONResponse(req, http.StatusOK, []byte(`{"input_tokens":`+strconv.Itoa(int(aws.ToInt32(out.InputTokens)))+`}`)), nil
	case !c.stream:
		out, err := c.client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(c.model), Body: c.body,
			ContentType: aws.String("application/json"), Accept: aws.String("application/json")}, retries(ctx))
		if err != nil {
			return errorResponse(req, err)
		}
		return provider.JSONResponse(req, http.StatusOK, out.Body), nil
	}
	out, err := c.client.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(c.model), Body: c.body,
		ContentType: aws.String("application/json"), Accept: aws.String("application/json")}, ownCodec, retries(ctx))
	if err != nil {
		return errorResponse(req, err)
	}
	return provider.StreamResponse(req, &invokeEvents{src: out.GetStream()}), nil
}

// invokeSource is what the SDK's InvokeModelWithResponseStreamEventStream
// offers.
type invokeSource interface {
	Events() <-chan types.ResponseStream
	Close() error
	Err() error
}

// invokeEvents re-emits each chunk (one Anthropic event's JSON) as the
// SSE event Anthropic's API sends: `event: <type>` and `data: <json>`.
// A stream that ends without message_stop was cut and fails.
type invokeEvents struct {
	src     invokeSource
	stopped bool
	done    bool
}

func (e *invokeEvents) Next() ([]byte, error) {
	if e.done {
		return nil, io.EOF
	}
	for {
		ev, ok := <-e.src.Events()
		if !ok {
			e.done = true
			if err := e.src.Err(); err != nil {
				return nil, streamError(err)
			}
			if e.stopped {
				return nil, io.EOF
			}
			return nil, &provider.StreamError{Message: "the Bedrock stream ended before message_stop", Type: provider.TypeServer, Code: "upstream_stream_cut"}
		}
		chunk, ok := ev.(*types.ResponseStreamMemberChunk)
		if !ok || len(chunk.Value.Bytes) == 0 {
			continue
		}
		return e.event(chunk.Value.Bytes), nil
	}
}

// event frames one Anthropic event JSON; its type names the SSE event.
func (e *invokeEvents) event(data []byte) []byte {
	var probe struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(data, &probe)
	typ := probe.Type
	if typ == "" || strings.ContainsAny(typ, "\r\n") {
		typ = "message"
	}
	if typ == "message_stop" {
		e.stopped = true
	}
	data = bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\r"), nil), []byte("\n"), nil)
	out := make([]byte, 0, len(typ)+len(data)+16)
	out = append(out, "event: "...)
	out = append(out, typ...)
	out = append(out, "\ndata: "...)
	out = append(out, data...)
	return append(out, "\n\n"...)
}

func (e *invokeEvents) Close() error {
	_ = e.src.Close()
	return nil
}

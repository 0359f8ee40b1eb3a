package proxy

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// rewritten is the outcome of turning a client request into the upstream one.
type rewritten struct {
	body  []byte
	model string // the model the upstream is asked for ("" only for preserve)
	streaming
}

// streaming is the streaming policy's decision for one request.
type streaming struct {
	stream bool
	// hideUsage: the proxy asked for the usage chunk of a stream the client
	// did not ask for it in, so the relay hides it again.
	hideUsage bool
}

// members are the top-level members of a client's body that the rewrite
// reads. A repeated member counts by its last occurrence, as Go's decoder
// (and most others) read it; the edits then keep exactly one.
type members struct {
	fields     []field
	model      []byte
	stream     []byte
	streamOpts []byte
	hasPrompts bool
	authParam  bool // the client sent the body auth param itself
}

// rewriteBody applies Kong's ai-proxy request rules to a JSON body: the
// model, the streaming policy, model.options overrides and, when configured,
// the auth parameter in the body.
//
// hideKey names a body member holding the client's key-auth key, removed so
// that it never reaches the upstream.
func rewriteBody(p *config.Plugin, body []byte, configured, hideKey string) (*rewritten, *apiError) {
	var arr [16]field
	m, e := scanBody(p, body, arr[:0])
	if e != nil {
		return nil, e
	}
	if p.RouteType == config.RoutePreserve {
		return rewritePreserve(p, body, m, hideKey)
	}
	if !m.hasPrompts {
		return nil, badRequest("invalid_prompts", "request body doesn't contain valid prompts")
	}
	model, e := chooseModel(configured, m.model)
	if e != nil {
		return nil, e
	}
	edits := make([]edit, 0, 8)
	edits = append(edits, edit{key: "model", value: appendJSONString(nil, model)})
	s, streamEdits, e := streamingEdits(p.ResponseStreaming, m.stream, m.streamOpts)
	if e != nil {
		return nil, e
	}
	edits = append(edits, streamEdits...)
	edits = append(edits, optionEdits(p.Model.Options)...)
	if hideKey != "" {
		edits = append(edits, edit{key: hideKey})
	}
	if ed, ok := authParamEdit(p.Auth, m.authParam); ok {
		edits = append(edits, ed)
	}
	return &rewritten{body: applyEdits(body, m.fields, edits), model: model, streaming: s}, nil
}

// scanBody validates the body and finds the members the rewrite reads.
func scanBody(p *config.Plugin, body []byte, dst []field) (members, *apiError) {
	fields, err := topLevel(body, dst)
	if err != nil {
		return members{}, badRequest("invalid_json", err.Error())
	}
	m := members{fields: fields}
	for _, f := range fields {
		v := body[f.start:f.end]
		switch f.key {
		case "model":
			m.model = v
		case "stream":
			m.stream = v
		case "messages":
			m.hasPrompts = len(v) > 2 && v[0] == '[' && !isEmptyArray(v)
		case "prompt":
			if p.RouteType == config.RouteCompletions {
				m.hasPrompts = !bytes.Equal(v, []byte("null")) && !bytes.Equal(v, []byte(`""`)) && !isEmptyArray(v)
			}
		case "stream_options":
			m.streamOpts = v
		}
		if p.Auth.ParamLocation == "body" && f.key == p.Auth.ParamName {
			m.authParam = true
		}
	}
	return m, nil
}

// rewritePreserve passes the body through, except for the streaming policy,
// the client's key-auth key and the body auth param.
func rewritePreserve(p *config.Plugin, body []byte, m members, hideKey string) (*rewritten, *apiError) {
	rw := &rewritten{body: body}
	rw.stream = bytes.Equal(m.stream, []byte("true"))
	if p.ResponseStreaming == config.StreamDeny && rw.stream {
		return nil, badRequest("streaming_disabled", "response streaming is not enabled for this LLM")
	}
	var edits []edit
	if hideKey != "" {
		edits = append(edits, edit{key: hideKey})
	}
	if ed, ok := authParamEdit(p.Auth, m.authParam); ok {
		edits = append(edits, ed)
	}
	if len(edits) > 0 {
		rw.body = applyEdits(body, m.fields, edits)
	}
	return rw, nil
}

// streamingEdits applies response_streaming to the client's stream member,
// and asks for the usage chunk of a stream so that statistics have real
// numbers; the relay hides that chunk from a client that did not ask for it.
func streamingEdits(policy string, streamRaw, streamOpts []byte) (streaming, []edit, *apiError) {
	var s streaming
	var edits []edit
	switch {
	case bytes.Equal(streamRaw, []byte("true")):
		s.stream = true
	case len(streamRaw) == 0 || bytes.Equal(streamRaw, []byte("false")) || bytes.Equal(streamRaw, []byte("null")):
	default:
		return s, nil, badRequest("invalid_stream", "stream must be a boolean")
	}
	switch policy {
	case config.StreamDeny:
		if s.stream {
			return s, nil, badRequest("streaming_disabled", "response streaming is not enabled for this LLM")
		}
	case config.StreamAlways:
		if !s.stream {
			s.stream = true
			edits = append(edits, edit{key: "stream", value: []byte("true")})
		}
	}
	if !s.stream {
		return s, edits, nil
	}
	var so map[string]json.RawMessage
	if len(streamOpts) > 0 && !bytes.Equal(streamOpts, []byte("null")) {
		if err := json.Unmarshal(streamOpts, &so); err != nil {
			return s, nil, badRequest("invalid_stream_options", "stream_options must be an object")
		}
	}
	if bytes.Equal(bytes.TrimSpace(so["include_usage"]), []byte("true")) {
		return s, edits, nil
	}
	s.hideUsage = true
	if so == nil {
		return s, append(edits, edit{key: "stream_options", value: []byte(`{"include_usage":true}`)}), nil
	}
	so["include_usage"] = json.RawMessage("true")
	v, _ := json.Marshal(so)
	return s, append(edits, edit{key: "stream_options", value: v}), nil
}

// optionEdits are model.options' overrides of the client's sampling
// parameters.
func optionEdits(o config.ModelOptions) []edit {
	edits := make([]edit, 0, 4)
	if o.MaxTokens != nil {
		edits = append(edits, edit{key: "max_tokens", value: strconv.AppendInt(nil, int64(*o.MaxTokens), 10)})
	}
	if o.Temperature != nil {
		edits = append(edits, edit{key: "temperature", value: strconv.AppendFloat(nil, *o.Temperature, 'f', -1, 64)})
	}
	if o.TopP != nil {
		edits = append(edits, edit{key: "top_p", value: strconv.AppendFloat(nil, *o.TopP, 'f', -1, 64)})
	}
	// OpenAI has no top_k: Kong drops it rather than let the upstream reject
	// the request.
	return append(edits, edit{key: "top_k"})
}

// authParamEdit sets the configured body auth param, unless allow_override
// lets the client's own (present) one through.
func authParamEdit(a config.Auth, present bool) (edit, bool) {
	if a.ParamLocation != "body" || (present && a.AllowOverride) {
		return edit{}, false
	}
	return edit{key: a.ParamName, value: appendJSONString(nil, a.ParamValue)}, true
}

func isEmptyArray(v []byte) bool {
	if len(v) == 0 || v[0] != '[' {
		return false
	}
	i := skipSpace(v, 1)
	return i < len(v) && v[i] == ']'
}

package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// rewritten is the outcome of turning a client request into the upstream one.
type rewritten struct {
	body []byte
	// contentType is the upstream request's Content-Type ("" for no body).
	contentType string
	model       string // the model the upstream is asked for ("" when unknown in preserve)
	streaming
}

// streaming is the streaming policy's decision for one request.
type streaming struct {
	stream bool
	// hideUsage: the proxy asked for the usage chunk of a stream the client
	// did not ask for it in, so the relay hides it again.
	hideUsage bool
}

// input is a client request as the rewrite sees it.
type input struct {
	body        []byte
	contentType string
	configured  string   // the configured model, resolved ("" for none)
	hide        []string // body members holding key-auth keys, removed
	// balanced marks an ai-proxy-advanced target: the balancer chose it,
	// so its configured model replaces the client's instead of refusing
	// a different one (chooseModel).
	balanced bool
}

// members are the top-level members of a client's body that the rewrite
// reads. A repeated member counts by its last occurrence, as Go's decoder
// (and most others) read it; the edits then keep exactly one.
type members struct {
	fields        []field
	model         []byte
	stream        []byte
	streamOpts    []byte
	maxCompletion []byte
	repeated      bool // model or stream appears more than once
	chat          bool // messages is a non-empty array: an llm/v1/chat request
	completions   bool // prompt is a string: an llm/v1/completions request
	authParam     bool // the client sent the body auth param itself
}

// Edit values shared by every request; applyEdits only reads them.
var (
	jsonTrue     = []byte("true")
	jsonFalse    = []byte("false")
	includeUsage = []byte(`{"include_usage":true}`)
)

// controlled are the body members whose value the proxy decides or checks.
var controlled = []string{"model", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k"}

// rewriteBody applies Kong's ai-proxy request rules to a client's body: the
// request format, the model, the streaming policy, model.options overrides
// and, when configured, the auth parameter in the body.
func rewriteBody(p *config.Plugin, in input) (*rewritten, *apiError) {
	if p.RouteType == config.RoutePreserve {
		return rewritePreserve(p, in)
	}
	noPrompts := badRequest("invalid_prompts", "request body doesn't contain valid prompts")
	if !isJSONContentType(in.contentType) || len(in.body) == 0 {
		return nil, noPrompts
	}
	var arr [16]field
	m, e := scanBody(p, in, arr[:0])
	if e != nil {
		if e.code == "invalid_json" {
			return nil, noPrompts // as Kong: a body it cannot read has no prompts
		}
		return nil, e
	}
	if !m.chat && !m.completions {
		return nil, noPrompts
	}
	model, e := chooseModel(in.configured, m.model, in.balanced)
	if e != nil {
		return nil, e
	}
	if e := checkFormat(p.RouteType, m); e != nil {
		return nil, e
	}
	edits := make([]edit, 0, 12)
	edits = append(edits, edit{key: "model", value: appendJSONString(nil, model)})
	s, edits, e := streamingEdits(p.ResponseStreaming, m.stream, m.streamOpts, edits)
	if e != nil {
		return nil, e
	}
	if edits, e = optionEdits(p.Model.Options, m.maxCompletion, edits); e != nil {
		return nil, e
	}
	edits = append(edits, hideEdits(in.hide)...)
	if ed, ok := authParamEdit(p.Auth, m.authParam); ok {
		edits = append(edits, ed)
	}
	return &rewritten{body: applyEdits(in.body, m.fields, edits), contentType: "application/json", model: model, streaming: s}, nil
}

// isJSONContentType is Kong's test: a missing Content-Type counts as JSON,
// otherwise the media type must start with application/json.
func isJSONContentType(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, _ := strings.Cut(ct, ";")
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(mt)), "application/json")
}

// checkFormat is Kong's llm.is_compatible: the request's format must be the
// route's, and a request cannot be both.
func checkFormat(routeType string, m members) *apiError {
	format := config.RouteChat
	switch {
	case m.chat && m.completions:
		return badRequest("invalid_request_format", "request matches multiple LLM request formats")
	case m.completions:
		format = config.RouteCompletions
	}
	if format != routeType {
		return badRequest("invalid_request_format", "["+format+"] message format is not compatible with ["+routeType+"] route type")
	}
	return nil
}

// scanBody validates the body and finds the members the rewrite reads. A
// member whose name matches a controlled one only under case folding or
// escaping is refused: a decoder that matches names case-insensitively (Go's
// encoding/json: Ollama, LocalAI and many others) would read it as the
// controlled member, past every check made here.
func scanBody(p *config.Plugin, in input, dst []field) (members, *apiError) {
	fields, err := topLevel(in.body, dst)
	if err != nil {
		return members{}, badRequest("invalid_json", err.Error())
	}
	m := members{fields: fields}
	var models, streams int
	for _, f := range fields {
		if e := checkAmbiguous(p, f, in.hide); e != nil {
			return members{}, e
		}
		v := in.body[f.start:f.end]
		switch f.key {
		case "model":
			m.model, models = v, models+1
		case "stream":
			m.stream, streams = v, streams+1
		case "messages":
			m.chat = v[0] == '[' && !isEmptyArray(v)
		case "prompt":
			m.completions = v[0] == '"'
		case "stream_options":
			m.streamOpts = v
		case "max_completion_tokens":
			m.maxCompletion = v
		}
		if p.Auth.ParamLocation == "body" && f.key == p.Auth.ParamName && !contains(in.hide, f.key) {
			m.authParam = true
		}
	}
	m.repeated = models > 1 || streams > 1
	return m, nil
}

// checkAmbiguous refuses a member named like a controlled one (the fixed
// list, the body auth param, the key-auth key names) but not exactly so.
func checkAmbiguous(p *config.Plugin, f field, hide []string) *apiError {
	check := func(name string) *apiError {
		if name == "" || (f.key == name && !f.escaped) || !strings.EqualFold(f.key, name) {
			return nil
		}
		return &apiError{status: 400, typ: typeInvalidRequest, code: "ambiguous_parameter", param: name,
			message: fmt.Sprintf("request body member %q is ambiguous: it names %q with different case or escapes; send %q exactly", f.key, name, name)}
	}
	for _, name := range controlled {
		if e := check(name); e != nil {
			return e
		}
	}
	if p.Auth.ParamLocation == "body" {
		if e := check(p.Auth.ParamName); e != nil {
			return e
		}
	}
	for _, name := range hide {
		if e := check(name); e != nil {
			return e
		}
	}
	return nil
}

// streamDecision is whether the call streams: the client's stream member
// (absent, null, true or false; anything else is refused) under
// response_streaming, whose deny refuses a stream and always makes one.
func streamDecision(policy string, raw []byte) (bool, *apiError) {
	var stream bool
	switch {
	case bytes.Equal(raw, jsonTrue):
		stream = true
	case len(raw) == 0 || bytes.Equal(raw, jsonFalse) || bytes.Equal(raw, []byte("null")):
	default:
		return false, &apiError{status: 400, typ: typeInvalidRequest, code: "invalid_stream", param: "stream", message: "stream must be a boolean"}
	}
	switch policy {
	case config.StreamDeny:
		if stream {
			return false, badRequest("streaming_disabled", "response streaming is not enabled for this LLM")
		}
	case config.StreamAlways:
		stream = true
	}
	return stream, nil
}

// streamingEdits applies response_streaming to the client's stream member
// and writes the decision into the body, "stream": false included, as Kong
// does. It asks for the usage chunk of a stream so that statistics have
// real numbers; the relay hides that chunk from a client that did not ask
// for it. The edits are appended to edits.
func streamingEdits(policy string, streamRaw, streamOpts []byte, edits []edit) (streaming, []edit, *apiError) {
	var s streaming
	var e *apiError
	if s.stream, e = streamDecision(policy, streamRaw); e != nil {
		return s, nil, e
	}
	if !s.stream {
		return s, append(edits, edit{key: "stream", value: jsonFalse}), nil
	}
	edits = append(edits, edit{key: "stream", value: jsonTrue})
	var so map[string]json.RawMessage
	if len(streamOpts) > 0 && !bytes.Equal(streamOpts, []byte("null")) {
		if err := json.Unmarshal(streamOpts, &so); err != nil {
			return s, nil, &apiError{status: 400, typ: typeInvalidRequest, code: "invalid_stream_options", param: "stream_options", message: "stream_options must be an object"}
		}
	}
	if bytes.Equal(bytes.TrimSpace(so["include_usage"]), []byte("true")) {
		return s, edits, nil
	}
	s.hideUsage = true
	if so == nil {
		return s, append(edits, edit{key: "stream_options", value: includeUsage}), nil
	}
	so["include_usage"] = json.RawMessage("true")
	v, _ := json.Marshal(so)
	return s, append(edits, edit{key: "stream_options", value: v}), nil
}

// optionEdits are model.options' overrides of the client's sampling
// parameters. max_tokens caps max_completion_tokens too (OpenAI's current
// name for it, which reasoning models require): a client's larger value is
// lowered to the cap, a smaller one kept. Kong only sets max_tokens. The
// edits are appended to edits.
func optionEdits(o config.ModelOptions, maxCompletion []byte, edits []edit) ([]edit, *apiError) {
	if o.MaxTokens != nil {
		limit := int64(*o.MaxTokens)
		edits = append(edits, edit{key: "max_tokens", value: strconv.AppendInt(nil, limit, 10)})
		if len(maxCompletion) > 0 && !bytes.Equal(maxCompletion, []byte("null")) {
			n, err := strconv.ParseInt(string(maxCompletion), 10, 64)
			if err != nil {
				return nil, &apiError{status: 400, typ: typeInvalidRequest, code: "invalid_max_completion_tokens", param: "max_completion_tokens", message: "max_completion_tokens must be an integer"}
			}
			// Written back even when within the cap, so that only one
			// occurrence reaches the upstream.
			edits = append(edits, edit{key: "max_completion_tokens", value: strconv.AppendInt(nil, min(n, limit), 10)})
		}
	}
	if o.Temperature != nil {
		edits = append(edits, edit{key: "temperature", value: strconv.AppendFloat(nil, *o.Temperature, 'f', -1, 64)})
	}
	if o.TopP != nil {
		edits = append(edits, edit{key: "top_p", value: strconv.AppendFloat(nil, *o.TopP, 'f', -1, 64)})
	}
	// OpenAI has no top_k: Kong drops it rather than let the upstream reject
	// the request.
	return append(edits, edit{key: "top_k"}), nil
}

// hideEdits remove every member that holds a key-auth key.
func hideEdits(names []string) []edit {
	edits := make([]edit, len(names))
	for i, n := range names {
		edits[i] = edit{key: n}
	}
	return edits
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

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

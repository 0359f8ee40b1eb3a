package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/route"
)

// maxModelNameLen bounds a model name: it ends up in a response header and
// in log lines, so it must be short and printable.
const maxModelNameLen = 256

// rewritten is the outcome of turning a client request into the upstream one.
type rewritten struct {
	body   []byte
	model  string // the model the upstream is asked for ("" only for preserve)
	stream bool
	// wantsUsage is true when the client itself asked for the usage chunk of
	// a stream; when false and usage was injected, the relay hides it.
	wantsUsage     bool
	injectedUsage  bool
	clientOverride bool // the client's own body auth param was kept
}

// resolveModel computes the configured model name for this request:
// $(uri_captures.x) reads the edge's path parameters first, then the route's
// regex captures; $(headers.x) and $(query_params.x) read the request.
func resolveModel(p *config.Plugin, r *http.Request, captures map[string]string) (string, *apiError) {
	if p.Model.Name.IsZero() {
		return "", nil
	}
	params := route.ParamsFrom(r.Context())
	var query url.Values
	name, err := p.Model.Name.Resolve(func(source, key string) (string, bool) {
		switch source {
		case config.SourceURICaptures:
			if v, ok := params[key]; ok && v != "" {
				return v, true
			}
			v, ok := captures[key]
			return v, ok
		case config.SourceHeaders:
			v := r.Header.Get(key)
			return v, v != ""
		case config.SourceQueryParams:
			if query == nil {
				query = r.URL.Query()
			}
			v := query.Get(key)
			return v, v != ""
		}
		return "", false
	})
	if err != nil {
		var miss *config.MissingError
		if errors.As(err, &miss) {
			return "", badRequest("model_not_provided", miss.Error())
		}
		return "", badRequest("model_not_provided", err.Error())
	}
	return name, nil
}

// checkModelName rejects names that could inject into a header or a log
// line, or that no provider would accept.
func checkModelName(name string) *apiError {
	if len(name) > maxModelNameLen {
		return badRequest("invalid_model", "model name is longer than "+strconv.Itoa(maxModelNameLen)+" bytes")
	}
	if !utf8.ValidString(name) {
		return badRequest("invalid_model", "model name is not valid UTF-8")
	}
	for _, c := range name {
		if c <= ' ' || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029 {
			return badRequest("invalid_model", "model name must not contain whitespace or control characters")
		}
	}
	return nil
}

// rewriteBody applies Kong's ai-proxy request rules to a JSON body: the
// model, the streaming policy, model.options overrides and, when configured,
// the auth parameter in the body.
//
// hideKey names a body member holding the client's key-auth key, removed so
// that it never reaches the upstream.
func rewriteBody(p *config.Plugin, body []byte, configured, hideKey string) (*rewritten, *apiError) {
	if !json.Valid(body) {
		return nil, badRequest("invalid_json", "request body is not valid JSON")
	}
	var arr [16]field
	fields, err := topLevel(body, arr[:0])
	if err != nil {
		return nil, badRequest("invalid_json", err.Error())
	}
	var (
		bodyModel  []byte
		streamRaw  []byte
		hasPrompts bool
		streamOpts []byte
		authParam  bool
	)
	for _, f := range fields {
		v := body[f.start:f.end]
		switch f.key {
		case "model":
			bodyModel = v
		case "stream":
			streamRaw = v
		case "messages":
			hasPrompts = len(v) > 2 && v[0] == '[' && !isEmptyArray(v)
		case "prompt":
			if p.RouteType == config.RouteCompletions {
				hasPrompts = !bytes.Equal(v, []byte("null")) && !bytes.Equal(v, []byte(`""`)) && !isEmptyArray(v)
			}
		case "stream_options":
			streamOpts = v
		}
		if p.Auth.ParamLocation == "body" && f.key == p.Auth.ParamName {
			authParam = true
		}
	}
	rw := &rewritten{}

	if p.RouteType == config.RoutePreserve {
		rw.stream = bytes.Equal(streamRaw, []byte("true"))
		if p.ResponseStreaming == config.StreamDeny && rw.stream {
			return nil, badRequest("streaming_disabled", "response streaming is not enabled for this LLM")
		}
		rw.body = body
		var edits []edit
		if hideKey != "" {
			edits = append(edits, edit{key: hideKey})
		}
		if p.Auth.ParamLocation == "body" && !(authParam && p.Auth.AllowOverride) {
			edits = append(edits, edit{key: p.Auth.ParamName, value: appendJSONString(nil, p.Auth.ParamValue)})
		}
		if len(edits) > 0 {
			rw.body = applyEdits(body, fields, edits)
		}
		return rw, nil
	}

	if !hasPrompts {
		return nil, badRequest("invalid_prompts", "request body doesn't contain valid prompts")
	}

	// The model: configured wins; the body may repeat it but not change it.
	var clientModel string
	if len(bodyModel) > 0 && !bytes.Equal(bodyModel, []byte("null")) {
		if err := json.Unmarshal(bodyModel, &clientModel); err != nil {
			return nil, badRequest("invalid_model", "model must be a string")
		}
	}
	switch {
	case configured == "" && clientModel == "":
		return nil, badRequest("model_not_provided", "model parameter not found in request, nor in gateway configuration")
	case configured == "":
		rw.model = clientModel
	case clientModel != "" && clientModel != configured:
		return nil, badRequest("model_mismatch", "cannot use own model - must be: "+configured)
	default:
		rw.model = configured
	}
	if e := checkModelName(rw.model); e != nil {
		return nil, e
	}

	edits := make([]edit, 0, 8)
	edits = append(edits, edit{key: "model", value: appendJSONString(nil, rw.model)})

	switch {
	case bytes.Equal(streamRaw, []byte("true")):
		rw.stream = true
	case len(streamRaw) == 0 || bytes.Equal(streamRaw, []byte("false")) || bytes.Equal(streamRaw, []byte("null")):
	default:
		return nil, badRequest("invalid_stream", "stream must be a boolean")
	}
	switch p.ResponseStreaming {
	case config.StreamDeny:
		if rw.stream {
			return nil, badRequest("streaming_disabled", "response streaming is not enabled for this LLM")
		}
	case config.StreamAlways:
		if !rw.stream {
			rw.stream = true
			edits = append(edits, edit{key: "stream", value: []byte("true")})
		}
	}

	// Ask for the usage chunk of a stream so statistics have real numbers;
	// the relay hides it from a client that did not ask for it.
	if rw.stream {
		var so map[string]json.RawMessage
		if len(streamOpts) > 0 && !bytes.Equal(streamOpts, []byte("null")) {
			if err := json.Unmarshal(streamOpts, &so); err != nil {
				return nil, badRequest("invalid_stream_options", "stream_options must be an object")
			}
		}
		rw.wantsUsage = bytes.Equal(bytes.TrimSpace(so["include_usage"]), []byte("true"))
		if !rw.wantsUsage {
			rw.injectedUsage = true
			if so == nil {
				edits = append(edits, edit{key: "stream_options", value: []byte(`{"include_usage":true}`)})
			} else {
				so["include_usage"] = json.RawMessage("true")
				v, _ := json.Marshal(so)
				edits = append(edits, edit{key: "stream_options", value: v})
			}
		}
	}

	o := p.Model.Options
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
	edits = append(edits, edit{key: "top_k"})
	if hideKey != "" {
		edits = append(edits, edit{key: hideKey})
	}

	if p.Auth.ParamLocation == "body" {
		if authParam && p.Auth.AllowOverride {
			rw.clientOverride = true
		} else {
			edits = append(edits, edit{key: p.Auth.ParamName, value: appendJSONString(nil, p.Auth.ParamValue)})
		}
	}
	rw.body = applyEdits(body, fields, edits)
	return rw, nil
}

func isEmptyArray(v []byte) bool {
	if len(v) == 0 || v[0] != '[' {
		return false
	}
	i := skipSpace(v, 1)
	return i < len(v) && v[i] == ']'
}

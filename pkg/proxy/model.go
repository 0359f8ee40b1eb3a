package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// maxModelNameLen bounds a model name: it ends up in a response header and
// in log lines, so it must be short and printable.
const maxModelNameLen = 256

// resolveModel computes the configured model name for this request.
func resolveModel(p *config.Plugin, lookup config.Lookup) (string, *apiError) {
	if p.Model.Name.IsZero() {
		return "", nil
	}
	name, err := p.Model.Name.Resolve(lookup)
	if err != nil {
		return "", badRequest("model_not_provided", err.Error())
	}
	return name, nil
}

// templateLookup answers the $(source.key) references of the model's
// templates from one request: $(uri_captures.x) reads the edge's path
// parameters (r.PathValue) first, then the route's regex captures;
// $(headers.x) reads a header, with _ and - alike as in Kong;
// $(query_params.x) reads the query.
func templateLookup(r *http.Request, captures map[string]string) config.Lookup {
	var query url.Values
	return func(source, key string) (string, bool) {
		switch source {
		case config.SourceURICaptures:
			if v := r.PathValue(key); v != "" {
				return v, true
			}
			v, ok := captures[key]
			return v, ok
		case config.SourceHeaders:
			v := r.Header.Get(strings.ReplaceAll(key, "_", "-"))
			return v, v != ""
		case config.SourceQueryParams:
			if query == nil {
				query = r.URL.Query()
			}
			v := query.Get(key)
			return v, v != ""
		}
		return "", false
	}
}

// chooseModel decides the model the upstream is asked for: the configured
// one wins, and the body may repeat it but not change it; with none
// configured the body's model is used. For a target the balancer chose
// (balanced), the configured model replaces any the body names: every
// OpenAI SDK sends a model, and refusing it would leave every target of
// another model out of the failover that the configuration asks for;
// the client still gets no model the configuration does not name.
func chooseModel(configured string, bodyModel []byte, balanced bool) (string, *apiError) {
	client, plain := plainString(bodyModel, configured)
	if !plain && len(bodyModel) > 0 && !bytes.Equal(bodyModel, []byte("null")) {
		if err := json.Unmarshal(bodyModel, &client); err != nil {
			return "", badRequest("invalid_model", "model must be a string")
		}
	}
	var model string
	switch {
	case configured == "" && client == "":
		return "", badRequest("model_not_provided", "model parameter not found in request, nor in gateway configuration")
	case configured == "":
		model = client
	case client != "" && client != configured && !balanced:
		return "", badRequest("model_mismatch", "cannot use own model - must be: "+configured)
	default:
		model = configured
	}
	if e := checkModelName(model); e != nil {
		return "", e
	}
	return model, nil
}

// plainString reads a JSON string without escapes whose bytes are valid
// UTF-8, which encoding/json would decode to exactly its bytes, without
// reflection (and without a copy when it names the configured model). It
// reports false for anything else, which encoding/json then decides.
func plainString(v []byte, configured string) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	in := v[1 : len(v)-1]
	if bytes.IndexByte(in, '\\') >= 0 || !utf8.Valid(in) {
		return "", false
	}
	if string(in) == configured {
		return configured, true
	}
	return string(in), true
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

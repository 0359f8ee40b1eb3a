package proxy

import (
	"net/http"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// The model list: GET /v1/models, GET /v1/models/{id}, and the same under
// a route's prefix (GET <prefix>/models, where <prefix> is the base URL a
// client is given: a POST to <prefix>/chat/completions, /responses,
// /embeddings, /completions or /messages matches a route), answered from
// the loaded configuration alone, never upstream. It lists what the routes
// in scope serve (all routes for /v1/models; those reachable under the
// prefix otherwise): each plugin's fixed model name, the literal names a
// templated name can take when its $(uri_captures.x) group in the route's
// regex is a finite alternation (the allow-list: "(?<model>gpt-4o|
// gpt-4o-mini)"), and model.model_alias. A templated name with no such
// allow-list (a header, a query parameter, "[^/]+") lists nothing rather
// than "*". A route behind key-auth lists only for a caller whose key it
// accepts; a key that no route in scope accepts is a 401, and so is no key
// when every route in scope needs one. A request with an anthropic-version header gets
// Anthropic's shape (type: model, display_name, has_more, first_id,
// last_id), which Claude Code's gateway discovery reads.

// modelsCreated is the "created" of every listed model: when this process
// loaded its code, since a configuration carries no dates.
var modelsCreated = time.Now().Unix()

// maxListedPerRoute bounds the names one route's allow-list expands to.
const maxListedPerRoute = 256

// modelSuffixes are the client API paths a base URL serves.
var modelSuffixes = []string{"/chat/completions", "/responses", "/embeddings", "/completions", "/messages"}

type listedModel struct {
	id, owner string
}

// serveModels answers a model-list request and reports whether it was one.
func (h *Handler) serveModels(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	p := cleanPath(r.URL.Path)
	prefix, id, ok := modelsPath(p)
	if !ok {
		return false
	}
	cfg, err := h.src.Current(r.Context())
	if err != nil {
		return false // the usual path answers 503
	}
	if rt, _, allowed := cfg.Match(r.Method, r.Host, p, r.Header); rt != nil && allowed && rt.Plugin != nil && rt.Plugin.RouteType == config.RoutePreserve {
		// A preserve route relays what it matches, the model list
		// included, as Kong does: the operator asked for the upstream's.
		return false
	}
	var routes []*config.Route
	if prefix == "/v1" || prefix == "" {
		routes = cfg.Routes
	} else {
		seen := map[*config.Route]bool{}
		for _, s := range modelSuffixes {
			if rt, _, _ := cfg.Match(http.MethodPost, r.Host, prefix+s, r.Header); rt != nil && !seen[rt] {
				seen[rt] = true
				routes = append(routes, rt)
			}
		}
		if len(routes) == 0 {
			return false // not a base URL of this deployment
		}
	}
	anthropic := r.Header.Get("Anthropic-Version") != ""
	list, e := listModels(routes, r)
	if e != nil {
		writeModelsError(w, e, anthropic)
		return true
	}
	if id != "" {
		for _, m := range list {
			if m.id == id {
				writeModelsJSON(w, http.StatusOK, appendModel(nil, m, anthropic))
				return true
			}
		}
		writeModelsError(w, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found", param: "model",
			message: "The model " + strconv.Quote(truncate(id, 200)) + " does not exist or is not served here"}, anthropic)
		return true
	}
	writeModelsJSON(w, http.StatusOK, appendList(list, anthropic))
	return true
}

// modelsPath splits <prefix>/models[/<id>].
func modelsPath(p string) (prefix, id string, ok bool) {
	if strings.HasSuffix(p, "/models") {
		return strings.TrimSuffix(p, "/models"), "", true
	}
	if strings.HasSuffix(p, "/models/") {
		return strings.TrimSuffix(p, "/models/"), "", true
	}
	i := strings.Index(p, "/models/")
	if i < 0 {
		return "", "", false
	}
	return p[:i], p[i+len("/models/"):], true
}

// listModels lists what routes serve to this caller.
func listModels(routes []*config.Route, r *http.Request) ([]listedModel, *apiError) {
	var out []listedModel
	seen := map[string]bool{}
	keyRoutes, admitted := 0, 0
	presented := false
	var refusal *apiError
	noBody := func() ([]byte, *apiError) { return []byte{}, nil }
	for _, rt := range routes {
		if rt.KeyAuth != nil {
			keyRoutes++
			k, _, e := authenticate(rt.KeyAuth, r, noBody, rt.Plugin != nil && rt.Plugin.LLMFormat == config.FormatAnthropic)
			if e != nil {
				refusal, presented = e, presented || k.key != ""
				continue
			}
			admitted++
		}
		for _, id := range routeModels(rt) {
			if !seen[id] {
				seen[id] = true
				out = append(out, listedModel{id: id, owner: rt.Plugin.Model.Provider})
			}
		}
	}
	// A key that no route accepts is refused, so that a client checking
	// its key here learns the truth; without a key, the open routes list.
	if keyRoutes > 0 && admitted == 0 && (presented || keyRoutes == len(routes)) {
		return nil, refusal
	}
	return out, nil
}

// routeModels are the model names one route serves.
func routeModels(rt *config.Route) []string {
	m := rt.Plugin.Model
	var out []string
	switch {
	case m.Name.IsZero():
	case m.Name.IsStatic():
		out = append(out, m.Name.Raw)
	default:
		out = append(out, allowList(rt, m.Name.Raw)...)
	}
	if m.Alias != "" {
		out = append(out, m.Alias)
	}
	return out
}

// allowList expands a name that is exactly one $(uri_captures.x) into the
// literals its capture group admits, from every regex path of the route.
func allowList(rt *config.Route, name string) []string {
	key, ok := strings.CutPrefix(name, "$("+config.SourceURICaptures+".")
	if !ok || !strings.HasSuffix(key, ")") || strings.Contains(key, "$(") {
		return nil
	}
	key = strings.TrimSuffix(key, ")")
	var out []string
	for _, p := range rt.Paths {
		expr, ok := strings.CutPrefix(p.Source, "~")
		if !ok {
			continue
		}
		re, err := syntax.Parse(expr, syntax.Perl)
		if err != nil {
			continue
		}
		if g := findCapture(re, key); g != nil {
			if lits, ok := literals(g, maxListedPerRoute); ok {
				out = append(out, lits...)
			}
		}
	}
	return out
}

func findCapture(re *syntax.Regexp, name string) *syntax.Regexp {
	if re.Op == syntax.OpCapture && re.Name == name && len(re.Sub) == 1 {
		return re.Sub[0]
	}
	for _, s := range re.Sub {
		if g := findCapture(s, name); g != nil {
			return g
		}
	}
	return nil
}

// literals enumerates the finite language of re, up to limit strings;
// false when it is not finite, too large, or case-insensitive.
func literals(re *syntax.Regexp, limit int) ([]string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return nil, false
		}
		return []string{string(re.Rune)}, true
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpCapture:
		return literals(re.Sub[0], limit)
	case syntax.OpCharClass:
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for c := re.Rune[i]; c <= re.Rune[i+1]; c++ {
				if len(out) >= limit {
					return nil, false
				}
				out = append(out, string(c))
			}
		}
		return out, true
	case syntax.OpQuest:
		sub, ok := literals(re.Sub[0], limit-1)
		return append([]string{""}, sub...), ok
	case syntax.OpAlternate:
		var out []string
		for _, s := range re.Sub {
			sub, ok := literals(s, limit-len(out))
			if !ok {
				return nil, false
			}
			out = append(out, sub...)
		}
		return out, len(out) <= limit
	case syntax.OpConcat:
		out := []string{""}
		for _, s := range re.Sub {
			sub, ok := literals(s, limit)
			if !ok || len(out)*len(sub) > limit {
				return nil, false
			}
			next := make([]string, 0, len(out)*len(sub))
			for _, a := range out {
				for _, b := range sub {
					next = append(next, a+b)
				}
			}
			out = next
		}
		return out, true
	}
	return nil, false
}

func appendModel(b []byte, m listedModel, anthropic bool) []byte {
	if anthropic {
		b = append(b, `{"type":"model","id":`...)
		b = appendJSONString(b, m.id)
		b = append(b, `,"display_name":`...)
		b = appendJSONString(b, m.id)
		b = append(b, `,"created_at":`...)
		b = appendJSONString(b, time.Unix(modelsCreated, 0).UTC().Format(time.RFC3339))
		return append(b, '}')
	}
	b = append(b, `{"id":`...)
	b = appendJSONString(b, m.id)
	b = append(b, `,"object":"model","created":`...)
	b = strconv.AppendInt(b, modelsCreated, 10)
	b = append(b, `,"owned_by":`...)
	b = appendJSONString(b, m.owner)
	return append(b, '}')
}

func appendList(list []listedModel, anthropic bool) []byte {
	b := []byte(`{"object":"list","data":[`)
	if anthropic {
		b = []byte(`{"data":[`)
	}
	for i, m := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendModel(b, m, anthropic)
	}
	b = append(b, ']')
	if anthropic {
		b = append(b, `,"has_more":false,"first_id":`...)
		if len(list) > 0 {
			b = appendJSONString(b, list[0].id)
			b = append(b, `,"last_id":`...)
			b = appendJSONString(b, list[len(list)-1].id)
		} else {
			b = append(b, `null,"last_id":null`...)
		}
	}
	return append(b, '}')
}

func writeModelsJSON(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeModelsError answers in OpenAI's shape, or Anthropic's.
func writeModelsError(w http.ResponseWriter, e *apiError, anthropic bool) {
	if !anthropic {
		writeError(w, e)
		return
	}
	typ := "invalid_request_error"
	switch e.status {
	case http.StatusUnauthorized:
		typ = "authentication_error"
	case http.StatusNotFound:
		typ = "not_found_error"
	}
	for k, v := range e.header {
		w.Header()[k] = v
	}
	b := []byte(`{"type":"error","error":{"type":"` + typ + `","message":`)
	b = appendJSONString(b, e.message)
	writeModelsJSON(w, e.status, append(b, "}}"...))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

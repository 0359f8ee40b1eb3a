package proxy

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/clientapi/messages"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// Anthropic's Messages API in (llm_format: anthropic). A request to
// .../v1/messages or .../v1/messages/count_tokens under the route's path
// takes one of two ways, decided here, in shape:
//
//   - native, a driver that is a provider.MessagesDriver (Anthropic's API,
//     Claude on Bedrock): the driver is handed the Messages body with the
//     policy applied and names the upstream; Anthropic's is relayed byte for
//     byte, Bedrock's transport answers in Anthropic's format; usage is read
//     from Anthropic's answer (messages_answer.go);
//   - the hub, every other driver: the request is translated to OpenAI chat
//     (pkg/clientapi/messages), the chat path runs as for any chat request,
//     and the chat answer is translated back (messages_answer.go).
//
// Every error on these routes, the proxy's own included, is in Anthropic's
// shape with Anthropic's status.

// messagesPlan is what shape decided for a Messages request.
type messagesPlan struct {
	count  bool // /v1/messages/count_tokens
	native bool // the upstream speaks Messages: no translation
}

const (
	messagesSuffix = "/v1/messages"
	countSuffix    = "/v1/messages/count_tokens"
)

// isMessagesPath reports a path a Messages client calls.
func isMessagesPath(p string) bool {
	p = cleanPath(p)
	return strings.HasSuffix(p, messagesSuffix) || strings.HasSuffix(p, countSuffix)
}

// anthropicErrors decides the shape of the proxy's own errors for a
// request: the route's format once a route matched, else the path's.
func anthropicErrors(r *http.Request, pl *plan) bool {
	if pl != nil && pl.plugin != nil {
		return pl.plugin.LLMFormat == config.FormatAnthropic
	}
	return isMessagesPath(r.URL.Path)
}

// nativeMessages reports a request whose upstream answers in Anthropic's
// format.
func (pl *plan) nativeMessages() bool { return pl.msgs != nil && pl.msgs.native }

// shapeMessages is shape for llm_format: anthropic.
func (pl *plan) shapeMessages(rt *config.Route, r *http.Request, captures map[string]string, key presented, drivers provider.Set) *apiError {
	p := rt.Plugin
	mp := &messagesPlan{}
	pl.msgs = mp
	path := cleanPath(r.URL.Path)
	switch {
	case strings.HasSuffix(path, countSuffix):
		mp.count = true
	case strings.HasSuffix(path, messagesSuffix):
	default:
		return &apiError{status: http.StatusNotFound, typ: typeInvalidRequest, code: "route_not_found",
			message: "this route serves Anthropic's Messages API: POST .../v1/messages or .../v1/messages/count_tokens, not " + safePath(r.URL.Path)}
	}
	if r.Method != http.MethodPost {
		return &apiError{status: http.StatusMethodNotAllowed, typ: typeInvalidRequest, code: "method_not_allowed",
			message: "method " + r.Method + " is not allowed: the Messages API takes POST", header: http.Header{"Allow": {"POST"}}}
	}
	if !isJSONContentType(r.Header.Get("Content-Type")) {
		return badRequest("invalid_request_format", "the Messages API takes a JSON body (Content-Type: application/json)")
	}
	lookup := templateLookup(r, captures)
	configured, e := resolveModel(p, lookup)
	if e != nil {
		return e
	}
	body := pl.requestBody
	if rt.KeyAuth != nil && rt.KeyAuth.KeyInBody {
		if body, e = withoutMembers(body, rt.KeyAuth.KeyNames); e != nil {
			return e
		}
	}
	clientModel, e := messagesClientModel(body)
	if e != nil {
		return e
	}
	model, e := messagesModel(p, configured, clientModel)
	if e != nil {
		return e
	}
	d := drivers[p.Model.Provider]
	md, hasNative := d.(provider.MessagesDriver)
	switch {
	case d == nil:
		return &apiError{status: http.StatusNotImplemented, message: "provider " + p.Model.Provider + " is not served by this build", typ: typeServer, code: "provider_not_available"}
	case hasNative:
		mp.native = true
		e = pl.shapeNativeDriver(md, rt, r, body, model, lookup)
	case mp.count:
		return &apiError{status: http.StatusNotFound, typ: typeInvalidRequest, code: "count_tokens_unavailable",
			message: "count_tokens is not available for provider " + p.Model.Provider + ": it has no token counting of its own, and this proxy does not make counts up"}
	default:
		e = pl.shapeHub(d, rt, r, body, model, lookup)
	}
	if e != nil {
		return e
	}
	// What the tokens cost, for the statistics and a cost budget: the
	// configured costs, else the driver's list price for the model.
	pl.price = priceFor(p, d, pl.model)
	pl.keepAuthHeader = keepAuthHeader(p.Auth, rt.KeyAuth, r, key)
	return nil
}

// messagesClientModel reads the body's model: a Messages request names one.
func messagesClientModel(body []byte) (string, *apiError) {
	var arr [16]field
	fields, err := topLevel(body, arr[:0])
	if err != nil {
		return "", badRequest("invalid_json", "the request body is not a JSON object: "+err.Error())
	}
	model := ""
	for _, f := range fields {
		if f.key == "model" {
			v := body[f.start:f.end]
			if err := json.Unmarshal(v, &model); err != nil {
				return "", &apiError{status: http.StatusBadRequest, typ: typeInvalidRequest, code: "invalid_model", param: "model", message: "model must be a string"}
			}
		}
	}
	return model, nil
}

// messagesModel turns the model name a Messages client sent into the model
// id the upstream is asked for: model_aliases first (exact name, then
// "*"), then the configured model under its own name or model_alias; with
// neither aliases nor a configured model the client's name goes as is.
// Anything else is a 400 naming the alias to set: Claude Code chooses its
// own names (a dated Sonnet, a Haiku for background work).
func messagesModel(p *config.Plugin, configured, client string) (string, *apiError) {
	if id, ok := p.ModelAliases[client]; ok && client != "" {
		return id, nil
	}
	switch {
	case configured != "" && (client == configured || client == "" || (p.Model.Alias != "" && client == p.Model.Alias)):
		return configured, nil
	case p.ModelAliases[config.AliasAny] != "":
		return p.ModelAliases[config.AliasAny], nil
	case configured == "" && len(p.ModelAliases) == 0:
		if client == "" {
			return "", &apiError{status: http.StatusBadRequest, typ: typeInvalidRequest, code: "model_not_provided", param: "model", message: "model: field required"}
		}
		return client, checkModelName(client)
	}
	known := make([]string, 0, len(p.ModelAliases)+2)
	for k := range p.ModelAliases {
		known = append(known, k)
	}
	if configured != "" {
		known = append(known, configured)
	}
	if p.Model.Alias != "" {
		known = append(known, p.Model.Alias)
	}
	sort.Strings(known)
	name := client
	if len(name) > 100 {
		name = name[:100] + "..."
	}
	return "", &apiError{status: http.StatusBadRequest, typ: typeInvalidRequest, code: "model_not_configured", param: "model",
		message: "model " + safePath(name) + " is not configured on this route: add it to model_aliases (the ai-proxy plugin's, or each ai-proxy-advanced target's: model_aliases: {" + safePath(name) + ": <model id>}, or \"*\" for every name); names served now: " + strings.Join(known, ", ")}
}

// withoutMembers removes top-level members (key-auth keys in the body).
func withoutMembers(body []byte, names []string) ([]byte, *apiError) {
	var arr [16]field
	fields, err := topLevel(body, arr[:0])
	if err != nil {
		return nil, badRequest("invalid_json", "the request body is not a JSON object: "+err.Error())
	}
	return applyEdits(body, fields, hideEdits(names)), nil
}

// shapeHub translates the Messages request to chat and runs the chat path.
func (pl *plan) shapeHub(d provider.Driver, rt *config.Route, r *http.Request, body []byte, model string, lookup config.Lookup) *apiError {
	p := rt.Plugin
	req, err := messages.Decode(body)
	if err != nil {
		return driverError(err)
	}
	cr, err := messages.ToChat(req, model)
	if err != nil {
		return driverError(err)
	}
	chatBody, err := json.Marshal(cr)
	if err != nil {
		return badRequest("invalid_request", "the request could not be translated")
	}
	rw, e := rewriteBody(p, input{body: chatBody, contentType: "application/json", configured: model})
	if e != nil {
		return e
	}
	pl.rewritten = *rw
	call := &provider.Call{Plugin: p, Model: pl.model, Stream: pl.stream, Body: pl.body}
	// The client's query is Anthropic's (Claude Code sends ?beta=true): it
	// means nothing to a chat upstream.
	noQuery := *r
	u := *r.URL
	u.RawQuery = ""
	noQuery.URL = &u
	up, e := upstream(d, call, &noQuery, rt.KeyAuth, lookup)
	if e != nil {
		return e
	}
	pl.reach(up)
	return nil
}

// shapeNativeDriver hands the policed Messages body to a driver's native
// Messages path.
func (pl *plan) shapeNativeDriver(md provider.MessagesDriver, rt *config.Route, r *http.Request, body []byte, model string, lookup config.Lookup) *apiError {
	p := rt.Plugin
	rw, e := rewriteMessages(p, body, model, pl.msgs.count)
	if e != nil {
		return e
	}
	pl.rewritten = *rw
	base, e := configuredUpstream(p, lookup)
	if e != nil {
		return e
	}
	h := http.Header{}
	for _, k := range []string{"Anthropic-Version", "Anthropic-Beta"} {
		if v := r.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	call := &provider.MessagesCall{Plugin: p, Model: pl.model, Stream: pl.stream, CountTokens: pl.msgs.count, Body: pl.body, Header: h, Upstream: base}
	up, err := md.PrepareMessages(call)
	if err != nil {
		return driverError(err)
	}
	// A relay carries the client's query (Claude Code's ?beta=true) as it
	// carries the body; a driver's own transport reads none.
	client := ""
	if up.Transport == nil {
		client = r.URL.RawQuery
	}
	u := *up.URL
	u.RawQuery = upstreamQuery(p.Auth, u.RawQuery, client, rt.KeyAuth)
	up.URL = &u
	pl.reach(up)
	return nil
}

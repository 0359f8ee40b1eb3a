package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/clientapi/responses"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// The client APIs beside chat: OpenAI's Responses API (llm/v1/responses)
// and embeddings (llm/v1/embeddings). A driver that serves one natively
// (provider.NativeAPI: OpenAI, Azure) gets the client's request with the
// proxy's policy applied to it as it is, and the answer is relayed byte
// for byte, as for chat. Any other driver meets a Responses request
// through the chat hub: it is translated to a chat request (package
// clientapi/responses), the chat policy applies to that once, the driver
// answers chat, and apiTranslation turns the answer (JSON, or the chunk
// stream as it flows) back into the Responses API's. Embeddings need a
// driver that is a provider.Embedder.

// apiTranslation is the plan of a Responses request served through chat.
type apiTranslation struct {
	model string
	echo  responses.Echo
}

// rewriteAPI is rewriteBody for every route type: it returns the rewritten
// request, the plugin the driver is called with (a chat copy for a
// translated request) and the translation, if one is needed.
func rewriteAPI(p *config.Plugin, in input, d provider.Driver) (*rewritten, *config.Plugin, *apiTranslation, *apiError) {
	switch p.RouteType {
	case config.RouteResponses:
		if d != nil && !provider.Native(d, config.RouteResponses) {
			return translateResponses(p, in)
		}
		rw, e := rewriteNative(p, in)
		return rw, p, nil, e
	case config.RouteEmbeddings:
		if _, ok := d.(provider.Embedder); d != nil && !ok && !provider.Native(d, config.RouteEmbeddings) {
			return nil, nil, nil, &apiError{status: http.StatusBadRequest, typ: typeInvalidRequest, code: "unsupported_route_type",
				message: "provider " + p.Model.Provider + " does not serve embeddings in this build"}
		}
		rw, e := rewriteNative(p, in)
		return rw, p, nil, e
	}
	rw, e := rewriteBody(p, in)
	return rw, p, nil, e
}

// translateResponses makes a Responses request a chat request and applies
// the chat policy to it.
func translateResponses(p *config.Plugin, in input) (*rewritten, *config.Plugin, *apiTranslation, *apiError) {
	if !isJSONContentType(in.contentType) || len(in.body) == 0 {
		return nil, nil, nil, badRequest("invalid_body", "the request body must be a JSON object")
	}
	skip := in.hide
	if p.Auth.ParamLocation == "body" {
		skip = append(append([]string(nil), skip...), p.Auth.ParamName)
	}
	tr, err := responses.Request(in.body, skip)
	if err != nil {
		return nil, nil, nil, driverError(err)
	}
	cp := *p
	cp.RouteType = config.RouteChat
	chatIn := input{body: tr.Chat, contentType: "application/json", configured: in.configured}
	rw, e := rewriteBody(&cp, chatIn)
	if e != nil {
		return nil, nil, nil, e
	}
	// The translation reads the usage chunk and reports it in the final
	// event: nothing is hidden from a Responses client.
	rw.hideUsage = false
	return rw, &cp, &apiTranslation{model: rw.model, echo: tr.Echo}, nil
}

// rewriteNative applies the policy to a Responses or embeddings request
// relayed as it is: the model (the configured one wins; the body may
// repeat it, not change it), and for Responses the streaming policy (no
// stream_options: a Responses stream always ends with its usage),
// max_output_tokens capped by model.options.max_tokens, and the sampling
// overrides; key-auth keys removed and the body auth param set.
func rewriteNative(p *config.Plugin, in input) (*rewritten, *apiError) {
	if !isJSONContentType(in.contentType) || len(in.body) == 0 {
		return nil, badRequest("invalid_body", "the request body must be a JSON object")
	}
	var arr [16]field
	m, e := scanBody(p, in, arr[:0])
	if e != nil {
		return nil, e
	}
	model, e := chooseModel(in.configured, m.model, in.balanced)
	if e != nil {
		return nil, e
	}
	edits := make([]edit, 0, 8)
	edits = append(edits, edit{key: "model", value: appendJSONString(nil, model)})
	var s streaming
	if p.RouteType == config.RouteResponses {
		var maxOut []byte
		for _, f := range m.fields {
			if f.key == "max_output_tokens" {
				maxOut = in.body[f.start:f.end]
			} else if strings.EqualFold(f.key, "max_output_tokens") || (f.escaped && strings.EqualFold(f.key, "max_output_tokens")) {
				return nil, &apiError{status: 400, typ: typeInvalidRequest, code: "ambiguous_parameter", param: "max_output_tokens",
					message: "request body member " + strconv.Quote(f.key) + " is ambiguous: send \"max_output_tokens\" exactly"}
			}
		}
		if s, edits, e = responsesStreaming(p.ResponseStreaming, m.stream, edits); e != nil {
			return nil, e
		}
		o := p.Model.Options
		if o.MaxTokens != nil {
			limit := int64(*o.MaxTokens)
			if len(maxOut) > 0 && string(maxOut) != "null" {
				n, err := strconv.ParseInt(string(maxOut), 10, 64)
				if err != nil {
					return nil, &apiError{status: 400, typ: typeInvalidRequest, code: "invalid_max_output_tokens", param: "max_output_tokens", message: "max_output_tokens must be an integer"}
				}
				limit = min(n, limit)
			}
			edits = append(edits, edit{key: "max_output_tokens", value: strconv.AppendInt(nil, limit, 10)})
		}
		if o.Temperature != nil {
			edits = append(edits, edit{key: "temperature", value: strconv.AppendFloat(nil, *o.Temperature, 'f', -1, 64)})
		}
		if o.TopP != nil {
			edits = append(edits, edit{key: "top_p", value: strconv.AppendFloat(nil, *o.TopP, 'f', -1, 64)})
		}
		edits = append(edits, edit{key: "top_k"})
	}
	edits = append(edits, hideEdits(in.hide)...)
	if ed, ok := authParamEdit(p.Auth, m.authParam); ok {
		edits = append(edits, ed)
	}
	return &rewritten{body: applyEdits(in.body, m.fields, edits), contentType: "application/json", model: model, streaming: s}, nil
}

// responsesStreaming applies response_streaming to a Responses request.
func responsesStreaming(policy string, raw []byte, edits []edit) (streaming, []edit, *apiError) {
	var s streaming
	var e *apiError
	if s.stream, e = streamDecision(policy, raw); e != nil {
		return s, nil, e
	}
	if s.stream {
		return s, append(edits, edit{key: "stream", value: jsonTrue}), nil
	}
	return s, append(edits, edit{key: "stream", value: jsonFalse}), nil
}

// prepareCall asks the driver for the call: PrepareEmbeddings for an
// embeddings call to a driver that translates them, else Prepare.
func prepareCall(d provider.Driver, call *provider.Call) (provider.Upstream, error) {
	if call.Plugin.RouteType == config.RouteEmbeddings && !provider.Native(d, config.RouteEmbeddings) {
		if e, ok := d.(provider.Embedder); ok {
			return e.PrepareEmbeddings(call)
		}
	}
	return d.Prepare(call)
}

// maxTranslatedAnswer bounds a chat answer read whole to be translated.
const maxTranslatedAnswer = 32 << 20

// roundTrip carries a translated Responses request through inner (the
// driver's transport, or the shared HTTP one) and translates its answer.
// An error answer passes as it is: OpenAI's error object is the Responses
// API's too.
func (a *apiTranslation) roundTrip(r *http.Request, inner http.RoundTripper) (*http.Response, error) {
	// Let the HTTP transport ask for gzip and decode it itself: the
	// translation reads the answer.
	r.Header.Del("Accept-Encoding")
	res, err := inner.RoundTrip(r)
	if err != nil || res.StatusCode >= 300 {
		return res, err
	}
	if isEventStream(res.Header.Get("Content-Type")) {
		res.Body = responses.NewStream(res.Body, a.model, &a.echo)
		res.Header.Del("Content-Length")
		res.Header.Del("Content-Encoding")
		res.ContentLength = -1
		return res, nil
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxTranslatedAnswer+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxTranslatedAnswer {
		return provider.ErrorResponse(r, &provider.Error{Status: http.StatusBadGateway, Type: typeServer, Code: "answer_too_large", Message: "the upstream answer is larger than this gateway translates"}), nil
	}
	out, err := responses.Answer(b, a.model, &a.echo)
	if err != nil {
		var pe *provider.Error
		if errors.As(err, &pe) {
			return provider.ErrorResponse(r, pe), nil
		}
		return nil, err
	}
	tr := provider.JSONResponse(r, res.StatusCode, out)
	for k, v := range res.Header {
		if k != "Content-Length" && k != "Content-Type" && k != "Content-Encoding" {
			tr.Header[k] = v
		}
	}
	return tr, nil
}

// keepResponses reads one Responses API event on its way to the client:
// the model and usage of the final response, the text for the estimate.
// Every event is relayed.
func (s *sseRelay) keepResponses(data []byte) bool {
	var arr [8]field
	fields, err := topLevel(data, arr[:0])
	if err != nil {
		return true
	}
	var typ, resp, delta []byte
	for _, f := range fields {
		v := data[f.start:f.end]
		switch f.key {
		case "type":
			typ = v
		case "response":
			resp = v
		case "delta":
			delta = v
		case "sequence_number":
			if n, err := strconv.Atoi(string(v)); err == nil {
				s.seq = n + 1
			}
		}
	}
	t := jsonString(typ)
	if strings.HasSuffix(t, ".delta") && s.outcome.firstToken.IsZero() {
		s.outcome.firstToken = time.Now()
	}
	switch t {
	case "response.output_text.delta":
		if s.collect != nil {
			s.collect.add(jsonString(delta))
		}
	case "response.completed", "response.incomplete", "response.failed", "error":
		s.terminal = true
		if s.collect != nil {
			s.collect.finish = strings.TrimPrefix(t, "response.")
		}
	}
	if len(resp) > 0 {
		var rarr [16]field
		if rf, err := topLevel(resp, rarr[:0]); err == nil {
			for _, f := range rf {
				v := resp[f.start:f.end]
				switch f.key {
				case "model":
					if m := jsonString(v); m != "" {
						s.outcome.responseModel = m
					}
				case "usage":
					if u := responsesUsage(v); u != nil {
						s.outcome.usage = u
					}
				}
			}
		}
	}
	return true
}

// appendFailure writes the event that ends a failed stream: OpenAI's
// error chunk, or for the Responses API its error event, unless the
// stream already ended with one (a translated stream's response.failed).
func (s *sseRelay) appendFailure(out, failure []byte) []byte {
	if s.anthropic {
		return s.appendMessagesFailure(out, failure) // messages_answer.go
	}
	if !s.api {
		out = append(out, "data: "...)
		out = append(out, failure...)
		return append(out, "\n\n"...)
	}
	if s.terminal {
		return out
	}
	var e struct {
		Error struct {
			Message string `json:"message"`
			Code    string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(failure, &e)
	out = append(out, "event: error\ndata: {\"type\":\"error\",\"code\":"...)
	out = appendJSONString(out, e.Error.Code)
	out = append(out, `,"message":`...)
	out = appendJSONString(out, e.Error.Message)
	out = append(out, `,"param":null,"sequence_number":`...)
	out = strconv.AppendInt(out, int64(s.seq), 10)
	return append(out, "}\n\n"...)
}

// responsesUsage reads the Responses API's usage object: input_tokens
// (cached ones included, as OpenAI counts them) and output_tokens.
func responsesUsage(raw []byte) *stats.Usage {
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var u struct {
		Input   int `json:"input_tokens"`
		Output  int `json:"output_tokens"`
		Total   int `json:"total_tokens"`
		Details *struct {
			Cached int `json:"cached_tokens"`
		} `json:"input_tokens_details"`
	}
	if json.Unmarshal(raw, &u) != nil {
		return nil
	}
	out := &stats.Usage{PromptTokens: u.Input, CompletionTokens: u.Output, TotalTokens: u.Total}
	if out.TotalTokens == 0 {
		out.TotalTokens = u.Input + u.Output
	}
	if u.Details != nil {
		out.CacheReadTokens = u.Details.Cached
	}
	return out
}

// isResponsesUsage tells the Responses API's usage object (input_tokens,
// output_tokens) from chat's (prompt_tokens), which decodeUsage reads.
func isResponsesUsage(raw []byte) bool {
	return bytes.Contains(raw, []byte(`"input_tokens"`)) && !bytes.Contains(raw, []byte(`"prompt_tokens"`))
}

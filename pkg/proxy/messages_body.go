package proxy

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// rewriteMessages applies the ai-proxy policy to a Messages body that goes
// to a native upstream: the model id, the streaming policy, max_tokens
// capped by model.options.max_tokens (and set to it when the client sent
// none), and the temperature, top_p and top_k overrides (Anthropic has
// top_k, so it is set rather than removed). A count_tokens body takes the
// model only: it has no sampling or streaming members.
func rewriteMessages(p *config.Plugin, body []byte, model string, count bool) (*rewritten, *apiError) {
	var arr [16]field
	fields, err := topLevel(body, arr[:0])
	if err != nil {
		return nil, badRequest("invalid_json", "the request body is not a JSON object: "+err.Error())
	}
	var streamRaw, maxRaw []byte
	for _, f := range fields {
		if e := checkAmbiguous(p, f, nil); e != nil {
			return nil, e
		}
		switch f.key {
		case "stream":
			streamRaw = body[f.start:f.end]
		case "max_tokens":
			maxRaw = body[f.start:f.end]
		}
	}
	edits := make([]edit, 0, 6)
	edits = append(edits, edit{key: "model", value: appendJSONString(nil, model)})
	rw := &rewritten{contentType: "application/json", model: model}
	if count {
		edits = append(edits, edit{key: "stream"})
		rw.body = applyEdits(body, fields, edits)
		return rw, nil
	}
	stream, e := streamDecision(p.ResponseStreaming, streamRaw)
	if e != nil {
		return nil, e
	}
	rw.stream = stream
	if rw.stream {
		edits = append(edits, edit{key: "stream", value: jsonTrue})
	} else if len(streamRaw) > 0 {
		edits = append(edits, edit{key: "stream", value: jsonFalse})
	}
	o := p.Model.Options
	if o.MaxTokens != nil {
		limit := int64(*o.MaxTokens)
		if len(maxRaw) > 0 && !bytes.Equal(maxRaw, []byte("null")) {
			n, err := strconv.ParseInt(string(maxRaw), 10, 64)
			if err != nil {
				return nil, &apiError{status: http.StatusBadRequest, typ: typeInvalidRequest, code: "invalid_max_tokens", param: "max_tokens", message: "max_tokens must be an integer"}
			}
			limit = min(n, limit)
		}
		edits = append(edits, edit{key: "max_tokens", value: strconv.AppendInt(nil, limit, 10)})
	}
	if o.Temperature != nil {
		edits = append(edits, edit{key: "temperature", value: strconv.AppendFloat(nil, *o.Temperature, 'f', -1, 64)})
	}
	if o.TopP != nil {
		edits = append(edits, edit{key: "top_p", value: strconv.AppendFloat(nil, *o.TopP, 'f', -1, 64)})
	}
	if o.TopK != nil {
		edits = append(edits, edit{key: "top_k", value: strconv.AppendInt(nil, int64(*o.TopK), 10)})
	}
	rw.body = applyEdits(body, fields, edits)
	return rw, nil
}

package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// rewritePreserve passes the client's body through, holding it to the
// policy that still applies in preserve mode: the configured model, the
// streaming policy, no key-auth key, the body auth param. Multipart bodies
// (audio, file uploads) pass untouched; an empty body (GET /v1/models)
// passes as none. Any other body must be a JSON object: policy must hold on
// the bytes the upstream reads, and a lenient upstream could read what we
// could not.
func rewritePreserve(p *config.Plugin, in input) (*rewritten, *apiError) {
	if len(in.body) == 0 {
		return &rewritten{}, nil
	}
	if mt, params, err := mime.ParseMediaType(in.contentType); err == nil && mt == "multipart/form-data" {
		return preserveMultipart(p, in, params["boundary"])
	}
	var arr [16]field
	m, e := scanBody(p, in, arr[:0])
	if e != nil {
		return nil, e
	}
	rw := &rewritten{body: in.body, contentType: "application/json"}
	if rw.model, e = preserveModel(in.configured, m.model); e != nil {
		return nil, e
	}
	rw.stream = bytes.Equal(m.stream, []byte("true"))
	if p.ResponseStreaming == config.StreamDeny && rw.stream {
		return nil, badRequest("streaming_disabled", "response streaming is not enabled for this LLM")
	}
	edits := hideEdits(in.hide)
	if m.repeated {
		// A decoder that keeps the first occurrence must read what was
		// checked here, the last one.
		if m.model != nil {
			edits = append(edits, edit{key: "model", value: m.model})
		}
		if m.stream != nil {
			edits = append(edits, edit{key: "stream", value: m.stream})
		}
	}
	if ed, ok := authParamEdit(p.Auth, m.authParam); ok {
		edits = append(edits, ed)
	}
	if len(edits) > 0 {
		rw.body = applyEdits(in.body, m.fields, edits)
	}
	return rw, nil
}

// preserveModel is Kong's check in preserve mode: a body model other than
// the configured one is refused. It returns the model for the statistics
// and the response header: the configured one, else the body's when it is
// a usable name.
func preserveModel(configured string, bodyModel []byte) (string, *apiError) {
	var client string
	if len(bodyModel) > 0 && bodyModel[0] == '"' {
		_ = json.Unmarshal(bodyModel, &client)
	}
	if configured != "" {
		if client != "" && client != configured {
			return "", badRequest("model_mismatch", "cannot use own model - must be: "+configured)
		}
		return configured, nil
	}
	if checkModelName(client) != nil {
		return "", nil
	}
	return client, nil
}

// maxFormField bounds the form fields read from a multipart body.
const maxFormField = 1024

// preserveMultipart passes a multipart body through untouched. Its fields
// are read only when a policy needs them (a configured model, streaming
// denied, key-auth keys accepted in the body), and then the body must be
// readable. A key-auth key field is refused rather than cut out: rewriting
// an upload is not worth it for a client that can send its key in a header.
func preserveMultipart(p *config.Plugin, in input, boundary string) (*rewritten, *apiError) {
	rw := &rewritten{body: in.body, contentType: in.contentType}
	if in.configured == "" && p.ResponseStreaming != config.StreamDeny && len(in.hide) == 0 {
		return rw, nil
	}
	fields, ok := formFields(in.body, boundary, append([]string{"model", "stream"}, in.hide...)...)
	if !ok {
		return nil, badRequest("invalid_multipart", "multipart request body could not be read")
	}
	for _, name := range in.hide {
		if _, ok := fields[strings.ToLower(name)]; ok {
			return nil, &apiError{status: 400, typ: typeInvalidRequest, code: "key_in_multipart", param: name,
				message: "send the API key for this proxy in a header, not in a multipart field"}
		}
	}
	if in.configured != "" && fields["model"] != "" && fields["model"] != in.configured {
		return nil, badRequest("model_mismatch", "cannot use own model - must be: "+in.configured)
	}
	rw.model = in.configured
	rw.stream = strings.EqualFold(fields["stream"], "true")
	if p.ResponseStreaming == config.StreamDeny && rw.stream {
		return nil, badRequest("streaming_disabled", "response streaming is not enabled for this LLM")
	}
	return rw, nil
}

// formFields reads the named non-file fields of a multipart body. A field
// sent twice must hold the same value each time, since upstreams differ in
// which one they read.
func formFields(body []byte, boundary string, names ...string) (map[string]string, bool) {
	if boundary == "" {
		return nil, false
	}
	out := map[string]string{}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return out, true
		}
		if err != nil {
			return nil, false
		}
		name := part.FormName()
		if part.FileName() != "" || !containsFold(names, name) {
			continue
		}
		v, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
		if err != nil || len(v) > maxFormField {
			return nil, false
		}
		key := strings.ToLower(name)
		if prev, seen := out[key]; seen && prev != string(v) {
			return nil, false
		}
		out[key] = string(v)
	}
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

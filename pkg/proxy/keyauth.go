package proxy

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// presented is where a client's key-auth key was found.
type presented struct {
	key    string
	header string // the header that carried it, if any
	body   string // the body member that carried it, if any (key_in_body)
}

// clientKey finds the key a client presented for key-auth: in a header named
// by key_names, in the query, or as "Authorization: Bearer <key>", which is
// what every OpenAI SDK sends as its api_key; with body non-nil and
// key_in_body, in the body, whence it must also be removed.
func clientKey(k *config.KeyAuth, r *http.Request, body []byte) presented {
	if k.KeyInHeader {
		for _, name := range k.KeyNames {
			if v := r.Header.Get(name); v != "" {
				return presented{key: v, header: name}
			}
		}
	}
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && strings.TrimSpace(v) != "" {
		return presented{key: strings.TrimSpace(v), header: "Authorization"}
	}
	if k.KeyInQuery && r.URL.RawQuery != "" {
		q := r.URL.Query()
		for _, name := range k.KeyNames {
			if v := q.Get(name); v != "" {
				return presented{key: v}
			}
		}
	}
	if k.KeyInBody && body != nil && json.Valid(body) {
		var arr [16]field
		fields, err := topLevel(body, arr[:0])
		if err != nil {
			return presented{}
		}
		for _, f := range fields {
			for _, name := range k.KeyNames {
				if f.key == name {
					var s string
					if json.Unmarshal(body[f.start:f.end], &s) == nil && s != "" {
						return presented{key: s, body: name}
					}
				}
			}
		}
	}
	return presented{}
}

// authenticate identifies the consumer behind a presented key.
func authenticate(k *config.KeyAuth, p presented) (consumer string, e *apiError) {
	if p.key == "" {
		return "", unauthorized("No API key found in request")
	}
	consumer, ok := k.Identify(p.key)
	if !ok {
		return "", unauthorized("Invalid authentication credentials")
	}
	return consumer, nil
}

func unauthorized(msg string) *apiError {
	return &apiError{status: http.StatusUnauthorized, message: msg, typ: typeInvalidRequest, code: "invalid_api_key",
		header: http.Header{"Www-Authenticate": {`Key realm="lambda-ai-proxy"`}}}
}

package proxy

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// clientKey finds the key a client presented for key-auth: in a header named
// by key_names, in the query, or as "Authorization: Bearer <key>", which is
// what every OpenAI SDK sends as its api_key. inBody is set when the key is
// in the body instead (key_in_body), where it must also be removed.
func clientKey(k *config.KeyAuth, r *http.Request, body []byte) (key, inBody string) {
	if k.KeyInHeader {
		for _, name := range k.KeyNames {
			if v := r.Header.Get(name); v != "" {
				return v, ""
			}
		}
	}
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && v != "" {
		return strings.TrimSpace(v), ""
	}
	if k.KeyInQuery && r.URL.RawQuery != "" {
		q := r.URL.Query()
		for _, name := range k.KeyNames {
			if v := q.Get(name); v != "" {
				return v, ""
			}
		}
	}
	if k.KeyInBody && json.Valid(body) {
		var arr [16]field
		fields, err := topLevel(body, arr[:0])
		if err != nil {
			return "", ""
		}
		for _, f := range fields {
			for _, name := range k.KeyNames {
				if f.key == name {
					var s string
					if json.Unmarshal(body[f.start:f.end], &s) == nil && s != "" {
						return s, name
					}
				}
			}
		}
	}
	return "", ""
}

func unauthorized(msg string) *apiError {
	return &apiError{status: http.StatusUnauthorized, message: msg, typ: typeInvalidRequest, code: "invalid_api_key",
		header: http.Header{"Www-Authenticate": {`Key realm="lambda-ai-proxy"`}}}
}

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
}

// authenticate runs key-auth: it finds the client's key and identifies its
// consumer. A key in a header or the query is checked before the body is
// read, so that an unauthenticated caller costs nothing; only key_in_body
// reads the body (through body) to look for one.
func authenticate(k *config.KeyAuth, r *http.Request, body func() ([]byte, *apiError), messages bool) (presented, string, *apiError) {
	key := clientKey(k, r)
	if key.key == "" && messages {
		key = messagesKey(r) // x-api-key, as Anthropic's clients send it
	}
	if key.key == "" && k.KeyInBody {
		b, e := body()
		if e != nil {
			return presented{}, "", e
		}
		key = bodyKey(k, b)
	}
	if key.key == "" {
		return key, "", unauthorized("No API key found in request")
	}
	consumer, ok := k.Identify(key.key)
	if !ok {
		return key, "", unauthorized("Invalid authentication credentials")
	}
	return key, consumer, nil
}

// clientKey finds the key a client presented in a header named by
// key_names, as "Authorization: Bearer <key>" (what every OpenAI SDK sends
// as its api_key), or in the query.
func clientKey(k *config.KeyAuth, r *http.Request) presented {
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
	return presented{}
}

// bodyKey finds the key in a top-level body member named by key_names
// (key_in_body); the rewrite removes every such member.
func bodyKey(k *config.KeyAuth, body []byte) presented {
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
					return presented{key: s}
				}
			}
		}
	}
	return presented{}
}

func unauthorized(msg string) *apiError {
	return &apiError{status: http.StatusUnauthorized, message: msg, typ: typeInvalidRequest, code: "invalid_api_key",
		header: http.Header{"Www-Authenticate": {`Key realm="lambda-ai-proxy"`}}}
}

package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// Decode reads a chat request for a translating driver. A member the
// format does not know is refused by name rather than dropped: a client
// relying on it would silently get a different answer.
//
// The usual request is read by fastDecode, without reflection; whatever it
// does not take, decodeStrict decides, so that what is accepted, and every
// error, is encoding/json's. The strings of a request read by fastDecode
// share one copy of the body.
func Decode(body []byte) (*Request, error) {
	if r, ok := fastDecode(body); ok {
		return r, nil
	}
	return decodeStrict(body)
}

// decodeStrict is Decode through encoding/json, which refuses an unknown
// member by name (DisallowUnknownFields) and any other error in its words.
func decodeStrict(body []byte) (*Request, error) {
	var r Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, provider.Invalid("", "the request body has data after its JSON object")
	}
	return &r, nil
}

func decodeError(err error) *provider.Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return provider.Invalid(te.Field, "%s: expected %s, got a JSON %s", te.Field, te.Type, te.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return provider.Unsupported(name, "%q is not supported by this model's provider", name)
	}
	return provider.Invalid("", "the request body is not a valid chat request: %v", err)
}

// CheckPortable refuses the OpenAI-only members no other provider can
// honour: several choices, log probabilities, audio output, the deprecated
// functions. Values that change nothing (n: 1, logprobs: false) pass.
func (r *Request) CheckPortable() error {
	switch {
	case r.N != nil && *r.N != 1:
		return provider.Unsupported("n", "n other than 1 is not supported by this model's provider")
	case r.Logprobs != nil && *r.Logprobs:
		return provider.Unsupported("logprobs", "logprobs is not supported by this model's provider")
	case r.TopLogprobs != nil && *r.TopLogprobs != 0:
		return provider.Unsupported("top_logprobs", "top_logprobs is not supported by this model's provider")
	case len(r.Functions) > 0 && string(r.Functions) != "null":
		return provider.Unsupported("functions", "functions is deprecated and not supported here; use tools")
	case len(r.FunctionCall) > 0 && string(r.FunctionCall) != "null":
		return provider.Unsupported("function_call", "function_call is deprecated and not supported here; use tool_choice")
	case len(r.LogitBias) > 0 && string(r.LogitBias) != "null" && string(r.LogitBias) != "{}":
		return provider.Unsupported("logit_bias", "logit_bias is not supported by this model's provider")
	}
	for _, m := range r.Modalities {
		if m != "text" {
			return provider.Unsupported("modalities", "only text output is supported by this model's provider")
		}
	}
	if len(r.Messages) == 0 {
		return provider.Invalid("messages", "messages must not be empty")
	}
	return nil
}

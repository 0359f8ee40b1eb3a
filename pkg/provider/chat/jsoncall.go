package chat

import (
	"encoding/json"
	"net/url"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// JSONUpstream is Prepare for a provider that takes one JSON body over
// HTTP and answers through a provider.JSONCall (Cohere, Ollama), so that
// such a driver says only what is its own: the OpenAI body, less
// auth.param_name, is decoded and translated (translate is the driver's
// Translate: request, model, model.options.top_k), encoded, and the
// parameter put back as the translated body's first member. name is the
// provider as an encoding error names it; call names the provider, its
// stream's Accept and its translators, and the rest of it is filled in
// here from c.
func JSONUpstream[T any](c *provider.Call, target *url.URL, name string, translate func(*Request, string, *int) (T, error), call provider.JSONCall) (provider.Upstream, error) {
	body, param, err := provider.SplitBodyParam(c.Body, c.Plugin.Auth)
	if err != nil {
		return provider.Upstream{}, err
	}
	req, err := Decode(body)
	if err != nil {
		return provider.Upstream{}, err
	}
	req.Stream = c.Stream
	t, err := translate(req, c.Model, c.Plugin.Model.Options.TopK)
	if err != nil {
		return provider.Upstream{}, err
	}
	out, err := json.Marshal(t)
	if err != nil {
		return provider.Upstream{}, provider.Invalid("", "the request cannot be encoded for %s: %v", name, err)
	}
	call.Body = provider.AddBodyParam(out, c.Plugin.Auth.ParamName, param)
	call.Auth, call.Model, call.Stream, call.IncludeUsage = c.Plugin.Auth, c.Model, c.Stream, req.IncludeUsage()
	return provider.Upstream{URL: target, Transport: &call}, nil
}

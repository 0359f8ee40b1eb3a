package config

import "fmt"

// checkCompat adds the load-time checks of the Azure, Mistral, Llama2,
// Hugging Face and Cohere drivers that Kong's schema does not make but
// this proxy needs: each names what would otherwise fail on every call.
func checkCompat(w *walker, path string, p *Plugin) {
	o := p.Model.Options
	a := p.Auth
	switch p.Model.Provider {
	case ProviderAzure:
		if a.AzureUseManagedIdentity && a.AzureClientSecret != "" && (a.AzureClientID == "" || a.AzureTenantID == "") {
			w.fail(join(path, "auth.azure_client_id"), "a service principal needs auth.azure_client_id, auth.azure_client_secret and auth.azure_tenant_id")
		}
	case ProviderMistral:
		if o.MistralFormat == "ollama" && o.UpstreamURL == "" {
			w.fail(join(path, "model.options.upstream_url"), "mistral_format ollama needs 'model.options.upstream_url' (the Ollama server)")
		}
	case ProviderLlama2:
		if o.Llama2Format == "raw" {
			w.fail(join(path, "model.options.llama2_format"), "llama2_format raw is not served: Kong's raw prompt template drops every assistant turn of the conversation; use openai (llama.cpp, vLLM, TGI's /v1) or ollama")
		}
	}
	if p.RouteType == RouteCompletions {
		switch p.Model.Provider {
		case ProviderCohere:
			w.fail(join(path, "route_type"), "cohere serves llm/v1/chat only: Cohere's generate API (Kong's llm/v1/completions) is retired")
		case ProviderHuggingFace:
			if o.UpstreamURL == "" {
				w.fail(join(path, "route_type"), "huggingface serves llm/v1/chat only: the Inference Providers router has no completions endpoint")
			}
		}
		if (p.Model.Provider == ProviderMistral && o.MistralFormat == "ollama") || (p.Model.Provider == ProviderLlama2 && o.Llama2Format == "ollama") {
			w.fail(join(path, "route_type"), "the ollama format serves llm/v1/chat only")
		}
	}
	if p.RouteType == RoutePreserve && (p.Model.Provider == ProviderCohere ||
		(p.Model.Provider == ProviderMistral && o.MistralFormat == "ollama") || (p.Model.Provider == ProviderLlama2 && o.Llama2Format == "ollama")) {
		w.fail(join(path, "route_type"), "%s translates chat requests: route_type preserve would send an OpenAI body to a server that does not speak it", p.Model.Provider)
	}
}

// compatWarnings are the options that load but change nothing.
func compatWarnings(routes []*Route) []string {
	var out []string
	seen := map[*Plugin]bool{}
	for _, r := range routes {
		p := r.Plugin
		if p == nil || seen[p] || p.Model.Provider != ProviderHuggingFace || p.Model.Options.HuggingFace == nil {
			continue
		}
		seen[p] = true
		h := p.Model.Options.HuggingFace
		if h.UseCache != nil || h.WaitForModel != nil {
			out = append(out, fmt.Sprintf("route %q: model.options.huggingface.use_cache and wait_for_model are accepted and ignored: Hugging Face's Inference Providers router takes neither (Kong's current driver dropped them too)", r.Name))
		}
	}
	return out
}

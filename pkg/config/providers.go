package config

// Kong's provider names (kong/llm/schemas/init.lua), each served by a driver
// in pkg/provider.
const (
	ProviderOpenAI      = "openai"
	ProviderAzure       = "azure"
	ProviderAnthropic   = "anthropic"
	ProviderCohere      = "cohere"
	ProviderMistral     = "mistral"
	ProviderLlama2      = "llama2"
	ProviderGemini      = "gemini"
	ProviderBedrock     = "bedrock"
	ProviderHuggingFace = "huggingface"
)

// Providers is Kong's provider enum, in its schema's order.
var Providers = []string{ProviderOpenAI, ProviderAzure, ProviderAnthropic, ProviderCohere, ProviderMistral, ProviderLlama2, ProviderGemini, ProviderBedrock, ProviderHuggingFace}

// BedrockOptions are model.options.bedrock (Kong 3.8; the role fields are
// Kong Enterprise's).
type BedrockOptions struct {
	// AWSRegion is the region of the Bedrock runtime; empty means the
	// environment's (AWS_REGION, which Lambda sets).
	AWSRegion string
	// AssumeRoleARN, when set, is assumed through STS before calling
	// Bedrock (a model in another account).
	AssumeRoleARN   string
	RoleSessionName string
	STSEndpointURL  string
	// PerformanceConfigLatency forces Converse's performanceConfig.latency.
	PerformanceConfigLatency string
	EmbeddingsNormalize      bool
}

// GeminiOptions are model.options.gemini: all three set means Vertex AI.
type GeminiOptions struct {
	APIEndpoint string
	ProjectID   string
	LocationID  string
	EndpointID  string
}

// Vertex reports whether the options select Vertex AI rather than the
// Gemini API.
func (g *GeminiOptions) Vertex() bool {
	return g != nil && g.APIEndpoint != "" && g.ProjectID != "" && g.LocationID != ""
}

// HuggingFaceOptions are model.options.huggingface.
type HuggingFaceOptions struct {
	UseCache     *bool
	WaitForModel *bool
}

// CohereOptions are model.options.cohere (Kong Enterprise).
type CohereOptions struct {
	EmbeddingInputType string
	WaitForModel       *bool
}

// readProviderOptions reads the per-provider blocks of model.options.
func readProviderOptions(opt *object, o *ModelOptions) {
	o.AnthropicVersion = opt.str("anthropic_version")
	o.AzureInstance = opt.str("azure_instance")
	o.AzureDeploymentID = opt.str("azure_deployment_id")
	o.AzureAPIVersion = opt.str("azure_api_version")
	if o.AzureAPIVersion == "" {
		o.AzureAPIVersion = "2023-05-15" // Kong's default
	}
	o.MistralFormat = opt.enum("mistral_format", "", "openai", "ollama")
	o.Llama2Format = opt.enum("llama2_format", "", "raw", "openai", "ollama")
	o.EmbeddingsDimensions = opt.integer("embeddings_dimensions", 1, 1<<20)
	// A Kong dump lists every block, null when unset.
	opt.ignore("bedrock", "gemini", "huggingface", "cohere")
	if opt.has("bedrock") {
		b := opt.child("bedrock")
		o.Bedrock = &BedrockOptions{
			AWSRegion:                b.str("aws_region"),
			AssumeRoleARN:            b.str("aws_assume_role_arn"),
			RoleSessionName:          b.str("aws_role_session_name"),
			STSEndpointURL:           b.str("aws_sts_endpoint_url"),
			PerformanceConfigLatency: b.enum("performance_config_latency", "", "standard", "optimized"),
			EmbeddingsNormalize:      b.boolean("embeddings_normalize", false),
		}
		b.ignore("video_output_s3_uri", "batch_bucket_prefix", "batch_role_arn")
		b.done()
	}
	if opt.has("gemini") {
		g := opt.child("gemini")
		o.Gemini = &GeminiOptions{APIEndpoint: g.str("api_endpoint"), ProjectID: g.str("project_id"), LocationID: g.str("location_id"), EndpointID: g.str("endpoint_id")}
		g.done()
		set := 0
		for _, v := range []string{o.Gemini.APIEndpoint, o.Gemini.ProjectID, o.Gemini.LocationID} {
			if v != "" {
				set++
			}
		}
		if set != 0 && set != 3 {
			opt.w.fail(join(g.path, "api_endpoint"), "all or none of these fields must be set: 'model.options.gemini.api_endpoint', 'model.options.gemini.project_id', 'model.options.gemini.location_id'")
		}
	}
	if opt.has("huggingface") {
		h := opt.child("huggingface")
		o.HuggingFace = &HuggingFaceOptions{UseCache: optBool(h, "use_cache"), WaitForModel: optBool(h, "wait_for_model")}
		h.done()
	}
	if opt.has("cohere") {
		c := opt.child("cohere")
		o.Cohere = &CohereOptions{
			EmbeddingInputType: c.enum("embedding_input_type", "classification", "classification", "clustering", "image", "search_document", "search_query"),
			WaitForModel:       optBool(c, "wait_for_model"),
		}
		c.done()
	}
}

func optBool(o *object, key string) *bool {
	if !o.has(key) {
		o.ignore(key)
		return nil
	}
	b := o.boolean(key, false)
	return &b
}

// checkProvider applies Kong's load-time checks that tie the provider to
// its options and auth (kong/llm/schemas/init.lua entity_checks).
func checkProvider(w *walker, path string, p *Plugin) {
	o := p.Model.Options
	checkCompat(w, path, p)
	must := func(field, value string) {
		if value == "" {
			w.fail(join(path, "model.options."+field), "must set 'model.options.%s' for %s provider", field, p.Model.Provider)
		}
	}
	switch p.Model.Provider {
	case ProviderAzure:
		must("azure_instance", o.AzureInstance)
		must("azure_deployment_id", o.AzureDeploymentID)
		if p.Auth.AzureUseManagedIdentity && p.Auth.AzureClientSecret == "" {
			w.fail(join(path, "auth.azure_use_managed_identity"), "a managed identity without a client secret does not exist on Lambda: set auth.azure_client_id, auth.azure_client_secret and auth.azure_tenant_id (a service principal), or use auth.header_name api-key")
		}
	case ProviderAnthropic:
		must("anthropic_version", o.AnthropicVersion)
		if p.RouteType == RouteCompletions {
			// Anthropic's Text Completions API served Claude 2 only.
			w.fail(join(path, "route_type"), "anthropic does not support route_type llm/v1/completions (Anthropic's legacy Text Completions API); use llm/v1/chat")
		}
	case ProviderMistral:
		must("mistral_format", o.MistralFormat)
	case ProviderLlama2:
		must("llama2_format", o.Llama2Format)
		if o.UpstreamURL == "" {
			w.fail(join(path, "model.options.upstream_url"), "must set 'model.options.upstream_url' for self-hosted providers/models")
		}
	case ProviderBedrock, ProviderGemini:
		if p.Auth.AllowOverride {
			w.fail(join(path, "auth.allow_override"), "bedrock and gemini only support auth.allow_override = false")
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

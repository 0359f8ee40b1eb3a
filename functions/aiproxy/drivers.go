package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/anthropic"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/azure"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/bedrock"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/cohere"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/huggingface"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/llama2"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/mistral"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/openai"
)

// drivers are the providers this binary serves, by Kong's provider name.
// A driver that needs a cloud SDK's client gets it here, so that the proxy
// itself imports no cloud SDK.
// base is the proxy's own upstream transport: the drivers that add to or
// translate a request carry it over the same connection pool.
func drivers(ctx context.Context, getenv func(string) string, logger *slog.Logger, base http.RoundTripper) (provider.Set, error) {
	set := provider.Set{
		config.ProviderOpenAI:      openai.Driver{},
		config.ProviderAzure:       azure.New(azure.Options{Base: base, AuthorityHost: getenv("AZURE_AUTHORITY_HOST")}),
		config.ProviderMistral:     mistral.Driver{Base: base},
		config.ProviderLlama2:      llama2.Driver{Base: base},
		config.ProviderHuggingFace: huggingface.Driver{},
		config.ProviderCohere:      cohere.Driver{Base: base},
		config.ProviderGemini:      geminiDriver(ctx, getenv, logger),
		config.ProviderAnthropic:   anthropic.New(base),
	}
	// The AWS SDK's default chain, read once: region, credentials (the
	// function's role), AWS_ENDPOINT_URL_BEDROCK_RUNTIME, retries.
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the AWS SDK configuration: %w", err)
	}
	// The SDK's calls go over the proxy's transport too: its default client
	// keeps 10 idle connections per host, too few for a loaded server.
	set[config.ProviderBedrock] = bedrock.New(bedrock.Options{Config: awsCfg, Getenv: getenv, Transport: base})
	return set, nil
}

package main

import (
	"context"
	"fmt"
	"log/slog"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/bedrock"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/openai"
)

// drivers are the providers this binary serves, by Kong's provider name.
// A driver that needs a cloud SDK's client gets it here, so that the proxy
// itself imports no cloud SDK.
func drivers(ctx context.Context, getenv func(string) string, logger *slog.Logger) (provider.Set, error) {
	set := provider.Set{
		config.ProviderOpenAI: openai.Driver{},
	}
	// The AWS SDK's default chain, read once: region, credentials (the
	// function's role), AWS_ENDPOINT_URL_BEDROCK_RUNTIME, retries.
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the AWS SDK configuration: %w", err)
	}
	set[config.ProviderBedrock] = bedrock.New(bedrock.Options{Config: awsCfg, Getenv: getenv})
	return set, nil
}

package main

import (
	"context"
	"log/slog"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/openai"
)

// drivers are the providers this binary serves, by Kong's provider name.
// A driver that needs a cloud SDK's client gets it here, so that the proxy
// itself imports no cloud SDK.
func drivers(ctx context.Context, getenv func(string) string, logger *slog.Logger) (provider.Set, error) {
	set := provider.Set{
		config.ProviderOpenAI: openai.Driver{},
		config.ProviderGemini: geminiDriver(ctx, getenv, logger),
	}
	return set, nil
}

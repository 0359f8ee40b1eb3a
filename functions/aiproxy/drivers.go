package main

import (
	"context"
	"log/slog"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/anthropic"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/openai"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/proxy"
)

// drivers are the providers this binary serves, by Kong's provider name.
// A driver that needs a cloud SDK's client gets it here, so that the proxy
// itself imports no cloud SDK.
func drivers(ctx context.Context, getenv func(string) string, logger *slog.Logger) (provider.Set, error) {
	set := provider.Set{
		config.ProviderOpenAI:    openai.Driver{},
		config.ProviderAnthropic: anthropic.New(proxy.NewTransport(envDuration("AIPROXY_UPSTREAM_CONNECT_TIMEOUT"), envDuration("AIPROXY_UPSTREAM_HEADER_TIMEOUT"))),
	}
	return set, nil
}

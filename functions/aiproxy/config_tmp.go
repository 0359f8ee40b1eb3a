package main

// Temporary until pkg/configsource lands: file or embedded config only.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/proxy"
)

func loadConfig(ctx context.Context, _ *slog.Logger) (proxy.ConfigSource, string, error) {
	data, desc := defaultConfig, "embedded default"
	if f := os.Getenv("AIPROXY_CONFIG_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, "", fmt.Errorf("read config file: %w", err)
		}
		data, desc = b, "file "+f
	}
	cfg, err := config.Parse(ctx, data, config.Options{LookupEnv: os.LookupEnv})
	if err != nil {
		return nil, "", fmt.Errorf("load config from %s: %w", desc, err)
	}
	return proxy.StaticSource{Config: cfg}, desc, nil
}

func serveLambda(h http.Handler) error { return fmt.Errorf("lambda edge not wired yet") }

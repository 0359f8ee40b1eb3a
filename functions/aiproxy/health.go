package main

import (
	"context"
	"fmt"
	"log/slog"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/health"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits/dynamo"
)

// newHealth keeps ai-proxy-advanced's circuit state in this process, and
// shares it through the rate-limit table AIPROXY_RATE_LIMIT_TABLE when it
// is set, so that every instance skips a failing target together.
func newHealth(ctx context.Context, getenv func(string) string, logger *slog.Logger) (*health.Registry, error) {
	opts := health.Options{Logger: logger}
	if table := getenv("AIPROXY_RATE_LIMIT_TABLE"); table != "" {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("circuit state table %s: load AWS config: %w", table, err)
		}
		db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.RetryMaxAttempts = 2 })
		opts.Store = dynamo.NewHealth(db, table)
	}
	return health.New(opts), nil
}

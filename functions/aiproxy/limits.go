package main

import (
	"context"
	"fmt"
	"log/slog"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits/dynamo"
)

// newLimiter counts rate limits in this process, and in the DynamoDB table
// AIPROXY_RATE_LIMIT_TABLE when it is set (the endpoint overridable with the
// SDK's standard AWS_ENDPOINT_URL_DYNAMODB). Without a table, policies that
// ask for dynamodb meet an outage: fault_tolerant decides.
func newLimiter(ctx context.Context, getenv func(string) string, logger *slog.Logger) (*limits.Limiter, error) {
	opts := limits.Options{Logger: logger}
	if table := getenv("AIPROXY_RATE_LIMIT_TABLE"); table != "" {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("rate-limit table %s: load AWS config: %w", table, err)
		}
		// One retry: a request waits for the store, and fault_tolerant
		// decides sooner than a long retry chain would.
		db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.RetryMaxAttempts = 2 })
		opts.Shared = dynamo.New(db, table)
	}
	return limits.New(opts), nil
}

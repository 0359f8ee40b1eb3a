package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/gemini"
)

// geminiDriver builds the Gemini driver. Workload Identity Federation's
// AWS side comes from the AWS SDK's default chain (on Lambda, the
// function's execution role), loaded on first use: a config without an
// external_account credential never touches it.
func geminiDriver(ctx context.Context, getenv func(string) string, logger *slog.Logger) *gemini.Driver {
	load := sync.OnceValues(func() (aws.Config, error) {
		return awsconfig.LoadDefaultConfig(context.WithoutCancel(ctx))
	})
	src := &gemini.AWSSource{
		Region: func(context.Context) (string, error) {
			cfg, err := load()
			if err == nil && cfg.Region == "" {
				err = errors.New("no AWS region: set AWS_REGION")
			}
			return cfg.Region, err
		},
		Retrieve: func(ctx context.Context) (string, string, string, error) {
			cfg, err := load()
			if err != nil {
				return "", "", "", err
			}
			if cfg.Credentials == nil {
				return "", "", "", errors.New("no AWS credentials in the default chain")
			}
			c, err := cfg.Credentials.Retrieve(ctx)
			return c.AccessKeyID, c.SecretAccessKey, c.SessionToken, err
		},
	}
	return gemini.New(gemini.Options{Getenv: getenv, AWS: src, Logger: logger})
}

package proxy

import (
	"context"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// ConfigSource hands the handler the configuration version to use for one
// request. Implementations must be cheap and safe for concurrent use: the
// handler calls Current on every request. An error means there is no usable
// configuration at all; the handler answers 503 config_unavailable.
type ConfigSource interface {
	Current(ctx context.Context) (*config.Config, error)
}

// StaticSource serves one configuration forever.
type StaticSource struct{ Config *config.Config }

// Current implements ConfigSource.
func (s StaticSource) Current(context.Context) (*config.Config, error) { return s.Config, nil }

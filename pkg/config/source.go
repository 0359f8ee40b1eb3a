package config

import "context"

// Source hands out the configuration version to use for one request.
// Implementations must be cheap and safe for concurrent use: the proxy calls
// Current on every request. An error means there is no usable configuration
// at all (the proxy answers 503 config_unavailable).
type Source interface {
	Current(ctx context.Context) (*Config, error)
}

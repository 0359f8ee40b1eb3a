// Package configsource picks where the proxy's configuration comes from (an
// SSM parameter, a file, or a document embedded in the binary) and keeps the
// current compiled config.Config for the handler, which asks for it on every
// request.
//
// The SSM source caches the compiled config and refreshes it in the
// background after a TTL (stale-while-revalidate), so no request waits on SSM
// while a good config is cached. It fails safe: a refresh that fails for any
// reason keeps serving the last good config, and a source that never loaded
// one reports config.ErrNoConfig rather than serving anything. Two limits
// keep that from keeping a revoked client key alive: a key-auth key whose
// SSM parameter was deleted is refused from the next refresh on (the rest
// of the document keeps serving), and once the last good load is older than
// AIPROXY_CONFIG_MAX_STALE every key-auth key is refused until a refresh
// succeeds (the upstream key keeps its last good value). Secret values
// ({vault://...} references) never appear in its logs or errors, as is or
// quoted.
package configsource

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// Environment variables read by FromEnv.
const (
	EnvParameter = "AIPROXY_CONFIG_PARAMETER"
	EnvFile      = "AIPROXY_CONFIG_FILE"
	EnvTTL       = "AIPROXY_CONFIG_TTL"
	EnvMaxStale  = "AIPROXY_CONFIG_MAX_STALE"
)

// Static serves one configuration, loaded once, forever.
type Static struct {
	cfg *config.Config
}

// NewStatic wraps an already compiled configuration.
func NewStatic(cfg *config.Config) *Static { return &Static{cfg: cfg} }

// Current implements config.Source.
func (s *Static) Current(context.Context) (*config.Config, error) { return s.cfg, nil }

// Options are what a file or embedded document may need to resolve its
// references.
type Options struct {
	// LookupEnv reads the environment for ${{ env "NAME" }} and
	// {vault://env/NAME}. Nil means os.LookupEnv. AWS_* variables are never
	// readable (see SSMResolver).
	LookupEnv func(string) (string, bool)
	// Client resolves {vault://ssm/...} references. Nil makes them an
	// error.
	Client SSMAPI
}

// File reads and compiles the document at path once. Its references are
// resolved once too: a rotated secret is picked up by the next cold start.
func File(ctx context.Context, path string, opts Options) (*Static, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	cfg, _, err := parseDocument(ctx, data, opts.LookupEnv, opts.Client)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return NewStatic(cfg), nil
}

// Embedded compiles a document built into the binary, once.
func Embedded(ctx context.Context, data []byte, opts Options) (*Static, error) {
	cfg, _, err := parseDocument(ctx, data, opts.LookupEnv, opts.Client)
	if err != nil {
		return nil, fmt.Errorf("embedded config: %w", err)
	}
	return NewStatic(cfg), nil
}

// parseDocument compiles a document, resolving its references through an
// SSMResolver, and scrubs every value it resolved (vault or environment)
// from the error. A key-auth key whose SSM parameter is gone is revoked
// (see SSMResolver.Revocable); revoked names those parameters.
func parseDocument(ctx context.Context, data []byte, lookup func(string) (string, bool), client SSMAPI) (cfg *config.Config, revoked []string, err error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	red := &redactor{}
	guarded := GuardLookupEnv(lookup)
	recording := func(name string) (string, bool) {
		v, ok := guarded(name)
		if ok {
			red.add(v)
		}
		return v, ok
	}
	res := &SSMResolver{Client: client, LookupEnv: recording, OnResolved: red.add,
		Revocable: map[string]bool{}, OnRevoked: func(name string) { revoked = append(revoked, name) }}
	if refs, err := config.CredentialRefs(data); err == nil { // else Parse reports the document error
		for _, r := range refs {
			res.Revocable[r] = true
		}
	}
	cfg, err = config.Parse(ctx, data, config.Options{LookupEnv: recording, Secrets: res})
	return cfg, revoked, red.scrub(err)
}

// FromEnv builds the source the function's environment asks for:
//
//   - AIPROXY_CONFIG_PARAMETER set: the SSM parameter of that name, cached
//     for AIPROXY_CONFIG_TTL (a Go duration, default 60s); while refreshes
//     fail, key-auth keys are honoured for AIPROXY_CONFIG_MAX_STALE after
//     the last good load (default 15m, see DefaultMaxStale). The AWS SDK's
//     default configuration chain supplies region, credentials and
//     AWS_ENDPOINT_URL_SSM; one client serves the process lifetime.
//   - else AIPROXY_CONFIG_FILE set: that file, read once.
//   - else the embedded document.
//
// getenv reads these settings and also answers ${{ env "NAME" }} and
// {vault://env/NAME}, an empty value counting as unset. The description says
// which source was chosen, for the cold-start log line. The SSM source's
// first load happens here (in Lambda's init phase), bounded by
// DefaultLoadTimeout; if it fails, FromEnv still returns the source, whose
// Current reports config.ErrNoConfig and retries with backoff. A file or
// embedded document that does not load is an error.
func FromEnv(ctx context.Context, getenv func(string) string, embedded []byte, logger *slog.Logger) (config.Source, string, error) {
	if logger == nil {
		logger = slog.Default()
	}
	lookup := func(name string) (string, bool) {
		v := getenv(name)
		return v, v != ""
	}
	param := strings.TrimSpace(getenv(EnvParameter))
	file := strings.TrimSpace(getenv(EnvFile))

	if param != "" {
		ttl := DefaultTTL
		if s := strings.TrimSpace(getenv(EnvTTL)); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return nil, "", fmt.Errorf("%s=%q: expected a positive Go duration such as 60s or 5m", EnvTTL, s)
			}
			ttl = d
		}
		maxStale := max(DefaultMaxStale, ttl)
		if s := strings.TrimSpace(getenv(EnvMaxStale)); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d < ttl {
				return nil, "", fmt.Errorf("%s=%q: expected a Go duration no shorter than the TTL (%s)", EnvMaxStale, s, ttl)
			}
			maxStale = d
		}
		if file != "" {
			logger.Info("both config sources are set; the SSM parameter wins", "parameter", param, "ignored_file", file)
		}
		client, err := newSSMClient(ctx)
		if err != nil {
			return nil, "", err
		}
		src, err := NewSSM(ctx, SSMOptions{Client: client, Parameter: param, TTL: ttl, MaxStale: maxStale, LookupEnv: lookup, Logger: logger,
			Prefetch: ParsePrefetch(getenv(EnvPrefetch))})
		if err != nil {
			return nil, "", err
		}
		return src, fmt.Sprintf("SSM parameter %s (TTL %s)", param, ttl), nil
	}

	var data []byte
	var desc string
	if file != "" {
		var err error
		if data, err = os.ReadFile(file); err != nil {
			return nil, "", fmt.Errorf("%s: read config file: %w", EnvFile, err)
		}
		desc = "file " + file
	} else {
		if len(strings.TrimSpace(string(embedded))) == 0 {
			return nil, "", fmt.Errorf("no configuration: set %s (SSM) or %s, or build with an embedded config", EnvParameter, EnvFile)
		}
		data, desc = embedded, "embedded config"
	}
	opts := Options{LookupEnv: lookup}
	// Only a document that references SSM needs a client (and AWS
	// credentials): a local run with a file and an env key has none.
	if hasSSMRefs(data) {
		client, err := newSSMClient(ctx)
		if err != nil {
			return nil, "", err
		}
		opts.Client = client
	}
	cfg, revoked, err := parseDocument(ctx, data, opts.LookupEnv, opts.Client)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", desc, err)
	}
	if len(revoked) > 0 {
		logger.Warn("client key parameters not found; those keys are refused", "parameters", revoked)
	}
	logWarnings(logger, cfg, "source", desc)
	return NewStatic(cfg), desc, nil
}

// logWarnings writes what the config itself says the operator should know
// (plugins loaded but ignored), once per loaded version rather than per
// request.
func logWarnings(logger *slog.Logger, cfg *config.Config, attrs ...any) {
	for _, w := range cfg.Warnings {
		logger.Warn("config: "+w, attrs...)
	}
}

func hasSSMRefs(data []byte) bool {
	refs, err := config.VaultRefs(data)
	if err != nil {
		return false // Parse reports the document error
	}
	for _, r := range refs {
		if _, ok, _ := ParameterName(r); ok {
			return true
		}
	}
	return false
}

// newSSMClient builds the process's one SSM client from the SDK's default
// configuration chain, with the SDK's default retryer.
func newSSMClient(ctx context.Context) (*ssm.Client, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return ssm.NewFromConfig(cfg), nil
}

// Command aiproxy is lambda-ai-proxy's one binary. Under Lambda (when
// AWS_LAMBDA_RUNTIME_API is set) it serves Function URL, API Gateway REST and
// HTTP API events; elsewhere it serves plain HTTP on AIPROXY_LISTEN. Either
// way the same proxy handler answers. This file only wires the parts.
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/syncbuf"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/edge"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/localguard"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/proxy"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

//go:embed default-config.yaml
var defaultConfig []byte

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "aiproxy:", err)
		os.Exit(1)
	}
}

func run() error {
	onLambda := os.Getenv("AWS_LAMBDA_RUNTIME_API") != ""
	// Log lines and EMF records share stdout; one lock keeps each line whole.
	out := &syncbuf.Writer{W: os.Stdout}
	logger, err := newLogger(out, os.Getenv("AIPROXY_LOG_LEVEL"))
	if err != nil {
		return err
	}
	slog.SetDefault(logger)
	ctx := context.Background()
	var gate *proxy.BodyGate // Lambda hands the handler bodies already in memory
	if !onLambda {
		if err := checkLocalKey(os.Getenv); err != nil {
			return err
		}
		if gate, err = newBodyGate(os.Getenv); err != nil {
			return err
		}
	}

	// AIPROXY_CONFIG_PARAMETER (SSM), else AIPROXY_CONFIG_FILE, else the
	// embedded default. On Lambda this runs in the init phase, before the
	// first request; an SSM failure there is not fatal: requests get 503
	// until a retry loads a config.
	src, desc, err := configsource.FromEnv(ctx, os.Getenv, defaultConfig, logger)
	if err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	limiter, err := newLimiter(ctx, os.Getenv, logger)
	if err != nil {
		return err
	}
	reg, err := newHealth(ctx, os.Getenv, logger)
	if err != nil {
		return err
	}
	transport := proxy.NewTransport(envDuration("AIPROXY_UPSTREAM_CONNECT_TIMEOUT"), envDuration("AIPROXY_UPSTREAM_HEADER_TIMEOUT"))
	set, err := drivers(ctx, os.Getenv, logger, transport)
	if err != nil {
		return err
	}
	// Statistics lines and EMF records leave in batches, off the request
	// path; the Lambda edge flushes them before each invocation ends.
	statsOut := stats.NewWriter(out, 0, 0)
	defer statsOut.Close()
	h := proxy.New(src, proxy.Options{
		Limiter:   limiter,
		Drivers:   set,
		Logger:    logger,
		BodyGate:  gate,
		Health:    reg,
		Transport: transport,
		Observe: stats.New(stats.Options{Logger: logger, Out: statsOut, EMF: metricsWriter(statsOut, onLambda),
			Namespace: os.Getenv("AIPROXY_METRICS_NAMESPACE")}).Observe,
	})

	if onLambda {
		logger.Info("starting on Lambda", "config", desc)
		opts := edge.OptionsFromEnv(os.Getenv)
		opts.Logger = logger
		opts.Flush = func() {
			_ = statsOut.Flush()
			// A circuit this instance just opened or closed reaches the
			// others before Lambda may freeze the environment; bounded,
			// so that a slow table costs an invocation 100 ms at most.
			reg.Settle(100 * time.Millisecond)
		}
		edge.Start(h, opts) // never returns
		return nil
	}
	addr := os.Getenv("AIPROXY_LISTEN")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	return serveHTTP(addr, h, logger, desc)
}

// serveHTTP serves until SIGINT or SIGTERM, then lets requests in flight
// (streams included) finish for a while. localguard refuses browser
// cross-origin requests and foreign Host names, and bounds every read.
func serveHTTP(addr string, h http.Handler, logger *slog.Logger, desc string) error {
	srv, err := localguard.NewServer(addr, h, localguard.OptionsFromEnv(os.Getenv), logger)
	if err != nil {
		return fmt.Errorf("%s: %w", localguard.EnvAllowedOrigins, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Bind first: "listening" is only ever logged for a socket that is.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (set AIPROXY_LISTEN to another address): %w", addr, err)
	}
	base := "http://" + ln.Addr().String()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("listening", "addr", base, "config", desc, "base_url", base+"/gpt-4o-mini")
	fmt.Fprintf(os.Stderr, "aiproxy: listening on %s\n  OpenAI SDK base_url: %s/<model>, e.g. %s/gpt-4o-mini (the default route takes the model from the path)\n", base, base, base)
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", base, err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// newLogger logs JSON at level (empty: info). A misspelt level is an error:
// silently logging at info would hide the debug lines someone asked for.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	l := slog.LevelInfo
	if level != "" {
		if err := l.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("AIPROXY_LOG_LEVEL=%q: want debug, info, warn or error", level)
		}
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// checkLocalKey stops `make run` early, with what to do, when the embedded
// default config (which relays to OpenAI with OPENAI_API_KEY) would be used
// without the key.
func checkLocalKey(getenv func(string) string) error {
	if getenv("AIPROXY_CONFIG_PARAMETER") != "" || getenv("AIPROXY_CONFIG_FILE") != "" || getenv("OPENAI_API_KEY") != "" {
		return nil
	}
	return errors.New("OPENAI_API_KEY is not set: the default config relays to OpenAI with it. " +
		"Run `export OPENAI_API_KEY=sk-...` and start again, or try the proxy offline with `make demo`")
}

// metricsWriter says where EMF records go: on Lambda (CloudWatch extracts
// them from the log) unless AIPROXY_METRICS=off; locally only when
// AIPROXY_METRICS=on, since a terminal has no use for them.
func metricsWriter(out io.Writer, onLambda bool) io.Writer {
	switch os.Getenv("AIPROXY_METRICS") {
	case "off":
		return nil
	case "on":
		return out
	}
	if onLambda {
		return out
	}
	return nil
}

// envDuration reads a Go duration; unset or invalid means the default.
func envDuration(name string) time.Duration {
	d, err := time.ParseDuration(os.Getenv(name))
	if err != nil {
		return 0
	}
	return d
}

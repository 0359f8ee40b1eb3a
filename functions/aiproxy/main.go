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
	logger := newLogger(out, os.Getenv("AIPROXY_LOG_LEVEL"))
	slog.SetDefault(logger)
	ctx := context.Background()

	// AIPROXY_CONFIG_PARAMETER (SSM), else AIPROXY_CONFIG_FILE, else the
	// embedded default. On Lambda this runs in the init phase, before the
	// first request; an SSM failure there is not fatal: requests get 503
	// until a retry loads a config.
	src, desc, err := configsource.FromEnv(ctx, os.Getenv, defaultConfig, logger)
	if err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	h := proxy.New(src, proxy.Options{
		Logger:    logger,
		Transport: proxy.NewTransport(envDuration("AIPROXY_UPSTREAM_CONNECT_TIMEOUT"), envDuration("AIPROXY_UPSTREAM_HEADER_TIMEOUT")),
		Observe:   stats.NewRecorder(logger, metricsWriter(out, onLambda), os.Getenv("AIPROXY_METRICS_NAMESPACE")).Observe,
	})

	if onLambda {
		logger.Info("starting on Lambda", "config", desc)
		opts := edge.OptionsFromEnv(os.Getenv)
		opts.Logger = logger
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
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("listening", "addr", "http://"+addr, "config", desc)
	select {
	case err := <-errc:
		return fmt.Errorf("listen on %s: %w", addr, err)
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

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil || level == "" {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
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

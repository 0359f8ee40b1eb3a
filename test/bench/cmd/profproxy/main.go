// Command profproxy serves the proxy handler the way functions/aiproxy does
// (same handler options, statistics log line per request to stdout) in a
// process that writes a CPU profile, because the binary itself exposes no
// pprof. With -bare it serves the bare reverse-proxy hop instead, so that the
// two profiles can be compared under the same load:
//
//	profproxy -addr 127.0.0.1:9100 -config bench.yaml -cpuprofile proxy.pprof -duration 20s
//	profproxy -addr 127.0.0.1:9101 -bare http://127.0.0.1:9000 -cpuprofile bare.pprof -duration 20s
//	go tool pprof -top -diff_base bare.pprof proxy.pprof
//
// It stops by itself after -duration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime/pprof"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/configsource"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/proxy"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	cfgPath := flag.String("config", "", "plugin config file (proxy mode)")
	bare := flag.String("bare", "", "upstream base URL: serve a bare ReverseProxy instead of the proxy")
	prof := flag.String("cpuprofile", "", "write a CPU profile here")
	dur := flag.Duration("duration", 20*time.Second, "serve this long, then exit")
	flag.Parse()
	if err := run(*addr, *cfgPath, *bare, *prof, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "profproxy:", err)
		os.Exit(1)
	}
}

func run(addr, cfgPath, bare, prof string, dur time.Duration) error {
	var h http.Handler
	if bare != "" {
		target, err := url.Parse(bare)
		if err != nil {
			return fmt.Errorf("-bare: %w", err)
		}
		h = &httputil.ReverseProxy{
			Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.Out.Host = "" },
			FlushInterval: -1,
			Transport:     &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: 90 * time.Second},
			ErrorLog:      log.New(io.Discard, "", 0),
		}
	} else {
		logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
		src, err := configsource.File(context.Background(), cfgPath, configsource.Options{})
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		h = proxy.New(src, proxy.Options{Logger: logger, Transport: proxy.NewTransport(0, 0),
			Observe: stats.New(stats.Options{Logger: logger, Out: stats.NewWriter(os.Stdout, 0, 0)}).Observe})
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			return fmt.Errorf("profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		time.Sleep(dur)
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

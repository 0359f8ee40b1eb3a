// Command bareproxy is the floor one reverse-proxy hop costs on this
// machine: net/http/httputil.ReverseProxy with FlushInterval -1 and nothing
// else, no body read, no rewrite, no header work. The benchmark compares the
// project's proxy against it, so both get the same server and upstream
// transport settings (idle connections per host, timeouts) as the project's
// binary; only the proxy's own work differs.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	upstream := flag.String("upstream", "", "upstream base URL, e.g. http://127.0.0.1:9000")
	flag.Parse()
	if err := run(*addr, *upstream); err != nil {
		fmt.Fprintln(os.Stderr, "bareproxy:", err)
		os.Exit(1)
	}
}

func run(addr, upstream string) error {
	target, err := url.Parse(upstream)
	if err != nil || target.Host == "" {
		return fmt.Errorf("-upstream %q: need an absolute URL", upstream)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	fmt.Println(ln.Addr().String())
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = ""
		},
		FlushInterval: -1,
		// The same pool settings as pkg/proxy.NewTransport: a smaller idle
		// pool would make this floor pay for reconnects at high rates.
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 128,
			IdleConnTimeout:     90 * time.Second,
		},
		// Errors go to the log file the driver keeps: a failed request there
		// must be explainable.
		ErrorLog: log.New(os.Stderr, "bareproxy: ", log.LstdFlags|log.Lmicroseconds),
	}
	srv := &http.Server{
		Handler:           rp,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          log.New(os.Stderr, "bareproxy server: ", log.LstdFlags|log.Lmicroseconds),
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// Command stubserver serves the project's OpenAI-compatible stub upstream
// (internal/testenv/stub) on a loopback address, in a process of its own, so that
// the benchmark driver can read the CPU time and memory of each process it
// measures separately. Recording is off: under load the stub must not grow.
// With -kind it serves Bedrock's, Anthropic's or Gemini's wire format
// instead (providers.go), for make bench's provider paths.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	kind := flag.String("kind", "openai", "whose wire format: openai, bedrock (SigV4 with bedrockstub's default keys), anthropic, gemini")
	flag.Parse()
	h, ok := handler(*kind)
	if !ok {
		fmt.Fprintln(os.Stderr, "stubserver: unknown -kind", *kind)
		os.Exit(2)
	}
	if err := run(*addr, h); err != nil {
		fmt.Fprintln(os.Stderr, "stubserver:", err)
		os.Exit(1)
	}
}

func run(addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	// The driver reads the bound address from the first line.
	fmt.Println(ln.Addr().String())
	srv := &http.Server{
		Handler:           countRequests(h),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// CountPath answers GET with the number of other requests served so far:
// the driver checks with it that a peer's answers really came from the stub
// (Portkey, say, would answer from its cache or an error path otherwise).
const CountPath = "/stub/requests"

func countRequests(h http.Handler) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == CountPath && r.Method == http.MethodGet {
			fmt.Fprintln(w, n.Load())
			return
		}
		n.Add(1)
		h.ServeHTTP(w, r)
	})
}

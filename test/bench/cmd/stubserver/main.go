// Command stubserver serves the project's OpenAI-compatible stub upstream
// (internal/testenv/stub) on a loopback address, in a process of its own, so that
// the benchmark driver can read the CPU time and memory of each process it
// measures separately. Recording is off: under load the stub must not grow.
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

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "stubserver:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	// The driver reads the bound address from the first line.
	fmt.Println(ln.Addr().String())
	srv := &http.Server{
		Handler:           countRequests(&stub.Server{Record: false}),
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

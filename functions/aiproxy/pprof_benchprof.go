//go:build benchprof

package main

// A profiling hook for the bench only (go build -tags benchprof): with
// AIPROXY_PPROF_ADDR set, net/http/pprof is served there, so that the
// binary itself (with the provider drivers functions/aiproxy builds, which
// cmd/profproxy does not have) can be profiled under load. The release
// build has no such endpoint.

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("AIPROXY_PPROF_ADDR"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}

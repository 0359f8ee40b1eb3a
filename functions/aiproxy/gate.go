package main

import (
	"fmt"
	"strconv"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/proxy"
)

// envMaxBodyReads caps the local server's concurrent body reads of
// requests not (yet) authenticated; see proxy.BodyGate.
const envMaxBodyReads = "AIPROXY_MAX_BODY_READS"

// newBodyGate is the local server's gate: AIPROXY_MAX_BODY_READS slots
// (64 by default), each waited for up to a second. A value that is not a
// positive number is an error, not silently the default.
func newBodyGate(getenv func(string) string) (*proxy.BodyGate, error) {
	n := proxy.DefaultBodyReads
	if v := getenv(envMaxBodyReads); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			return nil, fmt.Errorf("%s=%q: want a positive number of concurrent body reads", envMaxBodyReads, v)
		}
	}
	return proxy.NewBodyGate(n, proxy.DefaultBodyGateWait), nil
}

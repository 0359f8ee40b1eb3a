package proxy

import (
	"net/http"
	"strconv"
	"strings"
)

// upstreamAcceptEncoding is the Accept-Encoding sent upstream ("" leaves
// it to the transport, which then asks for gzip and decodes the answer).
//
// Kong answers gzip to a client that accepts it. Here a client that accepts
// gzip gets the upstream's answer as it was sent, gzip when the upstream
// compressed it: the proxy asks for gzip on its behalf and relays the bytes
// untouched (the scan decodes a copy of them as they pass). It never
// compresses an answer itself, which would cost CPU on every answer for a
// gain the upstream already chose to give or not. A stream is never
// compressed: it could not be relayed event by event.
func upstreamAcceptEncoding(client http.Header, stream bool) string {
	switch {
	case stream:
		return "identity"
	case acceptsGzip(client):
		return "gzip"
	}
	return ""
}

// acceptsGzip reports whether an Accept-Encoding header lists gzip (or
// x-gzip) with a non-zero quality.
func acceptsGzip(h http.Header) bool {
	for _, v := range h.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "gzip" && name != "x-gzip" {
				continue
			}
			q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
			if !ok {
				return true
			}
			if f, err := strconv.ParseFloat(strings.TrimSpace(q), 64); err == nil && f > 0 {
				return true
			}
		}
	}
	return false
}

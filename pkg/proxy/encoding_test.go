package proxy

import (
	"net/http"
	"testing"
)

func TestUpstreamAcceptEncoding(t *testing.T) {
	tests := []struct {
		client string
		stream bool
		want   string
	}{
		{"gzip", false, "gzip"},
		{"br, GZIP;q=0.5", false, "gzip"},
		{"x-gzip", false, "gzip"},
		{"gzip;q=0", false, ""},
		{"br, deflate", false, ""},
		{"gzipx", false, ""},
		{"", false, ""},
		{"gzip", true, "identity"},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.client != "" {
			h.Set("Accept-Encoding", tc.client)
		}
		if got := upstreamAcceptEncoding(h, tc.stream); got != tc.want {
			t.Errorf("Accept-Encoding %q stream=%v: upstream gets %q, want %q", tc.client, tc.stream, got, tc.want)
		}
	}
}

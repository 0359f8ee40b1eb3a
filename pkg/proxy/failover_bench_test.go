package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkFailover measures what a failover adds beyond the failed attempt
// itself (target: under 1 ms): "direct" is one good target, "failed" one
// target answering 503 (returned as is), "failover" the 503 then the good
// target. The added time is failover - failed - direct; make bench prints it
// as added_us.
func BenchmarkFailover(b *testing.B) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`))
	}))
	defer ok.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(503)
		_, _ = w.Write([]byte(`{"error":{"message":"overloaded","type":"server_error"}}`))
	}))
	defer bad.Close()
	second := func(url string) string {
		return strings.Replace(advancedTarget(url, "good", ""), "route_type", "weight: 1\n    route_type", 1)
	}
	cases := []struct{ name, doc string }{
		{"direct", "targets:" + advancedTarget(ok.URL, "good", "") + "\nbalancer: {algorithm: priority}\n"},
		{"failed", "targets:" + advancedTarget(bad.URL, "bad", "") + "\nbalancer: {algorithm: priority, failover_criteria: [error]}\n"},
		{"failover", "targets:" + advancedTarget(bad.URL, "bad", "") + second(ok.URL) + "\nbalancer: {algorithm: priority, failover_criteria: [http_503]}\n"},
	}
	per := map[string]time.Duration{}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			p := newFailoverProxyDoc(b, tc.doc, nil, nil)
			p.h.observe = nil
			start := time.Now()
			n := 0
			for b.Loop() {
				req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/m/chat/completions", strings.NewReader(chatBody))
				req.Header.Set("Content-Type", "application/json")
				p.h.ServeHTTP(httptest.NewRecorder(), req)
				n++
			}
			per[tc.name] = time.Since(start) / time.Duration(n)
		})
	}
	if d, f, fo := per["direct"], per["failed"], per["failover"]; d > 0 && f > 0 && fo > 0 {
		b.Logf("failover adds %v beyond the failed attempt (direct %v, failed %v, failover %v)", fo-f-d, d, f, fo)
	}
}

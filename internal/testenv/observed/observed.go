// Package observed keeps the statistics records a proxy under test hands
// its Observe hook (proxy.Options.Observe), so that a test can check what
// the proxy recorded for the request it just made.
package observed

import (
	"sync"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// Records is the records observed so far; the zero value is ready. A
// proxy observes from the goroutine that served the request, so it is
// safe for concurrent use.
type Records struct {
	mu   sync.Mutex
	recs []*stats.Record
}

// Observe is the hook: proxy.Options{Observe: recs.Observe}.
func (r *Records) Observe(rec *stats.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
}

// Last is the last record observed; t fails when there is none.
func (r *Records) Last(t testing.TB) *stats.Record {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recs) == 0 {
		t.Fatal("no statistics record")
	}
	return r.recs[len(r.recs)-1]
}

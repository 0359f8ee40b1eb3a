package proxy

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// BodyGate bounds how many request bodies from callers that have not been
// authenticated are read at once, in the whole process. A body is read
// into memory (up to max_request_body_size), so a flood of slow bodies
// would otherwise hold that much per connection. A request whose key
// passed key-auth in a header or the query does not take a slot; with
// key-auth off, or for key_in_body, every body read does.
//
// A request that finds every slot taken waits up to the gate's wait for
// one, then gets 503 server_busy with Retry-After, its body unread. The
// gate is for a server that reads bodies off the network; on Lambda the
// body is already in memory and no gate is used.
type BodyGate struct {
	slots chan struct{}
	wait  time.Duration
}

// Defaults for NewBodyGate.
const (
	DefaultBodyReads    = 64
	DefaultBodyGateWait = time.Second
)

// NewBodyGate returns a gate of n slots (DefaultBodyReads if n <= 0) at
// which a request waits at most wait (none if wait <= 0).
func NewBodyGate(n int, wait time.Duration) *BodyGate {
	if n <= 0 {
		n = DefaultBodyReads
	}
	return &BodyGate{slots: make(chan struct{}, n), wait: wait}
}

// read reads r's body within limit; an unauthenticated read holds a slot
// of g (which may be nil: no gate) while it lasts. A body refused on its
// declared length, or an empty one, takes no slot: nothing is read.
func (g *BodyGate) read(r *http.Request, limit int64, authenticated bool) ([]byte, *apiError) {
	if g == nil || authenticated || r.ContentLength > limit || r.Body == nil || r.Body == http.NoBody {
		return readBody(r, limit)
	}
	release, e := g.enter(r.Context())
	if e != nil {
		return nil, e
	}
	defer release()
	return readBody(r, limit)
}

func (g *BodyGate) enter(ctx context.Context) (func(), *apiError) {
	release := func() { <-g.slots }
	select {
	case g.slots <- struct{}{}:
		return release, nil
	default:
	}
	if g.wait > 0 {
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
			return release, nil
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return nil, &apiError{status: http.StatusServiceUnavailable, message: "too many request bodies are being read; try again shortly", typ: typeServer, code: "server_busy",
		header: http.Header{"Retry-After": {strconv.Itoa(max(1, int(g.wait.Round(time.Second)/time.Second)))}}}
}

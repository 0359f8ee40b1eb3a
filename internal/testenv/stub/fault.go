package stub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Faults, for failover tests: a request whose model names a fault gets it.
// The model is how an out-of-process proxy steers the stub per target (the
// same client request reaches every target; each target's configured model
// differs), since headers reach only OpenAI-format upstreams:
//
//	fault-429             429 with Retry-After: 1
//	fault-429-bare        429 without Retry-After
//	fault-500, -502, -503, -504   that status, OpenAI-shaped
//	fault-400             a client error (never a failover)
//	fault-hang            no answer until the caller gives up
//	fault-reset           the connection closed before any answer
//	fault-slow-<dur>      the normal answer after <dur> (a slow first byte)
//	fault-stream-error-first   200 event stream, a role chunk, then an
//	                           error event before any content
//	fault-stream-error-after   200 event stream, content, then an error event
//	fault-stream-429-first     200 event stream, a role chunk, then a rate
//	                           limit error event before any content
//
// SetFault makes any model name behave as one of these (or normally, with
// ""), so that a test can break and heal a target while it runs.
const FaultPrefix = "fault-"

var faultMu sync.Mutex

// SetFault makes requests for model behave as fault (a name above without
// the model's own meaning); "" restores the normal answer.
func (s *Server) SetFault(model, fault string) {
	faultMu.Lock()
	defer faultMu.Unlock()
	if s.faults == nil {
		s.faults = map[string]string{}
	}
	s.faults[model] = fault
}

// Hits counts the requests the stub received for model.
func (s *Server) Hits(model string) int {
	n := 0
	for _, r := range s.Requests() {
		var b struct {
			Model string `json:"model"`
		}
		if json.Unmarshal(r.Body, &b) == nil && b.Model == model {
			n++
		}
	}
	return n
}

// fault answers a faulty request and reports whether it did.
func (s *Server) fault(w http.ResponseWriter, r *http.Request, body []byte) bool {
	var req chatRequest
	if json.Unmarshal(body, &req) != nil {
		return false
	}
	f := req.Model
	faultMu.Lock()
	if o, ok := s.faults[req.Model]; ok {
		f = o
	}
	faultMu.Unlock()
	if !strings.HasPrefix(f, FaultPrefix) {
		return false
	}
	switch f = strings.TrimPrefix(f, FaultPrefix); {
	case f == "429":
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "rate limited")
	case f == "429-bare":
		writeError(w, http.StatusTooManyRequests, "rate limited")
	case f == "500" || f == "502" || f == "503" || f == "504" || f == "400" || f == "403" || f == "404":
		var st int
		fmt.Sscan(f, &st)
		writeError(w, st, "stub fault "+f)
	case f == "hang":
		<-r.Context().Done()
	case f == "reset":
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		} else {
			panic(http.ErrAbortHandler)
		}
	case strings.HasPrefix(f, "slow-"):
		d, _ := time.ParseDuration(strings.TrimPrefix(f, "slow-"))
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return true
		}
		return false // then the normal answer
	case f == "stream-error-first" || f == "stream-error-after" || f == "stream-429-first":
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		delta := `{"role":"assistant","content":""}`
		if f == "stream-error-after" {
			delta = `{"role":"assistant","content":"` + strings.TrimSpace(Word(0)) + `"}`
		}
		fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-fault\",\"object\":\"chat.completion.chunk\",\"model\":%q,\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":null}]}\n\n", req.Model, delta)
		_ = rc.Flush()
		ev := `{"error":{"message":"Overloaded","type":"overloaded_error","code":"overloaded"}}`
		if f == "stream-429-first" {
			ev = `{"error":{"message":"Rate limit reached for requests","type":"requests","code":"rate_limit_exceeded"}}`
		}
		fmt.Fprintf(w, "data: %s\n\n", ev)
		_ = rc.Flush()
	default:
		writeError(w, http.StatusBadRequest, "unknown stub fault "+f)
	}
	return true
}

package proxy

import (
	"errors"
	"net/http"
)

// RefusedWrite is the error a ResponseWriter returns from Write when it
// refuses the answer and sends an error of its own instead: an edge whose
// platform caps a buffered response's size (Lambda's 6 MB) holds no more
// than that and answers 502 response_too_large. net/http reports a failed
// Write the same way; this type tells the handler what the client gets, so
// that the statistics count the request as the edge answered it, not with
// the upstream's status.
type RefusedWrite struct {
	Status int    // the status the client gets instead
	Code   string // its OpenAI error code
	Reason string
}

func (e *RefusedWrite) Error() string { return e.Reason }

// answerWriter is the ResponseWriter ReverseProxy relays into. It hears a
// refused Write, which ReverseProxy only logs, and records it on the
// outcome. Unwrap keeps http.ResponseController (flushes) reaching the
// writer underneath.
type answerWriter struct {
	http.ResponseWriter
	o *outcome
}

func (w *answerWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	if err != nil {
		var rw *RefusedWrite
		if errors.As(err, &rw) && !w.o.refused {
			w.o.refused = true
			w.o.status, w.o.errCode = rw.Status, rw.Code
		}
	}
	return n, err
}

func (w *answerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

package localguard

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// bodyDeadline wraps every handler of the local server, refusals
// included, so that a request is judged from its head alone and a
// refusal leaves at once:
//
//   - The body gets d to arrive. The deadline is lifted once the whole
//     body has been read: a streamed answer may then take as long as the
//     model does. A client that stalls mid-body has its connection closed
//     when the deadline passes.
//   - An answer sent before the body was read to its end carries
//     "Connection: close", and the connection reads nothing more. net/http
//     would otherwise read (discard) up to 256 KiB of the unread body
//     before it writes the answer, and again before it closes, so a client
//     that waits to be told (Expect: 100-continue) or that declared more
//     than it will send would get no answer, or no end of it, until the
//     body deadline. A request that sent Expect: 100-continue thus gets
//     "100 Continue" only when the handler reads its body, that is only
//     after it passed.
//
// The server's own *http.Request is left as it is (the body is wrapped on
// a shallow copy): net/http decides from its type whether a body is still
// unread, and a replaced body would hide that.
func bodyDeadline(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		b := &deadlineBody{ReadCloser: r.Body}
		cw := &closingWriter{ResponseWriter: w, body: b}
		if rc.SetReadDeadline(time.Now().Add(d)) == nil {
			b.lift = func() { _ = rc.SetReadDeadline(time.Time{}) }
			cw.cut = func() { _ = rc.SetReadDeadline(time.Now()) }
		}
		r2 := new(http.Request)
		*r2 = *r
		r2.Body = b
		h.ServeHTTP(cw, r2)
	})
}

// deadlineBody is a request body that knows whether it was read to its end.
type deadlineBody struct {
	io.ReadCloser
	lift func() // nil when the deadline could not be set
	mu   sync.Mutex
	eof  bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.mu.Lock()
		if !b.eof {
			b.eof = true
			if b.lift != nil {
				b.lift()
			}
		}
		b.mu.Unlock()
	}
	return n, err
}

func (b *deadlineBody) done() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.eof
}

// closingWriter adds "Connection: close" to an answer whose request body
// was not read to its end when the answer's head is written, and ends
// reading on the connection: the rest of that body is never read.
type closingWriter struct {
	http.ResponseWriter
	body  *deadlineBody
	cut   func() // nil when read deadlines cannot be set
	wrote bool
}

func (w *closingWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.wrote = true
		if !w.body.done() {
			w.ResponseWriter.Header().Set("Connection", "close")
			if w.cut != nil {
				w.cut()
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *closingWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// FlushError is what http.ResponseController calls (with the error), and
// Flush what handlers that test for http.Flusher do; the controller finds
// the rest (deadlines, hijacking) through Unwrap.
func (w *closingWriter) FlushError() error {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *closingWriter) Flush() { _ = w.FlushError() }

func (w *closingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

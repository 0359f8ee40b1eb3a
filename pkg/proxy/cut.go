package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ErrDeadline is the cause an edge gives the request context when it cuts
// a request short of a time limit the platform would otherwise enforce
// (context.WithDeadlineCause). The proxy then ends the answer itself, in
// OpenAI's shape, instead of letting the platform truncate it: a 504
// before the response header, an SSE error event in a stream, a failed
// answer otherwise. It is counted with the error code deadline_exceeded.
var ErrDeadline = errors.New("the request reached its time limit")

const codeDeadline = "deadline_exceeded"

// deadlineHit reports whether ctx ended because of ErrDeadline.
func deadlineHit(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), ErrDeadline)
}

func deadlineError() *apiError {
	return &apiError{status: http.StatusGatewayTimeout, message: "the answer did not complete within the time limit", typ: typeServer, code: codeDeadline}
}

// streamFailure records why a relayed event stream stopped early and
// returns the payload of the SSE error event that ends it.
func streamFailure(ctx context.Context, o *outcome, err error) []byte {
	if deadlineHit(ctx) {
		o.streamErr, o.status, o.errCode = ErrDeadline, http.StatusGatewayTimeout, codeDeadline
		e := deadlineError()
		return errorJSON(e.message, e.typ, e.param, e.code)
	}
	o.streamErr = err
	return errorJSON("upstream stream failed before completion", typeServer, "", "upstream_stream_error")
}

// bodyWatch wraps a non-streamed upstream answer so that a read that
// fails (the upstream reset the connection halfway, or the deadline hit)
// is recorded on the outcome: finish then aborts the response and the
// statistics count a 5xx. ReverseProxy only aborts by itself under a
// net/http server (http.ServerContextKey in the context); an edge that
// adapts another runtime would otherwise end a truncated answer cleanly.
type bodyWatch struct {
	io.ReadCloser
	ctx context.Context
	o   *outcome
}

func watchBody(ctx context.Context, body io.ReadCloser, o *outcome) io.ReadCloser {
	return &bodyWatch{ReadCloser: body, ctx: ctx, o: o}
}

func (b *bodyWatch) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && b.o.streamErr == nil {
		switch {
		case deadlineHit(b.ctx):
			b.o.streamErr, b.o.status, b.o.errCode = ErrDeadline, http.StatusGatewayTimeout, codeDeadline
		case b.ctx.Err() == nil: // else the client went away: nobody to tell
			b.o.streamErr = fmt.Errorf("upstream answer cut short: %w", err)
			b.o.status, b.o.errCode = http.StatusBadGateway, "upstream_body_error"
		}
	}
	return n, err
}

// failureMessage is the log message for an answer that ended early.
func failureMessage(err error) string {
	if errors.Is(err, ErrDeadline) {
		return "deadline reached: answer ended early, upstream cancelled"
	}
	return "upstream stream failed"
}

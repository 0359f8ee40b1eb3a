package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
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
// returns the payload of the SSE error event that ends it. A deadline's
// event carries the usage so far (soFar), since the client has the tokens
// it was sent and may account for them: the error object plus a top-level
// "usage" as a chunk has it, so that SDKs reading chunk usage see it.
func streamFailure(ctx context.Context, o *outcome, err error, soFar func() *stats.Usage) []byte {
	if deadlineHit(ctx) {
		o.streamErr, o.status, o.errCode = ErrDeadline, http.StatusGatewayTimeout, codeDeadline
		if o.usage == nil && soFar != nil {
			o.usage = soFar()
		}
		e := deadlineError()
		return appendUsage(errorJSON(e.message, e.typ, e.param, e.code), o.usage)
	}
	o.streamErr = err
	var se *provider.StreamError
	if errors.As(err, &se) {
		// A translating driver's provider failed mid-stream: its own
		// words, in OpenAI's shape.
		return errorJSON(se.Message, se.Type, "", se.Code)
	}
	return errorJSON("upstream stream failed before completion", typeServer, "", "upstream_stream_error")
}

// appendUsage adds "usage" to a JSON object: the counts as OpenAI names
// them, and "estimated": true when the proxy estimated them as Kong does.
func appendUsage(obj []byte, u *stats.Usage) []byte {
	if u == nil || len(obj) == 0 || obj[len(obj)-1] != '}' {
		return obj
	}
	obj = obj[:len(obj)-1]
	obj = append(obj, `,"usage":{"prompt_tokens":`...)
	obj = strconv.AppendInt(obj, int64(u.PromptTokens), 10)
	obj = append(obj, `,"completion_tokens":`...)
	obj = strconv.AppendInt(obj, int64(u.CompletionTokens), 10)
	obj = append(obj, `,"total_tokens":`...)
	obj = strconv.AppendInt(obj, int64(u.TotalTokens), 10)
	if u.Estimated {
		obj = append(obj, `,"estimated":true`...)
	}
	return append(obj, "}}"...)
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

package proxy

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// maxErrorBody bounds an upstream error body the proxy relays. Error
// bodies are a few hundred bytes; one larger than this is replaced.
const maxErrorBody = 64 << 10

// redactErrorBody replaces a non-2xx answer's body with the same body
// with the request's upstream credentials blanked (secrets, as
// stats.SecretForms spells them): an upstream that echoes the request's
// Authorization header or URL in its error (or in a redirect's Location)
// must not hand the key to the client. Its headers are redacted too. The
// body is read whole (at most maxErrorBody) before the header is sent,
// since a credential can span two reads; a gzip body is decoded and
// relayed plain.
func redactErrorBody(res *http.Response, secrets []string) {
	if len(secrets) == 0 {
		return
	}
	redactHeaders(res.Header, secrets)
	upstream := res.Body
	var src io.Reader = upstream
	enc := strings.ToLower(strings.TrimSpace(res.Header.Get("Content-Encoding")))
	if enc == "gzip" {
		if zr, err := gzip.NewReader(upstream); err == nil {
			src = zr
		} else {
			enc = "undecodable"
		}
	}
	b, err := io.ReadAll(io.LimitReader(src, maxErrorBody+1))
	switch {
	case enc != "" && enc != "identity" && enc != "gzip":
		b, err = unreadableError(res, "in an encoding the proxy cannot read ("+safeToken(enc)+")"), nil
	case len(b) > maxErrorBody:
		b, err = unreadableError(res, fmt.Sprintf("larger than %d bytes", maxErrorBody)), nil
	default:
		b = stats.Redact(b, secrets)
	}
	res.Header.Del("Content-Encoding")
	var body io.Reader = bytes.NewReader(b)
	if err != nil && !errors.Is(err, io.EOF) {
		// Relayed as far as it came; the read error then reaches the
		// body watch, which records the cut.
		body = io.MultiReader(body, &errReader{err})
		res.Header.Del("Content-Length")
		res.ContentLength = -1
	} else {
		res.Header.Set("Content-Length", strconv.Itoa(len(b)))
		res.ContentLength = int64(len(b))
	}
	res.Body = struct {
		io.Reader
		io.Closer
	}{body, upstream}
}

// unreadableError is the body that replaces an error body the proxy cannot
// check; the upstream's status stays.
func unreadableError(res *http.Response, why string) []byte {
	res.Header.Set("Content-Type", "application/json")
	return errorJSON(fmt.Sprintf("the upstream answered %d with an error body %s", res.StatusCode, why), typeServer, "", "upstream_error_unreadable")
}

// safeToken bounds an upstream-chosen name for a message.
func safeToken(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	return strconv.Quote(s)
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

// redactHeaders blanks the secrets in every header value.
func redactHeaders(h http.Header, secrets []string) {
	for _, vs := range h {
		for i, v := range vs {
			if r := string(stats.Redact([]byte(v), secrets)); r != v {
				vs[i] = r
			}
		}
	}
}

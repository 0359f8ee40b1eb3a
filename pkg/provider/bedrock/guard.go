package bedrock

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
)

// guardClient is the SDK client's HTTP client: it bounds what an answer
// may make the SDK hold. An event stream's frames are checked as their
// preludes pass (frameGuard); any other body is cut past maxBody.
type guardClient struct {
	inner    aws.HTTPClient
	maxFrame int
	maxBody  int64
}

func (g *guardClient) Do(r *http.Request) (*http.Response, error) {
	// The SDK signs each attempt where the proxy cannot see it: the
	// session token (an assumed role's, or the function's own) and the
	// signature are reported, to be blanked if the endpoint echoes them.
	provider.ReportCredential(r.Context(), r.Header.Get("X-Amz-Security-Token"), signature(r.Header.Get("Authorization")))
	if err := detachBody(r); err != nil {
		return nil, err
	}
	res, err := g.inner.Do(r)
	if err != nil || res.Body == nil {
		return res, err
	}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/vnd.amazon.eventstream") {
		res.Body = &frameGuard{r: res.Body, max: uint32(g.maxFrame)}
	} else {
		res.Body = &limitBody{r: res.Body, left: g.maxBody}
	}
	return res, nil
}

// detachBody gives the transport a request body of its own. smithy-go
// closes the body it built as soon as Do returns, which is when the
// answer's header has come, and that body then reads as io.EOF; but
// net/http may still be finishing the body then (it reads on past
// ContentLength to check for more), and an EOF there makes it close the
// connection under the answer the SDK is reading ("use of closed network
// connection" on a 200; the SDK's retry would then call the model again).
// The body is in memory already (a Converse or InvokeModel input), so the
// copy is the request's size once.
func detachBody(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return fmt.Errorf("read the request body: %w", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return nil
}

// signature is the Signature of a SigV4 Authorization header, the one
// part of it that is secret (the access key id is not); "" for none.
func signature(authz string) string {
	_, sig, ok := strings.Cut(authz, "Signature=")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(sig, ", "); i >= 0 {
		sig = sig[:i]
	}
	return sig
}

// frameTooLarge is a frame whose prelude announces more than the limit
// (or less than a frame's minimum: a corrupt stream).
type frameTooLarge struct{ total, max uint32 }

func (e *frameTooLarge) Error() string {
	if e.total < minFrame {
		return fmt.Sprintf("the Bedrock event stream is corrupt: a frame announces %d bytes", e.total)
	}
	return fmt.Sprintf("a Bedrock event-stream frame announces %d bytes, more than the %d allowed", e.total, e.max)
}

// minFrame is an event-stream frame with no headers and no payload:
// prelude (12) and message CRC (4).
const minFrame = 16

// frameGuard passes an event stream through, reading the total length
// at the start of each frame's prelude; a frame over max fails the read
// that carries its length, before the SDK's decoder reads the prelude
// whole and allocates the frame.
type frameGuard struct {
	r    io.ReadCloser
	max  uint32
	left int64 // bytes of the current frame still to pass; 0 between frames
	pre  [4]byte
	npre int
	err  error
}

func (g *frameGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	for i := 0; i < n; {
		if g.left == 0 {
			for g.npre < 4 && i < n {
				g.pre[g.npre] = p[i]
				g.npre++
				i++
			}
			if g.npre == 4 {
				total := binary.BigEndian.Uint32(g.pre[:])
				if total > g.max || total < minFrame {
					g.err = &frameTooLarge{total: total, max: g.max}
					return 0, g.err
				}
				g.left, g.npre = int64(total)-4, 0
			}
			continue
		}
		k := min(int64(n-i), g.left)
		g.left -= k
		i += int(k)
	}
	return n, err
}

func (g *frameGuard) Close() error { return g.r.Close() }

// limitBody fails a read past its bound.
type limitBody struct {
	r    io.ReadCloser
	left int64
}

func (l *limitBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		if n, err := l.r.Read(one[:]); n == 0 && err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("the Bedrock answer is larger than allowed")
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitBody) Close() error { return l.r.Close() }

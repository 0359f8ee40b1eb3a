package provider

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// MaxEvent bounds one provider event (an SSE event or a JSON line) and a
// provider's error body: past it a stream fails rather than buffers.
const MaxEvent = 1 << 20

// ErrEventTooLarge is a provider event over MaxEvent.
var ErrEventTooLarge = errors.New("a provider event is larger than 1 MiB")

// ReadLine reads one line without its end of line ("\n" or "\r\n"),
// refusing one longer than max. io.EOF comes only with no bytes read; a
// last line without its newline is returned with io.ErrUnexpectedEOF.
func ReadLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > max+2 {
			return nil, ErrEventTooLarge
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			line = bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'})
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) == 0:
			return nil, io.EOF
		case errors.Is(err, io.EOF):
			return line, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// SplitBodyParam removes auth.param_name from an OpenAI body when the
// auth param travels in the body (the proxy put it there, with the value
// it chose), so that a translating driver can decode the rest strictly
// and put the value into the provider's own body. value is "" when there
// is none.
func SplitBodyParam(body []byte, a config.Auth) (rest []byte, value string, err error) {
	if a.ParamLocation != "body" || a.ParamName == "" {
		return body, "", nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, "", Invalid("", "the request body is not a JSON object")
	}
	raw, ok := m[a.ParamName]
	if !ok {
		return body, "", nil
	}
	delete(m, a.ParamName)
	_ = json.Unmarshal(raw, &value)
	rest, _ = json.Marshal(m)
	return rest, value, nil
}

// AddBodyParam adds "name": value as the first member of a JSON object.
func AddBodyParam(body []byte, name, value string) []byte {
	if name == "" || value == "" || len(body) < 2 || body[0] != '{' {
		return body
	}
	out := make([]byte, 0, len(body)+len(name)+len(value)+8)
	out = append(out, '{')
	out = AppendString(out, name)
	out = append(out, ':')
	out = AppendString(out, value)
	if len(bytes.TrimSpace(body[1:])) > 1 {
		out = append(out, ',')
	}
	return append(out, body[1:]...)
}

// AuthHeaders are the only request headers a translating driver forwards
// to its provider: the configured auth header (which the proxy has set,
// or kept from the client under allow_override). The client's other
// headers are for this proxy, not for a provider with another API.
func AuthHeaders(from http.Header, a config.Auth) http.Header {
	h := http.Header{}
	if a.HeaderName != "" {
		if v := from.Values(a.HeaderName); len(v) > 0 {
			h[http.CanonicalHeaderKey(a.HeaderName)] = v
		}
	}
	return h
}

// UpstreamError reads a provider's non-2xx answer (at most MaxEvent bytes
// of it) into an OpenAI-shaped error of the same status: 429 keeps its
// Retry-After. message extracts the provider's own message from the body;
// when it finds none, the status text is used.
func UpstreamError(res *http.Response, provider string, message func([]byte) string) *Error {
	body, _ := io.ReadAll(io.LimitReader(res.Body, MaxEvent))
	res.Body.Close()
	msg := strings.TrimSpace(message(body))
	if msg == "" {
		msg = http.StatusText(res.StatusCode)
	}
	e := &Error{Status: res.StatusCode, Type: StatusType(res.StatusCode), Message: provider + " error: " + msg}
	if res.StatusCode < 400 {
		e.Status, e.Type = http.StatusBadGateway, TypeServer
	}
	if ra := res.Header.Get("Retry-After"); ra != "" {
		e.Header = http.Header{"Retry-After": {ra}}
	}
	return e
}

// DefaultPath is u, or u with path when u names none (a bare host in
// upstream_url gets the endpoint Kong's drivers append).
func DefaultPath(u *url.URL, path string) *url.URL {
	if u.Path != "" && u.Path != "/" {
		return u
	}
	v := *u
	v.Path, v.RawPath = path, ""
	return &v
}

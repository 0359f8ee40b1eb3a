package kong

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sync"
)

// The credential the specs configure, and the one their mock accepts.
const openAIKey = "openai-key"

// received is one request as the mock upstream saw it.
type received struct {
	method string
	// target is the URL the proxy addressed (before the test transport
	// sent it to the mock): scheme, host, path and query.
	target *url.URL
	header http.Header
	body   []byte
}

// mock answers as the nginx locations of Kong's specs do. Like them, it
// checks the upstream credential: the Authorization header, the apikey
// query parameter or the apikey body member must be openai-key.
type mock struct {
	mu       sync.Mutex
	requests []received
	pending  []*url.URL
	// gate, when set, holds a stream after its first write until closed,
	// so that a test can prove the first event reached the client first.
	gate chan struct{}
}

func newMock() *mock { return &mock{} }

// target is told, just before each upstream request, the URL the proxy
// meant to reach.
func (m *mock) target(u *url.URL) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending = append(m.pending, u)
}

func (m *mock) received() []received {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]received(nil), m.requests...)
}

// last is the last upstream request, or ends the row when there is none.
func (m *mock) last(c *check) received {
	r := m.received()
	if len(r) == 0 {
		c.fatalf("the upstream received no request")
	}
	return r[len(r)-1]
}

func (m *mock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m.mu.Lock()
	rec := received{method: r.Method, target: r.URL, header: r.Header.Clone(), body: body}
	if len(m.pending) > 0 {
		rec.target, m.pending = m.pending[0], m.pending[1:]
	}
	m.requests = append(m.requests, rec)
	m.mu.Unlock()

	var parsed map[string]any
	jsonErr := json.Unmarshal(body, &parsed)
	authorized := r.Header.Get("Authorization") == "Bearer "+openAIKey ||
		r.URL.Query().Get("apikey") == openAIKey || parsed["apikey"] == openAIKey
	headerAuthorized := r.Header.Get("Authorization") == "Bearer "+openAIKey
	noMessages := jsonErr != nil || parsed["messages"] == nil

	switch r.URL.Path {
	case "/llm/v1/chat/good":
		switch {
		case !authorized:
			write(w, 401, "application/json", unauthorizedResponse)
		case noMessages:
			write(w, 400, "application/json", chatBadRequestResponse)
		default:
			write(w, 200, "application/json", chatGoodResponse)
		}
	case "/llm/v1/chat/bad_upstream_response":
		switch {
		case !headerAuthorized:
			write(w, 401, "application/json", unauthorizedResponse)
		case noMessages:
			write(w, 400, "application/json", chatBadRequestResponse)
		default:
			write(w, 200, "application/json", chatNoChoicesResponse)
		}
	case "/llm/v1/chat/bad_request":
		write(w, 400, "application/json", chatBadRequestResponse)
	case "/llm/v1/chat/internal_server_error":
		write(w, 500, "text/html", internalErrorHTML)
	case "/llm/v1/completions/good":
		switch {
		case !authorized:
			write(w, 401, "application/json", unauthorizedResponse)
		case jsonErr != nil:
			write(w, 400, "application/json", completionsBadRequestResponse)
		default:
			write(w, 200, "application/json", completionsResponse)
		}
	case "/llm/v1/completions/bad_request":
		write(w, 400, "application/json", completionsBadRequestResponse)
	case "/llm/v1/embeddings/good":
		switch {
		case !authorized:
			write(w, 401, "application/json", unauthorizedResponse)
		case parsed["input"] == embeddingsInput && parsed["model"] == embeddingsModel:
			write(w, 200, "application/json", embeddingsResponse)
		default:
			write(w, 400, "application/json", chatBadRequestResponse)
		}
	case "/v1/chat/completions":
		m.encoding(w, r, headerAuthorized, noMessages)
	case "/openai/llm/v1/chat/good", "/openai/llm/v1/chat/partial":
		switch {
		case !authorized:
			write(w, 401, "application/json", unauthorizedResponse)
		case noMessages:
			write(w, 400, "application/json", chatBadRequestResponse)
		default:
			writes := streamWrites
			if r.URL.Path == "/openai/llm/v1/chat/partial" {
				writes = partialWrites()
			}
			m.stream(w, r, writes)
		}
	case "/unit/stream/chat":
		m.stream(w, r, []string{unitChatFrame, "data: [DONE]\n\n"})
	case "/unit/stream/completions":
		m.stream(w, r, []string{unitCompletionsFrame, "data: [DONE]\n\n"})
	case "/openai/llm/v1/chat/bad":
		switch {
		case !authorized:
			write(w, 401, "application/json", unauthorizedResponse)
		default:
			write(w, 400, "application/json", `{"error": { "message": "failure of some kind" }}`+"\n")
		}
	default:
		// nginx's answer for a location the mock does not have.
		write(w, 404, "text/html", "<html><body><h1>404 Not Found</h1></body></html>\n")
	}
}

// encoding is 08-encoding's mock at OpenAI's own path: X-Test-Type picks
// the answer, which is always gzip-compressed, whatever the request
// accepted.
func (m *mock) encoding(w http.ResponseWriter, r *http.Request, authorized, noMessages bool) {
	if !authorized {
		w.WriteHeader(401)
		return
	}
	if noMessages {
		w.WriteHeader(400)
		return
	}
	status, body := 200, encGoodResponse
	switch r.Header.Get("X-Test-Type") {
	case "200_FAULTY":
		body = encFaultyResponse
	case "401":
		status, body = 401, encUnauthorized
	case "500":
		status, body = 500, encError
	case "500_FAULTY":
		status, body = 500, encErrorFaulty
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Encoding", "gzip")
	w.WriteHeader(status)
	_, _ = w.Write(gzipped(body))
}

func write(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// stream writes an event stream in the given writes, each flushed; with
// a gate, it waits after the first write until the gate opens.
func (m *mock) stream(w http.ResponseWriter, r *http.Request, writes []string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	rc := http.NewResponseController(w)
	for i, s := range writes {
		_, _ = io.WriteString(w, s)
		_ = rc.Flush()
		if i == 0 && m.gate != nil {
			select {
			case <-m.gate:
			case <-r.Context().Done():
				return
			}
		}
	}
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte(s))
	_ = zw.Close()
	return b.Bytes()
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(zr, 1<<20))
}

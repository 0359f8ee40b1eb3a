// Package bedrockstub is a Bedrock runtime server for tests, the offline demo
// and benchmarks. It speaks the real wire protocol: REST-JSON per the
// bedrockruntime API model, answers streamed as
// application/vnd.amazon.eventstream frames written with the SDK's own
// eventstream encoder, errors in the shape the SDK's deserializer reads
// (x-amzn-ErrorType header, {"message":...} body). Every request must carry a
// SigV4 signature that the SDK's own signer reproduces with the server's
// credentials (service "bedrock"); anything else is refused with 403, so an
// unsigned or wrongly signed call fails the test.
//
// Operations, model id percent-escaped in one path segment as the SDK sends
// it (':' as %3A, '/' as %2F):
//
//	POST /model/{modelId}/converse
//	POST /model/{modelId}/converse-stream
//	POST /model/{modelId}/invoke                        Anthropic Messages body
//	POST /model/{modelId}/invoke-with-response-stream   Anthropic Messages body
//	POST /model/{modelId}/count-tokens
//	POST /model/{modelId}/invoke                        Titan / Cohere embeddings body (embeddings.go)
//
// Converse bodies are validated as Bedrock does where it matters to a driver
// (see validate.go). The answer comes from, in order: a Scenario queued with
// Next, the Script function, or the model id (see ScenarioFor): stub.text,
// stub.tools, stub.reasoning, stub.cache, stub.length, stub.guardrail,
// stub.error-<kind>, stub.error-midstream, stub.cut; any other model id gets a
// text answer echoing it.
package bedrockstub

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stubcore"
)

// Default credentials and region: what a test's SDK client signs with
// unless the test configures others.
const (
	DefaultRegion          = "us-east-1"
	DefaultAccessKeyID     = "AKIDBEDROCKSTUB"
	DefaultSecretAccessKey = "bedrock-stub-secret"
	// SigningName is the SigV4 service name the bedrockruntime client signs
	// with (not "bedrock-runtime").
	SigningName = "bedrock"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Region the credential scope must name (DefaultRegion if empty).
	Region string
	// AccessKeyID and SecretAccessKey the signatures are checked against
	// (DefaultAccessKeyID / DefaultSecretAccessKey if empty).
	AccessKeyID, SecretAccessKey string
	// SessionToken, when set, must arrive as X-Amz-Security-Token (and be
	// signed); when empty, a request carrying one is refused.
	SessionToken string
	// MaxBodyBytes bounds a request body (4 MiB if 0); larger is a 400
	// ValidationException.
	MaxBodyBytes int64
	// Defaults for every scenario (a Scenario or model-id modifier
	// overrides them): text deltas in a default answer (5), padding of each
	// delta's text to about this many bytes, delay before each event after
	// the first, and lockstep (see Server.Step).
	Chunks     int
	ChunkBytes int
	EventDelay time.Duration
	Lockstep   bool
	// FirstByteDelay is waited before the response headers (5ms if 0, none
	// if negative). The SDK's smithy client closes the request body as
	// soon as the response headers arrive (transport/http/client.go), and
	// when that beats net/http's write loop, which is still finishing the
	// request, the transport tears the connection down: a stream then dies
	// after its first event with "use of closed network connection"
	// (aws-sdk-go-v2#2737). Real Bedrock never answers within microseconds;
	// a server that does makes the SDK flaky.
	FirstByteDelay time.Duration
	// ClockSkew is how far X-Amz-Date may be from now (5 minutes if 0).
	ClockSkew time.Duration
}

// Request is what the server received.
type Request struct {
	// Operation: "Converse", "ConverseStream", "InvokeModel",
	// "InvokeModelWithResponseStream", "CountTokens", or "" for an unknown
	// path.
	Operation string
	Method    string
	// RawPath is the path as sent (escaped); ModelID the decoded model id.
	RawPath string
	ModelID string
	Host    string
	Header  http.Header
	Body    []byte
	// Signed: the signature checked out. Refused requests are recorded
	// too, with Signed false.
	Signed bool
	// Converse is the decoded body of a Converse / ConverseStream request
	// (nil otherwise, or when it did not decode).
	Converse *ConverseRequest
	// Anthropic is the decoded body of an InvokeModel* request with an
	// Anthropic Messages body.
	Anthropic *AnthropicRequest
}

// Server is the Bedrock runtime test server; it is an http.Handler.
type Server struct {
	opts Options

	stubcore.Log[Request]
	// Queue: Next queues scenarios; each request that gets past the
	// signature and validation checks takes the next one, before Script
	// and model ids count.
	stubcore.Queue[Scenario]
	// Lockstep: Step, and the Stalled and Cancelled streams.
	stubcore.Lockstep

	mu     sync.Mutex
	script func(Request) *Scenario
	// Record keeps every request for Requests(); benchmarks turn it off.
	Record bool

	signed, refused atomic.Int64
}

// New returns a recording server.
func New(opts Options) *Server {
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.AccessKeyID == "" {
		opts.AccessKeyID = DefaultAccessKeyID
	}
	if opts.SecretAccessKey == "" {
		opts.SecretAccessKey = DefaultSecretAccessKey
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 4 << 20
	}
	if opts.Chunks <= 0 {
		opts.Chunks = 5
	}
	if opts.FirstByteDelay == 0 {
		opts.FirstByteDelay = 5 * time.Millisecond
	}
	if opts.ClockSkew <= 0 {
		opts.ClockSkew = 5 * time.Minute
	}
	return &Server{opts: opts, Record: true}
}

// Options returns the server's options with defaults filled in (the
// credentials and region a client must use).
func (s *Server) Options() Options { return s.opts }

// Serve answers on l until it is closed; the demo's shape:
//
//	l, _ := net.Listen("tcp", "127.0.0.1:0")
//	srv := bedrockstub.New(bedrockstub.Options{})
//	go srv.Serve(l) // endpoint: "http://" + l.Addr().String()
func (s *Server) Serve(l net.Listener) error { return stubcore.Serve(l, s) }

// Listen starts the server on a free local port and returns its endpoint
// (http://127.0.0.1:port, the client's BaseEndpoint) and a stop function.
func (s *Server) Listen() (endpoint string, stop func(), err error) { return stubcore.Listen(s) }

// ListenT is Listen for a test: it fails t if it cannot listen, and stops
// the server when t ends.
func (s *Server) ListenT(t testing.TB) (endpoint string) { return stubcore.ListenT(t, s) }

// Script sets a function choosing each request's scenario (after the Next
// queue is empty); returning nil falls back to the model-id conventions.
func (s *Server) Script(f func(Request) *Scenario) {
	s.mu.Lock()
	s.script = f
	s.mu.Unlock()
}

// Reset forgets recorded requests, queued scenarios, counters and pending
// Steps.
func (s *Server) Reset() {
	s.ForgetRequests()
	s.ForgetQueued()
	s.signed.Store(0)
	s.refused.Store(0)
	s.ResetLockstep()
}

// Signed returns how many requests passed the signature check; Refused how
// many were refused for their signature or credentials.
func (s *Server) Signed() int64  { return s.signed.Load() }
func (s *Server) Refused() int64 { return s.refused.Load() }

// lockstepWait bounds how long a lockstep stream waits for the next Step.
const lockstepWait = 10 * time.Second

func (s *Server) record(req Request) {
	if !s.Record {
		return
	}
	s.Add(req)
}

// operations maps the last path segment to the operation name.
var operations = map[string]string{
	"converse":                    "Converse",
	"converse-stream":             "ConverseStream",
	"invoke":                      "InvokeModel",
	"invoke-with-response-stream": "InvokeModelWithResponseStream",
	"count-tokens":                "CountTokens",
}

// route splits /model/{escaped id}/{op}; the id must be one escaped
// segment, as the SDK sends it.
func route(rawPath string) (op, modelID string, ok bool) {
	parts := strings.Split(rawPath, "/")
	if len(parts) != 4 || parts[0] != "" || parts[1] != "model" || parts[2] == "" {
		return "", "", false
	}
	op, ok = operations[parts[3]]
	if !ok {
		return "", "", false
	}
	id, err := url.PathUnescape(parts[2])
	if err != nil {
		return "", "", false
	}
	return op, id, true
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := Request{Method: r.Method, RawPath: r.URL.EscapedPath(), Host: r.Host, Header: r.Header.Clone()}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.opts.MaxBodyBytes+1))
	req.Body = body
	if s.opts.FirstByteDelay > 0 {
		time.Sleep(s.opts.FirstByteDelay)
	}
	op, modelID, routed := route(req.RawPath)
	if routed {
		req.Operation, req.ModelID = op, modelID
	}
	if err != nil {
		s.record(req)
		writeError(w, errValidation("could not read the request body"))
		return
	}
	// An oversized body was not read whole, so its hash cannot be checked:
	// only the credentials are, then it is refused for its size.
	oversized := int64(len(body)) > s.opts.MaxBodyBytes
	if aerr := s.checkSignature(r, body, oversized); aerr != nil {
		s.refused.Add(1)
		s.record(req)
		writeError(w, aerr)
		return
	}
	s.signed.Add(1)
	req.Signed = true
	if !routed || r.Method != http.MethodPost {
		s.record(req)
		writeError(w, &APIError{Type: "UnknownOperationException", Status: http.StatusNotFound, Message: "UnknownOperationException"})
		return
	}
	if oversized {
		s.record(req)
		writeError(w, errValidation("Input is too long for requested model."))
		return
	}
	if op == "InvokeModel" && IsEmbeddingModel(modelID) {
		s.embed(w, r, req) // embeddings.go
		return
	}
	var verr *APIError
	switch op {
	case "Converse", "ConverseStream":
		req.Converse, verr = decodeConverse(body)
	case "InvokeModel", "InvokeModelWithResponseStream":
		req.Anthropic, verr = decodeAnthropic(body)
	case "CountTokens":
		verr = nil
	}
	s.record(req)
	if verr != nil {
		writeError(w, verr)
		return
	}
	if op == "CountTokens" {
		s.countTokens(w, body)
		return
	}
	sc := s.scenario(req)
	if d := sc.Delay; d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if sc.Error != nil {
		writeError(w, sc.Error)
		return
	}
	switch op {
	case "Converse":
		s.converse(w, req, sc)
	case "ConverseStream":
		s.converseStream(w, r, req, sc)
	case "InvokeModel":
		s.invoke(w, req, sc)
	case "InvokeModelWithResponseStream":
		s.invokeStream(w, r, req, sc)
	}
}

// scenario picks the request's scenario: queue, script, model id.
func (s *Server) scenario(req Request) Scenario {
	if sc, ok := s.Take(); ok {
		return s.fill(sc)
	}
	s.mu.Lock()
	script := s.script
	s.mu.Unlock()
	if script != nil {
		if sc := script(req); sc != nil {
			return s.fill(*sc)
		}
	}
	return s.ScenarioFor(req.ModelID)
}

// fill applies the server's defaults to a scenario's unset knobs.
func (s *Server) fill(sc Scenario) Scenario {
	if sc.EventDelay == 0 {
		sc.EventDelay = s.opts.EventDelay
	}
	if s.opts.Lockstep {
		sc.Lockstep = true
	}
	return sc
}

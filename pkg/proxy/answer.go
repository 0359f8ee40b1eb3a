package proxy

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/stats"
)

// answerTap reads a non-streamed answer while it is relayed, without
// keeping it: a streaming JSON scan of the (gzip-decoded) bytes checks that
// it is a completion and picks "model" and "usage" from its top level. The
// client gets the upstream's bytes as they came, compressed or not.
//
// Kong buffers a whole answer and answers 500 when it is not JSON or has no
// "choices" (openai.lua from_format). Holding every answer costs memory
// that grows with answer size and concurrency, and delays the first byte,
// so the proxy holds only the start of an answer (holdLimit), until the
// verdict is known: an OpenAI answer names "choices" in its first few
// hundred bytes, an HTML error page or plain text fails at its first byte,
// and a small JSON object without "choices" ends well within the limit.
// Those get Kong's 500, which an SDK raises as a server error (and may
// retry) instead of failing to parse a 200. An answer whose verdict is
// still open after holdLimit bytes is relayed as it comes, because a status
// cannot change once the header is out; its verdict is then only logged.
// An answer cut before its verdict is a 502, not a truncated 200.
type answerTap struct {
	upstream io.ReadCloser
	raw      []byte // upstream bytes read but not yet handed on
	rawErr   error  // the upstream's read error, due after raw
	holding  bool   // reading ahead before the header is sent

	gzip    bool         // decode for the scan (Content-Encoding: gzip)
	gz      *gzip.Reader // nil until the first read
	upErr   error        // an upstream read error seen through gz
	decoded int64
	scratch []byte

	scan jsonStream
	// size is the answer's declared length (-1: unknown); began is set once
	// the stream scan has been fed.
	size  int64
	began bool
	// late, when set, hears why an answer relayed with its verdict still
	// open turned out not to be a completion.
	late      func(reason string)
	scanning  bool // false once the scan gave up (corrupt gzip, too large)
	choices   bool
	complete  bool // the upstream body ended cleanly
	corrupt   bool // the gzip stream did not decode
	wantUsage bool
	// anthropicUsage: the answer is an Anthropic message (messages.go).
	anthropicUsage bool

	model   string
	usage   *stats.Usage
	payload []byte // the decoded start of the answer, for payload logs
	keepLog int    // how much of it to keep
}

const (
	// holdLimit bounds how much of an answer is held before its header is
	// sent while its verdict is open.
	holdLimit = 64 << 10
	// maxDecoded bounds how much of a gzip answer is decoded for the scan,
	// so that a small, highly compressed answer cannot cost unbounded CPU.
	maxDecoded  = 64 << 20
	maxModelLen = 512
	maxUsageLen = 4 << 10
)

// newAnswerTap wraps body. wantStats asks for model and usage; keepLog is
// how many decoded bytes to keep for the payload log (0: none).
func newAnswerTap(body io.ReadCloser, gzipped, wantStats bool, keepLog int) *answerTap {
	t := &answerTap{upstream: body, gzip: gzipped, scanning: true, wantUsage: wantStats, keepLog: keepLog}
	t.scan.sink = t
	return t
}

func (t *answerTap) sawKey(key []byte, first byte) {
	if string(key) == "choices" && first != 'f' { // Lua reads false as absent
		t.choices = true
	}
}

func (t *answerTap) wantValue(key []byte) int {
	switch {
	case !t.wantUsage:
		return 0
	case string(key) == "model":
		return maxModelLen
	case string(key) == "usage":
		return maxUsageLen
	}
	return 0
}

func (t *answerTap) gotValue(key, raw []byte, over bool) {
	if over {
		return
	}
	switch string(key) {
	case "model":
		t.model = jsonString(raw)
	case "usage":
		t.usage = t.readUsage(raw)
	}
}

// decodeUsage reads OpenAI's usage object, cached prompt tokens included.
func decodeUsage(raw []byte) *stats.Usage {
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	if isResponsesUsage(raw) {
		return responsesUsage(raw)
	}
	if u, ok := scanUsage(raw); ok {
		return u
	}
	return unmarshalUsage(raw)
}

// unmarshalUsage is decodeUsage through encoding/json, which decides every
// usage object scanUsage leaves to it.
func unmarshalUsage(raw []byte) *stats.Usage {
	var u struct {
		stats.Usage
		Details *struct {
			Cached  int `json:"cached_tokens"`
			Created int `json:"cache_creation_tokens"`
		} `json:"prompt_tokens_details"`
	}
	if json.Unmarshal(raw, &u) != nil {
		return nil
	}
	if u.Details != nil {
		u.CacheReadTokens, u.CacheWriteTokens = u.Details.Cached, u.Details.Created
	}
	return &u.Usage
}

func (t *answerTap) Read(p []byte) (int, error) {
	for len(t.raw) == 0 {
		if t.rawErr != nil {
			return 0, t.rawErr
		}
		if t.gz == nil && !t.gzip {
			// The common case: scan the bytes in place, no copy.
			n, err := t.upstream.Read(p)
			t.scanPiece(p[:n])
			t.atErr(err)
			return n, err
		}
		t.pump()
	}
	n := copy(p, t.raw)
	t.raw = t.raw[n:]
	if len(t.raw) == 0 {
		t.raw = t.raw[:0:0]
	}
	return n, nil
}

func (t *answerTap) Close() error { return t.upstream.Close() }

// pump reads on: through the gzip decoder while it decodes, else raw,
// straight into the queue for the client (a small answer costs one small
// buffer, not a copy buffer of its own).
func (t *answerTap) pump() {
	if t.gzip && t.scanning {
		t.pumpGzip()
		return
	}
	if cap(t.raw)-len(t.raw) < 1<<10 {
		size := max(2*cap(t.raw), 4<<10)
		if cap(t.raw) == 0 && t.size > 0 && t.size < holdLimit {
			size = int(t.size) + 1 // the whole answer, and room to see its end
		}
		grown := make([]byte, len(t.raw), size)
		copy(grown, t.raw)
		t.raw = grown
	}
	end := len(t.raw)
	buf := t.raw[end:cap(t.raw)]
	if t.holding && end+len(buf) > holdLimit {
		buf = buf[:max(holdLimit-end, 1)] // hold no more than the limit
	}
	n, err := t.upstream.Read(buf)
	t.raw = t.raw[:end+n]
	if !t.gzip {
		t.scanPiece(t.raw[end:])
	}
	t.atErr(err)
	if err != nil {
		t.rawErr = err
	}
}

// pumpGzip decodes the next piece for the scan; the raw bytes the decoder
// pulls are queued for the client by rawTee.
func (t *answerTap) pumpGzip() {
	var err error
	if t.gz == nil {
		t.gz, err = gzip.NewReader(rawTee{t})
	}
	if err == nil {
		if t.scratch == nil {
			t.scratch = make([]byte, 32<<10)
		}
		var n int
		n, err = t.gz.Read(t.scratch)
		t.decoded += int64(n)
		t.feed(t.scratch[:n])
		if t.decoded > maxDecoded {
			t.scanning = false // relay the rest raw, unscanned
			return
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		_ = t.scan.Close()
		t.scanning = false // trailing bytes, if any, are relayed raw
		t.scanned()
	case t.upErr != nil:
		t.rawErr = t.upErr
	default:
		t.corrupt, t.scanning = true, false
		t.scanned()
	}
}

// rawTee is what the gzip decoder reads: the upstream body, with every
// byte queued for the client as it is.
type rawTee struct{ t *answerTap }

func (r rawTee) Read(p []byte) (int, error) {
	n, err := r.t.upstream.Read(p)
	r.t.raw = append(r.t.raw, p[:n]...)
	if err != nil && !errors.Is(err, io.EOF) {
		r.t.upErr = err
	}
	if errors.Is(err, io.EOF) {
		r.t.complete = true
	}
	return n, err
}

// scanPiece scans the next plain bytes of the answer. An answer that
// arrives whole in its first piece (the usual small completion) is scanned
// in one pass by topLevel, far cheaper than the byte-at-a-time stream scan;
// anything topLevel does not accept as a complete object goes through the
// stream scan as before. Both accept exactly what json.Valid accepts and
// list the same top-level members (TestJSONStreamMatchesEncodingJSON), so
// the verdict, model and usage are the same either way.
func (t *answerTap) scanPiece(b []byte) {
	if !t.began && t.scanning && t.size > 0 && int64(len(b)) == t.size && t.whole(b) {
		return
	}
	t.feed(b)
}

// whole takes a complete answer in one pass, as the stream scan's sink
// would hear it: "choices" not false, and the last model and usage within
// their caps. It reports false, having changed nothing, for anything but a
// valid JSON object.
func (t *answerTap) whole(b []byte) bool {
	var arr [16]field
	fields, err := topLevel(b, arr[:0])
	if err != nil {
		return false
	}
	for _, f := range fields {
		v := b[f.start:f.end]
		switch {
		case f.key == "choices" && v[0] != 'f':
			t.choices = true
		case !t.wantUsage:
		case f.key == "model" && len(v) <= maxModelLen:
			t.model = jsonString(v)
		case f.key == "usage" && len(v) <= maxUsageLen:
			t.usage = t.readUsage(v)
		}
	}
	t.scan.state, t.scan.ended, t.scan.object = jsEnd, true, true
	t.keep(b)
	t.scanning = false
	t.scanned()
	return true
}

// feed scans decoded bytes and keeps the start of them for the log.
func (t *answerTap) feed(b []byte) {
	if !t.scanning || len(b) == 0 {
		return
	}
	t.began = true
	_, _ = t.scan.Write(b)
	t.keep(b)
}

// keep keeps the start of the decoded answer for the payload log.
func (t *answerTap) keep(b []byte) {
	if room := t.keepLog - len(t.payload); room > 0 {
		t.payload = append(t.payload, b[:min(room, len(b))]...)
	}
}

// atErr notes the end of a plain (not gzip) body.
func (t *answerTap) atErr(err error) {
	if errors.Is(err, io.EOF) {
		t.complete = true
		if !t.gzip && t.scanning {
			_ = t.scan.Close()
			t.scanning = false
			t.scanned()
		}
	}
}

// scanned runs once the scan has seen the whole answer.
func (t *answerTap) scanned() {
	if t.late == nil {
		return
	}
	if reason, known := t.failure(); known && reason != "" {
		t.late(reason)
	}
	t.late = nil
}

// failure is why the answer is not a completion, once that is known: ""
// while open or when it is one.
func (t *answerTap) failure() (reason string, known bool) {
	switch {
	case t.corrupt || t.scan.failed:
		return "failed to decode", true
	case t.choices:
		return "", true
	case t.scan.ended:
		return "'choices' not in", true
	}
	return "", false
}

// hold reads the start of the answer until its verdict is known, the
// answer ends, or holdLimit bytes are held. It returns the error to answer
// with instead of relaying, or nil.
func (t *answerTap) hold(routeType string) error {
	t.holding = true
	for t.rawErr == nil && len(t.raw) < holdLimit {
		if _, known := t.failure(); known {
			break
		}
		t.pump()
	}
	t.holding = false
	reason, known := t.failure()
	if !known && t.rawErr != nil && !errors.Is(t.rawErr, io.EOF) {
		// Cut before the verdict, before the header: a clean 502 beats a
		// truncated 200.
		return &answerError{cause: t.rawErr, e: &apiError{status: http.StatusBadGateway, message: "the upstream answer was cut short", typ: typeServer, code: "upstream_body_error"}}
	}
	if !known && t.scan.state != jsValue && !t.scan.object && !t.scan.failed {
		reason = "'choices' not in" // valid so far, but not an object
	}
	if reason == "" {
		return nil
	}
	msg := fmt.Sprintf("transformation failed from type openai://%s: %s %s response", routeType, reason, routeType)
	return &answerError{e: &apiError{status: http.StatusInternalServerError, message: msg, typ: typeServer, code: "invalid_upstream_answer"}}
}

// answerError is an answer the proxy refuses to relay, raised from
// ModifyResponse before the response header is sent.
type answerError struct {
	e     *apiError
	cause error
}

func (a *answerError) Error() string {
	if a.cause != nil {
		return a.e.message + ": " + a.cause.Error()
	}
	return a.e.message
}

func (a *answerError) Unwrap() error { return a.cause }

// parse hands the model, usage and payload of a complete answer to o.
func (t *answerTap) parse(o *outcome) {
	if !t.complete {
		return
	}
	o.responseModel, o.usage = t.model, t.usage
	o.responseBody = t.payload
}

// tapAnswer sets up the scan of a non-streamed 2xx answer and, where Kong
// checks the answer (a 200 on a chat or completions route, not a stream),
// holds its start until the verdict is known. It returns the error to
// answer with instead, before any header is sent.
func (h *Handler) tapAnswer(res *http.Response, pl *plan, o *outcome) error {
	rt := pl.plugin.RouteType
	if pl.msgs != nil && pl.msgs.count {
		return nil // a token count is no generation: no usage, no check
	}
	validate := res.StatusCode == http.StatusOK && !pl.stream && (rt == config.RouteChat || rt == config.RouteCompletions) && !pl.nativeMessages()
	// Usage is read for the statistics and for a rate limit's settlement.
	wantStats := h.observe != nil || pl.limit != nil
	keepLog := 0
	if h.observe != nil && pl.plugin.Logging.LogPayloads {
		// Beyond the cap, so that redaction sees a key cut by the cap whole.
		keepLog = stats.MaxPayloadLog + 1<<10
	}
	enc := strings.ToLower(strings.TrimSpace(res.Header.Get("Content-Encoding")))
	if enc != "" && enc != "identity" && enc != "gzip" {
		return nil // cannot be read here: relayed as is, unchecked
	}
	if !validate && !wantStats {
		return nil
	}
	tap := newAnswerTap(res.Body, enc == "gzip", wantStats, keepLog)
	tap.size = res.ContentLength
	tap.anthropicUsage = pl.nativeMessages()
	res.Body = tap
	if validate {
		if err := tap.hold(rt); err != nil {
			return err
		}
		if _, known := tap.failure(); !known {
			// Relayed with the verdict open: too late for a 500, but an
			// operator should hear of an answer that was none.
			tap.late = func(reason string) {
				h.log.Warn("upstream answer relayed before it proved not to be a completion", "request_id", pl.requestID, "route", pl.route,
					"reason", reason+" "+rt+" response")
			}
		} else if !wantStats {
			tap.scanning = false // the verdict was all that was needed
		}
	}
	if wantStats {
		o.tap = tap
	}
	return nil
}

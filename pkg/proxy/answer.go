package proxy

import (
	"compress/gzip"
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
	setup tapSetup    // fixed when the tap is made
	queue tapQueue    // the upstream bytes on their way to the client
	unzip tapGunzip   // the decoding of a gzip answer for the scan
	scan  tapScan     // the scan of the decoded bytes
	found tapFindings // what the scan has found so far
	// late, set once after the hold when the verdict is still open, hears
	// why the answer turned out not to be a completion; it is called at
	// most once, when the scan ends, and cleared.
	late func(reason string)
}

// tapSetup is what the tap is told when it is made; nothing changes it
// afterwards.
type tapSetup struct {
	upstream io.ReadCloser
	gzip     bool  // decode for the scan (Content-Encoding: gzip)
	size     int64 // the answer's declared length (-1: unknown)
	// wantUsage asks for model and usage (statistics or a rate limit).
	wantUsage bool
	// anthropicUsage: the answer is an Anthropic message (messages.go).
	anthropicUsage bool
	keepLog        int // how many decoded bytes to keep for the payload log
}

// tapQueue is the upstream bytes read but not yet handed to the client,
// and how the upstream body ended. It changes with every read.
type tapQueue struct {
	raw      []byte // upstream bytes read but not yet handed on
	rawErr   error  // the upstream's read error, due after raw
	holding  bool   // reading ahead before the header is sent (hold)
	complete bool   // the upstream body ended cleanly
}

// tapGunzip is the decoder a gzip answer is read through for the scan,
// made at the first read.
type tapGunzip struct {
	gz      *gzip.Reader // nil until the first read
	upErr   error        // an upstream read error seen through gz
	decoded int64        // bytes decoded so far (maxDecoded)
	scratch []byte       // where gz decodes to
	corrupt bool         // the gzip stream did not decode
}

// tapScan is the scan of the decoded answer: on until it has seen the
// whole answer or given up.
type tapScan struct {
	stream jsonStream
	on     bool // false once the scan ended or gave up (corrupt gzip, too large)
	began  bool // the stream scan has been fed (not the one-pass scan)
}

// tapFindings is what the scan has found, as it goes: the verdict's
// "choices" and, when wanted, the answer's model, usage and start.
type tapFindings struct {
	choices bool // a top-level "choices" that is not false
	model   string
	usage   *stats.Usage
	payload []byte // the decoded start of the answer, for payload logs
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

// newAnswerTap wraps setup.upstream.
func newAnswerTap(setup tapSetup) *answerTap {
	t := &answerTap{setup: setup, scan: tapScan{on: true}}
	t.scan.stream.sink = t
	return t
}

// sawKey, wantValue and gotValue are the stream scan's sink: they record
// what it finds in the top level of the answer.
func (t *answerTap) sawKey(key []byte, first byte) {
	if string(key) == "choices" && first != 'f' { // Lua reads false as absent
		t.found.choices = true
	}
}

func (t *answerTap) wantValue(key []byte) int {
	switch {
	case !t.setup.wantUsage:
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
		t.found.model = jsonString(raw)
	case "usage":
		t.found.usage = t.readUsage(raw)
	}
}

func (t *answerTap) Read(p []byte) (int, error) {
	q := &t.queue
	for len(q.raw) == 0 {
		if q.rawErr != nil {
			return 0, q.rawErr
		}
		if !t.setup.gzip {
			// The common case: scan the bytes in place, no copy.
			n, err := t.setup.upstream.Read(p)
			t.scanPiece(p[:n])
			t.atErr(err)
			return n, err
		}
		t.pump()
	}
	n := copy(p, q.raw)
	q.raw = q.raw[n:]
	if len(q.raw) == 0 {
		q.raw = q.raw[:0:0]
	}
	return n, nil
}

func (t *answerTap) Close() error { return t.setup.upstream.Close() }

// pump reads on: through the gzip decoder while it decodes, else raw,
// straight into the queue for the client (a small answer costs one small
// buffer, not a copy buffer of its own).
func (t *answerTap) pump() {
	if t.setup.gzip && t.scan.on {
		t.pumpGzip()
		return
	}
	q := &t.queue
	end := len(q.raw)
	buf := q.room(t.setup.size)
	n, err := t.setup.upstream.Read(buf)
	q.raw = q.raw[:end+n]
	if !t.setup.gzip {
		t.scanPiece(q.raw[end:])
	}
	t.atErr(err)
	if err != nil {
		q.rawErr = err
	}
}

// room grows the queue when less than 1 KiB is free and returns the free
// space the next read may fill: the whole answer at first when its
// declared length fits the hold, and no more than the hold allows while
// holding.
func (q *tapQueue) room(size int64) []byte {
	if cap(q.raw)-len(q.raw) < 1<<10 {
		n := max(2*cap(q.raw), 4<<10)
		if cap(q.raw) == 0 && size > 0 && size < holdLimit {
			n = int(size) + 1 // the whole answer, and room to see its end
		}
		grown := make([]byte, len(q.raw), n)
		copy(grown, q.raw)
		q.raw = grown
	}
	end := len(q.raw)
	buf := q.raw[end:cap(q.raw)]
	if q.holding && end+len(buf) > holdLimit {
		buf = buf[:max(holdLimit-end, 1)] // hold no more than the limit
	}
	return buf
}

// pumpGzip decodes the next piece for the scan; the raw bytes the decoder
// pulls are queued for the client by rawTee.
func (t *answerTap) pumpGzip() {
	z := &t.unzip
	var err error
	if z.gz == nil {
		z.gz, err = gzip.NewReader(rawTee{t})
	}
	if err == nil {
		if z.scratch == nil {
			z.scratch = make([]byte, 32<<10)
		}
		var n int
		n, err = z.gz.Read(z.scratch)
		z.decoded += int64(n)
		t.feed(z.scratch[:n])
		if z.decoded > maxDecoded {
			t.scan.on = false // relay the rest raw, unscanned
			return
		}
	}
	t.gunzipped(err)
}

// gunzipped ends the scan of a gzip answer at the decoder's error, if
// any: the end of the stream, the upstream's error, or a corrupt stream.
func (t *answerTap) gunzipped(err error) {
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		_ = t.scan.stream.Close()
		t.scan.on = false // trailing bytes, if any, are relayed raw
		t.scanned()
	case t.unzip.upErr != nil:
		t.queue.rawErr = t.unzip.upErr
	default:
		t.unzip.corrupt, t.scan.on = true, false
		t.scanned()
	}
}

// rawTee is what the gzip decoder reads: the upstream body, with every
// byte queued for the client as it is.
type rawTee struct{ t *answerTap }

func (r rawTee) Read(p []byte) (int, error) {
	n, err := r.t.setup.upstream.Read(p)
	r.t.queue.raw = append(r.t.queue.raw, p[:n]...)
	if err != nil && !errors.Is(err, io.EOF) {
		r.t.unzip.upErr = err
	}
	if errors.Is(err, io.EOF) {
		r.t.queue.complete = true
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
	if !t.scan.began && t.scan.on && t.setup.size > 0 && int64(len(b)) == t.setup.size && t.whole(b) {
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
			t.found.choices = true
		case !t.setup.wantUsage:
		case f.key == "model" && len(v) <= maxModelLen:
			t.found.model = jsonString(v)
		case f.key == "usage" && len(v) <= maxUsageLen:
			t.found.usage = t.readUsage(v)
		}
	}
	s := &t.scan.stream
	s.state, s.ended, s.object = jsEnd, true, true
	t.keep(b)
	t.scan.on = false
	t.scanned()
	return true
}

// feed scans decoded bytes and keeps the start of them for the log.
func (t *answerTap) feed(b []byte) {
	if !t.scan.on || len(b) == 0 {
		return
	}
	t.scan.began = true
	_, _ = t.scan.stream.Write(b)
	t.keep(b)
}

// keep keeps the start of the decoded answer for the payload log.
func (t *answerTap) keep(b []byte) {
	if room := t.setup.keepLog - len(t.found.payload); room > 0 {
		t.found.payload = append(t.found.payload, b[:min(room, len(b))]...)
	}
}

// atErr notes the end of a plain (not gzip) body.
func (t *answerTap) atErr(err error) {
	if errors.Is(err, io.EOF) {
		t.queue.complete = true
		if !t.setup.gzip && t.scan.on {
			_ = t.scan.stream.Close()
			t.scan.on = false
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
	case t.unzip.corrupt || t.scan.stream.failed:
		return "failed to decode", true
	case t.found.choices:
		return "", true
	case t.scan.stream.ended:
		return "'choices' not in", true
	}
	return "", false
}

// hold reads the start of the answer until its verdict is known, the
// answer ends, or holdLimit bytes are held. It returns the error to answer
// with instead of relaying, or nil.
func (t *answerTap) hold(routeType string) error {
	q := &t.queue
	q.holding = true
	for q.rawErr == nil && len(q.raw) < holdLimit {
		if _, known := t.failure(); known {
			break
		}
		t.pump()
	}
	q.holding = false
	reason, known := t.failure()
	if !known && q.rawErr != nil && !errors.Is(q.rawErr, io.EOF) {
		// Cut before the verdict, before the header: a clean 502 beats a
		// truncated 200.
		return &answerError{cause: q.rawErr, e: &apiError{status: http.StatusBadGateway, message: "the upstream answer was cut short", typ: typeServer, code: "upstream_body_error"}}
	}
	s := &t.scan.stream
	if !known && s.state != jsValue && !s.object && !s.failed {
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
	if !t.queue.complete {
		return
	}
	o.responseModel, o.usage = t.found.model, t.found.usage
	o.responseBody = t.found.payload
}

// tapAnswer sets up the scan of a non-streamed 2xx answer and, where Kong
// checks the answer (a 200 on a chat or completions route, not a stream),
// holds its start until the verdict is known. It returns the error to
// answer with instead, before any header is sent.
func (h *Handler) tapAnswer(res *http.Response, pl *plan, o *outcome) error {
	setup, validate, ok := h.answerSetup(res, pl)
	if !ok {
		return nil
	}
	tap := newAnswerTap(setup)
	res.Body = tap
	if validate {
		if err := tap.hold(pl.plugin.RouteType); err != nil {
			return err
		}
		h.afterHold(tap, pl)
	}
	if setup.wantUsage {
		o.tap = tap
	}
	return nil
}

// answerSetup decides what the tap of a non-streamed 2xx answer does:
// validate it as Kong does (a 200 on a chat or completions route, not a
// stream), read its model and usage, keep its start for the payload log.
// ok is false when there is nothing to do, or the answer cannot be read
// here (an encoding other than gzip): it is relayed as is, unchecked.
func (h *Handler) answerSetup(res *http.Response, pl *plan) (setup tapSetup, validate, ok bool) {
	rt := pl.plugin.RouteType
	if pl.msgs != nil && pl.msgs.count {
		return setup, false, false // a token count is no generation: no usage, no check
	}
	validate = res.StatusCode == http.StatusOK && !pl.stream && (rt == config.RouteChat || rt == config.RouteCompletions) && !pl.nativeMessages()
	// Usage is read for the statistics and for a rate limit's settlement.
	wantStats := h.observe != nil || pl.limit != nil
	keepLog := 0
	if h.observe != nil && pl.plugin.Logging.LogPayloads {
		// Beyond the cap, so that redaction sees a key cut by the cap whole.
		keepLog = stats.MaxPayloadLog + 1<<10
	}
	enc := strings.ToLower(strings.TrimSpace(res.Header.Get("Content-Encoding")))
	if enc != "" && enc != "identity" && enc != "gzip" {
		return setup, false, false
	}
	if !validate && !wantStats {
		return setup, false, false
	}
	return tapSetup{upstream: res.Body, gzip: enc == "gzip", size: res.ContentLength, wantUsage: wantStats,
		anthropicUsage: pl.nativeMessages(), keepLog: keepLog}, validate, true
}

// afterHold arranges what follows a hold that let the answer through: an
// operator hears of an answer relayed with its verdict open that proves
// to be none; a scan that was for the verdict alone stops.
func (h *Handler) afterHold(tap *answerTap, pl *plan) {
	if _, known := tap.failure(); !known {
		// Relayed with the verdict open: too late for a 500, but an
		// operator should hear of an answer that was none.
		rt := pl.plugin.RouteType
		tap.late = func(reason string) {
			h.log.Warn("upstream answer relayed before it proved not to be a completion", "request_id", pl.requestID, "route", pl.route,
				"reason", reason+" "+rt+" response")
		}
	} else if !tap.setup.wantUsage {
		tap.scan.on = false // the verdict was all that was needed
	}
}

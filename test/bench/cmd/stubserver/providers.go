package main

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/anthropicstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/bedrockstub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/geministub"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// Keys of the provider stubs; make bench writes the same into the proxy's
// config.
const (
	AnthropicKey = "sk-ant-bench-key"
	GeminiKey    = "AIza-bench-gemini-key"
)

// StampMark is a fixed-width placeholder in every text delta of the Bedrock
// stub's answers; stamp replaces it with the wall clock in nanoseconds when
// the frame is written, as the OpenAI stub's created_ns, so that the bench
// can measure a translated stream's per-chunk relay delay.
const StampMark = "ts=0000000000000000000"

// handler returns the stub upstream of a provider kind.
func handler(kind string) (http.Handler, bool) {
	switch kind {
	case "openai", "":
		return &stub.Server{Record: false}, true
	case "bedrock":
		s := bedrockstub.New(bedrockstub.Options{FirstByteDelay: -1})
		s.Record = false
		s.Script(func(r bedrockstub.Request) *bedrockstub.Scenario {
			sc := s.ScenarioFor(r.ModelID)
			for i, b := range sc.Blocks {
				if b.Kind != bedrockstub.KindText {
					continue
				}
				d := make([]string, len(b.Deltas))
				for k, t := range b.Deltas {
					d[k] = StampMark + " " + t
				}
				sc.Blocks[i].Deltas = d
			}
			return &sc
		})
		return stamp(s), true
	case "anthropic":
		s := anthropicstub.New(AnthropicKey)
		return steer(s, func(n, pad int) { s.Next(anthropicScenario(n, pad)) }), true
	case "gemini":
		s := geministub.New(geministub.Options{APIKey: GeminiKey})
		return steer(s, func(n, pad int) { s.Next(geministub.TextScenario(words(n, pad)...)) }), true
	}
	return nil, false
}

// benchModel is how the bench asks the Anthropic and Gemini stubs for an
// answer of n text deltas of about pad bytes each: model
// bench-chunks-N-pad-P (in the body for Anthropic, in the upstream URL's
// path for Gemini).
var benchModel = regexp.MustCompile(`bench-chunks-([0-9]+)-pad-([0-9]+)`)

// steer queues, for a request naming a bench model, that answer's scenario
// just before the stub takes it. Requests of one round all ask for the same
// shape, so which request takes which queued scenario does not matter.
func steer(h http.Handler, next func(n, pad int)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		m := benchModel.FindStringSubmatch(r.URL.Path)
		if m == nil {
			if b := benchModel.FindSubmatch(body); b != nil {
				m = []string{string(b[0]), string(b[1]), string(b[2])}
			}
		}
		if m != nil {
			n, _ := strconv.Atoi(m[1])
			pad, _ := strconv.Atoi(m[2])
			next(max(n, 1), pad)
		}
		h.ServeHTTP(w, r)
	})
}

func words(n, pad int) []string {
	out := make([]string, n)
	for i := range out {
		w := stub.Word(i)
		if pad > len(w) {
			w += strings.Repeat("x", pad-len(w))
		}
		out[i] = w
	}
	return out
}

func anthropicScenario(n, pad int) anthropicstub.Scenario {
	return anthropicstub.Scenario{Blocks: []anthropicstub.Block{anthropicstub.Text(words(n, pad)...)},
		Usage: anthropicstub.Usage{Input: 25, Output: int64(n)}}
}

// stamp writes the time of each Write into the StampMark placeholders it
// carries; an event-stream frame's trailing CRC is computed again.
func stamp(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&stampWriter{ResponseWriter: w}, r)
	})
}

type stampWriter struct{ http.ResponseWriter }

var mark = []byte(StampMark)

func (s *stampWriter) Write(p []byte) (int, error) {
	if !bytes.Contains(p, mark) {
		return s.ResponseWriter.Write(p)
	}
	q := bytes.Clone(p)
	now := []byte("ts=" + strconv.FormatInt(time.Now().UnixNano(), 10))
	for i := bytes.Index(q, mark); i >= 0 && len(now) == len(mark); {
		copy(q[i:], now)
		j := bytes.Index(q[i+len(mark):], mark)
		if j < 0 {
			break
		}
		i += len(mark) + j
	}
	if strings.HasPrefix(s.Header().Get("Content-Type"), "application/vnd.amazon.eventstream") && len(q) >= 16 {
		binary.BigEndian.PutUint32(q[len(q)-4:], crc32.ChecksumIEEE(q[:len(q)-4]))
	}
	return s.ResponseWriter.Write(q)
}

func (s *stampWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *stampWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

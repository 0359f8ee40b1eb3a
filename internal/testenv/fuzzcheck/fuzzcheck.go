// Package fuzzcheck is what the translating drivers' fuzz targets check in
// common: whatever a client or a provider sent, what a driver makes of it
// is well formed (JSON, OpenAI's event stream) and the stream bounded. A
// target feeds its own translator; each property is stated once, here, so
// that every provider is held to the same one.
package fuzzcheck

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider/chat"
)

// Events is a translated stream as a driver returns it (provider.Events).
type Events interface {
	Next() ([]byte, error)
}

// maxEvents bounds how many events a stream is read for: a translator that
// never ends is a bug the bound on its output finds first.
const maxEvents = 10000

// Stream reads ev to its end and fails t unless every event is an OpenAI
// chat stream event (ChatEvents) and all of it together is at most grow
// times the in bytes that went in, plus 4 KiB for the events a stream
// always has (role, finish, usage, [DONE]).
func Stream(t testing.TB, ev Events, in, grow int) {
	t.Helper()
	total := 0
	for i := 0; i < maxEvents; i++ {
		out, err := ev.Next()
		total += len(out)
		ChatEvents(t, out)
		if err != nil {
			break
		}
	}
	if total > grow*in+4096 {
		t.Fatalf("%d bytes out of %d in", total, in)
	}
}

// ChatEvents fails t unless every event in out is "data: <JSON>" or
// "data: [DONE]", as an OpenAI client parses them.
func ChatEvents(t testing.TB, out []byte) {
	t.Helper()
	for _, e := range strings.Split(string(out), "\n\n") {
		if e == "" {
			continue
		}
		data, ok := strings.CutPrefix(e, "data: ")
		if !ok || (data != "[DONE]" && !json.Valid([]byte(data))) {
			t.Fatalf("bad event %q", e)
		}
	}
}

// Request decodes in as an OpenAI chat request and translates it as a
// driver's Translate does (model "m", no top_k). It returns the translated
// body, or nil where Decode or translate refused the request (a refusal
// is a fine answer to a fuzzed request), and fails t when what translate
// accepted does not encode as JSON.
func Request[T any](t testing.TB, in string, translate func(*chat.Request, string, *int) (T, error)) []byte {
	t.Helper()
	r, err := chat.Decode([]byte(in))
	if err != nil {
		return nil
	}
	out, err := translate(r, "m", nil)
	if err != nil {
		return nil
	}
	b, err := json.Marshal(out)
	if err != nil || !json.Valid(b) {
		t.Fatalf("%v %s", err, b)
	}
	return b
}

// Completion fails t when complete (a driver's ToCompletion) accepts a
// provider's answer and makes something other than JSON of it.
func Completion(t testing.TB, in string, complete func(body []byte, model string) ([]byte, error)) {
	t.Helper()
	out, err := complete([]byte(in), "m")
	if err == nil && !json.Valid(out) {
		t.Fatalf("invalid JSON %s", out)
	}
}

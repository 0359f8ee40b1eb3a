// Package drivercheck is what the translating drivers' tests check in
// common, stated once so that every provider is held to the same: the
// properties of their fuzz targets (whatever a client or a provider sent,
// what a driver makes of it is well formed, JSON or OpenAI's event stream,
// and the stream bounded), the shape of a row of their Translate tables,
// and the round trip of an embeddings call with the answer read back
// (embeddings.go).
package drivercheck

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/provider"
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

// Translation is one row of a driver's Translate table: the OpenAI chat
// body in is decoded and translated, and then either the driver refused it
// with a 400 naming the member refused, or, where refused is "", its
// translation's JSON contains want.
func Translation[T any](t testing.TB, in string, translate func(*chat.Request) (T, error), want, refused string) {
	t.Helper()
	r, err := chat.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := translate(r)
	if refused != "" {
		if pe, ok := err.(*provider.Error); !ok || pe.Param != refused || pe.Status != 400 {
			t.Fatalf("want a 400 naming %s, got %v", refused, err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	if !strings.Contains(string(b), want) {
		t.Errorf("%s\nlacks %s", b, want)
	}
}
